package campaign

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"kvbench/capture"
)

// This file turns the YAML decoder's errors into the plan's words: the
// key and its line, the nearest valid key, and no Go type names.

// sections names each plan type as the plan's reader knows it, with its
// valid keys.
var sections = map[string]reflect.Type{
	"Plan":         reflect.TypeFor[Plan](),
	"ArmSpec":      reflect.TypeFor[ArmSpec](),
	"ReadySpec":    reflect.TypeFor[ReadySpec](),
	"ScenarioSpec": reflect.TypeFor[ScenarioSpec](),
	"SweepAxis":    reflect.TypeFor[SweepAxis](),
}

var sectionWords = map[string]string{
	"Plan": "the plan", "ArmSpec": "an arm", "ReadySpec": "an arm's ready", "ScenarioSpec": "a scenario", "SweepAxis": "a sweep axis",
}

var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S*?(\w+)$`)
	badValueRE     = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)$")
)

// planError rewrites a decoding error of plan YAML, one line per problem.
func planError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	lines := make([]string, len(te.Errors))
	for i, e := range te.Errors {
		lines[i] = planErrorLine(e)
	}
	return errors.New(strings.Join(lines, "; "))
}

func planErrorLine(e string) string {
	if m := unknownFieldRE.FindStringSubmatch(e); m != nil {
		msg := fmt.Sprintf("line %s: unknown key %q in %s", m[1], m[2], cmpOr(sectionWords[m[3]], "the plan"))
		if t, ok := sections[m[3]]; ok {
			msg += suggest(m[2], yamlKeys(t))
		}
		return msg
	}
	if m := badValueRE.FindStringSubmatch(e); m != nil {
		got := fmt.Sprintf("%q", m[3])
		switch m[2] {
		case "seq":
			got = "a list"
		case "map":
			got = "a mapping"
		}
		return fmt.Sprintf("line %s: %s is not valid here: want %s", m[1], got, kindWords(m[4]))
	}
	return e
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// kindWords names a Go type as the value a plan author writes.
func kindWords(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.Contains(goType, "."):
		return "a mapping of keys to values"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool", goType == "*bool":
		return "true or false"
	}
	return "a single value"
}

// yamlKeys lists the keys of a plan type.
func yamlKeys(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		if k, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); k != "" && k != "-" {
			out = append(out, k)
		}
	}
	return out
}

// runFlagNames lists the names of capture run's flags, hidden old
// spellings excluded.
func runFlagNames() []string {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	var rf capture.RunFlags
	rf.Register(fs)
	var out []string
	fs.VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			out = append(out, f.Name)
		}
	})
	return out
}

// suggest returns `; did you mean "X"?` for the valid name nearest to
// name by edit distance, or "" when none is near.
func suggest(name string, valid []string) string {
	best, bestD := "", len(name)/3+2
	for _, v := range valid {
		if d := editDistance(strings.ToLower(name), v); d < bestD {
			best, bestD = v, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// keyLine returns the line of the first mapping key named key in the
// YAML document (0 when not found).
func keyLine(data []byte, key string) int {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return 0
	}
	var walk func(n *yaml.Node) int
	walk = func(n *yaml.Node) int {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					return n.Content[i].Line
				}
			}
		}
		for _, c := range n.Content {
			if l := walk(c); l > 0 {
				return l
			}
		}
		return 0
	}
	return walk(&root)
}
