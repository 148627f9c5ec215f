package analysis

import (
	"maps"
	"slices"

	"kvbench/results"
)

// perRunKeys are settings that differ between runs by design.
var perRunKeys = map[string]bool{
	"run-id": true, "tier-mode": true, "kv-mode": true, "base-url": true, "results-dir": true,
	"metrics-kvbm-url": true, "metrics-system-url": true, "metrics-frontend-url": true, "metrics-url": true,
	"no-progress": true, "cpuprofile": true, "dry-run": true, "api-key-env": true,
}

// unset stands for a setting a run's manifest does not record.
const unset = "(unset)"

// configDiffs finds capture settings whose values differ between runs.
func configDiffs(manifests []*results.Manifest) []ConfigDiff {
	keys := map[string]bool{}
	for _, m := range manifests {
		for k := range m.Config {
			if !perRunKeys[k] {
				keys[k] = true
			}
		}
	}
	out := []ConfigDiff{}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if d, ok := configDiff(manifests, k); ok {
			out = append(out, d)
		}
	}
	return out
}

// configDiff returns the values of setting k per arm, when the runs do not
// all agree.
func configDiff(manifests []*results.Manifest, k string) (ConfigDiff, bool) {
	byArm := map[string]map[string]bool{}
	all := map[string]bool{}
	for _, m := range manifests {
		v, ok := m.Config[k]
		if !ok {
			v = unset
		}
		if byArm[m.TierMode] == nil {
			byArm[m.TierMode] = map[string]bool{}
		}
		byArm[m.TierMode][v] = true
		all[v] = true
	}
	if len(all) < 2 {
		return ConfigDiff{}, false
	}
	d := ConfigDiff{Key: k}
	for _, arm := range slices.Sorted(maps.Keys(byArm)) {
		vals := slices.Sorted(maps.Keys(byArm[arm]))
		if len(d.Values) > 0 && !slices.Equal(vals, d.Values[0].Values) {
			d.BetweenArms = true
		}
		d.Values = append(d.Values, ArmValues{Arm: arm, Values: vals})
	}
	return d, true
}
