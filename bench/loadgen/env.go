package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"

	"repairroom/internal/auth"
	"repairroom/internal/httpapi"
	"repairroom/internal/realtime"
	"repairroom/internal/store"
	"repairroom/internal/templates"
	"repairroom/web"
)

// secretHex is the signing key every node of one run shares.
const secretHex = "6c6f616467656e2d6c6f616467656e2d6c6f616467656e2d6c6f616467656e21"

// redisServer is a private redis-server on a Unix socket.
type redisServer struct {
	url  string // unix://… or redis://127.0.0.1:PORT
	addr string // cluster: host:port
	cmd  *exec.Cmd
	dir  string // its --dir, where the AOF lives
}

// aofArgs: the append-only file with fsync as asked (the README asks
// everysec of production), and no automatic rewrite, so that the file's
// growth over the window is what the writes cost.
func aofArgs(aof bool, fsync string) []string {
	if !aof {
		return []string{"--appendonly", "no"}
	}
	return []string{"--appendonly", "yes", "--appendfsync", fsync, "--auto-aof-rewrite-percentage", "0"}
}

func startRedis(dir string, aof bool, fsync string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found (apt-get install redis-server, or pass -redis): %w", err)
	}
	sock := filepath.Join(dir, "redis.sock")
	args := []string{"--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		"--save", "", "--dir", dir, "--maxclients", "10000"}
	args = append(args, aofArgs(aof, fsync)...)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.Create(filepath.Join(dir, "redis.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting redis-server: %w", err)
	}
	r := &redisServer{url: "unix://" + sock, cmd: cmd, dir: dir}
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: sock})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c.Ping(context.Background()).Err() == nil {
			return r, nil
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("redis-server did not answer on %s", sock)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *redisServer) stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-done
	}
}

func redisClient(url string) (*redis.Client, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("-redis %q: %w", url, err)
	}
	return redis.NewClient(o), nil
}

// node is one running server, in a subprocess or in this process.
type node struct {
	url     string // http://127.0.0.1:PORT
	slowURL string // the delay proxy in front of it, if any
	pid     int    // subprocess only
	log     string // subprocess: its log file
	started time.Time

	cmd  *exec.Cmd
	logf *os.File

	app  *fiber.App
	hub  *realtime.Hub
	rdb  *redis.Client
	done chan struct{}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// moduleRoot finds the directory holding go.mod, from the working
// directory up.
func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", errors.New("run the load generator inside the repository (no go.mod found)")
		}
		d = up
	}
}

// buildServer compiles ./server into dir, as `go build` would for a release.
func buildServer(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "repairroom-server")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./server") // no paths of this machine in profiles
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./server: %w", err)
	}
	return bin, nil
}

// startProcNode runs the server binary as its own process on a loopback
// port, configured only through its environment, as in production.
func startProcNode(bin, dir string, i int, redisURL string, clusterAddrs []string, gctrace bool, extraEnv []string) (*node, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	n := &node{url: fmt.Sprintf("http://127.0.0.1:%d", port), log: filepath.Join(dir, fmt.Sprintf("node%d.log", i))}
	if n.logf, err = os.Create(n.log); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"PORT="+fmt.Sprint(port),
		"HOST=127.0.0.1", // loopback only, never reachable from elsewhere
		"SECRET="+secretHex,
		// Rooms are created with a distinct X-Forwarded-For each, so the
		// per-address creation limit (10/min) does not cap the set-up.
		"TRUSTED_PROXIES=127.0.0.1",
	)
	if clusterAddrs != nil {
		cmd.Env = append(cmd.Env, "REDIS_CLUSTER_ADDRS="+strings.Join(clusterAddrs, ","))
	} else {
		cmd.Env = append(cmd.Env, "REDIS_URL="+redisURL)
	}
	if gctrace {
		// One line per GC cycle on stderr (the node's log): see gcUsage.
		cmd.Env = append(cmd.Env, "GODEBUG=gctrace=1")
	}
	cmd.Env = append(cmd.Env, extraEnv...) // -node-env: e.g. GOGC, GOMEMLIMIT, GOMAXPROCS
	cmd.Stdout, cmd.Stderr = n.logf, n.logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	n.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting node %d: %w", i, err)
	}
	n.cmd, n.pid = cmd, cmd.Process.Pid
	n.done = make(chan struct{})
	go func() { _ = cmd.Wait(); close(n.done) }()
	if err := waitReady(n.url, n.done); err != nil {
		n.stop()
		b, _ := os.ReadFile(n.log)
		return nil, fmt.Errorf("node %d: %w\n%s", i, err, b)
	}
	return n, nil
}

