package results

// ScenarioTrace is the scenario that replays a request trace (capture run
// --scenario trace); its rows carry trace_line and trace_seen_blocks.
const ScenarioTrace = "trace"

// Splits of a trace run's groups: requests whose leading block an
// earlier request of the replayed trace had (trace_seen_blocks > 0), and
// the rest.
const (
	SplitPrefixSeen = "prefix seen"
	SplitNew        = "new"
)

// TraceSplit is the split of a request of scenario with seenBlocks
// leading blocks seen earlier in its trace; "" outside trace runs.
func TraceSplit(scenario string, seenBlocks int32) string {
	if scenario != ScenarioTrace {
		return ""
	}
	if seenBlocks > 0 {
		return SplitPrefixSeen
	}
	return SplitNew
}
