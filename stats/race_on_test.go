//go:build race

package stats

// raceEnabled is true under the race detector (go test -race), which is 5–10x slower:
// coverage simulations are then skipped (see heavy).
const raceEnabled = true