// startInprocNode wires a node in this process the way server/wiring.go
// does, with its own Redis connection pool, on a loopback port.
func startInprocNode(i int, redisURL, dir string) (*node, error) {
	tpls, err := templates.Builtin()
	if err != nil {
		return nil, err
	}
	signer, err := auth.NewSigner([]byte(secretHex))
	if err != nil {
		return nil, err
	}
	n := &node{log: filepath.Join(dir, fmt.Sprintf("node%d.log", i)), done: make(chan struct{})}
	if n.logf, err = os.Create(n.log); err != nil {
		return nil, err
	}
	if n.rdb, err = redisClient(redisURL); err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(n.logf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st := store.New(n.rdb, store.DefaultOptions())
	n.hub = realtime.New(st, log, realtime.DefaultConfig(), nil)
	n.app = httpapi.New(httpapi.Deps{
		Store: st, Hub: n.hub, Templates: tpls, Signer: signer, Log: log, Web: web.Dist(),
		TokenTTL: 24 * time.Hour, TrustedProxies: []string{"127.0.0.1"},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	n.url = "http://" + ln.Addr().String()
	// Every goroutine the node starts inherits this label, so a CPU
	// profile separates the nodes from the clients: pprof -tagfocus part=node0.
	go pprof.Do(context.Background(), pprof.Labels("part", fmt.Sprintf("node%d", i)), func(context.Context) {
		defer close(n.done)
		_ = n.app.Listener(ln)
	})
	if err := waitReady(n.url, n.done); err != nil {
		n.stop()
		return nil, fmt.Errorf("node %d: %w", i, err)
	}
	return n, nil
}

func waitReady(url string, done <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			return errors.New("exited before it was ready")
		default:
		}
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after 30s (last: %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop drains the node as SIGTERM does.
func (n *node) stop() {
	if n.cmd != nil {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(20 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	}
	if n.app != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		_ = httpapi.Shutdown(ctx, n.app, n.hub)
		cancel()
		<-n.done
	}
	if n.rdb != nil {
		_ = n.rdb.Close()
	}
	if n.logf != nil {
		_ = n.logf.Close()
	}
}

// logProblems returns the WARN and ERROR lines of a node's log.
func (n *node) logProblems() []string {
	b, err := os.ReadFile(n.log)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return out
}

// wsURL is the socket address of a room on the server (or proxy) at base.
func wsURL(base, roomID, token string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/ws/rooms/" + roomID + "?token=" + token
}

// cluster is a private three-master Redis Cluster on loopback TCP, as
// internal/redistest starts one for tests.
type cluster struct {
	servers []*redisServer
	addrs   []string
}

func startCluster(dir string, aof bool, fsync string) (*cluster, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server not found: %w", err)
	}
	cl := &cluster{}
	for i := 0; i < 3; i++ {
		port, err := freePort()
		if err != nil {
			cl.stop()
			return nil, err
		}
		d := filepath.Join(dir, fmt.Sprintf("cluster%d", i))
		if err := os.MkdirAll(d, 0o700); err != nil {
			cl.stop()
			return nil, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		args := []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--save", "", "--dir", d, "--maxclients", "10000"}
		args = append(args, aofArgs(aof, fsync)...)
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			cl.stop()
			return nil, fmt.Errorf("starting cluster node: %w", err)
		}
		rs := &redisServer{url: "redis://" + addr, addr: addr, cmd: cmd, dir: d}
		cl.servers = append(cl.servers, rs)
		cl.addrs = append(cl.addrs, addr)
		c := redis.NewClient(&redis.Options{Addr: addr})
		ok := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if c.Ping(context.Background()).Err() == nil {
				ok = true
				break
			}
		}
		_ = c.Close()
		if !ok {
			cl.stop()
			return nil, fmt.Errorf("cluster node %s did not answer", addr)
		}
	}
	args := append([]string{"--cluster", "create"}, cl.addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		cl.stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	// Every node must see every slot served before the cluster is usable.
	deadline := time.Now().Add(30 * time.Second)
	for _, addr := range cl.addrs {
		n := redis.NewClient(&redis.Options{Addr: addr})
		for {
			info, err := n.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				_ = n.Close()
				cl.stop()
				return nil, fmt.Errorf("cluster node %s not ready: %v", addr, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = n.Close()
	}
	return cl, nil
}

func (cl *cluster) stop() {
	for _, s := range cl.servers {
		s.stop()
	}
}

// nodeEnv splits -node-env ("K=V,K=V") into environment entries.
func nodeEnv(s string) []string {
	var out []string
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			out = append(out, kv)
		}
	}
	return out
}
