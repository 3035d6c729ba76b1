package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/redis/go-redis/v9"

	"repairroom/internal/protocol"
	"repairroom/internal/redistest"
	"repairroom/internal/room"
	"repairroom/internal/store"
	"repairroom/internal/templates"
)

// scriptedWS is a socket whose peer sends what the test queues and
// records every frame the server writes.
type scriptedWS struct {
	in     chan []byte
	out    chan []byte
	closed chan struct{}
	once   sync.Once
	seen   []frame // read but not taken by next (test goroutine only)
}

func newScriptedWS() *scriptedWS {
	return &scriptedWS{in: make(chan []byte, 16), out: make(chan []byte, 1024), closed: make(chan struct{})}
}

func (s *scriptedWS) ReadMessage() (int, []byte, error) {
	select {
	case b := <-s.in:
		return websocket.TextMessage, b, nil
	case <-s.closed:
		return 0, nil, errors.New("closed")
	}
}

func (s *scriptedWS) WriteMessage(_ int, data []byte) error {
	select {
	case s.out <- append([]byte(nil), data...):
	default:
	}
	return nil
}

func (s *scriptedWS) WriteControl(int, []byte, time.Time) error { return nil }
func (s *scriptedWS) SetReadDeadline(time.Time) error           { return nil }
func (s *scriptedWS) SetWriteDeadline(time.Time) error          { return nil }
func (s *scriptedWS) SetReadLimit(int64)                        {}
func (s *scriptedWS) SetPongHandler(func(string) error)         {}
func (s *scriptedWS) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// frame is any server frame, decoded loosely.
type frame struct {
	T       string                            `json:"t"`
	Re      string                            `json:"re"`
	Code    string                            `json:"code"`
	Version int64                             `json:"version"`
	From    int64                             `json:"from"`
	Fields  map[string]protocol.FieldSnapshot `json:"fields"`
	Updates []struct {
		ClientID string          `json:"clientID"`
		Changes  json.RawMessage `json:"changes"`
	} `json:"updates"`
}

// next returns the first frame not taken yet that satisfies ok; the
// others stay for later calls (fan-out and replies may come in any order).
func (s *scriptedWS) next(t *testing.T, ok func(frame) bool) frame {
	t.Helper()
	for i, f := range s.seen {
		if ok(f) {
			s.seen = append(s.seen[:i], s.seen[i+1:]...)
			return f
		}
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case b := <-s.out:
			var f frame
			if json.Unmarshal(b, &f) != nil {
				continue
			}
			if ok(f) {
				return f
			}
			s.seen = append(s.seen, f)
		case <-timeout:
			t.Fatal("no such frame within 10 s")
		}
	}
}

// failingStore is the real store whose commit step fails (after the
// permission check and the apply have passed), optionally after running
// before first (e.g. stopping Redis).
type failingStore struct {
	*store.Store
	before func()
	calls  int
}

func (f *failingStore) Push(ctx context.Context, p store.Push) (store.PushResult, error) {
	f.calls++
	if f.before != nil {
		f.before()
		return f.Store.Push(ctx, p)
	}
	return store.PushResult{}, errors.New("injected: the commit failed")
}

type pushEnv struct {
	h   *Hub
	tpl *templates.Template
	ws  *scriptedWS
	fs  protocol.FieldSnapshot
}

// startPush serves one partner on a new room over st and returns it after
// the welcome.
func startPush(t *testing.T, st *store.Store, wrap func(*store.Store) pushStore) *pushEnv {
	t.Helper()
	h := New(st, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{}, nil)
	if wrap != nil {
		h.ps = wrap(st)
	}
	tpls, err := templates.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := tpls.Get("checkin")
	id := fmt.Sprintf("push%d", time.Now().UnixNano())
	if err := h.CreateRoom(context.Background(), id, tpl, room.SelfGuided, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	ws := newScriptedWS()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Serve(ws, Participant{Room: id, Role: "partner_a", Seat: "partner_a", Gen: 1, Name: "A", Template: tpl})
	}()
	t.Cleanup(func() { _ = ws.Close(); <-done })
	w := ws.next(t, func(f frame) bool { return f.T == protocol.TWelcome })
	return &pushEnv{h: h, tpl: tpl, ws: ws, fs: w.Fields["wins"]}
}

