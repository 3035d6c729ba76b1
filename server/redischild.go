package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisChild is a redis-server this process started for the zero-config
// start: AOF with appendfsync always in DATA_DIR, so nothing acknowledged is
// lost when the server (or the machine) stops, listening only on a unix
// socket in DATA_DIR (no TCP port, nothing reachable from the network).
type redisChild struct {
	cmd    *exec.Cmd
	socket string
	exited chan struct{} // closed when the process has exited
	err    error         // set before exited is closed
}

// errNoRedisServer means no redis-server binary can be had; the caller falls
// back to the in-memory store.
var errNoRedisServer = errors.New("no redis-server binary found")

// findRedisServer returns the redis-server to run: REDIS_SERVER when set
// ("none" forces the in-memory store), else the one on PATH, else Debian's.
func findRedisServer(override string) (string, error) {
	switch override {
	case "none":
		return "", errNoRedisServer
	case "":
	default:
		return override, nil
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"} {
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errNoRedisServer
}

// socketPath is where the child listens. Unix socket paths are limited to
// about 100 bytes, so a deep DATA_DIR falls back to the temporary directory.
func socketPath(dir string) string {
	p := filepath.Join(dir, "redis.sock")
	if len(p) < 100 {
		return p
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("repairroom-redis-%d.sock", os.Getpid()))
}

// startRedisChild runs bin with its data in dir and waits until it answers.
func startRedisChild(ctx context.Context, bin, dir string, log *slog.Logger) (*redisChild, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("DATA_DIR %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("creating DATA_DIR %s: %w", abs, err)
	}
	sock := socketPath(abs)
	// Two servers on one AOF would corrupt it: refuse if one already answers.
	if pingSocket(sock) {
		return nil, fmt.Errorf("DATA_DIR %s is in use: a redis-server already answers on %s (another Repair Room running?); stop it or set another DATA_DIR", abs, sock)
	}
	args := []string{
		"--dir", abs,
		"--port", "0",
		"--unixsocket", sock,
		"--unixsocketperm", "700",
		"--appendonly", "yes",
		"--appendfsync", "always",
		"--save", "",
		"--daemonize", "no",
		"--logfile", filepath.Join(abs, "redis.log"),
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = abs
	// Its own process group, so the terminal's Ctrl-C reaches only us and
	// Redis stays up while we drain; Pdeathsig stops it if we die abruptly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	rc := &redisChild{cmd: cmd, socket: sock, exited: make(chan struct{})}
	go func() {
		rc.err = cmd.Wait()
		close(rc.exited)
	}()

	deadline := time.Now().Add(15 * time.Second)
	for {
		if pingSocket(sock) {
			log.Info("started a redis-server for the rooms (AOF, appendfsync always)", "dir", abs, "pid", cmd.Process.Pid)
			return rc, nil
		}
		select {
		case <-rc.exited:
			return nil, fmt.Errorf("redis-server exited at start (%v); see %s", rc.err, filepath.Join(abs, "redis.log"))
		case <-ctx.Done():
			rc.stop(log)
			return nil, fmt.Errorf("waiting for redis-server: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			rc.stop(log)
			return nil, fmt.Errorf("redis-server did not answer on %s within 15s; see %s", sock, filepath.Join(abs, "redis.log"))
		}
	}
}

// pingSocket reports whether a Redis answers PING on the unix socket. It
// speaks RESP itself rather than through go-redis, whose pool logs every
// failed dial: while the child starts, failing is expected.
func pingSocket(sock string) bool {
	c, err := net.DialTimeout("unix", sock, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second)) // a failed deadline shows as a failed read
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 7)
	n, _ := io.ReadFull(c, buf)
	return string(buf[:n]) == "+PONG\r\n"
}

// options are the go-redis options that reach the child.
func (rc *redisChild) options(poolSize int) *redis.Options {
	return &redis.Options{Network: "unix", Addr: rc.socket, PoolSize: poolSize}
}

// stop asks Redis to shut down (SIGTERM: it flushes the AOF and exits) and
// kills it if it has not within 10 s.
func (rc *redisChild) stop(log *slog.Logger) {
	select {
	case <-rc.exited:
		return
	default:
	}
	_ = rc.cmd.Process.Signal(syscall.SIGTERM) // an exited process is seen below
	select {
	case <-rc.exited:
		log.Info("redis-server stopped")
	case <-time.After(10 * time.Second):
		_ = rc.cmd.Process.Kill() // it did not stop by itself: nothing else to try
		<-rc.exited
		log.Warn("redis-server did not stop within 10s and was killed")
	}
}
