package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// TestMergeRestoredRoomGuardsRevAndRestoredBy: a room restored from
// partner_a's view takes partner_b's merge once, at the rev and restoredBy
// it was read at, publishing the notice; a stale rev or restoredBy writes
// nothing; restoredBy then lists both seats, and neither may merge again;
// a partner's view of a later rev moves the state up while nothing changed
// since; the moderator's view still replaces the merged state and nothing
// is merged after it.
func TestMergeRestoredRoomGuardsRevAndRestoredBy(t *testing.T) {
	s, ctx := newStore(t, DefaultOptions())
	id := "merge-guard"
	if r, err := s.RestoredRoom(ctx, id); !errors.Is(err, ErrRoomLost) {
		t.Fatalf("a room never created: %+v %v, want ErrRoomLost", r, err)
	}
	if ok, err := s.RestoreRoom(ctx, id, "partner_a", "checkin", "self", time.Now(), []byte(`{"a":1}`), 5, 1, []byte(`{}`), []byte("s"), 0); !ok || err != nil {
		t.Fatalf("restore: %v %v", ok, err)
	}
	r, err := s.RestoredRoom(ctx, id)
	if err != nil || r.Rev != 5 || r.At != 5 || string(r.State) != `{"a":1}` || !slices.Equal(r.By, []string{"partner_a"}) {
		t.Fatalf("restored room %+v %v", r, err)
	}
	for role, want := range map[string]bool{"partner_a": false, "partner_b": true, "moderator": false} {
		if got := r.MayMerge(role); got != want {
			t.Errorf("MayMerge(%s) = %v, want %v", role, got, want)
		}
	}
	sub, err := s.Subscribe(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	stale := []struct {
		name string
		rev  int64
		by   []string
	}{
		{"another rev", 4, []string{"partner_a"}},
		{"another restoredBy", 5, []string{"partner_b"}},
		{"no restoredBy", 5, nil},
	}
	for _, tc := range stale {
		if ok, err := s.MergeRestoredRoom(ctx, id, tc.rev, tc.rev, tc.by, "partner_b", []byte(`{"bad":1}`), []byte("x")); ok || err != nil {
			t.Fatalf("%s: merged %v %v", tc.name, ok, err)
		}
	}
	if ok, err := s.MergeRestoredRoom(ctx, id, 5, 5, r.By, "partner_b", []byte(`{"a":1,"b":2}`), []byte("merged")); !ok || err != nil {
		t.Fatalf("merge: %v %v", ok, err)
	}
	if p, _, ok := sub.Next(); !ok || string(p) != "merged" {
		t.Fatalf("published %q %v, want the merge's notice (and none of the refused ones)", p, ok)
	}
	r, err = s.RestoredRoom(ctx, id)
	if err != nil || r.Rev != 5 || string(r.State) != `{"a":1,"b":2}` || !slices.Equal(r.By, []string{"partner_a", "partner_b"}) {
		t.Fatalf("after the merge %+v %v", r, err)
	}
	if r.MayMerge("partner_a") || r.MayMerge("partner_b") {
		t.Error("a seat already merged may merge again")
	}
	if !r.Unchanged() {
		t.Errorf("nothing changed since the merge, yet %+v is not Unchanged", r)
	}

	// partner_a's view of a later rev (a change partner_b had not seen)
	// moves the state and rev up; then a change made since (an act) ends
	// what views of other revs may do.
	if ok, err := s.MergeRestoredRoom(ctx, id, 5, 6, r.By, "partner_a", []byte(`{"a":3,"b":2}`), []byte("newer")); !ok || err != nil {
		t.Fatalf("a newer view: %v %v", ok, err)
	}
	if p, _, ok := sub.Next(); !ok || string(p) != "newer" {
		t.Fatalf("published %q %v, want the newer view's notice", p, ok)
	}
	r, err = s.RestoredRoom(ctx, id)
	if err != nil || r.Rev != 6 || r.At != 6 || !r.Unchanged() || !slices.Equal(r.By, []string{"partner_a", "partner_b"}) {
		t.Fatalf("after the newer view %+v %v", r, err)
	}
	if err := s.rdb.HIncrBy(ctx, keys{id}.meta(), "rev", 1).Err(); err != nil {
		t.Fatal(err)
	}
	if r, err = s.RestoredRoom(ctx, id); err != nil || r.Unchanged() {
		t.Fatalf("after a change %+v %v, want not Unchanged", r, err)
	}

	// The moderator's view of the current rev replaces the partners' merge.
	if ok, err := s.RestoreRoom(ctx, id, "moderator", "checkin", "self", time.Now(), []byte(`{"all":1}`), 7, 1, []byte(`{}`), []byte("m"), 0); !ok || err != nil {
		t.Fatalf("moderator's restore: %v %v", ok, err)
	}
	r, err = s.RestoredRoom(ctx, id)
	if err != nil || string(r.State) != `{"all":1}` || r.MayMerge("partner_b") || r.Unchanged() {
		t.Fatalf("after the moderator's view %+v %v", r, err)
	}
	if ok, err := s.MergeRestoredRoom(ctx, id, 7, 7, []string{"partner_a", "partner_b"}, "partner_b", []byte(`{"bad":1}`), []byte("x")); ok || err != nil {
		t.Fatalf("merged into the moderator's view: %v %v", ok, err)
	}

	// A deleted room: nothing to merge into.
	if err := s.rdb.Del(ctx, keys{id}.meta()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.Set(ctx, keys{id}.tomb(), 1, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.MergeRestoredRoom(ctx, id, 5, 5, []string{"moderator"}, "partner_b", []byte(`{}`), []byte("x")); ok || !errors.Is(err, ErrNoRoom) {
		t.Fatalf("merge into a deleted room: %v %v, want ErrNoRoom", ok, err)
	}
}

// TestMergeRestoredRoomOnEmbeddedStore: the merge's script runs on the
// embedded store (miniredis, when REDIS_URL is unset) too.
func TestMergeRestoredRoomOnEmbeddedStore(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{mr.Addr()}})
	defer rdb.Close()
	s := New(rdb, DefaultOptions())
	ctx := context.Background()
	if ok, err := s.RestoreRoom(ctx, "r", "partner_b", "checkin", "self", time.Now(), []byte(`{"b":1}`), 2, 1, []byte(`{}`), []byte("s"), 0); !ok || err != nil {
		t.Fatalf("restore: %v %v", ok, err)
	}
	r, err := s.RestoredRoom(ctx, "r")
	if err != nil || !r.MayMerge("partner_a") {
		t.Fatalf("restored room %+v %v", r, err)
	}
	if ok, err := s.MergeRestoredRoom(ctx, "r", r.Rev, r.Rev, r.By, "partner_a", []byte(`{"a":1,"b":1}`), []byte("m")); !ok || err != nil {
		t.Fatalf("merge: %v %v", ok, err)
	}
	if r, err = s.RestoredRoom(ctx, "r"); err != nil || string(r.State) != `{"a":1,"b":1}` || !slices.Equal(r.By, []string{"partner_b", "partner_a"}) {
		t.Fatalf("after the merge %+v %v", r, err)
	}
}
