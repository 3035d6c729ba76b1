// Package testnode runs complete Repair Room server nodes inside a test:
// the real HTTP API, WebSocket hub and store on a real Redis, listening on
// a loopback port. Several nodes on one Redis make a cluster of servers.
package testnode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"repairroom/internal/auth"
	"repairroom/internal/checkpoint"
	"repairroom/internal/httpapi"
	"repairroom/internal/realtime"
	"repairroom/internal/store"
	"repairroom/internal/templates"
)

// Secret is the signing key every test node shares, as real nodes do.
var Secret = []byte("test-secret-test-secret-test-secret-0123")

// Options change a node from the defaults.
type Options struct {
	Realtime       realtime.Config
	AllowedOrigins []string
	Now            func() time.Time
	StoreOptions   *store.Options
	CreatePerMin   int // rooms one address may create per minute (default: plenty)
}

// Node is one running server.
type Node struct {
	URL   string // http://127.0.0.1:PORT
	App   *fiber.App
	Hub   *realtime.Hub
	Store *store.Store
	Log   *SyncBuffer // everything the node logged
	done  chan struct{}
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Start runs a node on rdb until the test ends.
func Start(t testing.TB, rdb redis.UniversalClient, o Options) *Node {
	t.Helper()
	tpls, err := templates.Builtin()
	if err != nil {
		t.Fatalf("templates: %v", err)
	}
	signer, err := auth.NewSigner(Secret)
	if err != nil {
		t.Fatal(err)
	}
	sopt := store.DefaultOptions()
	if o.StoreOptions != nil {
		sopt = *o.StoreOptions
	}
	n := &Node{Log: &SyncBuffer{}, done: make(chan struct{})}
	log := slog.New(slog.NewTextHandler(n.Log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n.Store = store.New(rdb, sopt)
	if o.Realtime.Checkpoints == nil {
		if o.Realtime.Checkpoints, err = checkpoint.New(Secret); err != nil {
			t.Fatal(err)
		}
	}
	n.Hub = realtime.New(n.Store, log, o.Realtime, o.Now)
	if o.CreatePerMin == 0 {
		o.CreatePerMin = 1000
	}
	n.App = httpapi.New(httpapi.Deps{
		Store: n.Store, Hub: n.Hub, Templates: tpls, Signer: signer, Log: log,
		Web:            fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>test</title>")}},
		AllowedOrigins: o.AllowedOrigins, TokenTTL: 24 * time.Hour, CreatePerMin: o.CreatePerMin, Now: o.Now,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	n.URL = "http://" + ln.Addr().String()
	go func() {
		defer close(n.done)
		_ = n.App.Listener(ln)
	}()
	t.Cleanup(func() { n.Stop() })
	return n
}

// Stop drains and stops the node (idempotent), as SIGTERM does.
func (n *Node) Stop() {
	select {
	case <-n.done:
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = httpapi.Shutdown(ctx, n.App, n.Hub)
	<-n.done
}

// Room is a created room and its invite tokens by role.
type Room struct {
	ID     string
	Tokens map[string]string
}

// CreateRoom creates a room through the HTTP API.
func (n *Node) CreateRoom(t testing.TB, template, mode string) Room {
	t.Helper()
	body := fmt.Sprintf(`{"template":%q,"mode":%q}`, template, mode)
	resp, err := http.Post(n.URL+"/api/rooms", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create room: status %d: %s", resp.StatusCode, b)
	}
	var out struct {
		ID    string `json:"id"`
		Links []struct{ Role, URL string }
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("create room: %v", err)
	}
	r := Room{ID: out.ID, Tokens: map[string]string{}}
	for _, l := range out.Links {
		_, tok, _ := strings.Cut(l.URL, "#t=")
		r.Tokens[l.Role] = tok
	}
	return r
}

// WSURL is the WebSocket address of a room for a token.
func (n *Node) WSURL(roomID, token string) string {
	return "ws" + strings.TrimPrefix(n.URL, "http") + "/ws/rooms/" + roomID + "?token=" + token
}

// Dial opens a raw WebSocket to the room with the node's own origin.
func (n *Node) Dial(roomID, token string) (*websocket.Conn, *http.Response, error) {
	return n.DialOrigin(roomID, token, n.URL)
}

// DialOrigin opens a raw WebSocket with the given Origin header.
func (n *Node) DialOrigin(roomID, token, origin string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	return d.Dial(n.WSURL(roomID, token), h)
}

// HTTPGet fetches path from the node and returns the status code.
func (n *Node) HTTPGet(path string) (int, error) {
	resp, err := http.Get(n.URL + path)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
