package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"repairroom/internal/redistest"
	"repairroom/internal/testnode"
)

// The writer builds WebSocket frames itself and answers pings: a client's
// ping gets its pong, and frames of every length encoding (7-bit, 16-bit
// and 64-bit lengths) arrive intact and in order.
func TestBatchedWritesAreValidFrames(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{Realtime: crowdLimits()})
	r := n.CreateRoom(t, "checkin", "self")
	a, w := dial(t, n, r.ID, r.Tokens["partner_a"])
	ep, v, _ := fieldOf(t, w, "wins")

	pong := make(chan string, 1)
	a.SetPongHandler(func(s string) error { pong <- s; return nil })
	if err := a.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Pongs are read by the read loop, which next() runs.
	send(t, a, map[string]any{"t": "act", "id": "q0", "act": "no.such.act"})
	next(t, a, reply("q0"))

	big := strings.Repeat("x", 32768) // 16-bit length frames
	send(t, a, push("p1", "wins", ep, v, `[[0,"`+big+`"]]`))
	if f := next(t, a, reply("p1")); f.t() != "ack" {
		t.Fatalf("first big push: %.200s", f.raw)
	}
	send(t, a, push("p2", "wins", ep, v+1, `[32768,[0,"`+big+`"]]`))
	if f := next(t, a, reply("p2")); f.t() != "ack" {
		t.Fatalf("second big push: %.200s", f.raw)
	}
	for i := 0; i < 2; i++ {
		if u := next(t, a, ofType("updates")); int64(u.m["from"].(float64)) != v+int64(i) {
			t.Fatalf("update %d out of order: %.200s", i, u.raw)
		}
	}
	select {
	case s := <-pong:
		if s != "are you there" {
			t.Fatalf("pong %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pong to a ping")
	}
	// A welcome of more than 64 KiB: a 64-bit length.
	_, w2 := dial(t, n, r.ID, r.Tokens["partner_b"])
	if _, _, text := fieldOf(t, w2, "wins"); text != big+big {
		t.Fatalf("welcome text of %d characters", len(text))
	}
}
