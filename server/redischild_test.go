package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

// A second server on the same DATA_DIR would share one AOF: it is refused
// while the first one's redis-server answers, and the stopped child no
// longer answers.
func TestRedisChildRefusesABusyDataDir(t *testing.T) {
	bin, err := findRedisServer("")
	if err != nil {
		t.Skip("no redis-server installed (scripts/install-deps installs it)")
	}
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	first, err := startRedisChild(ctx, bin, dir, log)
	if err != nil {
		t.Fatal(err)
	}
	defer first.stop(log)
	if second, err := startRedisChild(ctx, bin, dir, log); err == nil {
		second.stop(log)
		t.Fatal("a second redis-server started on a DATA_DIR in use")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Fatalf("refusal does not say why: %v", err)
	}
	first.stop(log)
	if pingSocket(first.socket) {
		t.Fatal("the child still answers after stop")
	}
}

func TestFindRedisServer(t *testing.T) {
	if _, err := findRedisServer("none"); err != errNoRedisServer {
		t.Fatalf("REDIS_SERVER=none: %v", err)
	}
	if got, err := findRedisServer("/opt/redis/bin/redis-server"); err != nil || got != "/opt/redis/bin/redis-server" {
		t.Fatalf("REDIS_SERVER override: %q %v", got, err)
	}
}
