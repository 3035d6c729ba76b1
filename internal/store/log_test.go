package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// replaceEntry is the log entry that replaces a text of n units with s.
func replaceEntry(n int, s string) []byte {
	q, _ := json.Marshal(s)
	if n == 0 {
		return []byte(fmt.Sprintf(`{"clientID":"c","changes":[[0,%s]],"by":"a","at":0}`, q))
	}
	return []byte(fmt.Sprintf(`{"clientID":"c","changes":[[%d,%s]],"by":"a","at":0}`, n, q))
}

// writer pushes through the store the way the push path does: it keeps
// the head (as the node cache would) and sends base and log bytes along.
type writer struct {
	t    *testing.T
	s    *Store
	room string
	f    string
	head Head
}

func newWriter(t *testing.T, s *Store, ctx context.Context, room, f string) *writer {
	t.Helper()
	snap, err := s.Snapshot(ctx, room, []string{f})
	if err != nil {
		t.Fatal(err)
	}
	return &writer{t: t, s: s, room: room, f: f, head: snap.Heads[f]}
}

// push commits one entry producing text; it returns the status.
func (w *writer) push(ctx context.Context, e []byte, text string, inserted int) string {
	w.t.Helper()
	res, err := w.s.Push(ctx, Push{Room: w.room, Field: w.f, Seat: "a", Epoch: w.head.Epoch, Version: w.head.Version,
		Base: w.head.Base, SinceBytes: w.head.SinceBytes, Text: text, Inserted: inserted,
		Entries: [][]byte{e}, Publish: []byte("p")})
	if err != nil {
		w.t.Fatal(err)
	}
	if res.Status == PushOK {
		w.head.Version, w.head.Text, w.head.Base, w.head.SinceBytes = res.Version, text, res.Base, res.SinceBytes
	}
	return res.Status
}

func (w *writer) appendX(ctx context.Context) {
	w.t.Helper()
	if st := w.push(ctx, entry(len(w.head.Text)), w.head.Text+"x", 1); st != PushOK {
		w.t.Fatalf("push: %s", st)
	}
}

func createRoom(t *testing.T, s *Store, ctx context.Context, id string, fields ...string) {
	t.Helper()
	if err := s.CreateRoom(ctx, id, "checkin", "self", time.Now(), []byte(`{}`), nil, fields); err != nil {
		t.Fatal(err)
	}
}

// TestKeystrokeWritesItsEntryNotTheText: a one-character push appends its
// log entry; the stored snapshot (text and base) is not rewritten until a
// snapshot is due, and reads still see the head.
func TestKeystrokeWritesItsEntryNotTheText(t *testing.T) {
	opt := DefaultOptions()
	opt.Limits.SnapshotEvery = 50
	s, ctx := newStore(t, opt)
	createRoom(t, s, ctx, "r", "f")
	w := newWriter(t, s, ctx, "r", "f")
	long := strings.Repeat("a", 2000)
	if st := w.push(ctx, replaceEntry(0, long), long, 2000); st != PushOK {
		t.Fatal(st)
	}
	fk := keys{"r"}.field("f")
	for i := 0; i < 40; i++ {
		w.appendX(ctx)
		h := s.rdb.HMGet(ctx, fk, "base", "text").Val()
		if h[0] != "0" || h[1] != "" {
			t.Fatalf("push %d rewrote the snapshot: base %v, %d bytes of text", i, h[0], len(h[1].(string)))
		}
	}
	fs, err := s.Fields(ctx, "r", []string{"f"})
	if err != nil || fs["f"].Text != long+strings.Repeat("x", 40) || fs["f"].Version != 41 {
		t.Fatalf("head after 41 pushes: v%d %d units, %v", fs["f"].Version, len(fs["f"].Text), err)
	}
	for i := 0; i < 10; i++ { // the 50th version writes the snapshot
		w.appendX(ctx)
	}
	h := s.rdb.HMGet(ctx, fk, "base", "text").Val()
	if h[0] != "50" || h[1] != long+strings.Repeat("x", 49) {
		t.Fatalf("snapshot after 50 versions: base %v, %d bytes", h[0], len(h[1].(string)))
	}
}

