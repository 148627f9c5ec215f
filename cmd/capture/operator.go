package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"kvbench/capture"
	"kvbench/capture/telemetry"
	"kvbench/internal/cli"
)

// serverFlags are the flags smoke and health share: the server, the
// variable that holds its API key, and a timeout.
type serverFlags struct {
	baseURL, apiKeyEnv string
	timeout            time.Duration
}

// register defines --base-url, --api-key-env and the timeout flag (a
// duration) with its old spelling in seconds as a hidden alias.
func (s *serverFlags) register(f *pflag.FlagSet, timeoutName string, def time.Duration, timeoutHelp string) {
	f.StringVar(&s.baseURL, "base-url", "http://127.0.0.1:8000", "OpenAI-compatible server base URL")
	f.StringVar(&s.apiKeyEnv, "api-key-env", "OPENAI_API_KEY", "environment variable holding the API key")
	capture.DurationVar(f, &s.timeout, timeoutName, def, timeoutHelp)
	capture.DurationAlias(f, &s.timeout, timeoutName+"-s", timeoutName, time.Second)
}

func (s *serverFlags) apiKey() string { return os.Getenv(s.apiKeyEnv) }

// metricsFlags are the metrics endpoints, named as `capture run` names
// them, for health and inventory.
type metricsFlags struct{ o telemetry.Options }

func (m *metricsFlags) register(f *pflag.FlagSet) {
	f.StringVar(&m.o.KVBMURL, "metrics-kvbm-url", "", "KVBM metrics URL (DYN_KVBM_METRICS_PORT; KVBM's port is 6880 unless set), e.g. http://127.0.0.1:6880/metrics")
	f.StringVar(&m.o.SystemURL, "metrics-system-url", "", "Dynamo worker metrics URL (DYN_SYSTEM_PORT), e.g. http://127.0.0.1:8081/metrics")
	f.StringVar(&m.o.FrontendURL, "metrics-frontend-url", "", "Dynamo frontend metrics URL, e.g. http://127.0.0.1:8000/metrics")
	f.StringArrayVar(&m.o.ExtraURLs, "metrics-url", nil, "another metrics endpoint as NAME=URL (repeatable)")
}

// targets lists the endpoints given; a malformed NAME=URL is a usage error.
func (m *metricsFlags) targets() ([]telemetry.PromTarget, error) {
	t, err := m.o.Targets()
	if err != nil {
		return nil, cli.Exit(cli.ExitUsage, err)
	}
	return t, nil
}

// writeJSON writes v as one indented JSON object and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newSmokeCmd() *cobra.Command {
	var (
		o      capture.SmokeOptions
		srv    serverFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:     "smoke",
		Short:   "Send one short completion, streamed and not, and print its timings",
		Args:    cobra.NoArgs,
		Example: "  capture smoke --base-url http://127.0.0.1:8000",
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.BaseURL, o.APIKey, o.Timeout = srv.baseURL, srv.apiKey(), srv.timeout
			s, err := capture.RunSmoke(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), smokeJSON(s)); err != nil {
					return err
				}
			} else {
				s.Print(cmd.OutOrStdout())
			}
			return s.Err()
		},
	}
	f := cmd.Flags()
	srv.register(f, "request-timeout", 60*time.Second, "per-request timeout")
	f.BoolVar(&asJSON, "json", false, "print one JSON object instead of the table")
	f.StringVar(&o.Model, "model", "", "model (default: the first model /v1/models lists)")
	f.StringVar(&o.Prompt, "prompt", "The KV cache of a transformer holds", "prompt text")
	f.IntVar(&o.MaxTokens, "max-tokens", 16, "max_tokens")
	return cmd
}

func newHealthCmd() *cobra.Command {
	var (
		o      capture.HealthOptions
		srv    serverFlags
		mf     metricsFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check that the stack is ready: API, model, KVBM metrics, cache dir, NVMe",
		Args:  cobra.NoArgs,
		Example: `  capture health --base-url http://127.0.0.1:8000 --metrics-kvbm-url http://127.0.0.1:6880/metrics \
    --metrics-system-url http://127.0.0.1:8081/metrics --kvbm-cache-dir /mnt/nvme/kvbm`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.BaseURL, o.APIKey, o.Timeout = srv.baseURL, srv.apiKey(), srv.timeout
			if _, err := mf.targets(); err != nil {
				return err
			}
			o.KVBMURL, o.SystemURL, o.FrontendURL, o.ExtraURLs = mf.o.KVBMURL, mf.o.SystemURL, mf.o.FrontendURL, mf.o.ExtraURLs
			checks := capture.Health(cmd.Context(), o)
			failed := failedChecks(checks)
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), map[string]any{"ok": failed == 0, "failed": failed, "checks": checks}); err != nil {
					return err
				}
			} else {
				printChecks(cmd.OutOrStdout(), checks)
			}
			if failed > 0 {
				return fmt.Errorf("%d required check(s) failed", failed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	srv.register(f, "timeout", 5*time.Second, "timeout of each check")
	mf.register(f)
	f.BoolVar(&asJSON, "json", false, "print one JSON object instead of the table")
	f.StringVar(&o.Model, "model", "", "model that must be registered (default: any)")
	f.StringVar(&o.CacheDir, "kvbm-cache-dir", "", "KVBM disk cache directory (DYN_KVBM_DISK_CACHE_DIR)")
	f.BoolVar(&o.AllowMissingKVBM, "allow-missing-kvbm-metrics", false, "do not require KVBM metrics")
	return cmd
}

// failedChecks counts the required checks that failed.
func failedChecks(checks []capture.Check) (failed int) {
	for _, c := range checks {
		if c.Required && c.Status == capture.CheckFail {
			failed++
		}
	}
	return failed
}

// printChecks writes the health checks as a table.
func printChecks(w io.Writer, checks []capture.Check) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tREQUIRED\tDETAIL")
	for _, c := range checks {
		req := "no"
		if c.Required {
			req = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Status, req, c.Detail)
	}
	tw.Flush()
}

