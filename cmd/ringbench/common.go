package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// commonFlags are the flags of every load scenario.
type commonFlags struct {
	addr, domain, tlsMode, mech string
	prefix, password            string
	serverPID                   int
	jsonPath                    string
	timeout                     time.Duration
	quiet                       bool
	scramCache                  string
	sources                     int
	curves                      string
	cpuProfile                  string
	rate                        string // -rate as given; parse reads it
}

// flagSet is the flag set of load scenario name with the common flags
// and -rate, whose default and meaning are the scenario's own.
func (c *commonFlags) flagSet(name, rateDefault, rateUsage string, stderr io.Writer) *flag.FlagSet {
	fs := newFlagSet(name, stderr)
	c.register(fs)
	fs.StringVar(&c.rate, "rate", rateDefault, rateUsage)
	return fs
}

// parse parses args into a flag set made by flagSet and returns -rate
// per second.
func (c *commonFlags) parse(fs *flag.FlagSet, args []string) (rate float64, err error) {
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	return parseRate(c.rate)
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:5222", "server `host:port` (loopback only)")
	fs.StringVar(&c.domain, "domain", "localhost", "XMPP `domain` of the accounts")
	fs.StringVar(&c.tlsMode, "tls", "starttls", "`starttls` or direct (XEP-0368 TLS from the first byte)")
	fs.StringVar(&c.mech, "mech", "SCRAM-SHA-1", "SASL `mechanism`: SCRAM-SHA-1 or SCRAM-SHA-256")
	fs.StringVar(&c.prefix, "prefix", "bench", "account names are `PREFIX`0, PREFIX1, …")
	fs.StringVar(&c.password, "password", "", "`password` of every account (required)")
	fs.IntVar(&c.serverPID, "server-pid", 0, "`PID` of the server: report its CPU and RSS from /proc")
	fs.StringVar(&c.jsonPath, "json", "", "also write the JSON summary to `FILE`")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "hard bound on the whole run")
	fs.BoolVar(&c.quiet, "quiet", false, "no progress lines on stderr")
	fs.StringVar(&c.scramCache, "scram-cache", "", "keep SCRAM salted passwords in `FILE` across runs (see docs)")
	fs.IntVar(&c.sources, "sources", 0, "dial from `N` loopback source addresses 127.0.0.1… (0: one per 10,000 sessions)")
	fs.StringVar(&c.curves, "tls-groups", "x25519", "TLS key exchange `groups`: x25519, or default (Go's, with post-quantum X25519MLKEM768)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write the tool's own CPU profile to `FILE` (to check it is not the bottleneck)")
}

// startProfile starts -cpuprofile; the returned function stops it.
func (c *commonFlags) startProfile() (func(), error) {
	if c.cpuProfile == "" {
		return func() {}, nil
	}
	f, err := os.Create(c.cpuProfile)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// parseFlags parses args; positional arguments are an error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// newFlagSet is a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ringbench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// dialConfig validates the common flags for a run of n sessions.
func (c *commonFlags) dialConfig(ctx context.Context, n int) (dialConfig, error) {
	var cfg dialConfig
	if c.password == "" {
		return cfg, usagef("-password is required")
	}
	if c.domain == "" || strings.ContainsAny(c.domain, "@/ '\"<>&") {
		return cfg, usagef("-domain %q is not a domain", c.domain)
	}
	if c.prefix == "" || strings.ContainsAny(c.prefix, "@/: '\"<>&") {
		return cfg, usagef("-prefix %q cannot start a user name", c.prefix)
	}
	if c.timeout <= 0 {
		return cfg, usagef("-timeout must be positive")
	}
	if c.serverPID < 0 {
		return cfg, usagef("-server-pid must be a process id")
	}
	mech, err := scramMechanism(c.mech)
	if err != nil {
		return cfg, usageError{err}
	}
	switch c.tlsMode {
	case "starttls", "direct":
	default:
		return cfg, usagef("-tls %q: want starttls or direct", c.tlsMode)
	}
	var curves []tls.CurveID
	switch c.curves {
	case "x25519":
		curves = []tls.CurveID{tls.X25519}
	case "default":
	default:
		return cfg, usagef("-tls-groups %q: want x25519 or default", c.curves)
	}
	addr, err := loopbackAddr(ctx, c.addr)
	if err != nil {
		return cfg, usageError{err}
	}
	sources, err := sourceAddrs(addr, c.sources, n)
	if err != nil {
		return cfg, usageError{err}
	}
	cache := newSaltCache()
	if c.scramCache != "" {
		if err := cache.load(c.scramCache); err != nil {
			return cfg, err
		}
	}
	return dialConfig{
		Addr: addr, Domain: c.domain, DirectTLS: c.tlsMode == "direct",
		Mech: mech, Password: c.password, Curves: curves, Sources: sources, Cache: cache,
	}, nil
}

// loopbackAddr resolves host:port and refuses anything that is not a
// loopback address: ringbench is a load generator, and pointing it at
// somebody else's server would be an attack.
func loopbackAddr(ctx context.Context, hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", fmt.Errorf("-addr %q: %w", hostport, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return "", fmt.Errorf("-addr %q: bad port", hostport)
	}
	if host == "" {
		return "", fmt.Errorf("-addr %q: no host (ringbench targets loopback only)", hostport)
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		addrs, err := net.DefaultResolver.LookupIPAddr(rctx, host)
		if err != nil {
			return "", fmt.Errorf("-addr %q: %w", hostport, err)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("-addr %q: no address", hostport)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return "", fmt.Errorf("-addr %q: %s is not a loopback address; ringbench only loads servers on this machine", hostport, ip)
		}
	}
	return net.JoinHostPort(ips[0].String(), port), nil
}

