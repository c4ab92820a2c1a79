package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/mysql"
	"github.com/ringd/ringd/storage/sqlite"
	"github.com/ringd/ringd/storage/sqlstore"
	"github.com/ringd/ringd/turn"
	"github.com/ringd/ringd/xmpp/c2s"
	"github.com/ringd/ringd/xmpp/inflight"
	"github.com/ringd/ringd/xmpp/offline"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/scram"
)

// Server is one ringd instance: listeners, router, features, store.
type Server struct {
	cfg Config
	log *slog.Logger
	// closers stop features' background work (timers, publish workers)
	// after the listeners, before the store closes.
	closers []func(context.Context) error
	// turnServices describes the embedded TURN relay once Run started it,
	// for XEP-0215.
	turnServices []turn.Service
	// offline is the offline storage feature once registered: in-flight
	// records left by a crash are recovered into it.
	offline *offline.Offline
	// journal keeps the in-flight records; nil when they are disabled.
	journal *inflight.Journal
}

// New validates cfg (after applying defaults) and builds the server. It
// does no I/O: Run opens the store and the listeners.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, log: log}, nil
}

// OpenStore opens the storage backend cfg selects (after applying
// defaults), running migrations. The CLI uses it to work on the same store
// as a running server.
func OpenStore(ctx context.Context, cfg Config) (storage.Store, error) {
	cfg = cfg.withDefaults()
	switch cfg.Storage.Driver {
	case "sqlite":
		path := cfg.Storage.DSN
		if path == "" {
			path = filepath.Join(cfg.DataDir, "ringd.db")
		}
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("server: open sqlite store: %w", err)
		}
		return st, nil
	case "mysql":
		st, err := mysql.Open(ctx, cfg.Storage.DSN, mysql.Options{
			MaxOpenConns:    cfg.Storage.MaxOpenConns,
			MaxIdleConns:    cfg.Storage.MaxIdleConns,
			ConnMaxLifetime: cfg.Storage.ConnMaxLifetime,
		})
		if err != nil {
			return nil, fmt.Errorf("server: open mysql store: %w", err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("server: unknown storage driver %q", cfg.Storage.Driver)
}

// Migrate brings the configured store's schema up to date and returns the
// names of the migrations it applied (none when it was current).
func Migrate(ctx context.Context, cfg Config) ([]string, error) {
	cfg = cfg.withDefaults()
	var applied []sqlstore.Migration
	var err error
	switch cfg.Storage.Driver {
	case "sqlite":
		path := cfg.Storage.DSN
		if path == "" {
			path = filepath.Join(cfg.DataDir, "ringd.db")
		}
		applied, err = sqlite.Migrate(ctx, path)
	case "mysql":
		applied, err = mysql.Migrate(ctx, cfg.Storage.DSN)
	default:
		return nil, fmt.Errorf("server: unknown storage driver %q", cfg.Storage.Driver)
	}
	if err != nil {
		return nil, fmt.Errorf("server: migrate %s: %w", cfg.Storage.Driver, err)
	}
	names := make([]string, len(applied))
	for i, m := range applied {
		names[i] = m.Name
	}
	return names, nil
}

// Run opens the store and listeners, serves until ctx is cancelled, then
// shuts down gracefully. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	cfg := s.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("server: data dir: %w", err)
	}
	store, err := OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := s.ensureAdmin(ctx, store); err != nil {
		return err
	}
	tlsCfg, err := loadTLS(cfg)
	if err != nil {
		return err
	}
	secret, err := loadSecret(filepath.Join(cfg.DataDir, "secret"))
	if err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// The embedded TURN relay starts before the features are registered,
	// since XEP-0215 advertises the ports it got; it stops after them.
	if cfg.TURN.Enabled {
		ts, err := s.startTURN(ctx, reg)
		if err != nil {
			return err
		}
		defer s.stopTURN(ts)
	}

	rt, err := router.New(router.Config{
		Domain:       cfg.Domain,
		Users:        store,
		MaxResources: cfg.Limits.MaxResources,
		Logger:       s.log.With("component", "router"),
		Registerer:   reg,
	})
	if err != nil {
		return err
	}
	// Opening the journal and recovering run to the end even when a stop
	// is requested meanwhile: Run then shuts down as usual.
	startCtx := context.WithoutCancel(ctx)
	if !cfg.Delivery.DisableInflightRecords {
		if s.journal, err = s.openJournal(startCtx, store, reg); err != nil {
			return err
		}
	}
	streamFeatures, err := s.registerFeatures(rt, store, reg)
	if err != nil {
		return err
	}
	var journal c2s.Journal
	if s.journal != nil {
		// Before anything is served, records an earlier run left (it
		// crashed, or its shutdown ran out of time) go to the recipients'
		// offline queues.
		moved, err := s.journal.Recover(startCtx, s.offline.Recover)
		if err != nil {
			return err
		}
		if moved > 0 {
			s.log.Info("recovered unacknowledged messages to offline storage", "messages", moved)
		}
		journal = s.journal
	}
	cs, err := c2s.New(c2s.Config{
		Domain:             cfg.Domain,
		TLS:                tlsCfg,
		Users:              store,
		Router:             rt,
		Secret:             secret,
		MaxStanzaBytes:     cfg.Limits.MaxStanzaBytes,
		AuthTimeout:        cfg.Limits.AuthTimeout,
		OutboundQueueBytes: cfg.Limits.OutboundQueueBytes,
		StreamFeatures:     streamFeatures,
		ResumeTimeout:      cfg.StreamManagement.ResumeTimeout,
		MaxUnacked:         cfg.StreamManagement.MaxUnacked,
		ResumeLocation:     cfg.StreamManagement.Location,
		Journal:            journal,
		Logger:             s.log.With("component", "c2s"),
		Registerer:         reg,
	})
	if err != nil {
		return err
	}

	var wg sync.WaitGroup
	errc := make(chan error, 8)
	var closers []func(context.Context) error
	fail := func(err error) error {
		shutCtx, cancel := context.WithTimeout(context.Background(), cfg.Limits.ShutdownTimeout)
		defer cancel()
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i](shutCtx)
		}
		wg.Wait()
		// Features stop after the listeners (nothing routes any more) and
		// before the deferred store.Close.
		for i := len(s.closers) - 1; i >= 0; i-- {
			if cerr := s.closers[i](shutCtx); cerr != nil {
				s.log.Warn("feature shutdown", "err", cerr)
			}
		}
		return err
	}

	if cfg.Metrics.Listen != Disabled {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
		if cfg.Metrics.Pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		}
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		if err := s.serveHTTP(hs, cfg.Metrics.Listen, "metrics", &wg, errc); err != nil {
			return fail(err)
		}
		closers = append(closers, hs.Shutdown)
	}
	for _, l := range []struct {
		addr, name string
		serve      func(net.Listener) error
	}{
		{cfg.C2S.Listen, "c2s", cs.ServeSTARTTLS},
		{cfg.C2S.ListenTLS, "c2s-tls", cs.ServeDirectTLS},
	} {
		if l.addr == Disabled {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fail(fmt.Errorf("server: listen %s on %s: %w", l.name, l.addr, err))
		}
		s.log.Info("listening", "listener", l.name, "addr", ln.Addr().String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.serve(ln); err != nil && !errors.Is(err, c2s.ErrServerClosed) {
				errc <- fmt.Errorf("server: %s: %w", l.name, err)
			}
		}()
	}
	closers = append(closers, cs.Shutdown)
	if cfg.WebSocket.Listen != Disabled {
		mux := http.NewServeMux()
		mux.Handle(cfg.WebSocket.Path, cs)
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		if err := s.serveHTTP(hs, cfg.WebSocket.Listen, "websocket", &wg, errc); err != nil {
			return fail(err)
		}
		// Upgraded connections are the c2s server's; shut HTTP down first.
		closers = append(closers[:len(closers)-1], hs.Shutdown, cs.Shutdown)
	}
	s.log.Info("ringd started", "domain", cfg.Domain, "data_dir", cfg.DataDir)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		s.log.Error("listener failed; shutting down", "err", runErr)
	}
	s.log.Info("shutting down")
	return fail(runErr)
}

