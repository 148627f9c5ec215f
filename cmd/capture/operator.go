package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"kvbench/capture"
	"kvbench/capture/telemetry"
	"kvbench/internal/cli"
)

func newSmokeCmd() *cobra.Command {
	var (
		o         capture.SmokeOptions
		apiKeyEnv string
		timeoutS  float64
	)
	cmd := &cobra.Command{
		Use:     "smoke",
		Short:   "Send one short completion, streamed and not, and print its timings",
		Args:    cobra.NoArgs,
		Example: "  capture smoke --base-url http://127.0.0.1:8000",
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.APIKey, o.Timeout = os.Getenv(apiKeyEnv), seconds(timeoutS)
			s, err := capture.RunSmoke(cmd.Context(), o)
			if err != nil {
				return err
			}
			s.Print(cmd.OutOrStdout())
			return s.Err()
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.BaseURL, "base-url", "http://127.0.0.1:8000", "OpenAI-compatible server base URL")
	f.StringVar(&o.Model, "model", "", "model (default: the first model /v1/models lists)")
	f.StringVar(&o.Prompt, "prompt", "The KV cache of a transformer holds", "prompt text")
	f.IntVar(&o.MaxTokens, "max-tokens", 16, "max_tokens")
	f.Float64Var(&timeoutS, "request-timeout-s", 60, "per-request timeout in seconds")
	f.StringVar(&apiKeyEnv, "api-key-env", "OPENAI_API_KEY", "environment variable holding the API key")
	return cmd
}

func newHealthCmd() *cobra.Command {
	var (
		o         capture.HealthOptions
		apiKeyEnv string
		timeoutS  float64
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check that the stack is ready: API, model, KVBM metrics, cache dir, NVMe",
		Args:  cobra.NoArgs,
		Example: `  capture health --base-url http://127.0.0.1:8000 --metrics-kvbm-url http://127.0.0.1:6880/metrics \
    --metrics-system-url http://127.0.0.1:8081/metrics --kvbm-cache-dir /mnt/nvme/kvbm`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.APIKey = os.Getenv(apiKeyEnv)
			o.Timeout = seconds(timeoutS)
			checks := capture.Health(cmd.Context(), o)
			w := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CHECK\tSTATUS\tREQUIRED\tDETAIL")
			failed := 0
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
			if failed > 0 {
				return fmt.Errorf("%d required check(s) failed", failed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.BaseURL, "base-url", "http://127.0.0.1:8000", "OpenAI-compatible server base URL")
	f.StringVar(&o.Model, "model", "", "model that must be registered (default: any)")
	f.StringVar(&o.KVBMURL, "metrics-kvbm-url", "", "KVBM metrics URL (DYN_KVBM_METRICS_PORT, default 6880)")
	f.StringVar(&o.SystemURL, "metrics-system-url", "", "worker system metrics URL (DYN_SYSTEM_PORT)")
	f.StringVar(&o.FrontendURL, "metrics-frontend-url", "", "frontend metrics URL")
	f.StringVar(&o.CacheDir, "kvbm-cache-dir", "", "KVBM disk cache directory (DYN_KVBM_DISK_CACHE_DIR)")
	f.BoolVar(&o.AllowMissingKVBM, "allow-missing-kvbm-metrics", false, "do not require KVBM metrics")
	f.Float64Var(&timeoutS, "timeout-s", 5, "timeout of each check")
	f.StringVar(&apiKeyEnv, "api-key-env", "OPENAI_API_KEY", "environment variable holding the API key")
	return cmd
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
