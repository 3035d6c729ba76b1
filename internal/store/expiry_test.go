package store

import (
	"errors"
	"testing"
	"time"
)

// TestExpiredRoomIsNeverRestored: a room whose retention ran out is told
// from one whose data Redis lost by its retention marker (keys.go: kept),
// which outlives the room's keys. Expired: every read says ErrNoRoom and
// no checkpoint brings it back. Lost (no keys, no marker; or keys gone
// before their deadline): ErrRoomLost and the room may be restored.
// Deleted: the tombstone says ErrNoRoom and the marker is gone too.
func TestExpiredRoomIsNeverRestored(t *testing.T) {
	s, ctx := newStore(t, DefaultOptions())
	fields := []string{"f"}
	tcs := []struct {
		name    string
		id      string
		end     func(t *testing.T, id string) // how the room's keys went
		want    error
		restore bool // RestoreRoom recreates it
	}{
		{"expired", "exp-expired", func(t *testing.T, id string) {
			if err := s.SetRetention(ctx, id, fields, 2*time.Second); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for s.rdb.Exists(ctx, keys{id}.meta()).Val() == 1 { // Redis expires it
				if time.Now().After(deadline) {
					t.Fatal("the room's meta never expired")
				}
				time.Sleep(50 * time.Millisecond)
			}
		}, ErrNoRoom, false},
		{"wiped", "exp-wiped", func(t *testing.T, id string) {
			ks := append(keys{id}.all(fields), keys{id}.kept())
			if err := s.rdb.Del(ctx, ks...).Err(); err != nil {
				t.Fatal(err)
			}
		}, ErrRoomLost, true},
		{"keys gone before their deadline", "exp-early", func(t *testing.T, id string) {
			if err := s.rdb.Del(ctx, keys{id}.all(fields)...).Err(); err != nil {
				t.Fatal(err)
			}
		}, ErrRoomLost, true},
		{"deleted", "exp-deleted", func(t *testing.T, id string) {
			if err := s.DeleteRoom(ctx, id, fields, []byte("d")); err != nil {
				t.Fatal(err)
			}
			if n := s.rdb.Exists(ctx, keys{id}.kept()).Val(); n != 0 {
				t.Fatal("a deleted room kept its retention marker")
			}
		}, ErrNoRoom, false},
	}
	for _, tc := range tcs {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.CreateRoom(ctx, tc.id, "checkin", "self", time.Now(), []byte(`{}`), []byte(`{}`), fields); err != nil {
				t.Fatal(err)
			}
			pushN(t, s, ctx, tc.id, "f", 1)
			tc.end(t, tc.id)
			if _, err := s.Snapshot(ctx, tc.id, fields); !errors.Is(err, tc.want) {
				t.Fatalf("snapshot: %v, want %v", err, tc.want)
			}
			if _, err := s.Meta(ctx, tc.id); !errors.Is(err, tc.want) {
				t.Fatalf("meta: %v, want %v", err, tc.want)
			}
			if _, err := s.RestoreField(ctx, tc.id, "f", NewEpoch(), 5, "text", NewEpoch(), []byte("r")); !errors.Is(err, tc.want) {
				t.Fatalf("restore field before the room: %v, want %v", err, tc.want)
			}
			ok, err := s.RestoreRoom(ctx, tc.id, "partner_a", "checkin", "self", time.Now(), []byte(`{}`), 3, 1, []byte(`{}`), []byte("s"), 0)
			if ok != tc.restore || (tc.restore && err != nil) || (!tc.restore && !errors.Is(err, ErrNoRoom)) {
				t.Fatalf("restore room: %v %v, want restored=%v", ok, err, tc.restore)
			}
			if got := s.rdb.Exists(ctx, keys{tc.id}.meta()).Val() == 1; got != tc.restore {
				t.Fatalf("room meta present after the restore: %v, want %v", got, tc.restore)
			}
			if tc.restore {
				if d := s.rdb.PTTL(ctx, keys{tc.id}.kept()).Val(); d <= s.opt.TTL {
					t.Fatalf("a restored room's retention marker lives %v, want more than %v", d, s.opt.TTL)
				}
			}
		})
	}
}

// TestRetentionMarkerFollowsTheRoom: every write that sets or refreshes
// the room's retention sets the marker to that retention, living twice as
// long, so it is there as long as the room's keys are and a retention
// period after.
func TestRetentionMarkerFollowsTheRoom(t *testing.T) {
	s, ctx := newStore(t, DefaultOptions())
	fields := []string{"f"}
	id := "marker-follows"
	check := func(after string, ttl time.Duration) {
		t.Helper()
		k := keys{id}.kept()
		v, err := s.rdb.Get(ctx, k).Int64()
		if err != nil || v != ttl.Milliseconds() {
			t.Fatalf("after %s: marker %d %v, want %d", after, v, err, ttl.Milliseconds())
		}
		if d := s.rdb.PTTL(ctx, k).Val(); d > 2*ttl || d < 2*ttl-time.Hour {
			t.Fatalf("after %s: marker lives %v, want about %v", after, d, 2*ttl)
		}
	}
	if err := s.CreateRoom(ctx, id, "checkin", "self", time.Now(), []byte(`{}`), []byte(`{}`), fields); err != nil {
		t.Fatal(err)
	}
	check("create", s.opt.TTL)
	short := 2 * 24 * time.Hour
	if err := s.SetRetention(ctx, id, fields, short); err != nil {
		t.Fatal(err)
	}
	check("set retention", short)
	if err := s.rdb.Del(ctx, keys{id}.kept()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.PExpire(ctx, keys{id}.meta(), time.Hour).Err(); err != nil { // run down: the push refreshes it
		t.Fatal(err)
	}
	pushN(t, s, ctx, id, "f", 1)
	check("a push", short)
	if err := s.rdb.Del(ctx, keys{id}.kept()).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.CommitState(ctx, id, 0, []byte(`{}`), []byte(`{"act":"x"}`), []byte("p")); err != nil || !ok {
		t.Fatalf("commit: %v %v", ok, err)
	}
	check("a state change", short)
	if err := s.rdb.Del(ctx, keys{id}.kept()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, id, fields); err != nil {
		t.Fatal(err)
	}
	check("a join", short)
	if err := s.Touch(ctx, "never-was", fields); err != nil {
		t.Fatal(err)
	}
	if n := s.rdb.Exists(ctx, keys{"never-was"}.kept()).Val(); n != 0 {
		t.Fatal("touching a room that is not there wrote a marker")
	}
}
