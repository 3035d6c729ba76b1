package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"repairroom/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

func newStore(t *testing.T, opt Options) (*Store, context.Context) {
	t.Helper()
	return New(redistest.Client(t), opt), context.Background()
}

// entry is the log entry that appends "x" to a text of n units.
func entry(n int) []byte {
	if n == 0 {
		return []byte(`{"clientID":"c","changes":[[0,"x"]],"by":"a","at":0}`)
	}
	return []byte(fmt.Sprintf(`{"clientID":"c","changes":[%d,[0,"x"]],"by":"a","at":0}`, n))
}

// pushN commits n one-update pushes to field f.
func pushN(t *testing.T, s *Store, ctx context.Context, room, f string, n int) Field {
	t.Helper()
	for i := 0; i < n; i++ {
		fs, err := s.Fields(ctx, room, []string{f})
		if err != nil {
			t.Fatal(err)
		}
		cur := fs[f]
		res, err := s.Push(ctx, Push{Room: room, Field: f, Rev: 0, Epoch: cur.Epoch, Version: cur.Version,
			Text: cur.Text + "x", Inserted: 1, Entries: [][]byte{entry(len(cur.Text))}, Publish: []byte("p")})
		if err != nil || res.Status != PushOK || res.Version != cur.Version+1 {
			t.Fatalf("push %d: %+v %v", i, res, err)
		}
	}
	fs, _ := s.Fields(ctx, room, []string{f})
	return fs[f]
}

func TestPushIsCompareAndSet(t *testing.T) {
	s, ctx := newStore(t, DefaultOptions())
	if err := s.CreateRoom(ctx, "r", "checkin", "self", time.Now(), []byte(`{}`), []byte(`{}`), []string{"f"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRoom(ctx, "r", "checkin", "self", time.Now(), []byte(`{}`), []byte(`{}`), []string{"f"}); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	f := pushN(t, s, ctx, "r", "f", 3)
	if f.Version != 3 || f.Text != "xxx" {
		t.Fatalf("after 3 pushes: %+v", f)
	}
	cases := []struct {
		name   string
		p      Push
		status string
	}{
		{"old version", Push{Rev: 0, Epoch: f.Epoch, Version: 1}, PushBehind},
		{"future version", Push{Rev: 0, Epoch: f.Epoch, Version: 9}, PushBehind},
		{"other epoch", Push{Rev: 0, Epoch: "nope", Version: 3}, PushEpoch},
		{"state changed", Push{Rev: 7, Epoch: f.Epoch, Version: 3}, PushRev},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Room, p.Field, p.Text, p.Entries, p.Publish = "r", "f", "CHANGED", [][]byte{entry(99)}, []byte("p")
			res, err := s.Push(ctx, p)
			if err != nil || res.Status != tc.status {
				t.Fatalf("got %+v %v, want %s", res, err, tc.status)
			}
			got, _ := s.Fields(ctx, "r", []string{"f"})
			if got["f"] != f {
				t.Fatalf("a refused push changed the field: %+v", got["f"])
			}
		})
	}
	res, err := s.Push(ctx, Push{Room: "gone", Field: "f", Epoch: "e", Entries: [][]byte{entry(0)}})
	if err != nil || res.Status != PushGone {
		t.Fatalf("push to a missing room: %+v %v", res, err)
	}
}

func TestPullServesLogOrSnapshot(t *testing.T) {
	opt := DefaultOptions()
	opt.MaxLog = 5
	opt.Limits.SnapshotEvery = 2 // entries fall out only once a snapshot covers them
	s, ctx := newStore(t, opt)
	if err := s.CreateRoom(ctx, "r", "checkin", "self", time.Now(), []byte(`{}`), nil, []string{"f"}); err != nil {
		t.Fatal(err)
	}
	f := pushN(t, s, ctx, "r", "f", 8) // log keeps versions 3..7 (the updates 3→4 … 7→8)
	cases := []struct {
		name  string
		epoch string
		since int64
		reset bool
		from  int64
		n     int
	}{
		{"up to date", f.Epoch, 8, false, 8, 0},
		{"one behind", f.Epoch, 7, false, 7, 1},
		{"oldest kept", f.Epoch, 3, false, 3, 5},
		{"older than the log", f.Epoch, 2, true, 0, 0},
		{"other epoch", "old", 8, true, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.Pull(ctx, "r", "f", tc.epoch, tc.since)
			if err != nil {
				t.Fatal(err)
			}
			if p.Reset != tc.reset {
				t.Fatalf("reset %v, want %v", p.Reset, tc.reset)
			}
			if p.Reset {
				if p.Field != f {
					t.Fatalf("snapshot %+v, want %+v", p.Field, f)
				}
				return
			}
			if p.From != tc.from || len(p.Entries) != tc.n {
				t.Fatalf("from %d with %d entries, want %d with %d", p.From, len(p.Entries), tc.from, tc.n)
			}
			for i, e := range p.Entries {
				if want := string(entry(int(tc.since) + i)); string(e) != want {
					t.Fatalf("entry %d = %s, want %s", i, e, want)
				}
			}
		})
	}
}

