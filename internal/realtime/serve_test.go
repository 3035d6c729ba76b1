package realtime

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"repairroom/internal/protocol"
	"repairroom/internal/redistest"
	"repairroom/internal/room"
	"repairroom/internal/store"
	"repairroom/internal/templates"
)

// fakeWS is a socket whose peer sends nothing: ReadMessage waits until the
// server closes it. It records the data frames and the close code sent.
type fakeWS struct {
	mu        sync.Mutex
	frames    [][]byte
	closeCode int
	pings     int
	closed    chan struct{}
	once      sync.Once
}

func newFakeWS() *fakeWS { return &fakeWS{closed: make(chan struct{})} }

func (f *fakeWS) ReadMessage() (int, []byte, error) {
	<-f.closed
	return 0, nil, errors.New("closed")
}

func (f *fakeWS) WriteMessage(_ int, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.frames = append(f.frames, append([]byte(nil), data...))
	return nil
}

func (f *fakeWS) WriteControl(kind int, data []byte, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case kind == websocket.CloseMessage && len(data) >= 2:
		f.closeCode = int(binary.BigEndian.Uint16(data))
	case kind == websocket.PingMessage:
		f.pings++
	}
	return nil
}

func (f *fakeWS) SetReadDeadline(time.Time) error   { return nil }
func (f *fakeWS) SetWriteDeadline(time.Time) error  { return nil }
func (f *fakeWS) SetReadLimit(int64)                {}
func (f *fakeWS) SetPongHandler(func(string) error) {}
func (f *fakeWS) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

// A token checked at the upgrade may be revoked before its socket joins
// the room's fan-out, where the rotation notice would have closed it: the
// welcome must not go out to it.
func TestServeRefusesATokenRevokedBeforeItJoined(t *testing.T) {
	rdb := redistest.Client(t)
	st := store.New(rdb, store.DefaultOptions())
	h := New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{}, nil)
	tpls, err := templates.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := tpls.Get("checkin")
	ctx := context.Background()
	if err := h.CreateRoom(ctx, "roomone", tpl, room.SelfGuided, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Rotate(ctx, "roomone"); err != nil { // nobody subscribed yet
		t.Fatal(err)
	}
	ws := newFakeWS()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Serve(ws, Participant{Room: "roomone", Role: "partner_a", Seat: "partner_a", Gen: 1, Name: "A", Template: tpl})
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = ws.Close()
		<-done
		t.Fatalf("a socket with a revoked token was served (frames: %d)", len(ws.frames))
	}
	if len(ws.frames) != 0 || ws.closeCode != protocol.CloseRevoked {
		t.Fatalf("revoked token: %d frames sent, close %d; want none and %d", len(ws.frames), ws.closeCode, protocol.CloseRevoked)
	}
}
