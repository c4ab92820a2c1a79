package turn_test

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringd/ringd/turn"
)

// BenchmarkRelay measures 1200-byte datagrams relayed by the embedded
// relay and by coturn, side by side, over loopback: through one
// allocation and through 100 at once, from the client to a peer (to_peer)
// and back (from_peer). One op is one datagram; it reports delivered
// packets/s, payload Mbit/s and the share lost. Senders hold at most 64
// datagrams in flight in all (at least one per allocation), so the numbers
// are what the relay sustains, not how fast a socket buffer overflows. The pion client runs in the
// same process and costs CPU too, on both sides of the comparison.
//
//	go test -run '^$' -bench Relay -benchtime 50000x ./turn/
func BenchmarkRelay(b *testing.B) {
	for _, server := range []string{"embedded", "coturn"} {
		for _, allocs := range []int{1, 100} {
			for _, dir := range []string{"to_peer", "from_peer"} {
				b.Run(fmt.Sprintf("%s/allocations=%d/%s", server, allocs, dir), func(b *testing.B) {
					var addr string
					if server == "coturn" {
						addr = startCoturn(b, testSecret, testRealm).addr
					} else {
						srv, _ := startRelay(b, turn.Config{AllowPrivatePeers: true, UserQuota: 1})
						addr = fmt.Sprintf("%s:%d", srv.Services()[0].Host, srv.Services()[0].Port)
					}
					benchRelay(b, addr, allocs, dir == "to_peer")
				})
			}
		}
	}
}

const (
	benchPayload  = 1200
	benchInFlight = 64
	benchLossWait = 50 * time.Millisecond
)

// benchPath is one allocation and its peer.
type benchPath struct {
	c       *client
	peer    net.PacketConn
	send    func([]byte) error
	recv    func([]byte) error
	credits chan struct{}
	got     atomic.Int64
}

func benchRelay(b *testing.B, addr string, allocs int, toPeer bool) {
	window := max(1, benchInFlight/allocs)
	paths := make([]*benchPath, allocs)
	for i := range paths {
		// One user each: the quota is per user.
		cr := turn.NewCredentials(testSecret, fmt.Sprintf("bench%d@localhost", i), time.Now().Add(time.Hour))
		c := newClient(b, addr, "udp", cr.Username, cr.Password)
		if err := c.allocate(); err != nil {
			b.Fatalf("allocation %d: %v", i, err)
		}
		peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { peer.Close() })
		if err := c.CreatePermission(peer.LocalAddr()); err != nil {
			b.Fatalf("allocation %d: CreatePermission: %v", i, err)
		}
		p := &benchPath{c: c, peer: peer, credits: make(chan struct{}, window)}
		relayAddr, peerAddr := c.relay.LocalAddr(), peer.LocalAddr()
		if toPeer {
			p.send = func(d []byte) error { _, err := c.relay.WriteTo(d, peerAddr); return err }
			p.recv = func(d []byte) error { _, _, err := peer.ReadFrom(d); return err }
		} else {
			p.send = func(d []byte) error { _, err := peer.WriteTo(d, relayAddr); return err }
			p.recv = func(d []byte) error { _, _, err := c.relay.ReadFrom(d); return err }
		}
		paths[i] = p
	}
	var readers sync.WaitGroup
	for _, p := range paths {
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, 1500)
			for p.recv(buf) == nil {
				p.got.Add(1)
				select {
				case p.credits <- struct{}{}:
				default:
				}
			}
		}()
	}
	stopReaders := func() {
		for _, p := range paths {
			p.c.relay.Close() // the client's reader returns
			p.peer.Close()
		}
		readers.Wait()
	}
	defer stopReaders()

	// Warm up: every path carries a few datagrams end to end (the pion
	// client binds a channel meanwhile, so what follows is ChannelData).
	payload := make([]byte, benchPayload)
	for _, p := range paths {
		for range 4 {
			want := p.got.Load() + 1
			deadline := time.Now().Add(ioTimeout)
			for p.got.Load() < want {
				if err := p.send(payload); err != nil {
					b.Fatalf("warm-up send: %v", err)
				}
				if time.Now().After(deadline) {
					b.Fatal("warm-up: nothing arrives through the relay")
				}
				waitCredit(p.credits, benchLossWait)
			}
		}
		for len(p.credits) > 0 {
			<-p.credits
		}
		for range window {
			p.credits <- struct{}{}
		}
	}
	var before int64
	for _, p := range paths {
		before += p.got.Load()
	}

	b.SetBytes(benchPayload)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var senders sync.WaitGroup
	var sent atomic.Int64
	for i, p := range paths {
		n := b.N / allocs
		if i < b.N%allocs {
			n++
		}
		senders.Add(1)
		go func() {
			defer senders.Done()
			for range n {
				waitCredit(p.credits, benchLossWait) // a lost datagram's credit is given up after the wait
				if p.send(payload) == nil {
					sent.Add(1)
				}
			}
		}()
	}
	senders.Wait()
	// Let the last datagrams arrive.
	total := func() int64 {
		var t int64
		for _, p := range paths {
			t += p.got.Load()
		}
		return t - before
	}
	last, lastChange := total(), time.Now()
	for last < sent.Load() && time.Since(lastChange) < benchLossWait {
		time.Sleep(time.Millisecond)
		if n := total(); n != last {
			last, lastChange = n, time.Now()
		}
	}
	b.StopTimer()
	elapsed := lastChange.Sub(start) // to the last arrival, without the wait for stragglers
	got := float64(total())
	b.ReportMetric(got/elapsed.Seconds(), "pkts/s")
	b.ReportMetric(got*benchPayload*8/elapsed.Seconds()/1e6, "Mbit/s")
	b.ReportMetric(100*(float64(sent.Load())-got)/float64(max(1, sent.Load())), "lost%")
}

// waitCredit takes a credit, or gives up after d (the datagram it stood
// for is taken as lost).
func waitCredit(credits chan struct{}, d time.Duration) {
	select {
	case <-credits:
		return
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-credits:
	case <-t.C:
	}
}
