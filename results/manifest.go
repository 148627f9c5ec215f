package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Version is the tool version written into manifests and Parquet files.
// Release builds override it with -ldflags "-X kvbench/results.Version=...".
var Version = "0.1.0-dev"

// ManifestFile is the name of the manifest inside a run bundle.
const ManifestFile = "manifest.json"

// ManifestFormat is the version of the manifest layout.
const ManifestFormat = 1

// Manifest describes one run bundle. It is written last; its presence marks
// the bundle complete.
type Manifest struct {
	Format      int    `json:"format"`
	RunID       string `json:"run_id"`
	ToolVersion string `json:"tool_version"`
	Scenario    string `json:"scenario"`
	TierMode    string `json:"tier_mode"`
	KVMode      string `json:"kv_mode"`
	Model       string `json:"model"`
	BaseURL     string `json:"base_url"`

	StartedUnixNs int64 `json:"started_unix_ns"`
	EndedUnixNs   int64 `json:"ended_unix_ns"`

	// Config holds every resolved flag of the run, by flag name.
	Config map[string]string `json:"config"`

	Phases []Phase `json:"phases"`
	Host   Host    `json:"host"`

	Valid          bool     `json:"valid"`
	InvalidReasons []string `json:"invalid_reasons"`
	Interrupted    bool     `json:"interrupted"`
	Warnings       []string `json:"warnings,omitempty"`

	// NotSent counts the planned requests that were never sent because the
	// run stopped early (interrupt, server unreachable); 0 when all were.
	NotSent int `json:"not_sent,omitempty"`
	// Planned and Sent count the run's planned requests and those sent
	// (preflight rejections included); a --duration run plans a cap and
	// sends what its duration allows. 0 in bundles written before them.
	Planned int `json:"planned,omitempty"`
	Sent    int `json:"sent,omitempty"`
	// Recovered is set by `capture recover` on a bundle rebuilt from the
	// durable rows and the journal of a crashed run.
	Recovered bool `json:"recovered,omitempty"`
	// KVBMMetrics says what the preflight found at --metrics-kvbm-url
	// before the first request (KVBMMetrics* values); empty in bundles
	// written before it existed.
	KVBMMetrics string `json:"kvbm_metrics,omitempty"`

	// Tables maps a table name to its file, schema version and row count.
	Tables map[string]TableInfo `json:"tables"`

	// Facts holds key facts reported by samplers (NVMe identity and
	// health, cache directory, metric sources), by name.
	Facts map[string]any `json:"facts,omitempty"`

	// Calibration records how prompt token targets were converted to text.
	Calibration *Calibration `json:"calibration,omitempty"`

	// Campaign coordinates; empty for a stand-alone run.
	Campaign *CampaignRef `json:"campaign,omitempty"`
}

// Phase is one phase of a scenario with its wall-clock bounds.
type Phase struct {
	Name          string `json:"name"`
	StartUnixNs   int64  `json:"start_unix_ns"`
	EndUnixNs     int64  `json:"end_unix_ns"`
	Requests      int    `json:"requests"`
	Concurrency   int    `json:"concurrency"`
	Errors        int    `json:"errors"`
	RepeatIndex   int    `json:"repeat_index,omitempty"`
	ScheduledOnly bool   `json:"scheduled_only,omitempty"`
	// NotSent counts the phase's planned requests that were never sent
	// because the run stopped during it.
	NotSent int `json:"not_sent,omitempty"`
}

// Values of Manifest.KVBMMetrics.
const (
	KVBMMetricsOK            = "ok"               // the endpoint answered with KVBM families
	KVBMMetricsNotConfigured = "not_configured"   // no --metrics-kvbm-url: no KVBM counters were captured
	KVBMMetricsUnreachable   = "unreachable"      // the endpoint did not answer
	KVBMMetricsNoFamilies    = "no_kvbm_families" // it answered without any KVBM family
)

