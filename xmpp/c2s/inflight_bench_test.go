package c2s

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/storage/sqlite"
	"github.com/ringd/ringd/xmpp/inflight"
	"github.com/ringd/ringd/xmpp/router"
)

// BenchmarkRouteChat575TLSInflight measures what the durable in-flight
// record costs: both sessions use stream management (the sender asks for
// an ack every benchWindow stanzas, the receiver acks as in
// BenchmarkRouteChat575TLSSM), with no journal, and with a journal on
// SQLite with the default linger (a prompt receiver cancels most records
// before they are written) and without linger (every record is written,
// then deleted: the cost for receivers on slow networks).
//
//	go test -run '^$' -bench 'Inflight' -benchmem ./xmpp/c2s/
//
// Besides msgs/s and cpu-µs/msg it reports written/msg, the share of
// messages whose record reached storage.
func BenchmarkRouteChat575TLSInflight(b *testing.B) {
	for _, bc := range []struct {
		name    string
		journal bool
		linger  time.Duration
	}{
		{"journal=off", false, 0},
		{"journal=sqlite/linger=5ms", true, inflight.DefaultLinger},
		{"journal=sqlite/linger=0", true, -1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var opts []serverOption
			var reg *prometheus.Registry
			if bc.journal {
				reg = prometheus.NewRegistry()
				store, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "inflight.db"))
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { store.Close() })
				j, err := inflight.Open(context.Background(), inflight.Config{Store: store, Linger: bc.linger, Registerer: reg})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					j.Close(ctx)
				})
				opts = append(opts, func(cfg *Config, _ *router.Config) { cfg.Journal = j })
			}
			benchRouteInflight(b, reg, opts...)
		})
	}
}

func benchRouteInflight(b *testing.B, reg *prometheus.Registry, opts ...serverOption) {
	st := benchStanzas["chat"]
	st.ack = true
	b.StopTimer()
	ts := startServer(b, opts...)
	alice, _ := login(b, ts, "alice", "bench")
	bob, _ := login(b, ts, "bob", "bench")
	alice.enable(false)
	bob.enable(false)
	alice.nc.SetDeadline(time.Time{})
	// The sender reads (and drops) the server's acks so they never back
	// up; every benchWindow stanzas it asks for one.
	drained := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, alice.nc)
		drained <- err
	}()
	sender := &askingWriter{Conn: alice.nc, every: benchWindow}
	b.ReportAllocs()
	b.SetBytes(int64(len(st.raw)))
	cpu0 := cpuTime()
	start := time.Now()
	b.StartTimer()
	if err := pump(sender, bob.nc, st, b.N); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N), "cpu-µs/msg")
	if reg != nil {
		b.ReportMetric(counter(b, reg, "ringd_inflight_written_total")/float64(b.N), "written/msg")
	}
	alice.nc.Close()
	<-drained
	bob.closeStream()
}

// askingWriter is a connection that appends <r/> to every every-th
// stanza written.
type askingWriter struct {
	net.Conn
	every int
	n     int
	buf   []byte
}

func (a *askingWriter) Write(p []byte) (int, error) {
	a.n++
	if a.n%a.every != 0 {
		return a.Conn.Write(p)
	}
	a.buf = append(append(a.buf[:0], p...), smRequest...)
	if _, err := a.Conn.Write(a.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

func counter(b *testing.B, reg *prometheus.Registry, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	b.Fatalf("no metric %s", name)
	return 0
}
