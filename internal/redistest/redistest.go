// Package redistest starts a real redis-server for tests: one private
// server per test binary, on a Unix socket in a temporary directory, so
// tests never share data or ports and need no Redis configured beforehand.
package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a running redis-server.
type Server struct {
	Socket string
	cmd    *exec.Cmd
	dir    string
}

var (
	once   sync.Once
	shared *Server
	errRun error
)

// Start starts (once per test binary) a redis-server and returns it. It
// fails the test when redis-server is not installed: these tests need a
// real Redis, and `make test` installs one.
func Start(t testing.TB) *Server {
	t.Helper()
	once.Do(func() { shared, errRun = start() })
	if errRun != nil {
		t.Fatalf("redistest: %v (install redis-server, or run the README's test command, which does)", errRun)
	}
	return shared
}

func start() (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found on PATH: %w", err)
	}
	dir, err := os.MkdirTemp("", "rr-redis-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	s := &Server{Socket: filepath.Join(dir, "redis.sock"), dir: dir}
	s.cmd = exec.Command(bin, "--port", "0", "--unixsocket", s.Socket, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir, "--databases", "64")
	// The server dies with the test binary, even when the binary is killed.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting redis-server: %w", err)
	}
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.Socket})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := c.Ping(context.Background()).Err(); err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			_ = s.cmd.Process.Kill()
			return nil, fmt.Errorf("redis-server did not answer on %s within 10s", s.Socket)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	dbMu   sync.Mutex
	nextDB = 0
)

// Client returns a client on a fresh, flushed logical database of the
// shared server, closed when the test ends. Tests in one binary may run in
// parallel on different databases. Pub/sub is server-wide in Redis, which
// is harmless here: channel names carry random room ids.
func Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	s := Start(t)
	dbMu.Lock()
	db := nextDB % 64
	nextDB++
	dbMu.Unlock()
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.Socket, DB: db})
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("redistest: flush db %d: %v", db, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Main runs the tests of a package and stops the server afterwards. Call it
// from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		_ = shared.cmd.Process.Kill()
		_ = shared.cmd.Wait()
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}