func (s *Server) serveHTTP(hs *http.Server, addr, name string, wg *sync.WaitGroup, errc chan<- error) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("server: listen %s on %s: %w", name, addr, err)
	}
	s.log.Info("listening", "listener", name, "addr", ln.Addr().String())
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("server: %s: %w", name, err)
		}
	}()
	return nil
}

// ensureAdmin creates the first admin account on an empty store and prints
// its generated password once.
func (s *Server) ensureAdmin(ctx context.Context, store storage.Users) error {
	n, err := store.CountUsers(ctx)
	if err != nil {
		return fmt.Errorf("server: count users: %w", err)
	}
	if n > 0 || len(s.cfg.Admins) == 0 {
		return nil
	}
	admin := s.cfg.Admins[0]
	local, domain, ok := splitBare(admin)
	if !ok || domain != s.cfg.Domain {
		return nil
	}
	// Letters and digits only: the password gets pasted into command lines
	// and config files, where a leading '-' or a quote causes trouble.
	password := rand.Text()
	cred, err := scram.NewCredentials(password, scram.DefaultIterations)
	if err != nil {
		return fmt.Errorf("server: admin credentials: %w", err)
	}
	if err := store.CreateUser(ctx, local, cred); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return nil
		}
		return fmt.Errorf("server: create admin: %w", err)
	}
	out := s.cfg.Notices
	if out == nil {
		out = os.Stdout
	}
	fmt.Fprintf(out, "ringd: created %s with password %s (shown only once; change it with `ringd user passwd %s`)\n", admin, password, admin)
	return nil
}

