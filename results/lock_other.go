//go:build !unix

package results

import "os"

// lockFile is a no-op where flock does not exist: a bundle cannot tell a
// live run from a crashed one there.
func lockFile(*os.File) error { return nil }

// lockHeld is always false without flock.
func lockHeld(*os.File) bool { return false }
