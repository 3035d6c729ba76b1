package scenario_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"repairroom/internal/client"
	"repairroom/internal/testnode"
)

// aofRedis is a private redis-server with AOF (appendfsync everysec) in a
// temporary directory, which a test can kill -9 and start again from a
// copy of its AOF directory taken earlier: a power loss that takes the
// last second of writes with it, or a failover to a lagging replica.
type aofRedis struct {
	t    *testing.T
	sock string
	cmd  *exec.Cmd
}

// startAOFCluster runs two nodes on a private redis-server this test may
// kill and restart (startAOFRedis), through a client that gives up quickly
// while it is down.
func startAOFCluster(t *testing.T) (*aofRedis, *cluster) {
	t.Helper()
	red := startAOFRedis(t)
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: red.sock, MaxRetries: 1,
		DialTimeout: 200 * time.Millisecond, MinRetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	cl := &cluster{rdb: rdb}
	for i := 0; i < 2; i++ {
		cl.nodes = append(cl.nodes, testnode.Start(t, rdb, testnode.Options{AllowedOrigins: []string{origin}}))
	}
	return red, cl
}

func startAOFRedis(t *testing.T) *aofRedis {
	t.Helper()
	// A short path: a Unix socket path must fit in 108 bytes.
	base, err := os.MkdirTemp("", "rr-aof-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	r := &aofRedis{t: t, sock: filepath.Join(base, "redis.sock")}
	dir := filepath.Join(base, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	r.start(dir)
	t.Cleanup(r.kill)
	return r
}

func (r *aofRedis) start(dir string) {
	r.t.Helper()
	_ = os.Remove(r.sock)
	r.cmd = exec.Command("redis-server", "--port", "0", "--unixsocket", r.sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--aof-load-truncated", "yes", "--dir", dir)
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting redis-server (install it, or run the test script, which does): %v", err)
	}
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: r.sock})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server did not answer on %s", r.sock)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// copyAOF copies the AOF directory as it is on disk now (what survives a
// power loss a moment later) and returns a data directory holding it.
func (r *aofRedis) copyAOF() string {
	r.t.Helper()
	src := filepath.Join(r.cmd.Args[len(r.cmd.Args)-1], "appendonlydir")
	dst := filepath.Join(filepath.Dir(r.sock), fmt.Sprintf("copy-%d", time.Now().UnixNano()))
	if err := os.Mkdir(dst, 0o700); err != nil {
		r.t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		r.t.Fatalf("copying the AOF: %v: %s", err, out)
	}
	return dst
}

// kill is kill -9.
func (r *aofRedis) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// typist appends unique marks ("<a12>") at the end of its text: a mark
// is never split by another's edit, so every mark typed must end up in the
// text exactly once, whatever happened to Redis.
type typist struct {
	name  string
	cl    *client.Client
	mu    sync.Mutex
	typed []string
}

func (ty *typist) typeOne(t *testing.T, key string) {
	ty.mu.Lock()
	mark := fmt.Sprintf("<%s%d>", ty.name, len(ty.typed))
	ty.typed = append(ty.typed, mark)
	ty.mu.Unlock()
	appendText(t, ty.cl, key, mark)
}

// checkNoVersionReused fails when two clients (or one, twice) saw one
// (field, epoch, version) with two different texts.
func checkNoVersionReused(t *testing.T, cls ...*client.Client) {
	t.Helper()
	all := map[client.VersionKey][32]byte{}
	for i, cl := range cls {
		for _, r := range cl.Reused() {
			t.Errorf("client %d: %s", i, r)
		}
		for k, h := range cl.Seen() {
			if old, ok := all[k]; ok && old != h {
				t.Errorf("%s epoch %s version %d was two different texts", k.Field, k.Epoch, k.Version)
			}
			all[k] = h
		}
	}
	t.Logf("%d (field, epoch, version) points seen, none with two texts", len(all))
}

// checkEveryMarkOnce fails for a typed mark missing from text (an edit
// lost) or in it twice (an edit applied twice).
func checkEveryMarkOnce(t *testing.T, text string, tys ...*typist) {
	t.Helper()
	n := 0
	for _, ty := range tys {
		ty.mu.Lock()
		for _, m := range ty.typed {
			n++
			if c := strings.Count(text, m); c != 1 {
				t.Errorf("mark %s is in the text %d times", m, c)
			}
		}
		ty.mu.Unlock()
	}
	t.Logf("%d marks typed, each in the text once", n)
}

// TestPowerLossLosesNothingAcknowledged: clients type on two nodes; the
// AOF directory is copied, typing goes on for a second, Redis is killed
// with -9 and restarted from the copy: the last second of acknowledged
// writes is gone from Redis, and fields are back at lower versions under
// their old epochs. The clients prove Redis went back (a push or pull
// above the field's version), the server moves the field to a new epoch,
// the clients present their signed checkpoints and the newest is
// restored: every mark typed (acknowledged or not) is in the end text
// exactly once, no version number was seen with two texts, and every
// client shows Redis's text.
func TestPowerLossLosesNothingAcknowledged(t *testing.T) {
	red, cl := startAOFCluster(t)
	r := cl.nodes[0].CreateRoom(t, "checkin", "guided")
	opts := client.Options{AutoReconnect: true, MaxBackoff: 200 * time.Millisecond}
	tys := []*typist{
		{name: "a", cl: cl.dial(t, 0, r, "partner_a", opts)},
		{name: "b", cl: cl.dial(t, 1, r, "partner_b", opts)},
		{name: "m", cl: cl.dial(t, 1, r, "moderator", opts)},
	}
	const key = "wins"

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, ty := range tys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(15 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					ty.typeOne(t, key)
				}
			}
		}()
	}
	time.Sleep(time.Second)
	copied := red.copyAOF()
	before := cl.fields(t, r.ID, key)[key]
	time.Sleep(time.Second) // acknowledged, but not in the copy
	red.kill()
	red.start(copied)
	restarted := time.Now()
	time.Sleep(500 * time.Millisecond) // typing on while the clients find out
	close(stop)
	wg.Wait()

	after := cl.settle(t, r.ID, key, tys[0].cl, tys[1].cl, tys[2].cl)
	// A measurement for the report, not an assertion.
	t.Logf("every client equal to Redis %v after the restart (typing stopped at 500ms)", time.Since(restarted).Round(time.Millisecond))
	t.Logf("copy taken at v%d (epoch %s); end at v%d (epoch %s), %d characters", before.Version, before.Epoch, after.Version, after.Epoch, len(after.Text))
	if after.Epoch == before.Epoch {
		t.Errorf("the field stayed under epoch %s after Redis went back", before.Epoch)
	}
	// Updates acknowledged after the copy was taken: Redis lost them, the
	// checkpoints brought them back (every mark is checked below).
	lostAcked := 0
	for _, ty := range tys {
		for _, ack := range ty.cl.Acks() {
			if ack.Epoch == before.Epoch && ack.Version > before.Version {
				lostAcked += ack.Count
			}
		}
	}
	if lostAcked == 0 {
		t.Errorf("no update was acknowledged after the copy: the power loss lost nothing to restore")
	}
	t.Logf("%d acknowledged updates were not in the copy Redis restarted from", lostAcked)
	restores := 0
	for _, n := range cl.nodes {
		restores += strings.Count(n.Log.String(), "restored a field from a checkpoint")
	}
	if restores == 0 {
		t.Errorf("no checkpoint was restored: the lost second was not brought back")
	}
	t.Logf("%d checkpoint restores", restores)
	checkEveryMarkOnce(t, after.Text, tys...)
	checkNoVersionReused(t, tys[0].cl, tys[1].cl, tys[2].cl)
	for i, ty := range tys {
		if n := ty.cl.Anomalies(); n > 0 {
			t.Logf("client %d mended %d frames that did not fit", i, n)
		}
	}
}

