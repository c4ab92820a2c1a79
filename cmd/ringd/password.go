package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"mellium.im/xmpp/jid"
)

// readPassword returns the first line of e.stdin without its line ending.
// When stdin is a terminal (stty can turn its echo off), it prompts on
// stderr and keeps the typed password off the screen.
func readPassword(ctx context.Context, e env, user jid.JID) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && isCharDevice(f) && stty(f, "-echo") == nil {
		defer stty(f, "echo")
		fmt.Fprintf(e.stderr, "password for %s: ", user)
		defer fmt.Fprintln(e.stderr)
	}
	type result struct {
		line string
		err  error
	}
	// A read from a terminal cannot be interrupted. On cancellation (the
	// first Ctrl-C) the reader goroutine is left behind; the process is
	// about to exit.
	done := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		done <- result{line, err}
	}()
	var r result
	select {
	case <-ctx.Done():
		return "", context.Cause(ctx)
	case r = <-done:
	}
	switch {
	case errors.Is(r.err, io.EOF) && r.line == "":
		return "", errors.New("no password on standard input (or give -password)")
	case r.err != nil && !errors.Is(r.err, io.EOF):
		return "", fmt.Errorf("read password: %w", r.err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(r.line, "\n"), "\r"), nil
}

// isCharDevice is a cheap first test for a terminal; stty is the real one
// (/dev/null is a character device too).
func isCharDevice(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// stty runs stty(1) on the terminal f.
func stty(f *os.File, arg string) error {
	cmd := exec.Command("stty", arg)
	cmd.Stdin = f
	return cmd.Run()
}
