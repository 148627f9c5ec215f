package kvbench_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kvbench/analysis"
	"kvbench/report"
	"kvbench/results"
	"kvbench/sim"
	"kvbench/sim/simtest"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds capture and analyze once per test process.
func binaries(t testing.TB) (capture, analyze string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "kvbench-bin-")
		if buildErr != nil {
			return
		}
		for _, name := range []string{"capture", "analyze"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, name), "./cmd/"+name).CombinedOutput()
			if err != nil {
				buildErr = &buildError{name, string(out)}
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "capture"), filepath.Join(binDir, "analyze")
}

type buildError struct{ name, out string }

func (e *buildError) Error() string { return "build " + e.name + ": " + e.out }

// startSim starts the simulator binary on free loopback ports; it is
// stopped when the test ends.
func startSim(t testing.TB, capture string, args ...string) sim.Addrs {
	a, _ := simtest.StartBinary(t, capture, args...)
	return a
}

func runCmd(t testing.TB, wantCode int, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s %v: %v", filepath.Base(bin), args, err)
		}
		code = ee.ExitCode()
	}
	if code != wantCode {
		t.Fatalf("%s %s: exit %d, want %d; output:\n%s", filepath.Base(bin), strings.Join(args, " "), code, wantCode, out)
	}
	return string(out)
}

