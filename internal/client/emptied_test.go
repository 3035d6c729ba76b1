package client_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"repairroom/internal/client"
	"repairroom/internal/redistest"
	"repairroom/internal/testnode"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// liveness bounds every wait: it fails a stuck test, it is not a timing
// assertion.
const liveness = 30 * time.Second

const origin = "http://rooms.test"

// gate, once closed, lets frames through until a frame of type hold
// comes: that one and every frame after it are held (its OnFrame blocks)
// until release. Frames of other types that may arrive at any time (a
// coalesced members notice, presence) do not stop the reader before it.
// It records the type of every frame it has seen since it was closed.
type gate struct {
	mu      sync.Mutex
	closed  bool
	holding bool
	hold    string
	open    chan struct{}
	seen    []string
	notify  chan struct{}
}

func newGate() *gate { return &gate{open: make(chan struct{}), notify: make(chan struct{}, 64)} }

func (g *gate) close(hold string) {
	g.mu.Lock()
	g.closed, g.holding, g.hold, g.open, g.seen = true, false, hold, make(chan struct{}), nil
	g.mu.Unlock()
}

func (g *gate) release() {
	g.mu.Lock()
	if g.closed {
		g.closed = false
		close(g.open)
	}
	g.mu.Unlock()
}

func (g *gate) onFrame(raw []byte) bool {
	var f struct {
		T string `json:"t"`
	}
	_ = json.Unmarshal(raw, &f)
	g.mu.Lock()
	g.seen = append(g.seen, f.T)
	if g.closed && f.T == g.hold {
		g.holding = true
	}
	wait, open := g.closed && g.holding, g.open
	g.mu.Unlock()
	select {
	case g.notify <- struct{}{}:
	default:
	}
	if wait {
		<-open
	}
	return true
}

// waitSeen waits until the gate has seen a frame of type t.
func (g *gate) waitSeen(ctx context.Context, t string) bool {
	for {
		g.mu.Lock()
		for _, s := range g.seen {
			if s == t {
				g.mu.Unlock()
				return true
			}
		}
		g.mu.Unlock()
		select {
		case <-g.notify:
		case <-ctx.Done():
			return false
		}
	}
}

// TestConcurrentSameDeletionConvergesAgainstTheServer: both partners
// delete the same words at once, and partner A's deletion, still unsent
// behind a push in flight, maps to nothing over B's. The server refuses a
// push that changes nothing (bad_changes), so A must drop the emptied
// update instead of pushing it; both then converge on the server's text,
// with nothing pending and no refusal.
func TestConcurrentSameDeletionConvergesAgainstTheServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	n := testnode.Start(t, redistest.Client(t), testnode.Options{AllowedOrigins: []string{origin}})
	r := n.CreateRoom(t, "checkin", "self")
	g := newGate()
	dial := func(role string, o client.Options) *client.Client {
		o.Record = true
		cl, err := client.Dial(ctx, n.WSURL(r.ID, r.Tokens[role]), origin, o)
		if err != nil {
			t.Fatalf("dial %s: %v", role, err)
		}
		t.Cleanup(func() { _ = cl.Close() })
		return cl
	}
	a := dial("partner_a", client.Options{OnFrame: g.onFrame})
	b := dial("partner_b", client.Options{})
	t.Cleanup(g.release) // before the clients close: a held reader would block Close
	const key = "wins"
	if err := a.Edit(key, 0, 0, "hello world"); err != nil {
		t.Fatal(err)
	}
	if err := a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	_, v := a.Confirmed(key)
	if err := b.CatchUp(ctx, key, v); err != nil {
		t.Fatal(err)
	}

	// A stops reading; B deletes " world" and it is stored.
	g.close("updates")
	if err := b.Edit(key, 5, 6, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// A's reader now holds B's update, unprocessed, ahead of anything else.
	if !g.waitSeen(ctx, "updates") {
		t.Fatal("B's update never reached A")
	}
	// A, still on "hello world": a push goes out (it is behind: the server
	// rebases it), then the same deletion waits behind it.
	if err := a.Edit(key, 0, 0, "> "); err != nil {
		t.Fatal(err)
	}
	if err := a.Edit(key, 7, 6, ""); err != nil {
		t.Fatal(err)
	}
	if got := a.Text(key); got != "> hello" {
		t.Fatalf("A's local text %q", got)
	}
	g.release() // B's update first: A's pending deletion maps to nothing

	if err := a.Sync(ctx); err != nil {
		t.Fatalf("A sync: %v\n%s", err, a)
	}
	if err := b.Sync(ctx); err != nil {
		t.Fatalf("B sync: %v\n%s", err, b)
	}
	want := "> hello"
	for name, cl := range map[string]*client.Client{"A": a, "B": b} {
		if err := cl.Wait(ctx, func() bool {
			text, _ := cl.Confirmed(key)
			return text == want && cl.Text(key) == want && cl.Pending() == 0
		}); err != nil {
			text, v := cl.Confirmed(key)
			t.Fatalf("%s at v%d %q (local %q), want %q: %v\n%s", name, v, text, cl.Text(key), want, err, cl)
		}
		if cl.Anomalies() != 0 {
			t.Errorf("%s: %d anomalies", name, cl.Anomalies())
		}
	}
	_, va := a.Confirmed(key)
	_, vb := b.Confirmed(key)
	if va != vb || va != v+2 {
		t.Fatalf("versions: A %d, B %d, want %d (B's deletion and A's insertion)", va, vb, v+2)
	}
	for _, f := range a.Frames() {
		var m struct{ T, Code string }
		_ = json.Unmarshal(f, &m)
		if m.T == "error" {
			t.Fatalf("A got an error: %s", f)
		}
	}
}
