package main

import (
	"context"
	"log/slog"

	"github.com/ringd/ringd/xmpp/server"
)

// runServe loads the configuration, builds the logger and runs the server
// until ctx is cancelled (main cancels it on SIGINT or SIGTERM).
func runServe(ctx context.Context, e env, cmd *command, args []string) error {
	fs := cmd.newFlagSet()
	configPath := configFlag(fs)
	var (
		level    slog.Level
		levelSet bool
	)
	fs.Func("log-level", "log `LEVEL`: debug, info, warn or error (default: log_level from the config file, else info)", func(s string) error {
		l, err := parseLevel(s)
		level, levelSet = l, true
		return err
	})
	pos, err := cmd.parseArgs(e, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		if c, _, err := findCommand(pos); err == nil {
			return usagef("unexpected argument %q: flags go after the command name, as in \"ringd %s -config FILE\"", pos[0], c.name)
		}
		return usagef("unexpected argument %q", pos[0])
	}
	s, err := loadConfig(*configPath)
	if err != nil {
		return err
	}
	if !levelSet {
		level = s.logLevel
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	cfg := s.server
	cfg.Notices = e.stdout // the first start's admin password
	cfg.Version = version
	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	log.Info("starting", "version", version, "config", *configPath)
	stopNotice := context.AfterFunc(ctx, func() {
		log.Info("stop requested; a second signal exits at once")
	})
	defer stopNotice()
	if err := srv.Run(ctx); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}
