package scenario_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"repairroom/internal/client"
	"repairroom/internal/room"
	"repairroom/internal/testnode"
)

// TestWipedRedisComesBackFromCheckpoints: partners type (each in their own
// field of the stage the moderator moved to) on two nodes while
// the moderator sits idle holding the only copy of a private note; Redis's
// data is wiped (FLUSHDB: no keys and no tombstone) mid-session. The first
// message that finds the room gone is answered room_lost and every socket
// of the room, on both nodes, is told; the clients present the room state
// and their field checkpoints, and the room comes back: the stage, every
// mark typed, the moderator's private note, and every client equal to
// Redis.
func TestWipedRedisComesBackFromCheckpoints(t *testing.T) {
	cl := startCluster(t, 2, testnode.Options{})
	r := cl.nodes[0].CreateRoom(t, "checkin", "guided")
	opts := client.Options{AutoReconnect: true, MaxBackoff: 200 * time.Millisecond}
	mod := cl.dial(t, 1, r, "moderator", opts)
	tys := []*typist{
		{name: "a", cl: cl.dial(t, 0, r, "partner_a", opts)},
		{name: "b", cl: cl.dial(t, 1, r, "partner_b", opts)},
	}
	ctx := ctxFor(t)
	act(t, mod, map[string]any{"act": "stage.set", "stage": "hard"})
	appendText(t, mod, "notes", "only the therapist knows this")
	if err := mod.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	waitState(t, tys[1].cl, "the stage", func(s room.State) bool { return s.Stage == "hard" })

	keys := map[string]string{"a": "hard_a", "b": "hard_b"}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, ty := range tys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(15 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					ty.typeOne(t, keys[ty.name])
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	if err := cl.rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	close(stop)
	wg.Wait()

	all := []*client.Client{tys[0].cl, tys[1].cl, mod}
	afterA := cl.settle(t, r.ID, "hard_a", all...)
	afterB := cl.settle(t, r.ID, "hard_b", all...)
	waitRedis(t, cl, r.ID, "notes", 1) // restored by the idle moderator, told of the loss
	notes := cl.settle(t, r.ID, "notes", mod)
	if notes.Text != "only the therapist knows this" {
		t.Errorf("the moderator's note came back as %q", notes.Text)
	}
	m, err := cl.nodes[0].Store.Meta(ctx, r.ID)
	if err != nil {
		t.Fatalf("the room is not back: %v", err)
	}
	if !strings.Contains(string(m.State), `"stage":"hard"`) {
		t.Errorf("the room state came back as %s", m.State)
	}
	checkEveryMarkOnce(t, afterA.Text, tys[0])
	checkEveryMarkOnce(t, afterB.Text, tys[1])
	checkNoVersionReused(t, all...)
	for _, c := range all {
		if err := c.Err(); err != nil {
			t.Errorf("a client stopped: %v", err)
		}
	}
	restores := 0
	for _, n := range cl.nodes {
		restores += strings.Count(n.Log.String(), "restored a lost room")
	}
	if restores == 0 {
		t.Error("the room was not restored from a checkpoint")
	}
	t.Logf("room restored %d time(s); hard_a at v%d, hard_b at v%d", restores, afterA.Version, afterB.Version)
}

// TestForgedCheckpointRestoresNothing: a checkpoint whose text, version or
// signature was altered, or that belongs to another field, is refused with
// bad_checkpoint and the store is unchanged; a genuine one the store
// already holds is refused as stale.
func TestForgedCheckpointRestoresNothing(t *testing.T) {
	cl := startCluster(t, 1, testnode.Options{})
	r := cl.nodes[0].CreateRoom(t, "checkin", "guided")
	a := cl.dial(t, 0, r, "partner_a", client.Options{})
	appendText(t, a, "wins", "we walked")
	f := cl.settle(t, r.ID, "wins", a)
	ck := a.Checkpoint("wins")
	if ck == nil || ck.Version != f.Version || ck.Text != f.Text || ck.Epoch != f.Epoch {
		t.Fatalf("checkpoint %+v, Redis %+v", ck, f)
	}
	// Redis loses the field; forged checkpoints must not bring anything back.
	if err := cl.rdb.Del(ctxFor(t), "rr:{"+r.ID+"}:f:wins", "rr:{"+r.ID+"}:log:wins").Err(); err != nil {
		t.Fatal(err)
	}
	lost := cl.fields(t, r.ID, "wins")["wins"]
	flip := []byte(ck.Sig)
	flip[3] ^= 1
	cases := []struct {
		name string
		msg  map[string]any
		code string
	}{
		{"altered text", map[string]any{"field": "wins", "epoch": ck.Epoch, "version": ck.Version, "text": ck.Text + " and talked", "sig": ck.Sig}, "bad_checkpoint"},
		{"higher version", map[string]any{"field": "wins", "epoch": ck.Epoch, "version": ck.Version + 5, "text": ck.Text, "sig": ck.Sig}, "bad_checkpoint"},
		{"other epoch", map[string]any{"field": "wins", "epoch": "000000000000", "version": ck.Version, "text": ck.Text, "sig": ck.Sig}, "bad_checkpoint"},
		{"other field", map[string]any{"field": "appreciated.partner_a", "epoch": ck.Epoch, "version": ck.Version, "text": ck.Text, "sig": ck.Sig}, "bad_checkpoint"},
		{"flipped signature", map[string]any{"field": "wins", "epoch": ck.Epoch, "version": ck.Version, "text": ck.Text, "sig": string(flip)}, "bad_checkpoint"},
		{"made-up signature", map[string]any{"field": "wins", "epoch": ck.Epoch, "version": ck.Version, "text": ck.Text, "sig": "not-a-signature"}, "bad_checkpoint"},
		{"forged room view", map[string]any{"room": map[string]any{"role": "partner_a", "state": map[string]any{"rev": 99, "stage": "next", "template": "checkin"}, "sig": ck.Sig}}, "bad_checkpoint"},
		{"another seat's view", map[string]any{"room": map[string]any{"role": "moderator", "state": map[string]any{"rev": 1}, "sig": ck.Sig}}, "bad_checkpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.msg["t"] = "restore"
			_, err := a.Request(ctxFor(t), tc.msg)
			if codeOf(err) != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
			if now := cl.fields(t, r.ID, "wins")["wins"]; now != lost {
				t.Fatalf("the store changed: %+v, was %+v", now, lost)
			}
		})
	}
	// The genuine one restores; presented again, it is stale.
	genuine := map[string]any{"t": "restore", "field": "wins", "epoch": ck.Epoch, "version": ck.Version, "text": ck.Text, "sig": ck.Sig}
	if _, err := a.Request(ctxFor(t), genuine); err != nil {
		t.Fatalf("the genuine checkpoint was refused: %v", err)
	}
	back := cl.fields(t, r.ID, "wins")["wins"]
	if back.Text != ck.Text || back.Version != ck.Version || back.Epoch == ck.Epoch || back.Epoch == lost.Epoch {
		t.Fatalf("restored as %+v from %+v", back, ck)
	}
	if _, err := a.Request(ctxFor(t), genuine); codeOf(err) != "stale_checkpoint" {
		t.Fatalf("presented twice: %v, want stale_checkpoint", err)
	}
	cl.settle(t, r.ID, "wins", a)
}
