package store

import (
	"testing"
	"time"
)

// TestRetentionMovesEveryKeyTogether: a room's own retention applies to
// every key at once, and later writes (pushes, state commits, joins)
// keep every key for that period — never the store's default — so no key
// of the room expires before the others, whether it was made longer or
// shorter.
func TestRetentionMovesEveryKeyTogether(t *testing.T) {
	s, ctx := newStore(t, DefaultOptions())
	fields := []string{"f", "g"}
	if err := s.CreateRoom(ctx, "r", "checkin", "self", time.Now(), []byte(`{}`), []byte(`{}`), fields); err != nil {
		t.Fatal(err)
	}
	pushN(t, s, ctx, "r", "f", 2)
	if ok, err := s.CommitState(ctx, "r", 0, []byte(`{}`), []byte(`{"act":"x"}`), []byte("p")); err != nil || !ok {
		t.Fatalf("commit: %v %v", ok, err)
	}
	for _, tc := range []struct {
		name string
		ttl  time.Duration
	}{
		{"extended", 90 * 24 * time.Hour},
		{"shortened", 2 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.SetRetention(ctx, "r", fields, tc.ttl); err != nil {
				t.Fatal(err)
			}
			check := func(after string) {
				t.Helper()
				for _, k := range (keys{"r"}).all(fields) {
					d, err := s.rdb.PTTL(ctx, k).Result()
					if err != nil {
						t.Fatal(err)
					}
					if d == -2*time.Nanosecond {
						continue // a key the room does not have (presence, inserts)
					}
					if d > tc.ttl || d < tc.ttl-time.Hour {
						t.Fatalf("after %s, %s expires in %s, want about %s", after, k, d, tc.ttl)
					}
				}
				until, err := s.KeptUntil(ctx, "r", time.Now())
				if err != nil || until.Sub(time.Now()) > tc.ttl || until.Sub(time.Now()) < tc.ttl-time.Hour {
					t.Fatalf("after %s, kept until %v (%v)", after, until, err)
				}
			}
			check("set")
			st, rev, err := s.State(ctx, "r")
			if err != nil {
				t.Fatal(err)
			}
			cur := pushN(t, s, ctx, "r", "f", 0)
			res, err := s.Push(ctx, Push{Room: "r", Field: "f", Rev: rev, Epoch: cur.Epoch, Version: cur.Version,
				Text: cur.Text + "x", Inserted: 1, Entries: [][]byte{entry(len(cur.Text))}, Publish: []byte("p")})
			if err != nil || res.Status != PushOK {
				t.Fatalf("push: %+v %v", res, err)
			}
			check("a push")
			if ok, err := s.CommitState(ctx, "r", rev, st, []byte(`{"act":"y"}`), []byte("p")); err != nil || !ok {
				t.Fatalf("commit: %v %v", ok, err)
			}
			check("a state change")
			if err := s.Touch(ctx, "r", fields); err != nil {
				t.Fatal(err)
			}
			check("a join")
		})
	}
	if err := s.SetRetention(ctx, "nope", fields, time.Hour); err == nil {
		t.Fatal("retention of a room that does not exist")
	}
}