// endpointInventory is one endpoint of `capture inventory --json`.
type endpointInventory struct {
	Name     string            `json:"name"`
	URL      string            `json:"url"`
	Error    string            `json:"error,omitempty"`
	Families []familyInventory `json:"families"`
}

type familyInventory struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Series int      `json:"series"`
	Labels []string `json:"labels"`
	KVBM   bool     `json:"kvbm"`
}

func newInventoryCmd() *cobra.Command {
	var (
		mf      metricsFlags
		timeout time.Duration
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "List what each metrics endpoint exposes, by family and type",
		Args:  cobra.NoArgs,
		Example: `  capture inventory --metrics-kvbm-url http://127.0.0.1:6880/metrics --metrics-system-url http://127.0.0.1:8081/metrics
  capture inventory --metrics-url planner=http://127.0.0.1:9085/metrics --json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			targets, err := mf.targets()
			if err != nil {
				return err
			}
			if len(targets) == 0 {
				return cli.Usage("inventory needs at least one metrics endpoint: --metrics-kvbm-url, --metrics-system-url, --metrics-frontend-url or --metrics-url NAME=URL")
			}
			var eps []endpointInventory
			failed := 0
			for _, t := range targets {
				ep := endpointInventory{Name: t.Source, URL: t.URL, Families: []familyInventory{}}
				fams, err := telemetry.Inventory(cmd.Context(), t.URL, timeout)
				if err != nil {
					ep.Error = err.Error()
					failed++
				}
				for _, f := range fams {
					ep.Families = append(ep.Families, familyInventory{f.Name, f.Type, f.Series, f.Labels, f.IsKVBM()})
				}
				eps = append(eps, ep)
			}
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), map[string]any{"endpoints": eps}); err != nil {
					return err
				}
			} else {
				printInventory(cmd.OutOrStdout(), eps)
			}
			if failed > 0 {
				return fmt.Errorf("%d endpoint(s) could not be read", failed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	mf.register(f)
	capture.DurationVar(f, &timeout, "timeout", 5*time.Second, "scrape timeout")
	capture.DurationAlias(f, &timeout, "timeout-s", "timeout", time.Second)
	f.BoolVar(&asJSON, "json", false, "print one JSON object instead of the tables")
	return cmd
}

// printInventory writes each endpoint's families as a table.
func printInventory(w io.Writer, eps []endpointInventory) {
	for _, ep := range eps {
		if ep.Error != "" {
			fmt.Fprintf(w, "%s (%s): %s\n\n", ep.Name, ep.URL, ep.Error)
			continue
		}
		fmt.Fprintf(w, "%s (%s): %d families\n", ep.Name, ep.URL, len(ep.Families))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FAMILY\tTYPE\tSERIES\tLABELS\tKVBM")
		for _, f := range ep.Families {
			kv := ""
			if f.KVBM {
				kv = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", f.Name, f.Type, f.Series, strings.Join(f.Labels, ","), kv)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
}

// smokeJSON is `capture smoke --json`: the model and each request's
// timings in milliseconds (null when not measured).
func smokeJSON(s *capture.Smoke) map[string]any {
	ms := func(v *int64) *float64 {
		if v == nil {
			return nil
		}
		f := float64(*v) / 1e6
		return &f
	}
	var reqs []map[string]any
	for _, r := range s.Records {
		reqs = append(reqs, map[string]any{
			"stream": r.Stream, "status_code": r.StatusCode, "headers_ms": ms(r.HeadersNs), "first_byte_ms": ms(r.FirstByteNs),
			"first_event_ms": ms(r.FirstEventNs), "ttft_ms": ms(r.TTFTNs), "latency_ms": float64(r.LatencyNs) / 1e6,
			"prompt_tokens": r.PromptTokens, "output_tokens": r.OutputTokens, "completion_id": r.CompletionID,
			"error_kind": r.ErrorKind, "error": r.Error,
		})
	}
	return map[string]any{"model": s.Model, "ok": s.Err() == nil, "requests": reqs}
}
