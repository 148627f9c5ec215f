// Package cli is the glue both commands share: the exit codes, an error
// that carries one through cobra, and Execute, which runs a root command
// and turns its error into a code and one line on stderr. It sits beside
// the thin mains in cmd/ and knows nothing of the pipeline.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes of capture and analyze.
const (
	ExitOK          = 0   // success; for capture run, a valid run
	ExitFailure     = 1   // a runtime failure
	ExitUsage       = 2   // bad flags, arguments or plan
	ExitInvalid     = 3   // finished, but the run or campaign is invalid
	ExitInterrupted = 130 // stopped by a signal; what was captured is kept
)

// Error carries an exit code through cobra. A nil Err exits with Code and
// prints nothing.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Exit returns an error that ends the command with code, printing err
// (when not nil).
func Exit(code int, err error) error { return &Error{Code: code, Err: err} }

// Usage returns a usage error (exit 2) with a formatted message.
func Usage(format string, a ...any) error {
	return &Error{Code: ExitUsage, Err: fmt.Errorf(format, a...)}
}

// Main runs a command as the process: run gets a context that SIGINT and
// SIGTERM cancel, the arguments and the standard streams, and its result
// is the exit code.
func Main(run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Execute runs root with args and returns the exit code. Errors are
// printed to stderr as "<name>: <message>".
func Execute(ctx context.Context, root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &Error{Code: ExitUsage, Err: err} })
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *Error
	code := ExitFailure
	if errors.As(err, &ee) {
		code = ee.Code
		if ee.Err == nil {
			return code
		}
	} else if isUsage(err) {
		code = ExitUsage
	}
	fmt.Fprintf(stderr, "%s: %v\n", root.Name(), err)
	return code
}

// isUsage recognises cobra's own argument errors.
func isUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "accepts ", "requires at least", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// Version is base (results.Version) followed by the VCS revision the
// binary was built from, when the Go build info records one ("+dirty"
// when the tree had changes), for --version.
func Version(base string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return base
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" {
		return base
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return fmt.Sprintf("%s (revision %s%s)", base, rev, dirty)
}