// sessionsPerSource bounds the sessions dialed from one source address:
// well under the 28,000 ephemeral ports Linux gives each (source,
// destination) pair, so that sockets in TIME_WAIT from an earlier run
// still leave room.
const sessionsPerSource = 10000

// sourceAddrs picks the loopback source addresses to dial from: n given,
// or one per 10,000 sessions. Only IPv4 loopback has more than one.
func sourceAddrs(target string, n, sessions int) ([]net.IP, error) {
	host, _, _ := net.SplitHostPort(target)
	ip := net.ParseIP(host).To4()
	if n < 0 || n > 250 {
		return nil, fmt.Errorf("-sources %d: want 0 to 250", n)
	}
	if n == 0 {
		n = (sessions + sessionsPerSource - 1) / sessionsPerSource
	}
	if n <= 1 {
		return nil, nil
	}
	if ip == nil {
		return nil, fmt.Errorf("-sources %d needs an IPv4 loopback target (IPv6 has only ::1)", n)
	}
	ips := make([]net.IP, n)
	for i := range ips {
		ips[i] = net.IPv4(127, 0, 0, byte(1+i))
	}
	return ips, nil
}

// parseRate reads "500", "500/s" or "2.5k/s" as a rate per second.
func parseRate(s string) (float64, error) {
	v := strings.TrimSuffix(strings.TrimSpace(s), "/s")
	mult := 1.0
	if strings.HasSuffix(v, "k") {
		v, mult = strings.TrimSuffix(v, "k"), 1000
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) {
		return 0, usagef("rate %q: want a number per second such as 500/s (0 for as fast as possible)", s)
	}
	return r * mult, nil
}

// dueIn is how long until operation i of a run paced at rate per second
// since start is due; zero or less is now.
func dueIn(i int64, rate float64, start time.Time) time.Duration {
	return time.Duration(float64(i)/rate*float64(time.Second)) - time.Since(start)
}

