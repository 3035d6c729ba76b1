package httpapi_test

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// frame is one server message, decoded loosely, with its raw bytes.
type frame struct {
	raw []byte
	m   map[string]any
}

func (f frame) t() string { s, _ := f.m["t"].(string); return s }

func send(t *testing.T, ws *websocket.Conn, v any) {
	t.Helper()
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

var (
	backlogMu sync.Mutex
	backlog   = map[*websocket.Conn][]frame{}
)

// next returns the first frame that satisfies ok: from the frames read
// earlier and passed over, else from the socket, keeping the others for
// later calls. It fails after a generous deadline (a liveness bound, not a
// timing assertion).
func next(t *testing.T, ws *websocket.Conn, ok func(frame) bool) frame {
	t.Helper()
	backlogMu.Lock()
	for i, f := range backlog[ws] {
		if ok(f) {
			backlog[ws] = append(backlog[ws][:i:i], backlog[ws][i+1:]...)
			backlogMu.Unlock()
			return f
		}
	}
	backlogMu.Unlock()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for a frame: %v", err)
		}
		var f frame
		f.raw = b
		if err := json.Unmarshal(b, &f.m); err != nil {
			t.Fatalf("server sent non-JSON %q: %v", b, err)
		}
		if ok(f) {
			return f
		}
		backlogMu.Lock()
		backlog[ws] = append(backlog[ws], f)
		backlogMu.Unlock()
	}
}

func ofType(ts string) func(frame) bool { return func(f frame) bool { return f.t() == ts } }

func reply(id string) func(frame) bool {
	return func(f frame) bool { re, _ := f.m["re"].(string); return re == id && f.t() != "updates" }
}

// closeCode reads until the server closes the socket and returns the code.
func closeCode(t *testing.T, ws *websocket.Conn) int {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		return -1 // closed without a close frame
	}
}

// fieldOf returns welcome.fields[key] as (epoch, version, text).
func fieldOf(t *testing.T, welcome frame, key string) (string, int64, string) {
	t.Helper()
	fs, _ := welcome.m["fields"].(map[string]any)
	f, ok := fs[key].(map[string]any)
	if !ok {
		t.Fatalf("welcome has no field %q", key)
	}
	return f["epoch"].(string), int64(f["version"].(float64)), f["text"].(string)
}