func splitBare(j string) (local, domain string, ok bool) {
	for i := 0; i < len(j); i++ {
		if j[i] == '@' {
			return j[:i], j[i+1:], i > 0 && i < len(j)-1
		}
	}
	return "", "", false
}

// startTURN starts the embedded TURN relay with the configured secret, or
// the one kept under DataDir (created on first start, so that credentials
// survive restarts).
func (s *Server) startTURN(ctx context.Context, reg prometheus.Registerer) (*turn.Server, error) {
	c := s.cfg.TURN
	secret := c.Secret
	if secret == "" {
		var err error
		if secret, err = turn.LoadOrCreateSecret(filepath.Join(s.cfg.DataDir, "turn-secret")); err != nil {
			return nil, err
		}
	}
	ts, err := turn.New(turn.Config{
		Listen:            c.Listen,
		PublicIP:          c.PublicIP,
		RelayPorts:        c.RelayPorts,
		Realm:             c.Realm,
		Secret:            secret,
		UserQuota:         c.UserQuota,
		AllowPrivatePeers: c.AllowPrivatePeers,
		Logger:            s.log.With("component", "turn"),
		Registerer:        reg,
	})
	if err != nil {
		return nil, err
	}
	if err := ts.Start(ctx); err != nil {
		return nil, err
	}
	s.turnServices = ts.Services()
	return ts, nil
}

// stopTURN closes the relay: its allocations end, clients reallocate
// elsewhere or after the restart.
func (s *Server) stopTURN(ts *turn.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Limits.ShutdownTimeout)
	defer cancel()
	if err := ts.Close(ctx); err != nil {
		s.log.Warn("TURN relay shutdown", "err", err)
	}
}

// openJournal opens the in-flight record journal. It closes after the
// c2s server has requeued what its sessions held, so their records are
// released first.
func (s *Server) openJournal(ctx context.Context, store storage.Store, reg prometheus.Registerer) (*inflight.Journal, error) {
	j, err := inflight.Open(ctx, inflight.Config{
		Store:      store,
		Filter:     offline.MaybeStorable,
		Linger:     s.cfg.Delivery.InflightLinger,
		Logger:     s.log.With("component", "inflight"),
		Registerer: reg,
	})
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, j.Close)
	return j, nil
}
