package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK     = 0 // the run completed with no loss and no error
	exitFailed = 1 // loss, errors, a timeout, or a setup failure
	exitUsage  = 2 // bad command line
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// scenario is one sub-command.
type scenario struct {
	name, synopsis string
	run            func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func scenarios() []scenario {
	return []scenario{
		{"provision", "create the benchmark accounts on ringd, Prosody or ejabberd", runProvision},
		{"connect", "open N authenticated sessions at a controlled rate and hold them", runConnect},
		{"messages", "chat messages between sender/receiver pairs with a window in flight", runMessages},
		{"presence", "presence changes fanned out to K contacts each", runPresence},
		{"calls", "XEP-0353 + Jingle call set-ups at an offered rate", runCalls},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, sc := range scenarios() {
		if sc.name != args[0] {
			continue
		}
		err := sc.run(ctx, args[1:], stdout, stderr)
		var ue usageError
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "ringbench %s: %v\n", sc.name, err)
			fmt.Fprintf(stderr, "run 'ringbench %s -h' for its flags\n", sc.name)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "ringbench %s: %v\n", sc.name, err)
			return exitFailed
		}
	}
	fmt.Fprintf(stderr, "ringbench: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ringbench COMMAND [flags]   (ringbench COMMAND -h for its flags)")
	fmt.Fprintln(w)
	for _, sc := range scenarios() {
		fmt.Fprintf(w, "  %-10s %s\n", sc.name, sc.synopsis)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Each command prints progress on stderr once a second and one JSON summary on stdout.")
	fmt.Fprintln(w, "Exit status: 0 ok, 1 loss/errors/timeout, 2 bad command line. See docs/performance.md.")
}

// usageError is a bad command line (exit status 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }
