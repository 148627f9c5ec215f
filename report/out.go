package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"kvbench/results"
)

// OutManifest is the file in which a report lists what it wrote, so the
// next report into the same directory removes exactly that and nothing
// else.
const OutManifest = ".kvbench-report.json"

// ErrNotOurs is returned when the output directory holds files no report
// of ours wrote.
var ErrNotOurs = errors.New("the output directory holds files kvbench did not write")

// outManifest is the content of OutManifest.
type outManifest struct {
	Tool  string   `json:"tool"`
	Files []string `json:"files"` // slash paths relative to the directory
}

// prepareOut makes dir ready for a new report: it removes what an earlier
// report of ours wrote there (listed in OutManifest, or recognised by name
// when an older report left no list) and refuses a directory holding
// anything else, unless force; with force, other files are left alone.
func prepareOut(dir string, force bool) error {
	listed, err := readOutManifest(dir)
	if err != nil {
		return err
	}
	var ours, foreign []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == dir {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if rel == OutManifest || slices.Contains(listed, rel) || ourName(rel) {
			ours = append(ours, rel)
		} else {
			foreign = append(foreign, rel)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("output directory %s: %w", dir, err)
	}
	if len(foreign) > 0 && !force {
		if len(foreign) > 3 {
			foreign = append(foreign[:3], fmt.Sprintf("and %d more", len(foreign)-3))
		}
		return fmt.Errorf("%s: %w (%s); choose an empty or new directory, or pass --force to write beside them",
			dir, ErrNotOurs, strings.Join(foreign, ", "))
	}
	for _, rel := range ours {
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(rel))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove an earlier report's %s: %w", rel, err)
		}
	}
	return nil
}

// ourName recognises the files a report writes: report.md, summary.json
// and plots/*.png and *.svg.
func ourName(rel string) bool {
	if rel == "report.md" || rel == "summary.json" {
		return true
	}
	dir, file := pathSplit(rel)
	return dir == "plots" && (strings.HasSuffix(file, ".png") || strings.HasSuffix(file, ".svg"))
}

func pathSplit(rel string) (dir, file string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

// readOutManifest returns the files an earlier report listed; none when
// there is no list. Only plain relative paths inside the directory count.
func readOutManifest(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, OutManifest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m outManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, OutManifest), err)
	}
	var out []string
	for _, f := range m.Files {
		if f != "" && filepath.IsLocal(filepath.FromSlash(f)) {
			out = append(out, f)
		}
	}
	return out, nil
}

// writeOutManifest lists the files this report wrote, last.
func writeOutManifest(dir, tool string, files []string) error {
	slices.Sort(files)
	data, err := json.MarshalIndent(outManifest{Tool: tool, Files: files}, "", "  ")
	if err != nil {
		return err
	}
	return results.WriteFileAtomic(filepath.Join(dir, OutManifest), append(data, '\n'))
}