// sleepCtx waits d on timer (a run's one timer, reset each time) and
// reports whether it did, false when ctx ended first.
func sleepCtx(ctx context.Context, timer *time.Timer, d time.Duration) bool {
	timer.Reset(d)
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// newRunID is a random tag carried in every id and body the run sends,
// so that leftovers of an earlier run (stored offline, say) are told
// apart, and servers that drop retried ids (ringd's dedupe window) see
// fresh ones.
func newRunID() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// userName is the account name of benchmark user i.
func userName(prefix string, i int) string { return prefix + strconv.Itoa(i) }

// summary is the JSON object a run prints at the end. docs/performance.md
// describes every field.
type summary struct {
	Tool         string                    `json:"tool"`
	Scenario     string                    `json:"scenario"`
	Target       string                    `json:"target"`
	Params       map[string]any            `json:"params"`
	Started      time.Time                 `json:"started"`
	SetupS       float64                   `json:"setup_s"`
	ElapsedS     float64                   `json:"elapsed_s"`
	Op           string                    `json:"op"`
	Counts       map[string]int64          `json:"counts"`
	Rate         float64                   `json:"rate"`
	OfferedRate  float64                   `json:"offered_rate,omitempty"`
	Latency      latencySummary            `json:"latency_us"`
	Phases       map[string]latencySummary `json:"phases_us,omitempty"`
	Loss         int64                     `json:"loss"`
	Errors       int64                     `json:"errors"`
	ErrorSamples []string                  `json:"error_samples,omitempty"`
	Server       *serverStats              `json:"server,omitempty"`
	Client       clientStats               `json:"client"`
	OK           bool                      `json:"ok"`
}

type serverStats struct {
	PID           int     `json:"pid"`
	CPUS          float64 `json:"cpu_s"`
	CPUUsPerOp    float64 `json:"cpu_us_per_op"`
	RSSBeforeKB   int64   `json:"rss_before_kb"`
	RSSAfterKB    int64   `json:"rss_after_kb"`
	RSSDeltaKB    int64   `json:"rss_delta_kb"`
	RSSBytesPerOp float64 `json:"rss_bytes_per_op,omitempty"`
}

type clientStats struct {
	CPUS        float64 `json:"cpu_s"`
	CPUUsPerOp  float64 `json:"cpu_us_per_op"`
	Utilization float64 `json:"cpu_utilization"`
	MaxRSSKB    int64   `json:"max_rss_kb"`
	FileLimit   uint64  `json:"nofile_limit,omitempty"`
	Sources     int     `json:"source_addrs,omitempty"`
	ScramHits   int     `json:"scram_cache_hits"`
	ScramMisses int     `json:"scram_cache_misses"`
}

// emit prints the summary on stdout (and to -json) and turns loss or
// errors into the command's failure.
func emit(s *summary, c *commonFlags, stdout io.Writer) error {
	s.Tool = "ringbench"
	s.OK = s.Loss == 0 && s.Errors == 0
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if _, err := stdout.Write(b); err != nil {
		return err
	}
	if c.jsonPath != "" {
		if err := os.WriteFile(c.jsonPath, b, 0o644); err != nil {
			return fmt.Errorf("write -json: %w", err)
		}
	}
	if !s.OK {
		return fmt.Errorf("%d lost, %d errors", s.Loss, s.Errors)
	}
	return nil
}

// scenarioSpec is what sets a load scenario's run apart.
type scenarioSpec struct {
	name       string         // the sub-command, and the summary's scenario
	op         string         // what one operation is: the summary's op
	sessions   int            // the most sessions the run opens at once
	readBuffer int            // each session's initial read buffer
	params     map[string]any // the scenario's own parameters; runScenario adds the common ones
}

// scenarioRun is a scenario's measurement. It fills s and counts what
// goes wrong in errs; an error it returns counts as one more, since the
// summary of a failed run is still wanted.
type scenarioRun func(ctx context.Context, d *dialer, s *summary, errs *errorLog) error

// runScenario is what every load scenario does around its measurement:
// bound it by -timeout, check the common flags and the file limit, run
// under -cpuprofile, keep the SCRAM cache and print the summary. Bad
// flags and set-up failures return before any summary is printed.
func runScenario(ctx context.Context, c *commonFlags, spec scenarioSpec, run scenarioRun, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cfg, err := c.dialConfig(ctx, spec.sessions)
	if err != nil {
		return err
	}
	cfg.ReadBuffer = spec.readBuffer
	lim, err := fileLimit(spec.sessions)
	if err != nil {
		return err
	}
	params := map[string]any{
		"tls": c.tlsMode, "mech": c.mech, "domain": c.domain, "prefix": c.prefix,
		"timeout_s": c.timeout.Seconds(), "tls_groups": c.curves,
	}
	maps.Copy(params, spec.params)
	s := &summary{
		Scenario: spec.name, Target: cfg.Addr, Op: spec.op, Started: time.Now().UTC(), Params: params,
		Client: clientStats{FileLimit: lim, Sources: len(cfg.Sources)},
	}
	errs := &errorLog{}
	stopProfile, err := c.startProfile()
	if err != nil {
		return err
	}
	defer stopProfile()
	if err := run(ctx, newDialer(cfg), s, errs); err != nil {
		errs.Add(err)
	} else if ctx.Err() != nil {
		// The run finished its figures, but over a shorter time than
		// asked (-timeout or a signal): that is a failure too.
		errs.Add(fmt.Errorf("run cut short: %w", ctx.Err()))
	}
	s.Client.ScramHits, s.Client.ScramMisses = cfg.Cache.stats()
	if c.scramCache != "" {
		if err := cfg.Cache.save(c.scramCache); err != nil {
			errs.Add(err)
		}
	}
	errs.fill(s)
	return emit(s, c, stdout)
}

// errorLog counts errors and keeps the first few for the summary.
type errorLog struct {
	mu      sync.Mutex
	n       int64
	samples []string
}

const maxErrorSamples = 10

func (e *errorLog) Add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if len(e.samples) < maxErrorSamples {
		e.samples = append(e.samples, err.Error())
	}
}

func (e *errorLog) Count() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

func (e *errorLog) fill(s *summary) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s.Errors, s.ErrorSamples = e.n, append([]string(nil), e.samples...)
}

