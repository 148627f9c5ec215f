package capture

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kvbench/results"
)

func TestLossWatch(t *testing.T) {
	refused := results.Request{ErrorKind: results.ErrConnection, Error: "connection refused"}
	ok := results.Request{}
	bad := results.Request{ErrorKind: results.ErrHTTP, StatusCode: 400, Error: "HTTP 400"}
	gone := results.Request{ErrorKind: results.ErrHTTP, StatusCode: 503, Error: "HTTP 503"}
	t0 := time.Unix(1000, 0)
	t.Run("in a row", func(t *testing.T) {
		l := lossWatch{max: 3}
		seq := []results.Request{refused, refused, ok, refused, bad, gone}
		for i, r := range seq {
			if lost := l.observe(&r, t0.Add(time.Duration(i)*time.Millisecond)); lost != nil {
				t.Fatalf("lost after request %d; a success resets the streak, a 400 does not count", i)
			}
		}
		lost := l.observe(&refused, t0.Add(time.Second))
		if lost == nil || lost.Streak != 3 || !lost.Since.Equal(t0.Add(3*time.Millisecond)) {
			t.Fatalf("lost = %+v; want a streak of 3 since the 4th request", lost)
		}
		if !strings.HasPrefix(lost.Error(), "server unreachable since 1970-01-01T00:16:40.003Z") {
			t.Errorf("message %q", lost.Error())
		}
		if l.observe(&refused, t0.Add(2*time.Second)) != nil {
			t.Error("lost reported twice")
		}
	})
	t.Run("for a while", func(t *testing.T) {
		l := lossWatch{max: 100, after: 10 * time.Second}
		to := results.Request{ErrorKind: results.ErrTimeout, Error: "timed out"}
		if l.observe(&to, t0) != nil || l.observe(&to, t0.Add(9*time.Second)) != nil {
			t.Fatal("lost before 10 s")
		}
		if l.observe(&to, t0.Add(10*time.Second)) == nil {
			t.Fatal("not lost after failures with no success for 10 s")
		}
	})
	t.Run("off", func(t *testing.T) {
		var l lossWatch
		for range 1000 {
			if l.observe(&refused, t0) != nil {
				t.Fatal("lost with both rules off")
			}
		}
	})
}

// TestServerLostStopsRun: the server goes away after 20 completions; the
// run stops within the failure budget, records the requests it never sent
// and says since when the server was unreachable.
func TestServerLostStopsRun(t *testing.T) {
	var served atomic.Int64
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			fmt.Fprint(w, `{"data":[{"id":"m1"}]}`)
			return
		}
		if served.Add(1) == 20 {
			go func() { srv.Listener.Close(); srv.CloseClientConnections() }()
		}
		io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, `{"id":"c","choices":[{"text":"a"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`)
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := &Config{BaseURL: srv.URL, TierMode: "B1", Scenario: "standard", PromptSet: "short", LongRange: Range{100, 200},
		Requests: 5000, Warmup: 2, Concurrency: 4, MaxTokens: 4, TopP: 1, RequestSeed: 9, MaxErrorRate: 0.05,
		RunID: "lost", ResultsDir: dir, ModelResolveTimeout: time.Second, MaxConsecutiveFailures: 20, UnreachableAfter: 10 * time.Second,
		DurableInterval: 50 * time.Millisecond}
	start := time.Now()
	out, err := Run(context.Background(), cfg, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := out.Manifest
	if !out.ServerLost || m.Valid || !strings.HasPrefix(m.InvalidReasons[0], "server unreachable since ") {
		t.Fatalf("server lost %v valid %v reasons %q", out.ServerLost, m.Valid, m.InvalidReasons)
	}
	rows := m.Tables[results.TableRequests].Rows
	failed := 0
	for _, p := range m.Phases {
		failed += p.Errors
	}
	// Refused connections fail at once, so on a loaded machine workers can
	// fail a few more times each before the stop is seen; the bound is the
	// one the run promises: fewer than 100 requests after the death.
	if failed < 20 || failed >= 100 || m.NotSent != 5002-int(rows) || rows > 120 {
		t.Errorf("%d rows, %d failed, %d not sent; want 20 to 99 failures and the rest of 5002 not sent", rows, failed, m.NotSent)
	}
	if last := m.Phases[len(m.Phases)-1]; last.NotSent != 5000-last.Requests {
		t.Errorf("phase %s: %d requests, %d not sent", last.Name, last.Requests, last.NotSent)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("run took %s", d)
	}
	evs, err := results.ReadJournal(filepath.Join(dir, "lost"))
	if err != nil || evs[len(evs)-1].Event != results.JournalStop || !strings.HasPrefix(evs[len(evs)-1].Reason, "server unreachable") {
		t.Errorf("journal ends with %+v (%v); want the stop event", evs[len(evs)-1], err)
	}
}

// TestRunIDsUnique creates many run directories at once without --run-id:
// every id differs (stamp to the millisecond and a random suffix; the
// directory is created exclusively), and a given --run-id is never reused.
func TestRunIDsUnique(t *testing.T) {
	cfg := &Config{Scenario: ScenarioStandard, ResultsDir: t.TempDir()}
	seen := map[string]bool{}
	for range 300 {
		id, dir, err := createRunDir(cfg)
		if err != nil || seen[id] || filepath.Base(dir) != id {
			t.Fatalf("createRunDir: %q %q %v (seen %v)", id, dir, err, seen[id])
		}
		seen[id] = true
	}
	cfg.RunID = "fixed"
	if _, _, err := createRunDir(cfg); err != nil {
		t.Fatal(err)
	}
	if _, _, err := createRunDir(cfg); err == nil || !strings.Contains(err.Error(), "choose another --run-id") {
		t.Errorf("a --run-id reused: %v", err)
	}
}