// TestLogIsBoundedAndHistoryReplays: the log keeps at most LogEntries
// entries and LogBytes bytes, only ever dropping entries a snapshot covers;
// TextAt gives the exact text where the log reaches and the nearest older
// snapshot where it does not.
func TestLogIsBoundedAndHistoryReplays(t *testing.T) {
	opt := DefaultOptions()
	opt.Limits.SnapshotEvery = 5
	opt.Limits.LogEntries = 8
	opt.Limits.LogBytes = 400 // about 6 entries
	s, ctx := newStore(t, opt)
	createRoom(t, s, ctx, "r", "f")
	w := newWriter(t, s, ctx, "r", "f")
	texts := []string{""}
	for i := 0; i < 40; i++ {
		w.appendX(ctx)
		texts = append(texts, w.head.Text)
		k := keys{"r"}
		es := s.rdb.LRange(ctx, k.log("f"), 0, -1).Val()
		n := 0
		for _, e := range es {
			n += len(e)
		}
		h := s.rdb.HMGet(ctx, k.field("f"), "lb", "base", "version").Val()
		if fmt.Sprint(h[0]) != fmt.Sprint(n) {
			t.Fatalf("push %d: lb %v, log holds %d bytes", i, h[0], n)
		}
		if len(es) > 8 || n > 400+len(entry(40)) {
			t.Fatalf("push %d: log of %d entries, %d bytes", i, len(es), n)
		}
		var base, v int
		fmt.Sscan(h[1].(string), &base)
		fmt.Sscan(h[2].(string), &v)
		if v-len(es) > base {
			t.Fatalf("push %d: the log starts at %d, after the snapshot at %d", i, v-len(es), base)
		}
	}
	hist, err := s.History(ctx, "r", "f")
	if err != nil || len(hist) < 5 {
		t.Fatalf("history %d snapshots %v", len(hist), err)
	}
	exact := 0
	for v := int64(0); v <= 40; v++ {
		text, got, ok, err := s.TextAt(ctx, "r", "f", w.head.Epoch, v)
		if err != nil || !ok || got > v || text != texts[got] {
			t.Fatalf("TextAt(%d) = %q at %d, %v %v; want the text at %d", v, text, got, ok, err, got)
		}
		if got == v {
			exact++
		}
	}
	if exact < 8 || exact == 41 {
		t.Fatalf("%d exact versions of 41: the log should reach the last few, not all", exact)
	}
}

// roomPayload sums what the room stores in texts, logs and histories.
func roomPayload(t *testing.T, s *Store, ctx context.Context, id string, fields ...string) (payload, memory int64) {
	t.Helper()
	k := keys{id}
	for _, f := range fields {
		payload += int64(len(s.rdb.HGet(ctx, k.field(f), "text").Val()))
		for _, l := range []string{k.log(f), k.hist(f)} {
			for _, e := range s.rdb.LRange(ctx, l, 0, -1).Val() {
				payload += int64(len(e))
			}
		}
	}
	for _, key := range append(k.all(fields), k.tomb()) {
		memory += s.rdb.MemoryUsage(ctx, key).Val()
	}
	return payload, memory
}

// TestRoomStaysUnderItsByteCeiling writes large replacements for a few
// seconds: the room's stored bytes never pass RoomBytes, the counter the
// scripts keep matches what is stored, a refused push leaves Redis as it
// was, and Redis's own MEMORY USAGE of the room stays near the ceiling.
func TestRoomStaysUnderItsByteCeiling(t *testing.T) {
	opt := DefaultOptions()
	opt.Limits.RoomBytes = 400 << 10
	opt.Limits.SeatInsertPerMinute = 1 << 30
	s, ctx := newStore(t, opt)
	createRoom(t, s, ctx, "r", "f", "g")
	ws := []*writer{newWriter(t, s, ctx, "r", "f"), newWriter(t, s, ctx, "r", "g")}
	refused, pushes := 0, 0
	deadline := time.Now().Add(3 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		w := ws[i%2]
		text := strings.Repeat(string(rune('a'+i%26)), 3000+i%500)
		before := s.rdb.HGet(ctx, keys{"r"}.meta(), "bytes").Val()
		llen := s.rdb.LLen(ctx, keys{"r"}.log(w.f)).Val()
		switch st := w.push(ctx, replaceEntry(len(w.head.Text), text), text, len(text)); st {
		case PushOK:
			pushes++
		case PushTooLarge:
			refused++
			if s.rdb.HGet(ctx, keys{"r"}.meta(), "bytes").Val() != before || s.rdb.LLen(ctx, keys{"r"}.log(w.f)).Val() != llen {
				t.Fatal("a refused push changed Redis")
			}
		default:
			t.Fatalf("push %d: %s", i, st)
		}
		payload, _ := roomPayload(t, s, ctx, "r", "f", "g")
		if counted := s.rdb.HGet(ctx, keys{"r"}.meta(), "bytes").Val(); counted != fmt.Sprint(payload) {
			t.Fatalf("push %d: counter %s, stored %d", i, counted, payload)
		}
		if payload > opt.Limits.RoomBytes {
			t.Fatalf("push %d: the room stores %d bytes, over %d", i, payload, opt.Limits.RoomBytes)
		}
	}
	payload, memory := roomPayload(t, s, ctx, "r", "f", "g")
	t.Logf("%d pushes, %d refused; %d payload bytes, MEMORY USAGE %d", pushes, refused, payload, memory)
	if refused == 0 {
		t.Fatal("the ceiling was never reached")
	}
	if memory > opt.Limits.RoomBytes+opt.Limits.RoomBytes/2 {
		t.Fatalf("Redis reports %d bytes for the room, ceiling %d", memory, opt.Limits.RoomBytes)
	}
}

