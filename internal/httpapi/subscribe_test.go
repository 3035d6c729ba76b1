package httpapi_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/redis/go-redis/v9"

	"repairroom/internal/testnode"
)

// privateRedis is a redis-server of one test, on a Unix socket, with an
// append-only file so that it can be stopped and started again with its
// data: what a Redis restart in production looks like to a node.
type privateRedis struct {
	t    *testing.T
	dir  string
	sock string
	cmd  *exec.Cmd
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	dir := t.TempDir()
	r := &privateRedis{t: t, dir: dir, sock: filepath.Join(dir, "r.sock")}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *privateRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", "0", "--unixsocket", r.sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", r.dir)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: r.sock})
	defer c.Close()
	for i := 0; ; i++ {
		if c.Ping(context.Background()).Err() == nil {
			return
		}
		if i > 500 {
			r.t.Fatal("redis-server did not answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the server the way an operator restarting it does (SIGTERM:
// the append-only file is complete).
func (r *privateRedis) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	_ = r.cmd.Wait()
	r.cmd = nil
}

func (r *privateRedis) client(t *testing.T) *redis.Client {
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: r.sock})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// pubsubConns counts the pub/sub connections Redis holds.
func pubsubConns(t *testing.T, c *redis.Client) int {
	t.Helper()
	s, err := c.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(s, "\n") {
		// sub= counts channels, ssub= shard channels; a pub/sub connection
		// has one of them above zero.
		for _, f := range strings.Fields(line) {
			if (strings.HasPrefix(f, "sub=") || strings.HasPrefix(f, "ssub=")) && f[strings.IndexByte(f, '=')+1:] != "0" {
				n++
				break
			}
		}
	}
	return n
}

// A node multiplexes its rooms over one pub/sub connection: 300 rooms with
// a live socket each cost Redis one connection, not 300, and every room
// still gets its own updates.
func TestThreeHundredRoomsShareOneSubscription(t *testing.T) {
	r := startPrivateRedis(t)
	admin := r.client(t)
	n := testnode.Start(t, r.client(t), testnode.Options{Realtime: crowdLimits()})
	type live struct {
		id string
		ep string
		v  int64
	}
	rooms := make([]live, 300)
	socks := make([]*websocket.Conn, len(rooms))
	for i := range rooms {
		rm := n.CreateRoom(t, "checkin", "self")
		ws, w := dial(t, n, rm.ID, rm.Tokens["partner_a"])
		ep, v, _ := fieldOf(t, w, "wins")
		rooms[i] = live{rm.ID, ep, v}
		socks[i] = ws
	}
	if got := pubsubConns(t, admin); got != 1 {
		t.Fatalf("300 rooms on one node hold %d pub/sub connections; want 1", got)
	}
	for _, i := range []int{0, 150, 299} {
		send(t, socks[i], push("p", "wins", rooms[i].ep, rooms[i].v, `[[0,"room `+rooms[i].id+`"]]`))
		if f := next(t, socks[i], reply("p")); f.t() != "ack" {
			t.Fatalf("room %d push: %s", i, f.raw)
		}
		u := next(t, socks[i], ofType("updates"))
		if !strings.Contains(string(u.raw), rooms[i].id) {
			t.Fatalf("room %d got another room's update: %s", i, u.raw)
		}
	}
	// Rooms that empty give their channel back; the connection stays.
	for _, ws := range socks[:200] {
		_ = ws.Close()
	}
	waitFor(t, func() bool {
		ch, err := admin.PubSubChannels(context.Background(), "*").Result()
		return err == nil && len(ch) == 100
	}, "channels of closed rooms are unsubscribed")
	if got := pubsubConns(t, admin); got != 1 {
		t.Fatalf("after rooms emptied: %d pub/sub connections; want 1", got)
	}
}

// When Redis restarts, every socket of every room on the node gets heads
// (and the state), although go-redis answers with a cached dial error for
// a moment after Redis is back: heads are retried until they are read.
func TestEverySocketGetsHeadsAfterRedisRestarts(t *testing.T) {
	r := startPrivateRedis(t)
	n := testnode.Start(t, r.client(t), testnode.Options{})
	const rooms = 20
	var socks []*websocket.Conn
	for i := 0; i < rooms; i++ {
		rm := n.CreateRoom(t, "checkin", "self")
		for _, seat := range []string{"partner_a", "partner_b"} {
			ws, _ := dial(t, n, rm.ID, rm.Tokens[seat])
			socks = append(socks, ws)
		}
	}
	r.stop()
	time.Sleep(300 * time.Millisecond) // long enough for the node to notice and fail a dial
	r.start()
	for i, ws := range socks {
		h := next(t, ws, ofType("heads"))
		fs, _ := h.m["fields"].(map[string]any)
		if _, ok := fs["wins"]; !ok {
			t.Fatalf("socket %d: heads without the shared field: %s", i, h.raw)
		}
		next(t, ws, ofType("room"))
	}
}

// waitFor polls cond (a liveness bound, not a timing assertion).
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
