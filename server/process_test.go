package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// serverBinary builds the server once per test run.
func serverBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is one real server process.
type proc struct {
	cmd  *exec.Cmd
	logs *lockedWriter
	buf  *strings.Builder
	done chan error
}

func startProc(t *testing.T, bin string, env []string) *proc {
	t.Helper()
	buf := &strings.Builder{}
	p := &proc{cmd: exec.Command(bin), buf: buf, logs: &lockedWriter{w: buf}, done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.done })
	return p
}

func (p *proc) log() string {
	p.logs.mu.Lock()
	defer p.logs.mu.Unlock()
	return p.buf.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("server exited with %v:\n%s", err, p.log())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not stop after SIGTERM:\n%s", p.log())
	}
}

func waitReady(t *testing.T, base string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server not ready:\n%s", p.log())
}

// The zero-config start keeps rooms: without REDIS_URL the real server
// process runs its own redis-server with AOF in DATA_DIR, stops it on
// SIGTERM, and a room created before a restart is there after it.
func TestZeroConfigStartKeepsRoomsAcrossRestarts(t *testing.T) {
	if _, err := findRedisServer(""); err != nil {
		t.Skip("no redis-server installed (scripts/install-deps installs it)")
	}
	bin := serverBinary(t)
	dataDir := t.TempDir()
	port := freePort(t)
	base := "http://127.0.0.1:" + port
	env := []string{"HOST=127.0.0.1", "PORT=" + port, "DATA_DIR=" + dataDir, "SECRET=" + strings.Repeat("cd", 32),
		"REDIS_URL=", "REDIS_CLUSTER_ADDRS=", "REDIS_SERVER="}

	p := startProc(t, bin, env)
	waitReady(t, base, p)
	resp, err := http.Post(base+"/api/rooms", "application/json", strings.NewReader(`{"template":"checkin","mode":"self"}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create room: %v %v\n%s", err, resp, p.log())
	}
	var room struct {
		ID    string
		Links []struct{ URL string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&room)
	resp.Body.Close()
	_, tok, _ := strings.Cut(room.Links[0].URL, "#t=")
	p.stop(t)
	first := p.log()
	for _, want := range []string{"started a redis-server", "redis-server stopped", "url=http://127.0.0.1:" + port + "/"} {
		if !strings.Contains(first, want) {
			t.Errorf("first run's log lacks %q:\n%s", want, first)
		}
	}
	if strings.Contains(first, "EMBEDDED IN-MEMORY") {
		t.Errorf("fell back to the in-memory store although redis-server is installed")
	}
	// The child is gone with its parent.
	probe := redis.NewClient(&redis.Options{Network: "unix", Addr: socketPath(dataDir), MaxRetries: -1})
	if probe.Ping(context.Background()).Err() == nil {
		t.Error("redis-server still answers after the server stopped")
	}
	_ = probe.Close()
	if _, err := os.Stat(filepath.Join(dataDir, "appendonlydir")); err != nil {
		t.Errorf("no AOF in DATA_DIR: %v", err)
	}

	p2 := startProc(t, bin, env)
	waitReady(t, base, p2)
	// A plain GET of the room's socket answers 426 when the link and the
	// room are good, 404 when the room is gone.
	check, err := http.Get(base + "/ws/rooms/" + room.ID + "?token=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	check.Body.Close()
	if check.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("after a restart the room answers %d, want 426 (it exists):\n%s", check.StatusCode, p2.log())
	}
	p2.stop(t)
}