// Host records facts about the machine that ran capture.
type Host struct {
	Hostname string `json:"hostname"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	Kernel   string `json:"kernel"`
	NumCPU   int    `json:"num_cpu"`
	GoVer    string `json:"go_version"`
}

// TableInfo is the manifest entry for one table file.
type TableInfo struct {
	File          string `json:"file"`
	SchemaVersion int    `json:"schema_version"`
	Rows          int64  `json:"rows"`
}

// Calibration is the fitted relation tokens = OffsetTokens +
// words/WordsPerToken between prompt words and the server's
// usage.prompt_tokens, from probe requests.
type Calibration struct {
	Method        string  `json:"method"` // "usage_probe" or "none"
	WordsPerToken float64 `json:"words_per_token"`
	OffsetTokens  float64 `json:"offset_tokens"`
	Probes        []Probe `json:"probes,omitempty"`
	// MaxRelError is the largest |measured - target| / target over the
	// run's prompts whose measured size the server reported.
	MaxRelError *float64 `json:"max_rel_error,omitempty"`
	Note        string   `json:"note,omitempty"`
}

// Probe is one calibration request.
type Probe struct {
	Words        int   `json:"words"`
	PromptTokens int64 `json:"prompt_tokens"`
}

// CampaignRef places a run inside a campaign.
type CampaignRef struct {
	ID         string            `json:"id"`
	Arm        string            `json:"arm"`
	Repetition int               `json:"repetition"`
	Position   int               `json:"position"`
	SweepPoint map[string]string `json:"sweep_point,omitempty"`
	// Attempt numbers the tries of this run after the arm was restarted
	// (retries); 0 or 1 for the first.
	Attempt int `json:"attempt,omitempty"`
}

// WriteManifest writes m to dir/manifest.json atomically (temporary file,
// fsync, rename, directory fsync).
func WriteManifest(dir string, m *Manifest) error {
	m.Format = ManifestFormat
	if m.ToolVersion == "" {
		m.ToolVersion = Version
	}
	if m.InvalidReasons == nil {
		m.InvalidReasons = []string{}
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	return WriteFileAtomic(filepath.Join(dir, ManifestFile), append(data, '\n'))
}

// ErrIncomplete is returned by ReadManifest when a directory has data files
// but no manifest: the run was killed before it could finish.
var ErrIncomplete = errors.New("incomplete bundle: no manifest.json (capture did not finish)")

// ReadManifest reads and validates dir/manifest.json.
func ReadManifest(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrIncomplete
	}
	if err != nil {
		return nil, err
	}
	return DecodeManifest(data)
}

// DecodeManifest parses manifest JSON strictly and checks its versions.
func DecodeManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode manifest: trailing data after the JSON object")
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("manifest format %d: this build reads format %d", m.Format, ManifestFormat)
	}
	if m.RunID == "" {
		return nil, errors.New("manifest: run_id is empty")
	}
	for name, t := range m.Tables {
		if _, ok := KnownVersions[name]; !ok {
			// Tables added by newer builds are skipped by readers, not fatal.
			continue
		}
		if !knownVersion(name, t.SchemaVersion) {
			return nil, fmt.Errorf("manifest: table %s schema version %d (this build reads %v): %w",
				name, t.SchemaVersion, KnownVersions[name], ErrUnknownVersion)
		}
		if t.File == "" || filepath.Base(t.File) != t.File {
			return nil, fmt.Errorf("manifest: table %s has bad file name %q", name, t.File)
		}
		if t.Rows < 0 {
			return nil, fmt.Errorf("manifest: table %s has negative row count", name)
		}
	}
	return &m, nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// directory, fsyncs it and renames it into place.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return &WriteError{Path: path, Err: unwrapPathError(err)}
	}
	_, err = f.Write(data)
	return commitTemp(f, path, err)
}

// commitTemp ends the write of temporary file f whose content is complete
// when err is nil: it fsyncs and closes f, renames it to path and syncs
// the directory. On any error f is removed and the error names path.
func commitTemp(f tempFile, path string, err error) error {
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return &WriteError{Path: path, Err: unwrapPathError(err)}
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil // Note: some filesystems refuse to open directories; the rename already happened.
	}
	defer d.Close()
	_ = d.Sync()
	return nil
}