func (e *pushEnv) push(id string, version int64, updates string) {
	e.ws.in <- []byte(fmt.Sprintf(`{"t":"push","id":%q,"field":"wins","epoch":%q,"version":%d,"updates":%s}`, id, e.fs.Epoch, version, updates))
}

func answerTo(id string) func(frame) bool { return func(f frame) bool { return f.Re == id } }

// TestFailedCommitIsNeverAcked: the permission check and the apply pass,
// the commit itself fails: the client gets an error frame, never an ack.
func TestFailedCommitIsNeverAcked(t *testing.T) {
	var fs *failingStore
	e := startPush(t, store.New(redistest.Client(t), store.DefaultOptions()), func(s *store.Store) pushStore {
		fs = &failingStore{Store: s}
		return fs
	})
	e.push("p1", 0, `[{"clientID":"c","changes":[[0,"hello"]]}]`)
	got := e.ws.next(t, answerTo("p1"))
	if got.T != protocol.TError || got.Code != protocol.CodeUnavailable || fs.calls != 1 {
		t.Fatalf("a failed commit was answered %+v (commit attempts %d); want an unavailable error", got, fs.calls)
	}
}

// startRedis runs a private redis-server this test may stop.
func startRedis(t *testing.T) (*redis.Client, *exec.Cmd) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "r.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	for i := 0; rdb.Ping(context.Background()).Err() != nil; i++ {
		if i > 500 {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return rdb, cmd
}

// TestRedisStoppedBetweenReadAndCommit: Redis goes away after the push was
// read, checked and applied, right before the commit script: an error
// frame, never an ack.
func TestRedisStoppedBetweenReadAndCommit(t *testing.T) {
	rdb, cmd := startRedis(t)
	var fs *failingStore
	e := startPush(t, store.New(rdb, store.DefaultOptions()), func(s *store.Store) pushStore {
		fs = &failingStore{Store: s, before: func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }}
		return fs
	})
	e.push("p1", 0, `[{"clientID":"c","changes":[[0,"hello"]]}]`)
	got := e.ws.next(t, answerTo("p1"))
	if got.T != protocol.TError || fs.calls != 1 {
		t.Fatalf("a commit to a stopped Redis was answered %+v (commit attempts %d); want an error", got, fs.calls)
	}
}

