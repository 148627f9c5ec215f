//go:build !race

package stats

// raceEnabled is false in a plain build: coverage simulations run at the stated R.
const raceEnabled = false
