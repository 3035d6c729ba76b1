package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"repairroom/internal/redistest"
)

// On Redis Cluster every key of a room shares one slot, so the scripts run
// there unchanged, and sharded pub/sub (SPUBLISH from inside the script)
// delivers in commit order.
func TestScriptsOnRedisCluster(t *testing.T) {
	opt := DefaultOptions()
	opt.Sharded = true
	s := New(redistest.Cluster(t), opt)
	ctx := context.Background()
	for _, room := range []string{"alpha", "beta", "gamma"} { // different slots
		if err := s.CreateRoom(ctx, room, "checkin", "self", time.Now(), []byte(`{}`), nil, []string{"f", "g.partner_a"}); err != nil {
			t.Fatalf("%s: %v", room, err)
		}
		sub, err := s.Subscribe(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		f := pushN(t, s, ctx, room, "f", 0)
		for i := 0; i < 5; i++ {
			res, err := s.Push(ctx, Push{Room: room, Field: "f", Epoch: f.Epoch, Version: int64(i), Text: "t",
				Entries: [][]byte{entry(i)}, Publish: []byte(fmt.Sprint(i))})
			if err != nil || res.Status != PushOK {
				t.Fatalf("%s push %d: %+v %v", room, i, res, err)
			}
		}
		for i := 0; i < 5; i++ {
			if p, _, ok := sub.Next(); !ok || string(p) != fmt.Sprint(i) {
				t.Fatalf("%s message %d: %q", room, i, p)
			}
		}
		if ok, err := s.CommitState(ctx, room, 0, []byte(`{"rev":1}`), []byte(`{}`), []byte("s")); !ok || err != nil {
			t.Fatalf("%s commit: %v %v", room, ok, err)
		}
		if p, _, _ := sub.Next(); string(p) != "s" {
			t.Fatalf("%s state message %q", room, p)
		}
		if err := s.Touch(ctx, room, []string{"f", "g.partner_a"}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteRoom(ctx, room, []string{"f", "g.partner_a"}, []byte("d")); err != nil {
			t.Fatal(err)
		}
		_ = sub.Close()
	}
}
