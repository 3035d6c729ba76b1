package realtime

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"repairroom/internal/redistest"
	"repairroom/internal/room"
	"repairroom/internal/store"
	"repairroom/internal/templates"
)

// An idle socket holds no writer goroutine (its writer starts when there
// is something to write and ends when there is not), nor does a quiet room
// hold a dispatcher or a heartbeat goroutine; pings still go out every
// PingInterval, and a socket's end waits for its last writer.
func TestIdleSocketsHoldNoWriterAndStillGetPings(t *testing.T) {
	rdb := redistest.Client(t)
	st := store.New(rdb, store.DefaultOptions())
	h := New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{PingInterval: 20 * time.Millisecond}, nil)
	tpls, err := templates.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := tpls.Get("checkin")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // liveness, not a timing
	defer cancel()
	if err := h.CreateRoom(ctx, "idleroom", tpl, room.SelfGuided, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	settle := func(want func(n int) bool) int {
		n := runtime.NumGoroutine()
		for ctx.Err() == nil && !want(n) {
			time.Sleep(5 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		return n
	}
	before := runtime.NumGoroutine()
	const sockets = 30
	var wss []*fakeWS
	done := make(chan struct{}, sockets)
	for i := range sockets {
		ws := newFakeWS()
		wss = append(wss, ws)
		go func() {
			defer func() { done <- struct{}{} }()
			h.Serve(ws, Participant{Room: "idleroom", Role: "partner_a", Seat: "partner_a", Gen: 1, Name: fmt.Sprint("A", i), Template: tpl})
		}()
	}
	for _, ws := range wss {
		for ctx.Err() == nil {
			ws.mu.Lock()
			got, welcomed := ws.pings, len(ws.frames) > 0
			ws.mu.Unlock()
			if got >= 3 && welcomed {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if ctx.Err() != nil {
		t.Fatal("idle sockets did not all get a welcome and three pings")
	}
	// Each socket is served by its own goroutine (here, the one calling
	// Serve); the node adds its subscription's reader. A writer per socket
	// would add thirty more; a quiet room adds no dispatcher and no
	// heartbeat goroutine.
	const roomAndNode = 8
	if n := settle(func(n int) bool { return n-before <= sockets+roomAndNode }); n-before > sockets+roomAndNode {
		t.Fatalf("%d goroutines more for %d idle sockets; want at most %d", n-before, sockets, sockets+roomAndNode)
	}
	for _, ws := range wss {
		_ = ws.Close()
	}
	for range sockets {
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatal("a socket's Serve did not return after it closed")
		}
	}
}
