package kvbench_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNoOutsideReferences: the repository stands alone. No tracked file
// may point into a shared/ tree outside it (the harness this project came
// from kept its notes there); a report refers to METHOD.md, which is here.
func TestNoOutsideReferences(t *testing.T) {
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	const self = "references_test.go"
	needle := "shared" + "/" // spelled apart so this file could not match itself either
	for _, name := range strings.Split(string(out), "\x00") {
		if name == "" || name == self {
			continue
		}
		data, err := os.ReadFile(name)
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, needle) {
				t.Errorf("%s:%d refers to a file outside the repository: %s", name, i+1, strings.TrimSpace(line))
			}
		}
	}
	if _, err := os.Stat("METHOD.md"); err != nil {
		t.Errorf("METHOD.md, which every report refers to, is missing: %v", err)
	}
}