// TestEndToEndSimulator captures two runs per arm against the simulator
// binary and checks their bundles, analyze's report of them, and DuckDB's
// reading of the exported dataset.
// Note: long because capture, report and the independent cross-check are
// one experiment on the same bundles.
func TestEndToEndSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, analyze := binaries(t)
	dir := t.TempDir()
	res := filepath.Join(dir, "results")
	const requests, warmup = 40, 4
	for _, arm := range []struct{ tier, kv string }{{"B1", "cpu_only"}, {"B2", "cpu_disk"}} {
		sim := startSim(t, capture, "--kv-mode", arm.kv, "--preset", "fast")
		for _, rep := range []string{"a", "b"} {
			runCmd(t, 0, capture, "run", "--base-url", "http://"+sim.API, "--tier-mode", arm.tier,
				"--scenario", "standard", "--prompt-set", "short", "--requests", "40", "--warmup", "4",
				"--concurrency", "4", "--max-tokens", "8", "--stream", "--request-seed", "42",
				"--run-id", "e2e_"+arm.tier+"_"+rep, "--results-dir", res)
		}
	}

	var hashes [][]string
	for _, id := range []string{"e2e_B1_a", "e2e_B1_b", "e2e_B2_a", "e2e_B2_b"} {
		runDir := filepath.Join(res, id)
		m, err := results.ReadManifest(runDir)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if !m.Valid || m.Interrupted {
			t.Errorf("%s: valid=%v interrupted=%v reasons=%v", id, m.Valid, m.Interrupted, m.InvalidReasons)
		}
		if got := m.Tables[results.TableRequests].Rows; got != requests+warmup {
			t.Errorf("%s: manifest rows %d; want %d", id, got, requests+warmup)
		}
		if len(m.Phases) != 2 || m.Phases[0].Name != "warmup" || m.Phases[1].Name != "measure" {
			t.Errorf("%s: phases %+v", id, m.Phases)
		}
		if m.Config["concurrency"] != "4" || m.Config["request-seed"] != "42" || m.Host.NumCPU != runtime.NumCPU() {
			t.Errorf("%s: manifest config/host not recorded: %v %+v", id, m.Config, m.Host)
		}
		rows, err := results.ReadAll[results.Request](filepath.Join(runDir, "requests.parquet"), results.TableRequests)
		if err != nil {
			t.Fatal(err)
		}
		phases := map[string]int{}
		for _, r := range rows {
			phases[r.Phase]++
			if r.ErrorKind != "" {
				t.Errorf("%s request %d: %s %s", id, r.RequestIndex, r.ErrorKind, r.Error)
				continue
			}
			if r.TTFTNs == nil || *r.TTFTNs <= 0 || *r.TTFTNs >= r.LatencyNs {
				t.Errorf("%s request %d: ttft %v latency %d", id, r.RequestIndex, r.TTFTNs, r.LatencyNs)
			}
			if r.CompletionID == "" || r.PromptTokens == nil || r.RequestID != id+"-"+strconv.FormatInt(r.RequestIndex, 10) {
				t.Errorf("%s request %d: completion %q prompt_tokens %v request_id %q", id, r.RequestIndex, r.CompletionID, r.PromptTokens, r.RequestID)
			}
		}
		if phases["warmup"] != warmup || phases["measure"] != requests {
			t.Errorf("%s: phase counts %v", id, phases)
		}
		// Requests finish out of order under concurrency; compare the
		// schedule order.
		hashes = append(hashes, sortedByIndex(rows))
	}
	for i := 1; i < len(hashes); i++ {
		if strings.Join(hashes[i], ",") != strings.Join(hashes[0], ",") {
			t.Errorf("run %d identity hash sequence differs from run 0 for the same seed", i)
		}
	}

	out := filepath.Join(dir, "report")
	stdout := runCmd(t, 0, analyze, "report", res, "--out", out)
	if !strings.Contains(stdout, "report.md") {
		t.Errorf("analyze output does not say where the report is: %q", stdout)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Time to first token", "| standard | measure | B1 | 4 | 2 | 80 | 0 |", "| standard | measure | B2 | 4 | 2 | 80 | 0 |", "plots/ttft_cdf_standard_measure.png"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(string(md), "| warmup | B") {
		t.Errorf("report.md has warmup rows")
	}
	for _, p := range []string{"plots/ttft_cdf_standard_measure.png", "plots/ttft_cdf_standard_measure.svg", "summary.json"} {
		if st, err := os.Stat(filepath.Join(out, p)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", p, err)
		}
	}

	// Independent cross-check: DuckDB reads the exported dataset and its
	// quantile_cont (type 7) matches the report's p50 per arm.
	ds := filepath.Join(dir, "dataset")
	runCmd(t, 0, analyze, "export", res, "--out", ds)
	got := duckdb(t, fmt.Sprintf(`SELECT tier_mode, count(*) AS n, quantile_cont(ttft_ns/1e6, 0.5) AS p50
		FROM read_parquet('%s/requests/*/*/*/*.parquet', hive_partitioning=true)
		WHERE phase='measure' AND error_kind='' GROUP BY tier_mode ORDER BY tier_mode`, ds))
	if got == nil {
		return
	}
	var sum struct {
		Groups []struct {
			Arm, Phase string
			Metrics    []struct {
				Name      string
				Quantiles []struct {
					P, Value float64
				}
			}
		}
	}
	js, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(js, &sum); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for _, g := range sum.Groups {
		for _, m := range g.Metrics {
			if m.Name == "ttft_ms" && g.Phase == "measure" {
				want[g.Arm] = m.Quantiles[0].Value
			}
		}
	}
	if len(got) != 2 {
		t.Fatalf("duckdb rows %v", got)
	}
	for _, row := range got {
		arm := fmt.Sprint(row["tier_mode"])
		p50, _ := strconv.ParseFloat(fmt.Sprint(row["p50"]), 64)
		if fmt.Sprint(row["n"]) != "80" || math.Abs(p50-want[arm]) > 1e-9*want[arm] {
			t.Errorf("duckdb %s: n=%v p50=%v; report p50 %v", arm, row["n"], p50, want[arm])
		}
	}
}

// duckdb runs a query through DuckDB (scripts/duckdb-query.mjs) when
// KVBENCH_DUCKDB_DIR names an npm prefix with @duckdb/node-api; .ci/run
// installs it. Without it the cross-check is skipped with a log line.
func duckdb(t *testing.T, query string) []map[string]any {
	t.Helper()
	dir := os.Getenv("KVBENCH_DUCKDB_DIR")
	if dir == "" {
		t.Log("KVBENCH_DUCKDB_DIR not set: DuckDB cross-check skipped")
		return nil
	}
	cmd := exec.Command("node", "scripts/duckdb-query.mjs", query)
	cmd.Env = append(os.Environ(), "KVBENCH_DUCKDB_DIR="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb: %v", err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("duckdb output %q: %v", out, err)
	}
	return rows
}

