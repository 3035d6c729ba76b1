package realtime

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// wsPair returns a server-side WebSocket on loopback TCP whose client
// reads and counts every message until the test ends.
func wsPair(tb testing.TB) (*websocket.Conn, <-chan [][]byte) {
	tb.Helper()
	srv := make(chan *websocket.Conn, 1)
	up := websocket.Upgrader{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			tb.Error(err)
			return
		}
		srv <- c
	}))
	tb.Cleanup(hs.Close)
	cl, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cl.Close() })
	got := make(chan [][]byte, 1)
	go func() {
		var msgs [][]byte
		for {
			_, b, err := cl.ReadMessage()
			if err != nil {
				got <- msgs
				return
			}
			msgs = append(msgs, b)
		}
	}()
	s := <-srv
	tb.Cleanup(func() { _ = s.Close() })
	return s, got
}

// Frames built by appendTextFrame, several in one write, are read back by
// a standard client as the same messages, for every length encoding.
func TestAppendTextFrameIsReadAsMessages(t *testing.T) {
	s, got := wsPair(t)
	var want [][]byte
	var buf []byte
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		p := bytes.Repeat([]byte{'a' + byte(n%26)}, n)
		want = append(want, p)
		buf = appendTextFrame(buf, p)
	}
	if _, err := s.NetConn().Write(buf); err != nil {
		t.Fatal(err)
	}
	_ = s.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
	msgs := <-got
	if len(msgs) != len(want) {
		t.Fatalf("read %d messages, want %d", len(msgs), len(want))
	}
	for i := range want {
		if !bytes.Equal(msgs[i], want[i]) {
			t.Fatalf("message %d: %d bytes, want %d", i, len(msgs[i]), len(want[i]))
		}
	}
}

// BenchmarkSocketWrites compares one write per frame (the library's
// WriteMessage) with one write per batch of 16 frames of 200 bytes, on
// loopback TCP.
func BenchmarkSocketWrites(b *testing.B) {
	frame := bytes.Repeat([]byte("x"), 200)
	b.Run("per-frame", func(b *testing.B) {
		s, _ := wsPair(b)
		b.ReportAllocs()
		for b.Loop() {
			for range 16 {
				if err := s.WriteMessage(websocket.TextMessage, frame); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("batched", func(b *testing.B) {
		s, _ := wsPair(b)
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = buf[:0]
			for range 16 {
				buf = appendTextFrame(buf, frame)
			}
			if _, err := s.NetConn().Write(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