func TestLostFieldComesBackUnderNewEpoch(t *testing.T) {
	s, ctx := newStore(t, DefaultOptions())
	if err := s.CreateRoom(ctx, "r", "checkin", "self", time.Now(), []byte(`{}`), nil, []string{"f"}); err != nil {
		t.Fatal(err)
	}
	old := pushN(t, s, ctx, "r", "f", 2)
	s.rdb.Del(ctx, keys{"r"}.field("f"), keys{"r"}.log("f"))
	fs, err := s.Fields(ctx, "r", []string{"f"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fs["f"]; got.Epoch == old.Epoch || got.Version != 0 || got.Text != "" {
		t.Fatalf("rebuilt field %+v must have a new epoch (old %s)", got, old.Epoch)
	}
	p, err := s.Pull(ctx, "r", "f", old.Epoch, old.Version)
	if err != nil || !p.Reset {
		t.Fatalf("pull with the old epoch: %+v %v, want a reset", p, err)
	}
}

func TestEveryKeyExpiresAndDeleteRemovesAll(t *testing.T) {
	opt := DefaultOptions()
	opt.TTL = 90 * time.Minute
	s, ctx := newStore(t, opt)
	fields := []string{"a", "b.partner_a"}
	if err := s.CreateRoom(ctx, "r", "checkin", "self", time.Now(), []byte(`{}`), nil, fields); err != nil {
		t.Fatal(err)
	}
	pushN(t, s, ctx, "r", "a", 1)
	if ok, err := s.CommitState(ctx, "r", 0, []byte(`{"rev":1}`), []byte(`{"act":"x"}`), []byte("p")); !ok || err != nil {
		t.Fatalf("commit: %v %v", ok, err)
	}
	if _, err := s.JoinPresence(ctx, "r", "m1", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, "r", fields); err != nil {
		t.Fatal(err)
	}
	all, err := s.rdb.Keys(ctx, "rr:{r}:*").Result()
	if err != nil || len(all) < 5 {
		t.Fatalf("room keys %v %v", all, err)
	}
	for _, k := range all {
		if !strings.HasPrefix(k, "rr:{r}:") {
			t.Fatalf("key %s lacks the room hash tag", k)
		}
		ttl, limit := s.rdb.PTTL(ctx, k).Val(), opt.TTL
		if k == (keys{"r"}).kept() {
			limit = 2 * opt.TTL // the retention marker outlives the room by design
		}
		if ttl <= 0 || ttl > limit {
			t.Fatalf("key %s has TTL %v, want (0, %v]", k, ttl, limit)
		}
	}
	if err := s.DeleteRoom(ctx, "r", fields, []byte("d")); err != nil {
		t.Fatal(err)
	}
	if left := s.rdb.Keys(ctx, "rr:{r}:*").Val(); len(left) != 1 || left[0] != (keys{"r"}).tomb() {
		t.Fatalf("keys left after delete: %v, want only the tombstone", left)
	}
	if _, err := s.Meta(ctx, "r"); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("meta after delete: %v", err)
	}
}

func TestCommitStateIsCompareAndSet(t *testing.T) {
	s, ctx := newStore(t, DefaultOptions())
	if err := s.CreateRoom(ctx, "r", "checkin", "guided", time.Now(), []byte(`{"rev":0}`), nil, nil); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.CommitState(ctx, "r", 0, []byte(`{"rev":1}`), []byte(`{}`), []byte("p")); !ok || err != nil {
		t.Fatalf("first commit: %v %v", ok, err)
	}
	if ok, err := s.CommitState(ctx, "r", 0, []byte(`{"rev":1,"lost":true}`), []byte(`{}`), []byte("p")); ok || err != nil {
		t.Fatalf("commit at a stale rev: %v %v, want refused", ok, err)
	}
	st, rev, err := s.State(ctx, "r")
	if err != nil || rev != 1 || string(st) != `{"rev":1}` {
		t.Fatalf("state %s rev %d %v", st, rev, err)
	}
	ev, err := s.Events(ctx, "r", 10)
	if err != nil || len(ev) != 1 {
		t.Fatalf("timeline %v %v", ev, err)
	}
	if _, err := s.CommitState(ctx, "missing", 0, nil, nil, nil); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("commit to a missing room: %v", err)
	}
}

func TestSubscribeReceivesCommitsInOrder(t *testing.T) {
	s, ctx := newStore(t, DefaultOptions())
	if err := s.CreateRoom(ctx, "r", "checkin", "self", time.Now(), []byte(`{}`), nil, []string{"f"}); err != nil {
		t.Fatal(err)
	}
	sub, err := s.Subscribe(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	f := pushN(t, s, ctx, "r", "f", 0)
	for i := 0; i < 20; i++ {
		res, err := s.Push(ctx, Push{Room: "r", Field: "f", Epoch: f.Epoch, Version: int64(i), Text: "t",
			Entries: [][]byte{entry(i)}, Publish: []byte(fmt.Sprint(i))})
		if err != nil || res.Status != PushOK {
			t.Fatalf("push %d: %+v %v", i, res, err)
		}
	}
	for i := 0; i < 20; i++ {
		p, resub, ok := sub.Next()
		if !ok || resub || string(p) != fmt.Sprint(i) {
			t.Fatalf("message %d: %q resub=%v ok=%v", i, p, resub, ok)
		}
	}
}

func TestRefreshPresenceNeverBringsBackAMemberWhoLeft(t *testing.T) {
	s, ctx := newStore(t, DefaultOptions())
	if _, err := s.JoinPresence(ctx, "r", "stay", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.JoinPresence(ctx, "r", "gone", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	if err := s.RemovePresence(ctx, "r", "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.RefreshPresence(ctx, "r", map[string][]byte{"stay": []byte(`2`), "gone": []byte(`2`)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Presence(ctx, "r")
	if err != nil || len(got) != 1 || got["stay"] != "2" {
		t.Fatalf("presence after refresh: %v %v", got, err)
	}
}