func sortedByIndex(rows []results.Request) []string {
	out := make([]string, len(rows))
	for _, r := range rows {
		if int(r.RequestIndex) < len(out) {
			out[r.RequestIndex] = r.Phase + ":" + r.IdentityHash
		}
	}
	return out
}

func TestInterruptKeepsRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, _ := binaries(t)
	// Slow enough that the run is mid-way when interrupted.
	sim := startSim(t, capture, "--kv-mode", "cpu_only", "--preset", "fast", "--cost-decode-per-token", "20ms")
	res := t.TempDir()
	cmd := exec.Command(capture, "run", "--base-url", "http://"+sim.API, "--tier-mode", "B1", "--requests", "400",
		"--warmup", "0", "--concurrency", "4", "--max-tokens", "20", "--stream", "--run-id", "cut", "--results-dir", res)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v; want 130\n%s", err, out.String())
	}
	m, err := results.ReadManifest(filepath.Join(res, "cut"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Interrupted || m.Valid {
		t.Errorf("manifest interrupted=%v valid=%v", m.Interrupted, m.Valid)
	}
	rows, err := results.ReadAll[results.Request](filepath.Join(res, "cut", "requests.parquet"), results.TableRequests)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(rows))
	if n == 0 || n >= 400 || n != m.Tables["requests"].Rows {
		t.Errorf("rows %d, manifest %d; want 0 < rows < 400 and equal", n, m.Tables["requests"].Rows)
	}
	ok200 := 0
	for _, r := range rows {
		if r.ErrorKind == "" {
			ok200++
		} else if r.ErrorKind != results.ErrCanceled {
			t.Errorf("request %d: %s %s", r.RequestIndex, r.ErrorKind, r.Error)
		}
	}
	if ok200 < 4 {
		t.Errorf("only %d requests finished before the interrupt", ok200)
	}
}

