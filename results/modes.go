package results

import "fmt"

// Tier modes (B0, B1, B2) and the KVBM modes they stand for.
var tierToKV = map[string]string{"B0": "off", "B1": "cpu_only", "B2": "cpu_disk"}

// TierModes lists the tier modes in order.
var TierModes = []string{"B0", "B1", "B2"}

// ResolveModes fills in whichever of tier and kv is empty from the other
// (off=B0, cpu_only=B1, cpu_disk=B2) and checks that they agree.
func ResolveModes(tier, kv string) (string, string, error) {
	if tier == "" && kv == "" {
		return "", "", fmt.Errorf("need --tier-mode (B0, B1, B2) or --kv-mode (off, cpu_only, cpu_disk)")
	}
	if tier != "" {
		want, ok := tierToKV[tier]
		if !ok {
			return "", "", fmt.Errorf("unknown tier mode %q (want B0, B1 or B2)", tier)
		}
		if kv != "" && kv != want {
			return "", "", fmt.Errorf("tier mode %s means kv mode %s, not %s", tier, want, kv)
		}
		return tier, want, nil
	}
	for t, k := range tierToKV {
		if k == kv {
			return t, kv, nil
		}
	}
	return "", "", fmt.Errorf("unknown kv mode %q (want off, cpu_only or cpu_disk)", kv)
}
