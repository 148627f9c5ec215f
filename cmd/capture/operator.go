package main

import (
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
	timeoutS           float64
}

func (s *serverFlags) register(f *pflag.FlagSet, timeoutName string, timeoutS float64, timeoutHelp string) {
	f.StringVar(&s.baseURL, "base-url", "http://127.0.0.1:8000", "OpenAI-compatible server base URL")
	f.StringVar(&s.apiKeyEnv, "api-key-env", "OPENAI_API_KEY", "environment variable holding the API key")
	f.Float64Var(&s.timeoutS, timeoutName, timeoutS, timeoutHelp)
}

func (s *serverFlags) apiKey() string         { return os.Getenv(s.apiKeyEnv) }
func (s *serverFlags) timeout() time.Duration { return seconds(s.timeoutS) }

func newSmokeCmd() *cobra.Command {
	var (
		o   capture.SmokeOptions
		srv serverFlags
	)
	cmd := &cobra.Command{
		Use:     "smoke",
		Short:   "Send one short completion, streamed and not, and print its timings",
		Args:    cobra.NoArgs,
		Example: "  capture smoke --base-url http://127.0.0.1:8000",
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.BaseURL, o.APIKey, o.Timeout = srv.baseURL, srv.apiKey(), srv.timeout()
			s, err := capture.RunSmoke(cmd.Context(), o)
			if err != nil {
				return err
			}
			s.Print(cmd.OutOrStdout())
			return s.Err()
		},
	}
	f := cmd.Flags()
	srv.register(f, "request-timeout-s", 60, "per-request timeout in seconds")
	f.StringVar(&o.Model, "model", "", "model (default: the first model /v1/models lists)")
	f.StringVar(&o.Prompt, "prompt", "The KV cache of a transformer holds", "prompt text")
	f.IntVar(&o.MaxTokens, "max-tokens", 16, "max_tokens")
	return cmd
}

func newHealthCmd() *cobra.Command {
	var (
		o   capture.HealthOptions
		srv serverFlags
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check that the stack is ready: API, model, KVBM metrics, cache dir, NVMe",
		Args:  cobra.NoArgs,
		Example: `  capture health --base-url http://127.0.0.1:8000 --metrics-kvbm-url http://127.0.0.1:6880/metrics \
    --metrics-system-url http://127.0.0.1:8081/metrics --kvbm-cache-dir /mnt/nvme/kvbm`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.BaseURL, o.APIKey, o.Timeout = srv.baseURL, srv.apiKey(), srv.timeout()
			if failed := printChecks(cmd.OutOrStdout(), capture.Health(cmd.Context(), o)); failed > 0 {
				return fmt.Errorf("%d required check(s) failed", failed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	srv.register(f, "timeout-s", 5, "timeout of each check")
	f.StringVar(&o.Model, "model", "", "model that must be registered (default: any)")
	f.StringVar(&o.KVBMURL, "metrics-kvbm-url", "", "KVBM metrics URL (DYN_KVBM_METRICS_PORT, default 6880)")
	f.StringVar(&o.SystemURL, "metrics-system-url", "", "worker system metrics URL (DYN_SYSTEM_PORT)")
	f.StringVar(&o.FrontendURL, "metrics-frontend-url", "", "frontend metrics URL")
	f.StringVar(&o.CacheDir, "kvbm-cache-dir", "", "KVBM disk cache directory (DYN_KVBM_DISK_CACHE_DIR)")
	f.BoolVar(&o.AllowMissingKVBM, "allow-missing-kvbm-metrics", false, "do not require KVBM metrics")
	return cmd
}

// printChecks writes the health checks as a table and returns how many
// required checks failed.
func printChecks(w io.Writer, checks []capture.Check) (failed int) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tREQUIRED\tDETAIL")
	for _, c := range checks {
		req := "no"
		if c.Required {
			req = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.Status, req, c.Detail)
		if c.Required && c.Status == capture.CheckFail {
			failed++
		}
	}
	tw.Flush()
	return failed
}

func newInventoryCmd() *cobra.Command {
	var (
		urls     []string
		timeoutS float64
	)
	cmd := &cobra.Command{
		Use:     "inventory",
		Short:   "List what each metrics endpoint exposes, by family and type",
		Args:    cobra.NoArgs,
		Example: "  capture inventory --metrics-url kvbm=http://127.0.0.1:6880/metrics --metrics-url system=http://127.0.0.1:8081/metrics",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(urls) == 0 {
				return cli.Usage("inventory needs at least one --metrics-url NAME=URL")
			}
			w := cmd.OutOrStdout()
			failed := 0
			for _, nu := range urls {
				name, url, ok := strings.Cut(nu, "=")
				if !ok || name == "" || url == "" {
					return cli.Usage("--metrics-url %q: want NAME=URL", nu)
				}
				fams, err := telemetry.Inventory(cmd.Context(), url, seconds(timeoutS))
				if err != nil {
					fmt.Fprintf(w, "%s (%s): %v\n\n", name, url, err)
					failed++
					continue
				}
				fmt.Fprintf(w, "%s (%s): %d families\n", name, url, len(fams))
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "FAMILY\tTYPE\tSERIES\tLABELS\tKVBM")
				for _, f := range fams {
					kv := ""
					if f.IsKVBM() {
						kv = "yes"
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", f.Name, f.Type, f.Series, strings.Join(f.Labels, ","), kv)
				}
				tw.Flush()
				fmt.Fprintln(w)
			}
			if failed > 0 {
				return fmt.Errorf("%d endpoint(s) could not be read", failed)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&urls, "metrics-url", nil, "NAME=URL of a metrics endpoint (repeatable)")
	cmd.Flags().Float64Var(&timeoutS, "timeout-s", 5, "scrape timeout")
	return cmd
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
