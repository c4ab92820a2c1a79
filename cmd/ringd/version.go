package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// runVersion prints "ringd VERSION (GOVERSION)". VERSION is the -ldflags
// value, else the module version "go install" recorded, else "dev".
func runVersion(ctx context.Context, e env, cmd *command, args []string) error {
	fs := cmd.newFlagSet()
	configFlag(fs) // accepted for uniformity, not read
	pos, err := cmd.parseArgs(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	_, err = fmt.Fprintln(e.stdout, versionString())
	return err
}

func versionString() string {
	v, goVersion := version, runtime.Version()
	if info, ok := debug.ReadBuildInfo(); ok {
		goVersion = info.GoVersion
		if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
	}
	return fmt.Sprintf("ringd %s (%s)", v, goVersion)
}
