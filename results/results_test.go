package results

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/parquet-go/parquet-go"
)

func sampleRequests(n int) []Request {
	out := make([]Request, n)
	for i := range out {
		out[i] = Request{
			RunID: "r1", Scenario: "standard", TierMode: "B2", KVMode: "cpu_disk",
			Phase: PhaseMeasure, RequestIndex: int64(i), PromptID: "p", Stream: true,
			StartUnixNs: int64(1e18) + int64(i), LatencyNs: 1000 + int64(i),
			ChunkOffsetsNs: []int64{int64(i), int64(i) + 5},
		}
		if i%3 != 0 {
			out[i].TTFTNs = Ptr(int64(500 + i))
			out[i].PromptTokens = Ptr(int64(100))
		}
	}
	return out
}

func TestTableRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w, err := NewTableWriter[Request](dir, TableRequests, 7)
	if err != nil {
		t.Fatal(err)
	}
	in := sampleRequests(50)
	for i := range in {
		if err := w.Write(in[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := w.Info(); got != (TableInfo{File: "requests.parquet", SchemaVersion: 1, Rows: 50}) {
		t.Errorf("Info() = %+v", got)
	}
	got, err := ReadAll[Request](filepath.Join(dir, "requests.parquet"), TableRequests)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// Bounded row groups.
	f, _ := os.Open(filepath.Join(dir, "requests.parquet"))
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pf.RowGroups()); n != 8 {
		t.Errorf("row groups = %d; want 8 (50 rows, 7 per group)", n)
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), "tmp") {
			t.Errorf("leftover temporary file %s", e.Name())
		}
	}
}

func TestReaderRejectsUnknownVersion(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "requests.parquet")
	f, _ := os.Create(path)
	w := parquet.NewGenericWriter[Request](f, parquet.KeyValueMetadata(MetaTable, TableRequests), parquet.KeyValueMetadata(MetaSchemaVersion, "99"))
	w.Write(sampleRequests(2))
	w.Close()
	f.Close()
	_, err := ReadAll[Request](path, TableRequests)
	if !errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), `"99"`) {
		t.Fatalf("ReadAll = %v; want ErrUnknownVersion naming 99", err)
	}
}

func TestReaderCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	w, _ := NewTableWriter[Request](dir, TableRequests, 0)
	w.Write(sampleRequests(100)...)
	w.Close()
	good, _ := os.ReadFile(w.Path())
	cases := map[string][]byte{
		"empty":     {},
		"garbage":   []byte("not a parquet file at all, not even close"),
		"truncated": good[:len(good)/2],
		"flipped":   flip(good),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name+".parquet")
			os.WriteFile(p, data, 0o644)
			_, err := ReadAll[Request](p, TableRequests)
			if name == "flipped" && err == nil {
				return // a flipped byte in a data page may decode; it must not panic
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func flip(b []byte) []byte {
	c := append([]byte(nil), b...)
	for i := 4; i < len(c)-8; i += 97 {
		c[i] ^= 0xff
	}
	return c
}

func TestManifestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadManifest(dir); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("ReadManifest(empty) = %v; want ErrIncomplete", err)
	}
	m := &Manifest{RunID: "x", Scenario: "standard", TierMode: "B1", KVMode: "cpu_only",
		Config: map[string]string{"requests": "8"}, Valid: true,
		Tables: map[string]TableInfo{TableRequests: {File: "requests.parquet", SchemaVersion: 1, Rows: 8}}}
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("manifest (-want +got):\n%s", diff)
	}
}

func TestDecodeManifestErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"not json", "{", "decode manifest"},
		{"format", `{"format":7,"run_id":"a"}`, "format 7"},
		{"no run id", `{"format":1}`, "run_id is empty"},
		{"version", `{"format":1,"run_id":"a","tables":{"requests":{"file":"requests.parquet","schema_version":5}}}`, "schema version 5"},
		{"path", `{"format":1,"run_id":"a","tables":{"requests":{"file":"../x","schema_version":1}}}`, "bad file name"},
		{"trailing", `{"format":1,"run_id":"a"} {}`, "trailing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeManifest([]byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("DecodeManifest(%q) = %v; want error containing %q", c.in, err, c.want)
			}
		})
	}
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(`{"format":1,"run_id":"a","tables":{"requests":{"file":"requests.parquet","schema_version":1,"rows":3}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeManifest(data)
		if err == nil && (m.RunID == "" || m.Format != ManifestFormat) {
			t.Fatalf("accepted invalid manifest %q", data)
		}
	})
}

func TestResolveModes(t *testing.T) {
	cases := []struct {
		tier, kv, wantT, wantK string
		err                    bool
	}{
		{"B1", "", "B1", "cpu_only", false},
		{"", "cpu_disk", "B2", "cpu_disk", false},
		{"B0", "off", "B0", "off", false},
		{"B2", "cpu_only", "", "", true},
		{"B9", "", "", "", true},
		{"", "disk", "", "", true},
		{"", "", "", "", true},
	}
	for _, c := range cases {
		gt, gk, err := ResolveModes(c.tier, c.kv)
		if (err != nil) != c.err || gt != c.wantT || gk != c.wantK {
			t.Errorf("ResolveModes(%q, %q) = %q, %q, %v", c.tier, c.kv, gt, gk, err)
		}
	}
}
