package store

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// oldPushScript is the push of the layout before the log (the whole text
// rewritten by every push), kept only to measure against.
var oldPushScript = redis.NewScript(`
local v = tonumber(redis.call('HGET', KEYS[2], 'version')) + 1
redis.call('HSET', KEYS[2], 'text', ARGV[1], 'version', v)
redis.call('RPUSH', KEYS[3], ARGV[2])
redis.call('LTRIM', KEYS[3], -2000, -1)
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], 2592000000) end
redis.call('PUBLISH', 'c', 'p')
return v
`)

// aofBytes is the size of every file in Redis's append-only directory.
func aofBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && strings.Contains(p, "appendonly") {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// TestMeasureAOFBytesPerKeystroke prints the AOF growth per one-character
// push into a field of about 2,000 characters, with the whole-text layout
// and with the log layout. It measures, it asserts nothing about sizes;
// run it with RR_MEASURE_AOF=1 (bench/RESULTS.md records the numbers).
func TestMeasureAOFBytesPerKeystroke(t *testing.T) {
	if os.Getenv("RR_MEASURE_AOF") == "" {
		t.Skip("set RR_MEASURE_AOF=1 to measure")
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "r.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "yes",
		"--appendfsync", "always", "--auto-aof-rewrite-percentage", "0", "--dir", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	rdb := redis.NewClient(&redis.Options{Network: "unix", Addr: sock})
	defer rdb.Close()
	ctx := context.Background()
	for i := 0; rdb.Ping(ctx).Err() != nil; i++ {
		if i > 500 {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	const n = 1000
	long := strings.Repeat("a", 2000)

	// Before: every push stores the whole text.
	k := keys{"old"}
	rdb.HSet(ctx, k.field("f"), "text", long, "version", 0)
	start := aofBytes(t, dir)
	text := long
	for i := 0; i < n; i++ {
		text += "x"
		if err := oldPushScript.Run(ctx, rdb, []string{k.meta(), k.field("f"), k.log("f")}, text, entry(len(text)-1)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	before := float64(aofBytes(t, dir)-start) / n

	// After: the log layout through the store.
	s := New(rdb, DefaultOptions())
	createRoom(t, s, ctx, "new", "f")
	w := newWriter(t, s, ctx, "new", "f")
	if st := w.push(ctx, replaceEntry(0, long), long, 2000); st != PushOK {
		t.Fatal(st)
	}
	start = aofBytes(t, dir)
	for i := 0; i < n; i++ {
		w.appendX(ctx)
	}
	after := float64(aofBytes(t, dir)-start) / n
	t.Logf("AOF bytes per one-character push into a 2,000-character field (%d pushes, appendfsync always): whole text %.0f, log %.0f (snapshot every %d versions)",
		n, before, after, s.lim.SnapshotEvery)
}
