package kvbench_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"kvbench/results"
	"kvbench/sim"
	"kvbench/sim/simtest"
)

// This file tests, through the real binaries against the simulator, what
// a first contact with a real stack needs: a preflight before the first
// request, nothing lost to a kill, a lost server that stops the run, a
// full disk that keeps what is durable, interrupts, and run ids.

// freePort returns a loopback address nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// simProcess starts `capture sim` on free ports like simtest.StartBinary
// but hands back the process, so a test can kill it as a crash would.
func simProcess(t *testing.T, capture string, args ...string) (sim.Addrs, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(capture, append([]string{"sim", "--listen", "127.0.0.1:0", "--kvbm-listen", "127.0.0.1:0", "--system-listen", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var l simtest.Listening
	if err != nil || json.Unmarshal([]byte(line), &l) != nil || l.API == "" {
		t.Fatalf("simulator did not announce its addresses: %q %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	return l.Addrs, cmd
}

// frontendCompletions reads how many /v1/completions requests the
// simulator at api has counted (dynamo_frontend_requests_total).
func frontendCompletions(t *testing.T, api string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var n float64
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "dynamo_frontend_requests_total{") && strings.Contains(line, `endpoint="completions"`) {
			v, _ := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
			n += v
		}
	}
	return n
}

// exitCode waits for cmd and returns its exit code.
func exitCode(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	if err == nil {
		return 0
	}
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatal(err)
	}
	return ee.ExitCode()
}

// TestPreflightWrongKVBMPort: a KVBM URL on a wrong port stops the run
// within 10 s with exit 3 and one line naming the URL, before the
// simulator saw a single completion (calibration probes included), and
// the bundle's manifest says why.
func TestPreflightWrongKVBMPort(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, _ := binaries(t)
	a := startSim(t, capture, "--kv-mode", "cpu_disk", "--preset", "fast")
	res := t.TempDir()
	wrong := "http://" + freePort(t) + "/metrics"
	before := frontendCompletions(t, a.API)
	start := time.Now()
	out := runCmd(t, 3, capture, "run", "--base-url", "http://"+a.API, "--tier-mode", "B2", "--requests", "50", "--warmup", "4",
		"--max-tokens", "4", "--metrics-kvbm-url", wrong, "--run-id", "wrongport", "--results-dir", res)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("exit after %s; want within 10 s", d)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.Contains(out, wrong) || !strings.Contains(out, "connection refused") {
		t.Errorf("output %q: want one line naming %s and what it returned", out, wrong)
	}
	if got := frontendCompletions(t, a.API) - before; got != 0 {
		t.Errorf("the simulator received %v completions; want none", got)
	}
	m, err := results.ReadManifest(filepath.Join(res, "wrongport"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Valid || m.KVBMMetrics != results.KVBMMetricsUnreachable || len(m.InvalidReasons) != 1 || !strings.Contains(m.InvalidReasons[0], wrong) {
		t.Errorf("manifest valid=%v kvbm_metrics=%q reasons=%q", m.Valid, m.KVBMMetrics, m.InvalidReasons)
	}
}

// requestIDs reads request_id and error_kind of a requests table with a
// standard reader: DuckDB when KVBENCH_DUCKDB_DIR is set, else
// parquet-go's generic reader (not kvbench's own).
func requestIDs(t *testing.T, path string) map[string]string {
	t.Helper()
	out := map[string]string{}
	if os.Getenv("KVBENCH_DUCKDB_DIR") != "" {
		for _, row := range duckdb(t, fmt.Sprintf("SELECT request_id, error_kind FROM read_parquet('%s')", path)) {
			out[fmt.Sprint(row["request_id"])] = fmt.Sprint(row["error_kind"])
		}
		return out
	}
	type idRow struct {
		RequestID string `parquet:"request_id"`
		ErrorKind string `parquet:"error_kind"`
	}
	rows, err := parquet.ReadFile[idRow](path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, r := range rows {
		out[r.RequestID] = r.ErrorKind
	}
	return out
}

// groundTruth reads the simulator's ground-truth log.
func groundTruth(t *testing.T, path string) []sim.GroundTruth {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sim.GroundTruth
	dec := json.NewDecoder(f)
	for dec.More() {
		var g sim.GroundTruth
		if err := dec.Decode(&g); err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
	}
	return out
}

// TestKillNineRecovers kills capture with SIGKILL at 20 seeded random
// moments of a run. After `capture recover`, a standard reader opens
// requests.parquet and finds every request the simulator finished more
// than 2 s before the kill; analyze lists the crashed bundle, before
// recovery, as skipped with the reason crashed and the command.
// Note: long because the kills, the recoveries and the check against
// the ground truth (read once the simulator has flushed it) are one
// experiment.
func TestKillNineRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, analyze := binaries(t)
	truth := filepath.Join(t.TempDir(), "truth.jsonl")
	simCmd := exec.Command(capture, "sim", "--listen", "127.0.0.1:0", "--kvbm-listen", "127.0.0.1:0", "--system-listen", "127.0.0.1:0",
		"--preset", "fast", "--cost-decode-per-token", "4ms", "--ground-truth", truth)
	a, stopSim := startSimCmd(t, simCmd)
	res := t.TempDir()
	rng := rand.New(rand.NewPCG(20, 9))
	kills := map[string]time.Time{}
	for i := range 20 {
		id := fmt.Sprintf("kill%02d", i)
		cmd := exec.Command(capture, "run", "--base-url", "http://"+a.API, "--tier-mode", "B1", "--requests", "4000", "--warmup", "4",
			"--concurrency", "4", "--max-tokens", "8", "--stream", "--calibrate=false", "--no-progress", "--run-id", id, "--results-dir", res,
			"--metrics-kvbm-url", "http://"+a.KVBM+"/metrics", "--metrics-interval", "200ms")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(100+rng.IntN(3000)) * time.Millisecond)
		kills[id] = time.Now()
		cmd.Process.Kill()
		cmd.Wait()
		dir := filepath.Join(res, id)
		if _, crashed := results.Crashed(dir); !crashed {
			continue // killed before its journal existed: checked below against the ground truth
		}
		if i < 3 {
			out, _ := exec.Command(analyze, "report", dir, "--out", t.TempDir()).CombinedOutput()
			if !strings.Contains(string(out), "crashed") || !strings.Contains(string(out), "capture recover "+dir) {
				t.Errorf("analyze on a crashed bundle:\n%s", out)
			}
		}
		runCmd(t, 0, capture, "recover", dir)
	}
	stopSim()
	finished := map[string][]string{} // run id → request ids the simulator finished 2 s before the kill
	for _, g := range groundTruth(t, truth) {
		id, _, ok := strings.Cut(g.RequestID, "-")
		if !ok || g.Status != http.StatusOK || !strings.HasPrefix(id, "kill") {
			continue
		}
		if time.Unix(0, g.DoneUnixNs).Before(kills[id].Add(-2 * time.Second)) {
			finished[id] = append(finished[id], g.RequestID)
		}
	}
	checked := 0
	for id := range kills {
		dir := filepath.Join(res, id)
		if _, err := os.Stat(filepath.Join(dir, "requests.parquet")); err != nil {
			if len(finished[id]) > 0 {
				t.Errorf("%s: no requests.parquet, but %d requests finished 2 s before the kill", id, len(finished[id]))
			}
			continue
		}
		got := requestIDs(t, filepath.Join(dir, "requests.parquet"))
		for _, rid := range finished[id] {
			if kind, ok := got[rid]; !ok || kind != "" {
				t.Errorf("%s: request %s finished more than 2 s before the kill but is not in requests.parquet (%q, %v)", id, rid, kind, ok)
			}
		}
		checked += len(finished[id])
		m, err := results.ReadManifest(dir)
		if err != nil || m.Valid || !m.Recovered || m.Tables["requests"].Rows != int64(len(got)) {
			t.Errorf("%s: manifest %+v, %v", id, m, err)
		}
	}
	t.Logf("%d requests finished more than 2 s before one of 20 kills; all found", checked)
	if checked == 0 {
		t.Error("no request finished 2 s before any kill: the test proves nothing")
	}
}

// startSimCmd starts a prepared `capture sim` command and returns its
// addresses and a function that stops it gracefully (SIGINT, so its
// ground truth is flushed).
func startSimCmd(t *testing.T, cmd *exec.Cmd) (sim.Addrs, func()) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var l simtest.Listening
	if err != nil || json.Unmarshal([]byte(line), &l) != nil || l.API == "" {
		t.Fatalf("simulator did not announce its addresses: %q %v", line, err)
	}
	go io.Copy(io.Discard, stdout)
	return l.Addrs, stop
}

// TestServerDeathStopsRun kills the simulator 3 s into the measured phase
// of a 20,000-request run: capture exits 3 within 15 s of the death, fewer
// than 100 requests were sent after it, and the manifest says since when
// the server was unreachable and how many requests were never sent.
func TestServerDeathStopsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, _ := binaries(t)
	a, simCmd := simProcess(t, capture, "--preset", "fast", "--cost-decode-per-token", "2ms")
	res := t.TempDir()
	cmd := exec.Command(capture, "run", "--base-url", "http://"+a.API, "--tier-mode", "B1", "--requests", "20000", "--warmup", "0",
		"--concurrency", "8", "--max-tokens", "8", "--stream", "--calibrate=false", "--no-progress", "--run-id", "dies", "--results-dir", res)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, filepath.Join(res, "dies"), results.PhaseMeasure)
	time.Sleep(3 * time.Second)
	death := time.Now()
	simCmd.Process.Signal(syscall.SIGKILL)
	code := exitCode(t, cmd)
	if d := time.Since(death); d > 15*time.Second {
		t.Errorf("capture exited %s after the server died; want within 15 s", d)
	}
	if code != 3 {
		t.Fatalf("exit %d; want 3\n%s", code, out.String())
	}
	m, err := results.ReadManifest(filepath.Join(res, "dies"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Valid || !strings.HasPrefix(m.InvalidReasons[0], "server unreachable since ") || m.NotSent < 10000 {
		t.Errorf("manifest valid=%v not_sent=%d reasons=%q", m.Valid, m.NotSent, m.InvalidReasons)
	}
	rows, err := results.ReadAll[results.Request](filepath.Join(res, "dies", "requests.parquet"), results.TableRequests)
	if err != nil {
		t.Fatal(err)
	}
	after := 0
	for _, r := range rows {
		if r.StartUnixNs > death.UnixNano() {
			after++
		}
	}
	if after >= 100 || int64(len(rows)) != m.Tables["requests"].Rows {
		t.Errorf("%d requests sent after the server died (want fewer than 100); %d rows, manifest %d", after, len(rows), m.Tables["requests"].Rows)
	}
	t.Logf("%d requests before the death, %d after; %s", len(rows)-after, after, m.InvalidReasons[0])
}

// waitPhase waits until the run in dir has journalled the start of phase.
func waitPhase(t *testing.T, dir, phase string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		evs, _ := results.ReadJournal(dir)
		for _, ev := range evs {
			if ev.Event == results.JournalPhaseStart && ev.Phase.Name == phase {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: phase %s did not start within 30 s", dir, phase)
}

// TestDiskFullKeepsDurableRows fills the file system of the results
// directory (a 16 MB tmpfs) while a run is going: capture exits 1 with a
// line that names the file and the full disk, leaves no temporary file,
// and once space is freed `capture recover` makes a bundle of every row
// that was durable. Without the right to mount a tmpfs it is skipped;
// results.TestDiskFullKeepsDurableParts injects ENOSPC instead.
func TestDiskFullKeepsDurableRows(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, _ := binaries(t)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s); results.TestDiskFullKeepsDurableParts covers ENOSPC with an injected error", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	a := startSim(t, capture, "--preset", "fast", "--cost-decode-per-token", "1ms")
	res := filepath.Join(mnt, "results")
	dir := filepath.Join(res, "full")
	cmd := exec.Command(capture, "run", "--base-url", "http://"+a.API, "--tier-mode", "B1", "--requests", "20000", "--warmup", "0",
		"--concurrency", "4", "--max-tokens", "8", "--stream", "--calibrate=false", "--no-progress", "--durable-interval", "200ms",
		"--run-id", "full", "--results-dir", res)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "requests.part-000002.parquet")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no second part file within 30 s")
		}
	}
	filler := filepath.Join(mnt, "filler")
	f, _ := os.Create(filler)
	for chunk := make([]byte, 64<<10); ; {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	f.Close()
	if code := exitCode(t, cmd); code != 1 {
		t.Fatalf("exit %d; want 1\n%s", code, stderr.String())
	}
	var msg []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(line, "capture: ") {
			msg = append(msg, line)
		}
	}
	t.Logf("%s", strings.Join(msg, "\n"))
	if len(msg) != 1 || !strings.Contains(msg[0], "disk full (no space left on device) writing "+dir) || !strings.Contains(msg[0], "capture recover "+dir) {
		t.Errorf("error lines %q: want one naming the file under %s, the full disk and capture recover", msg, dir)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, ".*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
	parts, _ := filepath.Glob(filepath.Join(dir, "requests.part-*.parquet"))
	durable := 0
	for _, p := range parts {
		durable += len(requestIDs(t, p))
	}
	os.Remove(filler)
	runCmd(t, 0, capture, "recover", dir)
	got := requestIDs(t, filepath.Join(dir, "requests.parquet"))
	if durable == 0 || len(got) != durable {
		t.Errorf("recovered %d rows; %d were durable in %d parts", len(got), durable, len(parts))
	}
}

// TestRunIDsDoNotCollide starts two runs at once without --run-id: they
// get different, time-sortable ids.
func TestRunIDsDoNotCollide(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, _ := binaries(t)
	a := startSim(t, capture, "--preset", "fast")
	res := t.TempDir()
	var cmds []*exec.Cmd
	for range 2 {
		cmd := exec.Command(capture, "run", "--base-url", "http://"+a.API, "--tier-mode", "B1", "--requests", "1", "--warmup", "0",
			"--max-tokens", "2", "--calibrate=false", "--no-progress", "--results-dir", res)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if code := exitCode(t, cmd); code != 0 {
			t.Errorf("exit %d", code)
		}
	}
	entries, _ := os.ReadDir(res)
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("run directories %v; want two", ids)
	}
	for _, id := range ids {
		stamp, err := time.Parse("20060102T150405.000Z", strings.Split(id, "_")[1])
		if !strings.HasPrefix(id, "standard_") || err != nil || time.Since(stamp) > time.Minute {
			t.Errorf("run id %q: want standard_<UTC stamp to the ms>_<suffix> (%v)", id, err)
		}
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor polls f every 10 ms until it is true or d has passed.
func waitFor(d time.Duration, f func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if f() {
			return true
		}
	}
	return f()
}

// TestInterruptTwice: the first Ctrl-C says at once that in-flight
// requests are finishing, with the grace time; the second stops at once,
// still writing the manifest and every row received (the cut requests as
// canceled).
func TestInterruptTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, _ := binaries(t)
	a := startSim(t, capture, "--preset", "fast", "--cost-decode-per-token", "100ms")
	res := t.TempDir()
	cmd := exec.Command(capture, "run", "--base-url", "http://"+a.API, "--tier-mode", "B1", "--requests", "100", "--warmup", "0",
		"--concurrency", "4", "--max-tokens", "100", "--stream", "--calibrate=false", "--no-progress", "--run-id", "twice", "--results-dir", res)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, filepath.Join(res, "twice"), results.PhaseMeasure)
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	if !waitFor(time.Second, func() bool { return strings.Contains(out.String(), "4 in flight may finish within 5s") }) {
		t.Errorf("no notice within 1 s of the first interrupt:\n%s", out.String())
	}
	second := time.Now()
	cmd.Process.Signal(os.Interrupt)
	if code := exitCode(t, cmd); code != 130 {
		t.Fatalf("exit %d; want 130\n%s", code, out.String())
	}
	if d := time.Since(second); d > 3*time.Second {
		t.Errorf("exit %s after the second interrupt; want at once", d)
	}
	m, err := results.ReadManifest(filepath.Join(res, "twice"))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := results.ReadAll[results.Request](filepath.Join(res, "twice", "requests.parquet"), results.TableRequests)
	canceled := 0
	for _, r := range rows {
		if r.ErrorKind == results.ErrCanceled {
			canceled++
		}
	}
	if !m.Interrupted || m.Valid || int64(len(rows)) != m.Tables["requests"].Rows || canceled != 4 || m.NotSent != 100-len(rows) {
		t.Errorf("interrupted=%v valid=%v rows=%d (manifest %d) canceled=%d not_sent=%d", m.Interrupted, m.Valid, len(rows), m.Tables["requests"].Rows, canceled, m.NotSent)
	}
}

