package store

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// The server runs on miniredis when REDIS_URL is unset: every script must
// work there too, including PUBLISH from inside a script.
func TestScriptsOnEmbeddedStore(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{mr.Addr()}})
	defer rdb.Close()
	s := New(rdb, DefaultOptions())
	ctx := context.Background()
	if err := s.CreateRoom(ctx, "r", "checkin", "self", time.Now(), []byte(`{}`), nil, []string{"f"}); err != nil {
		t.Fatal(err)
	}
	sub, err := s.Subscribe(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	f := pushN(t, s, ctx, "r", "f", 2)
	for i := 0; i < 2; i++ {
		if p, _, ok := sub.Next(); !ok || string(p) != "p" {
			t.Fatalf("published message %d: %q %v", i, p, ok)
		}
	}
	p, err := s.Pull(ctx, "r", "f", f.Epoch, 0)
	if err != nil || p.Reset || len(p.Entries) != 2 {
		t.Fatalf("pull: %+v %v", p, err)
	}
	if ok, err := s.CommitState(ctx, "r", 0, []byte(`{"rev":1}`), []byte(`{}`), []byte("s")); !ok || err != nil {
		t.Fatalf("commit: %v %v", ok, err)
	}
	if p, _, ok := sub.Next(); !ok || string(p) != "s" {
		t.Fatalf("state message: %q %v", p, ok)
	}
	if ev, err := s.Events(ctx, "r", 5); err != nil || len(ev) != 1 {
		t.Fatalf("events: %v %v", ev, err)
	}
}
