// Package ingest is the reading stage of analyze (ingest reads → analysis
// decides → report renders). It finds run bundles in any mix of run
// directories, folders of runs and campaign folders, validates their
// manifests and schema versions, reads their tables into plain structs
// one run at a time, and exports them as one hive-partitioned Parquet
// dataset. Values stay as captured: nanoseconds, bytes and cumulative
// counters; ingest computes no statistic and converts no unit. A bad or
// incomplete bundle is listed with its reason and skipped, never silently
// dropped and never fatal to the rest.
package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"kvbench/results"
)

// Bundle is one readable run bundle.
type Bundle struct {
	Dir      string
	Manifest *results.Manifest
}

// Skipped is a bundle that could not be used, with the reason.
type Skipped struct {
	Path   string
	Reason string
}

// Filter selects runs by their manifests. Empty lists select everything.
// (Phases are selected by the analysis: analysis.Options.Phases.)
type Filter struct {
	Scenarios []string
	TierModes []string
	Runs      []string
	Since     time.Time
}

func (f Filter) keepRun(m *results.Manifest) bool {
	if len(f.Runs) > 0 && !slices.Contains(f.Runs, m.RunID) {
		return false
	}
	if len(f.Scenarios) > 0 && !slices.Contains(f.Scenarios, m.Scenario) {
		return false
	}
	if len(f.TierModes) > 0 && !slices.Contains(f.TierModes, m.TierMode) {
		return false
	}
	if !f.Since.IsZero() && m.StartedUnixNs < f.Since.UnixNano() {
		return false
	}
	return true
}

// Discover finds run bundles under paths. A path that does not exist is an
// error; a path with no bundles in it is an error naming the path. Bundles
// are returned sorted by start time, then run id.
func Discover(paths []string, filter Filter) ([]Bundle, []Skipped, error) {
	if len(paths) == 0 {
		return nil, nil, errors.New("no paths given")
	}
	var bundles []Bundle
	var skipped []Skipped
	seen := map[string]string{}
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", root, unwrapPath(err))
		}
		if !st.IsDir() {
			return nil, nil, fmt.Errorf("%s: not a directory (give a run directory or a folder of runs)", root)
		}
		found := 0
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				skipped = append(skipped, Skipped{Path: path, Reason: unwrapPath(err).Error()})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if !d.IsDir() {
				return nil
			}
			if path != root && len(d.Name()) > 0 && d.Name()[0] == '.' {
				return fs.SkipDir
			}
			if reason, crashed := results.Crashed(path); crashed {
				found++
				skipped = append(skipped, Skipped{Path: path, Reason: reason})
				return fs.SkipDir
			}
			kind := bundleKind(path)
			if kind == notBundle {
				return nil
			}
			found++
			if kind == incomplete {
				skipped = append(skipped, Skipped{Path: path, Reason: results.ErrIncomplete.Error()})
				return fs.SkipDir
			}
			m, err := results.ReadManifest(path)
			if err != nil {
				skipped = append(skipped, Skipped{Path: path, Reason: err.Error()})
				return fs.SkipDir
			}
			if prev, dup := seen[m.RunID]; dup {
				if prev != path {
					skipped = append(skipped, Skipped{Path: path, Reason: fmt.Sprintf("duplicate run_id %s (already read from %s)", m.RunID, prev)})
				}
				return fs.SkipDir
			}
			seen[m.RunID] = path
			if filter.keepRun(m) {
				bundles = append(bundles, Bundle{Dir: path, Manifest: m})
			}
			return fs.SkipDir
		})
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", root, err)
		}
		if found == 0 {
			return nil, nil, fmt.Errorf("%s: no run bundles found (a run bundle is a directory with manifest.json and requests.parquet)", root)
		}
	}
	sort.SliceStable(bundles, func(i, j int) bool {
		a, b := bundles[i].Manifest, bundles[j].Manifest
		if a.StartedUnixNs != b.StartedUnixNs {
			return a.StartedUnixNs < b.StartedUnixNs
		}
		return a.RunID < b.RunID
	})
	return bundles, skipped, nil
}

type kind int

const (
	notBundle kind = iota
	complete
	incomplete
)

func bundleKind(dir string) kind {
	if _, err := os.Stat(filepath.Join(dir, results.ManifestFile)); err == nil {
		return complete
	}
	for _, t := range []string{results.TableRequests} {
		if _, err := os.Stat(filepath.Join(dir, t+".parquet")); err == nil {
			return incomplete
		}
	}
	// A run killed before its first row group leaves only temporaries.
	if m, _ := filepath.Glob(filepath.Join(dir, ".*.parquet.tmp-*")); len(m) > 0 {
		return incomplete
	}
	return notBundle
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