// TestPushBehindIsRebased: a push made at an older version within the log
// is rebased over what was accepted since and acknowledged at the new
// head; its echo carries the pusher's clientID; a resend of accepted
// updates is acknowledged without a new version; a no-op push is refused.
func TestPushBehindIsRebased(t *testing.T) {
	e := startPush(t, store.New(redistest.Client(t), store.DefaultOptions()), nil)
	e.push("a", 0, `[{"clientID":"A","changes":[[0,"abc"]]}]`)
	if f := e.ws.next(t, answerTo("a")); f.T != protocol.TAck || f.Version != 1 {
		t.Fatalf("first push: %+v", f)
	}
	e.push("b", 1, `[{"clientID":"B","changes":[3,[0,"XY"]]}]`)
	if f := e.ws.next(t, answerTo("b")); f.T != protocol.TAck || f.Version != 2 {
		t.Fatalf("second push: %+v", f)
	}
	// Made at version 1 (text "abc"), not knowing B's "XY": inserts at 0.
	e.push("c", 1, `[{"clientID":"C","changes":[[0,"!"],3]}]`)
	if f := e.ws.next(t, answerTo("c")); f.T != protocol.TAck || f.Version != 3 {
		t.Fatalf("push behind: %+v, want an ack at 3", f)
	}
	echo := e.ws.next(t, func(f frame) bool { return f.T == protocol.TUpdates && f.From == 2 })
	if len(echo.Updates) != 1 || echo.Updates[0].ClientID != "C" || string(echo.Updates[0].Changes) != `[[0,"!"],5]` {
		t.Fatalf("echo of the rebased push: %+v", echo)
	}
	// A resend of B's push (its ack lost): already accepted.
	e.push("b2", 1, `[{"clientID":"B","changes":[3,[0,"XY"]]}]`)
	if f := e.ws.next(t, answerTo("b2")); f.T != protocol.TAck || f.Version != 2 {
		t.Fatalf("resend: %+v, want an ack at 2", f)
	}
	e.push("n", 3, `[{"clientID":"C","changes":[6]}]`)
	if f := e.ws.next(t, answerTo("n")); f.T != protocol.TError || f.Code != protocol.CodeBadChanges {
		t.Fatalf("no-op push: %+v, want bad_changes", f)
	}
	fs, err := e.h.st.Fields(context.Background(), e.fsRoom(t), []string{"wins"})
	if err != nil || fs["wins"].Text != "!abcXY" || fs["wins"].Version != 3 {
		t.Fatalf("stored %+v %v", fs["wins"], err)
	}
}

func (e *pushEnv) fsRoom(t *testing.T) string {
	t.Helper()
	e.h.mu.Lock()
	defer e.h.mu.Unlock()
	for id := range e.h.rooms {
		return id
	}
	t.Fatal("no room")
	return ""
}

// countingStore counts what the push path asks of the store.
type countingStore struct {
	*store.Store
	mu                          sync.Mutex
	snapshots, pulls, states, n int
}

func (c *countingStore) Snapshot(ctx context.Context, id string, f []string) (store.Snapshot, error) {
	c.mu.Lock()
	c.snapshots++
	c.mu.Unlock()
	return c.Store.Snapshot(ctx, id, f)
}

func (c *countingStore) Pull(ctx context.Context, id, f, e string, since int64) (store.Pulled, error) {
	c.mu.Lock()
	c.pulls++
	c.mu.Unlock()
	return c.Store.Pull(ctx, id, f, e, since)
}

func (c *countingStore) State(ctx context.Context, id string) ([]byte, int64, error) {
	c.mu.Lock()
	c.states++
	c.mu.Unlock()
	return c.Store.State(ctx, id)
}

func (c *countingStore) Push(ctx context.Context, p store.Push) (store.PushResult, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Store.Push(ctx, p)
}

// TestPushCostsOneRoundTrip: with the state and the head cached (seeded by
// the welcome, kept by the node's own commits), a push at the head reads
// nothing: its only store call is the commit script.
func TestPushCostsOneRoundTrip(t *testing.T) {
	var cs *countingStore
	e := startPush(t, store.New(redistest.Client(t), store.DefaultOptions()), func(s *store.Store) pushStore {
		cs = &countingStore{Store: s}
		return cs
	})
	text := 0
	for i := 0; i < 5; i++ {
		id := fmt.Sprintf("p%d", i)
		if text == 0 {
			e.push(id, int64(i), `[{"clientID":"c","changes":[[0,"x"]]}]`)
		} else {
			e.push(id, int64(i), fmt.Sprintf(`[{"clientID":"c","changes":[%d,[0,"x"]]}]`, text))
		}
		text++
		if f := e.ws.next(t, answerTo(id)); f.T != protocol.TAck || f.Version != int64(i+1) {
			t.Fatalf("push %d: %+v", i, f)
		}
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.n != 5 || cs.snapshots != 0 || cs.pulls != 0 || cs.states != 0 {
		t.Fatalf("5 pushes made %d commits, %d snapshots, %d pulls, %d state reads; want 5 commits and no reads", cs.n, cs.snapshots, cs.pulls, cs.states)
	}
}
