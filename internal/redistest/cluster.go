package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster starts a three-master Redis Cluster on loopback for one test and
// returns a cluster client. The servers stop when the test ends.
func Cluster(t testing.TB) redis.UniversalClient {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redistest: redis-server not found: %v", err)
	}
	dir := t.TempDir()
	var addrs []string
	for i := 0; i < 3; i++ {
		addrs = append(addrs, startClusterNode(t, bin, dir))
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	// Every node must see every slot served before the cluster is usable;
	// asking one node is not enough.
	deadline := time.Now().Add(30 * time.Second)
	for _, addr := range addrs {
		n := redis.NewClient(&redis.Options{Addr: addr})
		for {
			info, err := n.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				_ = n.Close()
				t.Fatalf("redistest: cluster node %s not ready: %v %s", addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = n.Close()
	}
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, IsClusterMode: true, MaxRedirects: 16})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startClusterNode starts one cluster-enabled redis-server and returns
// its address. The port is picked free, then given back before the server
// binds it, and the cluster bus needs port+10000 too: another process can
// take either meanwhile (go test runs packages in parallel), so a server
// that exits before answering is started again on other ports.
func startClusterNode(t testing.TB, bin, dir string) string {
	t.Helper()
	var lastErr error
	for try := 0; try < 5; try++ {
		port := freeClusterPort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		var out strings.Builder
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", fmt.Sprintf("nodes-%d.conf", port),
			"--save", "", "--appendonly", "no", "--dir", dir)
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatalf("redistest: start cluster node: %v", err)
		}
		exited := make(chan struct{}) // closed once the process is gone
		go func() { _ = cmd.Wait(); close(exited) }()
		if err := waitPing(&redis.Options{Addr: addr}, exited); err != nil {
			_ = cmd.Process.Kill()
			<-exited
			lastErr = fmt.Errorf("%s: %w\n%s", addr, err, out.String())
			continue
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
		return addr
	}
	t.Fatalf("redistest: no cluster node would start: %v", lastErr)
	return ""
}

// freeClusterPort returns a loopback port that is free, and whose cluster
// bus port (port+10000, which must stay below 65536) is free as well.
func freeClusterPort(t testing.TB) int {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if port+10000 < 65536 {
			if bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000)); err == nil {
				_ = bus.Close()
				_ = ln.Close()
				return port
			}
		}
		_ = ln.Close()
	}
}

// waitPing waits until the server at o answers, up to 10 s; an error
// when it does not, or when its process exits first.
func waitPing(o *redis.Options, exited <-chan struct{}) error {
	c := redis.NewClient(o)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		select {
		case <-exited:
			return errors.New("redis-server exited before answering")
		default:
		}
		if time.Now().After(deadline) {
			return errors.New("redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