func TestCampaignSimulatorResume(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, analyze := binaries(t)
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	arm := func(name, kv string) string {
		return fmt.Sprintf(`  - name: %s
    start: ["{capture}", "sim", "--kv-mode", "%s", "--preset", "fast", "--listen", "127.0.0.1:0", "--kvbm-listen", "127.0.0.1:0", "--system-listen", "127.0.0.1:0"]
    ready: {timeout_s: 20}
`, name, kv)
	}
	os.WriteFile(plan, []byte(`campaign: c1
results_dir: `+filepath.Join(dir, "res")+`
seed: 3
repetitions: 2
run: {scenario: standard, requests: 12, warmup: 2, concurrency: 2, max-tokens: 4, stream: true, no-progress: true}
arms:
`+arm("B1", "cpu_only")+arm("B2", "cpu_disk")), 0o644)

	out := runCmd(t, 0, capture, "campaign", plan)
	if strings.Count(out, "completed") != 4 {
		t.Fatalf("first invocation:\n%s", out)
	}
	campDir := filepath.Join(dir, "res", "c1")
	m, err := results.ReadManifest(filepath.Join(campDir, "c1_B2_r2"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Campaign == nil || m.Campaign.ID != "c1" || m.Campaign.Arm != "B2" || m.Campaign.Repetition != 2 || m.KVMode != "cpu_disk" {
		t.Errorf("campaign ref %+v kv %s", m.Campaign, m.KVMode)
	}

	// Break one run: resume re-runs it (keeping the old attempt) and skips the rest.
	os.Remove(filepath.Join(campDir, "c1_B1_r1", "manifest.json"))
	out = runCmd(t, 0, capture, "campaign", plan)
	if strings.Count(out, "completed") != 1 || strings.Count(out, " done") != 3 {
		t.Errorf("resume:\n%s", out)
	}
	kept, _ := filepath.Glob(filepath.Join(campDir, ".superseded", "c1_B1_r1.*", "requests.parquet"))
	if len(kept) != 1 {
		t.Errorf("earlier attempt not kept: %v", kept)
	}
	rep := runCmd(t, 0, analyze, "report", campDir, "--out", filepath.Join(dir, "report"))
	if !strings.Contains(rep, "(4 runs)") {
		t.Errorf("analyze: %s", rep)
	}
	checkReportHeader(t, filepath.Join(dir, "report"))
}

// checkReportHeader checks that a report of a simulator campaign says what
// was measured, and that its method link resolves inside the repository.
func checkReportHeader(t *testing.T, out string) {
	t.Helper()
	if analysis.SimulatorModel != sim.DefaultModel {
		t.Errorf("analysis.SimulatorModel %q; the simulator serves %q", analysis.SimulatorModel, sim.DefaultModel)
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	for _, want := range []string{
		"# kvbench report: B2 (cpu_disk) against B1 (cpu_only)",
		"> **Simulator data.** All runs ran against `capture sim`",
		"| target | simulator (`capture sim`",
		"model kvbench/sim-8b at 127.0.0.1 (B1, B2)",
		"| capture host | " + host + " (" + runtime.GOOS + "/" + runtime.GOARCH,
		"| tool versions | capture " + results.Version,
		"| runs | 4 (B1: 2, B2: 2), campaign c1 |",
		"| scenario | standard |",
		"| max output tokens | 4 |",
		"| stream | true |",
		"| concurrency by phase | measure 2 |",
		"| differs between runs | request-seed (within arms) |",
		"see " + report.MethodDoc + " in the kvbench repository",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%.3000s", want, md)
		}
	}
	if !regexp.MustCompile(`\| started \| (first run \d{4}-\d\d-\d\dT[0-9:]+Z, last run )?\d{4}-\d\d-\d\dT[0-9:]+Z \|`).Match(md) {
		t.Errorf("report.md does not say when the runs started:\n%.3000s", md)
	}
	if st, err := os.Stat(report.MethodDoc); err != nil || st.Size() < 1000 {
		t.Errorf("the report's method link %s does not resolve in the repository: %v", report.MethodDoc, err)
	}
	var sum struct {
		Header struct {
			Targets []struct {
				Model     string
				Simulator bool
			}
			FirstRunStart  string            `json:"first_run_start"`
			SharedSettings map[string]string `json:"shared_settings"`
		}
	}
	js, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(js, &sum); err != nil {
		t.Fatal(err)
	}
	h := sum.Header
	if len(h.Targets) != 1 || !h.Targets[0].Simulator || h.FirstRunStart == "" || h.SharedSettings["max-tokens"] != "4" {
		t.Errorf("summary.json header %+v", h)
	}
}

// TestPlantedAdvantage runs the simulator with a planted B2 advantage
// (replay from the disk tier is cheaper than recomputing, and the working
// set no longer fits the host tier) and with none (the standard scenario
// never reuses a prompt), and checks the verdicts analyze gives.
func TestPlantedAdvantage(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, analyze := binaries(t)
	dir := t.TempDir()
	arm := func(name, kv string) string {
		return fmt.Sprintf(`  - name: %s
    start: ["{capture}", "sim", "--kv-mode", "%s", "--preset", "spark-8b", "--time-scale", "0.02", "--gpu-blocks", "128", "--cpu-blocks", "256", "--listen", "127.0.0.1:0", "--kvbm-listen", "127.0.0.1:0", "--system-listen", "127.0.0.1:0"]
    ready: {timeout_s: 20}
`, name, kv)
	}
	plan := func(name, run string) string {
		p := filepath.Join(dir, name+".yaml")
		os.WriteFile(p, []byte("campaign: "+name+"\nresults_dir: "+filepath.Join(dir, "res")+"\nseed: 5\nrepetitions: 3\nrun: "+run+"\narms:\n"+
			arm("B1", "cpu_only")+arm("B2", "cpu_disk")), 0o644)
		return p
	}
	runCmd(t, 0, capture, "campaign", plan("planted", `{scenario: rehydrate_replay, long-range: "600:1200", warmup: 0, max-tokens: 2, stream: true,
  rehydrate-populate-requests: 30, rehydrate-thrash-requests: 30, rehydrate-populate-concurrency: 2, rehydrate-thrash-concurrency: 2, no-progress: true}`))
	runCmd(t, 0, capture, "campaign", plan("none", `{scenario: standard, prompt-set: long, long-range: "600:1200", requests: 40, warmup: 2,
  concurrency: 1, max-tokens: 2, stream: true, no-progress: true}`))

	verdicts := func(camp, phase string) map[float64]string {
		out := filepath.Join(dir, "report-"+camp)
		runCmd(t, 0, analyze, "report", filepath.Join(dir, "res", camp), "--out", out)
		var sum struct {
			Comparisons []struct {
				Phase, Metric, Verdict string
				Quantile               float64
			}
			Rehydrate []struct{ Arm, Verdict string }
		}
		js, _ := os.ReadFile(filepath.Join(out, "summary.json"))
		if err := json.Unmarshal(js, &sum); err != nil {
			t.Fatal(err)
		}
		v := map[float64]string{}
		for _, c := range sum.Comparisons {
			if c.Phase == phase && c.Metric == "ttft_ms" {
				v[c.Quantile] = c.Verdict
			}
		}
		if camp == "planted" {
			for _, r := range sum.Rehydrate {
				want := "gated"
				if r.Arm == "B2" {
					want = "rehydrate_observed"
				}
				if r.Verdict != want {
					t.Errorf("planted: %s run rehydrate verdict %s; want %s", r.Arm, r.Verdict, want)
				}
			}
		}
		return v
	}
	if v := verdicts("planted", "replay"); v[0.5] != "better" {
		t.Errorf("planted advantage: replay TTFT p50 verdict %q; want better (all: %v)", v[0.5], v)
	}
	if v := verdicts("none", "measure"); v[0.5] != "equivalent" && v[0.5] != "inconclusive" {
		t.Errorf("no advantage: measure TTFT p50 verdict %q; want equivalent or inconclusive (all: %v)", v[0.5], v)
	}
}

// TestFaultsRecorded runs capture against a simulator that injects every
// request fault and checks that each failure is a row with the right kind,
// the run is marked invalid (exit 3), and the rest of the data is intact.
func TestFaultsRecorded(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, _ := binaries(t)
	sim := startSim(t, capture, "--kv-mode", "cpu_only", "--preset", "fast", "--seed", "3",
		"--fault-503", "0.1", "--fault-reset", "0.1", "--fault-sse-error", "0.1", "--fault-malformed-sse", "0.1",
		"--fault-stall", "0.05", "--fault-stall-for", "0")
	res := t.TempDir()
	runCmd(t, 3, capture, "run", "--base-url", "http://"+sim.API, "--tier-mode", "B1", "--requests", "200", "--warmup", "0",
		"--concurrency", "8", "--max-tokens", "8", "--stream", "--request-timeout-s", "1", "--run-id", "faults", "--results-dir", res, "--no-progress")
	m, err := results.ReadManifest(filepath.Join(res, "faults"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Valid || len(m.InvalidReasons) == 0 || !strings.Contains(m.InvalidReasons[0], "error rate") {
		t.Errorf("manifest valid=%v reasons=%v", m.Valid, m.InvalidReasons)
	}
	rows, err := results.ReadAll[results.Request](filepath.Join(res, "faults", "requests.parquet"), results.TableRequests)
	if err != nil || len(rows) != 200 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	kinds := map[string]int{}
	for _, r := range rows {
		kinds[r.ErrorKind]++
		if r.ErrorKind == results.ErrHTTP && r.StatusCode != 503 {
			t.Errorf("http error with status %d", r.StatusCode)
		}
		if r.ErrorKind != "" && r.Error == "" {
			t.Errorf("request %d: kind %s without a message", r.RequestIndex, r.ErrorKind)
		}
	}
	for _, k := range []string{"", results.ErrHTTP, results.ErrConnection, results.ErrServerEvent, results.ErrProtocol, results.ErrTimeout} {
		if kinds[k] == 0 {
			t.Errorf("no request with error kind %q (kinds %v)", k, kinds)
		}
	}
}
