package capture

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Duration is a pflag.Value holding a time.Duration: a Go duration
// ("500ms", "5m", "1h30m") or a bare number, read as seconds ("5",
// "0.25"). Every time flag of capture is one, so that all of them are
// spelled the same way.
type Duration time.Duration

// ParseDuration reads a Go duration or a bare number of seconds.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: want e.g. 500ms, 30s, 10m or a number of seconds", s)
	}
	return d, nil
}

func (d *Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (d *Duration) String() string { return time.Duration(*d).String() }
func (d *Duration) Type() string   { return "duration" }

// DurationVar defines a duration flag on fs that takes a Go duration or
// a number of seconds.
func DurationVar(fs *pflag.FlagSet, p *time.Duration, name string, def time.Duration, usage string) {
	*p = def
	fs.Var((*Duration)(p), name, usage)
}

// unitValue is the hidden old spelling of a duration flag: a bare number
// in a fixed unit (seconds for "-s" flags, milliseconds for "-ms").
type unitValue struct {
	p    *time.Duration
	unit time.Duration
}

func (u unitValue) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return fmt.Errorf("%q: want a number", s)
	}
	*u.p = time.Duration(f * float64(u.unit))
	return nil
}

func (u unitValue) String() string {
	if u.p == nil {
		return "0"
	}
	return strconv.FormatFloat(float64(*u.p)/float64(u.unit), 'g', -1, 64)
}
func (u unitValue) Type() string { return "float" }

// DurationAlias defines old, a hidden flag that sets the same duration as
// the flag named current in a number of unit (time.Second for "-s" flags,
// time.Millisecond for "-ms"). Old command lines and plans keep working.
func DurationAlias(fs *pflag.FlagSet, p *time.Duration, old, current string, unit time.Duration) {
	fs.Var(unitValue{p, unit}, old, "old spelling of --"+current+", a number in "+unitName(unit))
	fs.MarkHidden(old)
}

func unitName(unit time.Duration) string {
	if unit == time.Millisecond {
		return "milliseconds"
	}
	return "seconds"
}

// isAlias says whether a flag is a hidden old spelling of another.
func isAlias(f *pflag.Flag) bool {
	_, ok := f.Value.(unitValue)
	return ok
}