// progress prints line() on stderr once a second until stop is called
// (once or more).
func progress(quiet bool, stderr io.Writer, name string, line func() string) (stop func()) {
	if quiet {
		return func() {}
	}
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				fmt.Fprintf(stderr, "ringbench %s %4.0fs: %s\n", name, now.Sub(start).Seconds(), line())
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

// meter measures the server and the tool over the measured phase of a
// run.
type meter struct {
	pid    int
	t      time.Time
	server procSample
	client time.Duration
}

func startMeter(pid int) (*meter, error) {
	m := &meter{pid: pid, t: time.Now()}
	if pid > 0 {
		s, err := readProc(pid)
		if err != nil {
			return nil, err
		}
		m.server = s
	}
	m.client, _ = selfUsage()
	return m, nil
}

// finish fills the server and client figures of s for ops operations.
// rssPerOp reports RSS growth per operation (sessions, not messages).
func (m *meter) finish(s *summary, ops int64, rssPerOp bool, elapsed time.Duration) error {
	cpu, maxRSS := selfUsage()
	s.Client.CPUS = round3((cpu - m.client).Seconds())
	s.Client.MaxRSSKB = maxRSS
	if elapsed > 0 {
		s.Client.Utilization = round3((cpu - m.client).Seconds() / elapsed.Seconds())
	}
	if ops > 0 {
		s.Client.CPUUsPerOp = round3(float64((cpu - m.client).Microseconds()) / float64(ops))
	}
	if m.pid <= 0 {
		return nil
	}
	end, err := readProc(m.pid)
	if err != nil {
		return err
	}
	ss := &serverStats{
		PID:         m.pid,
		CPUS:        round3((end.CPU - m.server.CPU).Seconds()),
		RSSBeforeKB: m.server.RSSkB,
		RSSAfterKB:  end.RSSkB,
		RSSDeltaKB:  end.RSSkB - m.server.RSSkB,
	}
	if ops > 0 {
		ss.CPUUsPerOp = round3(float64((end.CPU - m.server.CPU).Microseconds()) / float64(ops))
		if rssPerOp {
			ss.RSSBytesPerOp = math.Round(float64(ss.RSSDeltaKB) * 1024 / float64(ops))
		}
	}
	s.Server = ss
	return nil
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// perSecond is n over d, rounded.
func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return math.Round(float64(n)/d.Seconds()*10) / 10
}

// loginAll logs in users[i] with opts(i), at most conc at a time, and
// fails on the first error: the scenarios other than connect need every
// session to measure anything.
func loginAll(ctx context.Context, d *dialer, users []string, opts func(i int) loginOpts, conc int, onDone func()) ([]*session, error) {
	sessions := make([]*session, len(users))
	err := forEachLimited(ctx, len(users), conc, func(ctx context.Context, i int) error {
		s, _, err := d.login(ctx, users[i], opts(i))
		if err != nil {
			return err
		}
		sessions[i] = s
		if onDone != nil {
			onDone()
		}
		return nil
	})
	if err != nil {
		closeAll(sessions, false)
		return nil, fmt.Errorf("log in: %w", err)
	}
	return sessions, nil
}

// loginShowing is loginAll, 32 at a time, with the progress line
// "logging in i/n" of scenario name: the set-up of a scenario that has
// nothing more to set up than the sessions.
func loginShowing(ctx context.Context, d *dialer, c *commonFlags, name string, users []string, opts func(i int) loginOpts, stderr io.Writer) ([]*session, error) {
	var loggedIn atomic.Int64
	stop := progress(c.quiet, stderr, name, func() string {
		return fmt.Sprintf("logging in %d/%d", loggedIn.Load(), len(users))
	})
	defer stop()
	return loginAll(ctx, d, users, opts, 32, func() { loggedIn.Add(1) })
}

// forEachLimited runs f for 0…n-1, at most limit at a time. The first
// error cancels the context f is given and stops starting more; it is
// what forEachLimited returns, else the error of ctx.
func forEachLimited(ctx context.Context, n, limit int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// waitDrain waits at the end of a run for what is still in flight:
// until counts says got reached want, ctx ends, or stall passes without
// got moving.
func waitDrain(ctx context.Context, stall time.Duration, counts func() (got, want int64)) {
	deadline := time.Now().Add(stall)
	for prev := int64(-1); ; {
		got, want := counts()
		if got >= want || ctx.Err() != nil || time.Now().After(deadline) {
			return
		}
		if got != prev {
			prev, deadline = got, time.Now().Add(stall)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// closeAll closes sessions in parallel; running says whether their Run
// loops are active (then each waits briefly for the server's close).
func closeAll(sessions []*session, running bool) {
	var wg sync.WaitGroup
	for _, s := range sessions {
		if s != nil {
			wg.Go(func() { s.Close(running) })
		}
	}
	wg.Wait()
}

// fileLimit raises RLIMIT_NOFILE and checks that n sessions fit.
func fileLimit(n int) (uint64, error) {
	lim, err := raiseFileLimit()
	if err != nil {
		return 0, err
	}
	if lim > 0 && uint64(n)+64 > lim {
		return lim, fmt.Errorf("%d sessions need more file descriptors than the limit %d", n, lim)
	}
	return lim, nil
}