func TestSeatInsertBudgetIsSharedAndCountsInserts(t *testing.T) {
	opt := DefaultOptions()
	opt.Limits.SeatInsertPerMinute = 10
	s, ctx := newStore(t, opt)
	createRoom(t, s, ctx, "r", "f")
	a := newWriter(t, s, ctx, "r", "f")
	if st := a.push(ctx, replaceEntry(0, "abcdef"), "abcdef", 6); st != PushOK {
		t.Fatal(st)
	}
	// A replacement of the same length grows nothing, yet inserts 6.
	if st := a.push(ctx, replaceEntry(6, "ghijkl"), "ghijkl", 6); st != PushRateLimited {
		t.Fatalf("over the budget: %s", st)
	}
	if fs, _ := s.Fields(ctx, "r", []string{"f"}); fs["f"].Text != "abcdef" {
		t.Fatalf("a refused push changed the text: %q", fs["f"].Text)
	}
	res, err := s.Push(ctx, Push{Room: "r", Field: "f", Seat: "b", Epoch: a.head.Epoch, Version: a.head.Version,
		Base: a.head.Base, Inserted: 6, Entries: [][]byte{replaceEntry(6, "ghijkl")}, Text: "ghijkl", Publish: []byte("p")})
	if err != nil || res.Status != PushOK {
		t.Fatalf("another seat: %+v %v", res, err)
	}
}

func TestDeletedAndLostRoomsAreToldApart(t *testing.T) {
	s, ctx := newStore(t, DefaultOptions())
	createRoom(t, s, ctx, "del", "f")
	createRoom(t, s, ctx, "lost", "f")
	if err := s.DeleteRoom(ctx, "del", []string{"f"}, []byte("d")); err != nil {
		t.Fatal(err)
	}
	k := keys{"lost"}
	s.rdb.Del(ctx, k.all([]string{"f"})...)
	for _, c := range []struct {
		room string
		want error
	}{{"del", ErrNoRoom}, {"lost", ErrRoomLost}} {
		if _, err := s.Snapshot(ctx, c.room, []string{"f"}); !errors.Is(err, c.want) {
			t.Errorf("Snapshot(%s) = %v, want %v", c.room, err, c.want)
		}
		if _, err := s.Meta(ctx, c.room); !errors.Is(err, c.want) {
			t.Errorf("Meta(%s) = %v, want %v", c.room, err, c.want)
		}
		if _, _, err := s.State(ctx, c.room); !errors.Is(err, c.want) {
			t.Errorf("State(%s) = %v, want %v", c.room, err, c.want)
		}
	}
	if s.rdb.PTTL(ctx, keys{"del"}.tomb()).Val() <= 0 {
		t.Fatal("the tombstone has no TTL")
	}
}

// TestPullAboveTheVersionMovesTheEpoch: a client holding a version the
// field does not have under the same epoch proves Redis went back; the
// field moves to a new epoch (same text and version) and the pull resets.
func TestPullAboveTheVersionMovesTheEpoch(t *testing.T) {
	s, ctx := newStore(t, DefaultOptions())
	createRoom(t, s, ctx, "r", "f")
	f := pushN(t, s, ctx, "r", "f", 3)
	p, err := s.Pull(ctx, "r", "f", f.Epoch, 5)
	if err != nil || !p.Rollback || !p.Reset || p.Field.Epoch == f.Epoch || p.Field.Version != 3 || p.Field.Text != "xxx" {
		t.Fatalf("pull above the version: %+v %v", p, err)
	}
	if p2, _ := s.Pull(ctx, "r", "f", p.Field.Epoch, 3); p2.Reset || p2.Rollback {
		t.Fatalf("a pull at the new head: %+v", p2)
	}
}

// TestReplayComposesLikeApplyingInTurn: replaying a log (composed, applied
// once) gives the text that applying each entry in turn gives.
func TestReplayComposesLikeApplyingInTurn(t *testing.T) {
	text := "start 😀 漢字\nline"
	var es [][]byte
	want := text
	for i, c := range []string{`[6,[0,"é"],10]`, `[[2],15]`, `[3,[1,"👍🏽"],11]`, `[18,[0,"","x"]]`, `[[3,"abc"],17]`} {
		e := []byte(fmt.Sprintf(`{"clientID":"c","changes":%s,"by":"a","at":%d}`, c, i))
		_, cs, err := ParseEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		if want, err = cs.Apply(want); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		es = append(es, e)
	}
	got, err := Replay(text, es)
	if err != nil || got != want {
		t.Fatalf("Replay = %q, %v; applying in turn gives %q", got, err, want)
	}
	if _, err := Replay(text, append(es, []byte(`{"clientID":"c","changes":[3]}`))); err == nil {
		t.Fatal("an entry of the wrong length replayed")
	}
}
