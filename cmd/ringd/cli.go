package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the command ran and failed: bad config, bad JID, …
	exitUsage = 2 // the command line itself is wrong
)

// env is what a command may touch besides its arguments.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one sub-command. name is how it is typed ("user add"); synopsis
// follows the name in usage lines.
type command struct {
	name     string
	synopsis string
	summary  string
	run      func(ctx context.Context, e env, cmd *command, args []string) error
}

// commands lists every sub-command, in the order usage prints them; the
// first is the default.
func commands() []*command {
	return []*command{
		{"serve", "[-config FILE] [-log-level LEVEL]", "run the server (the default command)", runServe},
		{"user add", "[-config FILE] [-password PASSWORD] JID", "create an account", runUserAdd},
		{"user del", "[-config FILE] JID", "delete an account and everything stored for it", runUserDel},
		{"user passwd", "[-config FILE] [-password PASSWORD] JID", "set an account's password", runUserPasswd},
		{"user list", "[-config FILE]", "print every account, one bare JID per line", runUserList},
		{"migrate", "[-config FILE]", "create or upgrade the store's schema, then exit", runMigrate},
		{"version", "[-config FILE]", "print the version", runVersion},
	}
}

// usageError is a mistake on the command line; it exits with exitUsage.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// run is the whole program; main only adds the process around it. It
// returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) > 0 && isHelp(args[0]) || len(args) > 1 && args[0] == "user" && isHelp(args[1]) {
		printUsage(stdout)
		return exitOK
	}
	cmd, rest, err := findCommand(args)
	if err != nil {
		fmt.Fprintf(stderr, "ringd: %v\n", err)
		fmt.Fprintln(stderr, `run "ringd help" for the list of commands`)
		return exitUsage
	}
	err = cmd.run(ctx, e, cmd, rest)
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ringd: %s: %s\n", cmd.name, oneLine(err))
		fmt.Fprintf(stderr, "usage: %s\n", cmd.usage())
		return exitUsage
	default:
		fmt.Fprintf(stderr, "ringd: %s: %s\n", cmd.name, oneLine(err))
		return exitFail
	}
}

func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// findCommand picks the sub-command the arguments name. No arguments, or a
// flag first, means serve.
func findCommand(args []string) (*command, []string, error) {
	cmds := commands()
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return cmds[0], args, nil
	}
	for _, c := range cmds {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && slices.Equal(args[:len(words)], words) {
			return c, args[len(words):], nil
		}
	}
	if args[0] == "user" {
		if len(args) == 1 {
			return nil, nil, errors.New("user: missing sub-command (add, del, passwd or list)")
		}
		return nil, nil, fmt.Errorf("user: unknown sub-command %q (want add, del, passwd or list)", args[1])
	}
	return nil, nil, fmt.Errorf("unknown command %q", args[0])
}

func (c *command) usage() string {
	if c.synopsis == "" {
		return "ringd " + c.name
	}
	return "ringd " + c.name + " " + c.synopsis
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, "usage: ringd [COMMAND] [FLAGS] [ARGUMENTS]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %s\n        %s\n", c.usage(), c.summary)
	}
	fmt.Fprint(w, `
Flags may come before or after the JID. Without -password, the password is
read from the first line of standard input. Run "ringd COMMAND -h" for the
flags of one command.
`)
}

// newFlagSet returns a flag set for cmd that reports errors to the caller
// instead of printing them.
func (c *command) newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseArgs parses fs's flags anywhere among args, so that both
// "user add -password x alice@example.org" and
// "user add alice@example.org -password x" work, and returns the
// positional arguments in order. Everything after "--" is positional.
// On -h it prints the command's usage to e.stdout and returns flag.ErrHelp.
func (c *command) parseArgs(e env, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(e.stdout, "usage: %s\n\n%s.\n", c.usage(), c.summary)
				if hasFlags(fs) {
					fmt.Fprintln(e.stdout, "\nflags:")
					fs.SetOutput(e.stdout)
					fs.PrintDefaults()
					fs.SetOutput(io.Discard)
				}
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// oneLine joins the lines of a multi-line error (errors.Join) so that every
// failure is reported on one line.
func oneLine(err error) string {
	return strings.Join(strings.Split(err.Error(), "\n"), "; ")
}
