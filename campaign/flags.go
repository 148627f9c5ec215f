package campaign

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"kvbench/capture"
)

// Flags are the `capture run` flags of one run, by name. A repeatable flag
// (stop, metrics-url, io-device, io-pid) has one element per value; any
// other flag has one.
type Flags map[string][]string

// Get returns a flag's value (a list's values joined by ","), or "" when
// the flag is not set.
func (f Flags) Get(name string) string { return strings.Join(f[name], ",") }

// Config resolves the flags through capture's flag table (RunFlags),
// exactly as `capture run` would resolve them on its command line, into a
// validated configuration. Its errors are the plan's.
func (f Flags) Config() (*capture.Config, error) {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	var rf capture.RunFlags
	rf.Register(fs)
	for _, name := range slices.Sorted(maps.Keys(f)) {
		if name == "dry-run" {
			return nil, errors.New("run flag dry-run: use capture campaign --dry-run")
		}
		fl := fs.Lookup(name)
		if fl == nil {
			return nil, fmt.Errorf("unknown run flag %q (use the names of capture run's flags)%s", name, suggest(name, runFlagNames()))
		}
		_, list := fl.Value.(pflag.SliceValue)
		vals := f[name]
		if !list && len(vals) != 1 {
			return nil, fmt.Errorf("run flag %s takes one value, not a list", name)
		}
		for _, v := range vals {
			if err := fs.Set(name, v); err != nil {
				if list {
					return nil, fmt.Errorf("run flag %s: %w", name, err)
				}
				return nil, fmt.Errorf("run flag %s=%q: %w", name, v, err)
			}
		}
	}
	return rf.Config(fs)
}

// withAnnounced points a run at the addresses its arm's server announced
// ("api", "kvbm", "system"), unless the plan set the flag for the arm.
func (f Flags) withAnnounced(ann map[string]string, arm *ArmSpec) Flags {
	out := maps.Clone(f)
	set := func(flag, value string) {
		if _, explicit := arm.Run[flag]; !explicit && value != "" {
			out[flag] = []string{value}
		}
	}
	if a := ann["api"]; a != "" {
		set("base-url", "http://"+a)
	}
	for key, flag := range map[string]string{"kvbm": "metrics-kvbm-url", "system": "metrics-system-url", "api": "metrics-frontend-url"} {
		if a := ann[key]; a != "" {
			set(flag, "http://"+a+"/metrics")
		}
	}
	return out
}
