package scenario_test

import (
	"testing"
	"time"

	"repairroom/internal/client"
	"repairroom/internal/limits"
	"repairroom/internal/realtime"
	"repairroom/internal/testnode"
)

// TestSocketLimitRefusalIsRetried: a seat at its socket limit refuses a
// new socket with 429 too_many_sockets_seat, which the client treats as
// transient: a second device of the seat (Dial) and a dropped client
// reconnecting (AutoReconnect) both keep retrying with backoff and get in
// as soon as a slot is free, instead of stopping for good.
func TestSocketLimitRefusalIsRetried(t *testing.T) {
	l := limits.Default()
	l.SocketsPerSeat = 1
	cl := startCluster(t, 1, testnode.Options{Realtime: realtime.Config{Limits: l}})
	r := cl.nodes[0].CreateRoom(t, "checkin", "self")
	opts := client.Options{AutoReconnect: true, MaxBackoff: 100 * time.Millisecond}
	a := cl.dial(t, 0, r, "partner_a", opts)

	// A second socket of the seat waits in Dial until a's slot is freed.
	dialed := make(chan *client.Client, 1)
	go func() {
		b, err := client.Dial(ctxFor(t), cl.nodes[0].WSURL(r.ID, r.Tokens["partner_a"]), origin, opts)
		if err != nil {
			t.Errorf("second device of the seat: %v", err)
		}
		dialed <- b
	}()
	time.Sleep(300 * time.Millisecond) // let it be refused a few times
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := <-dialed
	if b == nil {
		return
	}
	t.Cleanup(func() { _ = b.Close() })
	appendText(t, b, "wins", "b")

	// b drops and reconnects at once, while the server may still count the
	// socket it dropped: it must get back in and keep editing.
	for range 5 {
		b.Drop()
		if err := b.Wait(ctxFor(t), b.Connected); err != nil {
			t.Fatalf("reconnect after a drop: %v", err)
		}
		if err := b.Err(); err != nil {
			t.Fatalf("client stopped: %v", err)
		}
	}
	appendText(t, b, "wins", "c")
	if f := cl.settle(t, r.ID, "wins", b); f.Text != "bc" {
		t.Fatalf("text after the reconnects: %q", f.Text)
	}
}
