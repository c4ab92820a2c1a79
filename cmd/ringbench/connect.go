package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

type connectConfig struct {
	users, inflight int
	rate            float64
	hold, duration  time.Duration
}

func runConnect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c commonFlags
	var cc connectConfig
	fs := c.flagSet("connect", "100/s", "logins started per second (`R/s`); 0 = as fast as -inflight allows", stderr)
	fs.IntVar(&cc.users, "users", 100, "sessions to open, one per account PREFIX0…PREFIX(N-1)")
	fs.IntVar(&cc.inflight, "inflight", 1000, "most logins in progress at once")
	fs.DurationVar(&cc.hold, "hold", 0, "keep the sessions open this long once all are up (read the server's RSS meanwhile)")
	fs.DurationVar(&cc.duration, "duration", 0, "stop starting logins after this long (0: no bound but -timeout)")
	var err error
	if cc.rate, err = c.parse(fs, args); err != nil {
		return err
	}
	switch {
	case cc.users < 1:
		return usagef("-users must be at least 1")
	case cc.inflight < 1:
		return usagef("-inflight must be at least 1")
	case cc.hold < 0 || cc.duration < 0:
		return usagef("-hold and -duration cannot be negative")
	case cc.hold >= c.timeout:
		return usagef("-hold %v leaves no time within -timeout %v", cc.hold, c.timeout)
	}
	spec := scenarioSpec{
		name: "connect", op: "session", sessions: cc.users,
		// Idle sessions: a small buffer that grows only if a big stanza
		// comes.
		readBuffer: 2048,
		params: map[string]any{
			"users": cc.users, "rate": cc.rate, "inflight": cc.inflight, "hold_s": cc.hold.Seconds(),
			"duration_s": cc.duration.Seconds(),
		},
	}
	return runScenario(ctx, &c, spec, func(ctx context.Context, d *dialer, s *summary, errs *errorLog) error {
		return connectRun(ctx, d, &c, cc, s, errs, stderr)
	}, stdout)
}

func connectRun(ctx context.Context, d *dialer, c *commonFlags, cc connectConfig, s *summary, errs *errorLog, stderr io.Writer) error {
	sessions := make([]*session, cc.users)
	var total, tcp, tlsH, auth, bind, ready lockedHistogram
	var established, failed, started, dropped, tls13 atomic.Int64
	var lastDone atomic.Int64 // ns since start of the latest completed login

	var prev int64
	stop := progress(c.quiet, stderr, "connect", func() string {
		e := established.Load()
		r := perSecond(e-prev, time.Second)
		prev = e
		return fmt.Sprintf("established=%d (%.0f/s) failed=%d in-progress=%d", e, r, failed.Load(), started.Load()-e-failed.Load())
	})
	defer stop()

	m, err := startMeter(c.serverPID)
	if err != nil {
		return err
	}
	start := time.Now()
	sem := make(chan struct{}, cc.inflight)
	var logins, readers sync.WaitGroup
	notStarted := 0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
launch:
	for i := range cc.users {
		if cc.rate > 0 {
			if wait := dueIn(int64(i), cc.rate, start); wait > 0 {
				sleepCtx(ctx, timer, wait)
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || (cc.duration > 0 && time.Since(start) > cc.duration) {
			if ctx.Err() == nil {
				<-sem
			}
			notStarted = cc.users - i
			break launch
		}
		started.Add(1)
		logins.Go(func() {
			defer func() { <-sem }()
			sess, ph, err := d.login(ctx, userName(c.prefix, i), loginOpts{Resource: "rb", Presence: []byte(`<presence/>`)})
			if err != nil {
				failed.Add(1)
				errs.Add(err)
				return
			}
			total.Record(int64(ph.Ready))
			tcp.Record(int64(ph.TCP))
			tlsH.Record(int64(ph.TLS - ph.TCP))
			auth.Record(int64(ph.Auth - ph.TLS))
			bind.Record(int64(ph.Bind - ph.Auth))
			ready.Record(int64(ph.Ready - ph.Bind))
			sessions[i] = sess
			if sess.TLS13 {
				tls13.Add(1)
			}
			established.Add(1)
			lastDone.Store(int64(time.Since(start)))
			readers.Go(func() {
				err := sess.Run(func(raw []byte) error { return sess.handleDefault(raw, errs, "") })
				if err != nil {
					dropped.Add(1)
					errs.Add(err)
				}
			})
		})
	}
	logins.Wait()
	ramp := time.Duration(lastDone.Load())
	n := established.Load()
	// CPU is taken over the ramp; RSS again after the hold, when the
	// sessions are idle.
	if err := m.finish(s, n, true, ramp); err != nil {
		errs.Add(err)
	}
	if ctx.Err() == nil && cc.hold > 0 {
		sleepCtx(ctx, timer, cc.hold)
	}
	if s.Server != nil && ctx.Err() == nil {
		if after, err := readProc(c.serverPID); err != nil {
			errs.Add(err)
		} else if n > 0 {
			s.Server.RSSAfterKB = after.RSSkB
			s.Server.RSSDeltaKB = after.RSSkB - s.Server.RSSBeforeKB
			s.Server.RSSBytesPerOp = math.Round(float64(s.Server.RSSDeltaKB*1024) / float64(n))
		}
	}
	stop()
	closeAll(sessions, ctx.Err() == nil)
	readers.Wait()

	all := total.Snapshot()
	s.ElapsedS = round3(ramp.Seconds())
	s.Rate = perSecond(n, ramp)
	s.OfferedRate = cc.rate
	s.Latency = all.Summary()
	s.Phases = map[string]latencySummary{
		"tcp":      tcp.Snapshot().Summary(),
		"tls":      tlsH.Snapshot().Summary(),
		"auth":     auth.Snapshot().Summary(),
		"bind":     bind.Snapshot().Summary(),
		"presence": ready.Snapshot().Summary(),
	}
	s.Counts = map[string]int64{
		"planned": int64(cc.users), "started": started.Load(), "established": n,
		"failed": failed.Load(), "not_started": int64(notStarted), "dropped": dropped.Load(),
		"tls13": tls13.Load(),
	}
	s.Loss = dropped.Load()
	if notStarted > 0 {
		errs.Add(fmt.Errorf("%d logins not started (-duration or -timeout)", notStarted))
	}
	return nil
}
