package main

import (
	"github.com/spf13/cobra"

	"kvbench/capture"
	"kvbench/sim"
)

// Shell completion: flags that take one of a few words complete to them,
// and plan arguments to YAML files.

var (
	tierModes = []string{"B0", "B1", "B2"}
	kvModes   = []string{"off", "cpu_only", "cpu_disk"}
)

// words completes a flag to a fixed list of values.
func words(vals ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return vals, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeRunFlags registers the value completions of `capture run`'s
// enum flags on cmd.
func completeRunFlags(cmd *cobra.Command) {
	for name, vals := range map[string][]string{
		"scenario":         capture.Scenarios,
		"kv-mode":          kvModes,
		"tier-mode":        tierModes,
		"prompt-set":       capture.PromptSets,
		"reuse-prompt-set": capture.PromptSets,
	} {
		cmd.RegisterFlagCompletionFunc(name, words(vals...))
	}
}

// completeSimFlags registers the value completions of `capture sim`.
func completeSimFlags(cmd *cobra.Command) {
	cmd.RegisterFlagCompletionFunc("preset", words(sim.PresetNames()...))
	cmd.RegisterFlagCompletionFunc("kv-mode", words(kvModes...))
}

// planFiles completes PLAN arguments to *.yaml and *.yml files (and
// directories on the way to them).
func planFiles(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
}