// TestEmptyRedisIsRefilledByIdleClients: Redis restarts with none of its
// data (a new empty replica) while every client is idle. No one sends
// anything, yet each node, re-subscribing, finds the room lost and tells
// its sockets; the clients present their checkpoints and the room, its
// stage and every text come back.
func TestEmptyRedisIsRefilledByIdleClients(t *testing.T) {
	red, cl := startAOFCluster(t)
	r := cl.nodes[0].CreateRoom(t, "checkin", "self")
	opts := client.Options{AutoReconnect: true, MaxBackoff: 200 * time.Millisecond}
	a := cl.dial(t, 0, r, "partner_a", opts)
	b := cl.dial(t, 1, r, "partner_b", opts)
	appendText(t, a, "wins", "we walked by the river")
	appendText(t, b, "appreciated.partner_b", "your patience")
	before := cl.settle(t, r.ID, "wins", a, b)
	cl.settle(t, r.ID, "appreciated.partner_b", b)

	t.Cleanup(func() {
		if t.Failed() {
			for i, n := range cl.nodes {
				t.Logf("node %d log:\n%s", i, n.Log.String())
			}
			t.Logf("%s\n%s", a, b)
		}
	})
	red.kill()
	empty := filepath.Join(filepath.Dir(red.sock), "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	red.start(empty)

	ctx := ctxFor(t)
	for {
		if m, err := cl.nodes[0].Store.Meta(ctx, r.ID); err == nil && len(m.State) > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the room was never restored")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The texts follow the room by their own restores, and each node's
	// identity check moves them once more.
	cl.waitIdentityChecks(t)
	waitRedis(t, cl, r.ID, "wins", before.Version)
	waitRedis(t, cl, r.ID, "appreciated.partner_b", 1)
	wins := cl.settle(t, r.ID, "wins", a, b)
	if wins.Text != before.Text || wins.Version != before.Version || wins.Epoch == before.Epoch {
		t.Errorf("wins came back as %+v, was %+v", wins, before)
	}
	if got := cl.settle(t, r.ID, "appreciated.partner_b", b); got.Text != "your patience" {
		t.Errorf("the unrevealed draft came back as %q", got.Text)
	}
	checkNoVersionReused(t, a, b)
}