// simArm is a campaign arm whose start command writes the simulator's PID
// to pidFile (the shell execs into it), so a test can kill the server.
func simArm(pidFile, extra string) string {
	return fmt.Sprintf(`  - name: B1
    start: ["/bin/sh", "-c", "echo $$ > %s; exec {capture} sim --kv-mode cpu_only --preset fast --cost-decode-per-token 1ms --listen 127.0.0.1:0 --kvbm-listen 127.0.0.1:0 --system-listen 127.0.0.1:0"]
    ready: {timeout_s: 20}
%s`, pidFile, extra)
}

// killPID sends SIGKILL to the process whose id is in pidFile.
func killPID(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || perr != nil {
		t.Fatalf("pid file %s: %v %v", pidFile, err, perr)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

const campaignRun = "run: {scenario: standard, requests: 1000, warmup: 0, concurrency: 4, max-tokens: 8, stream: true, calibrate: false, no-progress: true, metrics-interval: 200ms}\n"

// TestCampaignRetriesLostServer kills the arm's server during a run: the
// run stops as server unreachable, the campaign restarts the arm and runs
// it again as attempt 2, which completes; the first attempt's bundle is
// kept.
func TestCampaignRetriesLostServer(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, _ := binaries(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "sim.pid")
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte("campaign: retry\nresults_dir: "+filepath.Join(dir, "res")+"\nrepetitions: 1\n"+campaignRun+"arms:\n"+simArm(pidFile, "    retries: 1\n")), 0o644)
	cmd := exec.Command(capture, "campaign", plan)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	run := filepath.Join(dir, "res", "retry", "retry_B1_r1")
	waitPhase(t, run, results.PhaseMeasure)
	time.Sleep(300 * time.Millisecond)
	killPID(t, pidFile)
	if code := exitCode(t, cmd); code != 0 {
		t.Fatalf("campaign exit %d; want 0 once attempt 2 completed\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "restarting arm B1 for attempt 2 of 2") || !strings.Contains(out.String(), "completed") {
		t.Errorf("campaign output:\n%s", out.String())
	}
	m, err := results.ReadManifest(run)
	if err != nil || !m.Valid || m.Campaign.Attempt != 2 {
		t.Fatalf("final attempt: %+v %v", m, err)
	}
	first, _ := filepath.Glob(filepath.Join(dir, "res", "retry", ".superseded", "retry_B1_r1.*"))
	if len(first) != 1 {
		t.Fatalf("first attempt not kept: %v", first)
	}
	m1, err := results.ReadManifest(first[0])
	if err != nil || m1.Valid || m1.Campaign.Attempt != 1 || !strings.HasPrefix(m1.InvalidReasons[0], "server unreachable since") {
		t.Errorf("first attempt: %+v %v", m1, err)
	}
}

// TestCampaignResumesAfterKill kills the campaign itself (SIGKILL) during
// a run, then runs the plan again: the crashed bundle is recovered and
// kept under .superseded/, and the run is done again.
func TestCampaignResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, _ := binaries(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "sim.pid")
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte("campaign: k\nresults_dir: "+filepath.Join(dir, "res")+"\nrepetitions: 1\n"+campaignRun+"arms:\n"+simArm(pidFile, "")), 0o644)
	cmd := exec.Command(capture, "campaign", plan)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "res", "k", "k_B1_r1")
	waitPhase(t, run, results.PhaseMeasure)
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
	killPID(t, pidFile) // the campaign's server, orphaned by the kill
	if _, crashed := results.Crashed(run); !crashed {
		t.Fatal("the killed run is not a crashed bundle")
	}
	out := runCmd(t, 0, capture, "campaign", plan)
	if !strings.Contains(out, "k_B1_r1 had crashed: recovered") || !strings.Contains(out, "completed") {
		t.Errorf("resume:\n%s", out)
	}
	kept, _ := filepath.Glob(filepath.Join(dir, "res", "k", ".superseded", "k_B1_r1.*"))
	if len(kept) != 1 {
		t.Fatalf("crashed attempt not kept: %v", kept)
	}
	m, err := results.ReadManifest(kept[0])
	if err != nil || !m.Recovered || m.Tables["requests"].Rows == 0 {
		t.Errorf("kept attempt: %+v %v", m, err)
	}
	if m, err := results.ReadManifest(run); err != nil || !m.Valid {
		t.Errorf("re-run: %+v %v", m, err)
	}
}

// TestCampaignInterruptedStatus: after an interrupt the campaign's table
// marks the cut run interrupted, not completed.
func TestCampaignInterruptedStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds binaries")
	}
	capture, _ := binaries(t)
	dir := t.TempDir()
	plan := filepath.Join(dir, "plan.yaml")
	os.WriteFile(plan, []byte("campaign: i\nresults_dir: "+filepath.Join(dir, "res")+"\nrepetitions: 1\n"+campaignRun+"arms:\n"+simArm(filepath.Join(dir, "sim.pid"), "")), 0o644)
	cmd := exec.Command(capture, "campaign", plan)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, filepath.Join(dir, "res", "i", "i_B1_r1"), results.PhaseMeasure)
	cmd.Process.Signal(os.Interrupt)
	if code := exitCode(t, cmd); code != 130 {
		t.Fatalf("exit %d; want 130\n%s", code, out.String())
	}
	var row string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "i_B1_r1") && strings.HasPrefix(line, "1 ") {
			row = line
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(row), "interrupted") {
		t.Errorf("schedule row %q; want status interrupted\n%s", row, out.String())
	}
}
