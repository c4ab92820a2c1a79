package main

import (
	"context"
	"fmt"

	"github.com/ringd/ringd/xmpp/server"
)

// runMigrate brings the configured store's schema up to date without
// starting the server: operators run it before rolling out a new version
// against a shared MySQL database. serve migrates on start as well.
func runMigrate(ctx context.Context, e env, cmd *command, args []string) error {
	fs := cmd.newFlagSet()
	configPath := configFlag(fs)
	pos, err := cmd.parseArgs(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	s, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	applied, err := server.Migrate(ctx, s.server)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		_, err = fmt.Fprintln(e.stdout, "schema is up to date")
		return err
	}
	for _, name := range applied {
		if _, err := fmt.Fprintf(e.stdout, "applied %s\n", name); err != nil {
			return err
		}
	}
	return nil
}
