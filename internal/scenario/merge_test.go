package scenario_test

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"repairroom/internal/client"
	"repairroom/internal/room"
	"repairroom/internal/testnode"
)

// TestWipedSelfGuidedRoomKeepsBothPartnersPrivateAnswers: in a
// self-guided room (no moderator, so no seat holds the whole state) each
// partner answered a private question ("Do I want to try to repair?",
// visible to its owner only), on two nodes. Redis is wiped (FLUSHALL); the
// next act finds the room lost, both partners are told and present their
// views. The room is restored from the first view and the second is merged
// into it: Redis holds both answers, and after the next change each
// partner's view still shows its own answer and only that the other
// answered — never what.
func TestWipedSelfGuidedRoomKeepsBothPartnersPrivateAnswers(t *testing.T) {
	cl, r, a, b, before := answeredRoom(t, [2]func([]byte) bool{})

	ctx := ctxFor(t)
	if err := cl.rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// The act finds the room lost: every socket of the room is told.
	if _, err := a.Act(ctx, map[string]any{"act": "ready", "ready": true}); codeOf(err) != "room_lost" {
		t.Fatalf("an act on the wiped room: %v, want room_lost", err)
	}

	// Redis comes to hold both answers, at the rev the views were of.
	var stored room.State
	for {
		m, err := cl.nodes[0].Store.Meta(ctx, r.ID)
		stored = room.State{}
		if err == nil && json.Unmarshal(m.State, &stored) == nil &&
			len(stored.Values["want_a"]) > 0 && len(stored.Values["want_b"]) > 0 {
			stored.Rev = m.Rev
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Redis never held both answers: %s (%v)", m.State, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, want := string(stored.Values["want_a"]), mustJSON(t, answerA); got != want {
		t.Errorf("partner_a's answer came back as %s, want %s", got, want)
	}
	if got, want := string(stored.Values["want_b"]), mustJSON(t, answerB); got != want {
		t.Errorf("partner_b's answer came back as %s, want %s", got, want)
	}
	if stored.Rev != before.Rev || stored.Answered["want_a"] || stored.Answered["want_b"] {
		t.Errorf("restored at rev %d (views of %d), answered markers %v", stored.Rev, before.Rev, stored.Answered)
	}
	merges, misfits := 0, 0
	for _, n := range cl.nodes {
		merges += strings.Count(n.Log.String(), "merged a partner's view")
		misfits += strings.Count(n.Log.String(), "does not fit the restored room state")
	}
	if merges != 1 || misfits != 0 {
		t.Errorf("%d merges logged, want 1; %d views refused as not fitting, want 0", merges, misfits)
	}

	// The next change sends each partner its view of the merged state.
	act(t, b, map[string]any{"act": "ready", "ready": true})
	ownAnswersOnly(t, a, b, before.Rev)
	for _, c := range []*client.Client{a, b} {
		if err := c.Err(); err != nil {
			t.Errorf("a client stopped: %v", err)
		}
	}
}

// The private answers of answeredRoom.
const answerA, answerB = "Not yet", "I don't know"

// answeredRoom is a self-guided decide room on two nodes, partner_a on
// node 0 and partner_b on node 1 (each client seeing frames through its
// onFrame, when given), in which each partner answered the private
// question ("Do I want to try to repair?"). It returns once both hold
// their signed view of the same rev (at): their own answer, and the
// other's as answered. The nodes' logs are printed if the test fails.
func answeredRoom(t *testing.T, onFrame [2]func([]byte) bool) (*cluster, testnode.Room, *client.Client, *client.Client, room.State) {
	t.Helper()
	cl := startCluster(t, 2, testnode.Options{})
	r := cl.nodes[0].CreateRoom(t, "decide", "self")
	opts := func(i int) client.Options {
		return client.Options{AutoReconnect: true, MaxBackoff: 200 * time.Millisecond, OnFrame: onFrame[i]}
	}
	a := cl.dial(t, 0, r, "partner_a", opts(0))
	b := cl.dial(t, 1, r, "partner_b", opts(1))
	t.Cleanup(func() {
		if t.Failed() {
			for i, n := range cl.nodes {
				t.Logf("node %d log:\n%s", i, n.Log.String())
			}
		}
	})
	act(t, a, map[string]any{"act": "value.set", "field": "want_a", "value": answerA})
	act(t, b, map[string]any{"act": "value.set", "field": "want_b", "value": answerB})
	at := waitState(t, a, "partner_a's view of both answers", func(s room.State) bool { return s.Answered["want_b"] })
	waitState(t, b, "partner_b's view of both answers", func(s room.State) bool {
		return s.Answered["want_a"] && s.Rev == at.Rev
	})
	return cl, r, a, b, at
}

// ownAnswersOnly waits for each partner's view (a's, then b's) of a rev
// above rev and checks that it shows the partner's own answer and only
// that the other answered, and that no frame ever told a partner the
// other's answer. It returns the two views.
func ownAnswersOnly(t *testing.T, a, b *client.Client, rev int64) [2]room.State {
	t.Helper()
	var views [2]room.State
	for i, p := range []struct {
		name       string
		cl         *client.Client
		own, other string
		answer     string
	}{
		{"partner_a", a, "want_a", "want_b", answerA},
		{"partner_b", b, "want_b", "want_a", answerB},
	} {
		s := waitState(t, p.cl, p.name+"'s view after the restore", func(s room.State) bool { return s.Rev > rev })
		if got, want := string(s.Values[p.own]), mustJSON(t, p.answer); got != want {
			t.Errorf("%s's own answer in its view: %s, want %s", p.name, got, want)
		}
		if v, ok := s.Values[p.other]; ok || !s.Answered[p.other] {
			t.Errorf("%s's view of the other's answer: value %s, answered %v; want only answered", p.name, v, s.Answered[p.other])
		}
		views[i] = s
	}
	noLeakOf(t, "partner_a", a, `"want_b":`+mustJSON(t, answerB))
	noLeakOf(t, "partner_b", b, `"want_a":`+mustJSON(t, answerA))
	return views
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// noLeakOf checks that no frame cl received contains secret.
func noLeakOf(t *testing.T, who string, cl *client.Client, secret string) {
	t.Helper()
	for _, f := range cl.Frames() {
		if strings.Contains(string(f), secret) {
			t.Fatalf("%s received %s in %s", who, secret, f)
		}
	}
}

// TestWipedRoomKeepsAChangeOnlyOnePartnerSaw: partner_a's change was
// acknowledged (rev R+1) but had not reached partner_b, still at rev R,
// when Redis was wiped. Whichever view is presented first, the room comes
// back at R+1 with partner_a's change and with both partners' private
// answers, and no frame ever carries a partner's answer to the other.
func TestWipedRoomKeepsAChangeOnlyOnePartnerSaw(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first string // whose view is presented first: the other's waits for the restore
	}{
		{"newer view first", "partner_a"},
		{"older view first", "partner_b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cl *cluster // set before a gate reads it (the gate is atomic)
			var r testnode.Room
			const (
				pass = iota
				hideRoom
				holdLost
			)
			var gate [2]atomic.Int32 // per partner
			// frames holds back frames as the gate says: partner_b misses
			// room frames while hidden; after the wipe, the seat that is
			// not first handles "room_lost" only once the room is back.
			frames := func(i int) func(raw []byte) bool {
				return func(raw []byte) bool {
					switch gate[i].Load() {
					case hideRoom:
						return !strings.HasPrefix(string(raw), `{"t":"room"`)
					case holdLost:
						if strings.Contains(string(raw), `"room_lost"`) {
							ctx := ctxFor(t)
							for ctx.Err() == nil {
								if _, err := cl.nodes[0].Store.Meta(ctx, r.ID); err == nil {
									break
								}
								time.Sleep(5 * time.Millisecond)
							}
						}
					}
					return true
				}
			}
			cl, r, a, b, at := answeredRoom(t, [2]func([]byte) bool{frames(0), frames(1)})

			// partner_a's change is acknowledged; partner_b never sees it.
			gate[1].Store(hideRoom)
			act(t, a, map[string]any{"act": "ready", "ready": true})
			newer := waitState(t, a, "partner_a's view of its change", func(s room.State) bool { return s.Rev > at.Rev })

			ctx := ctxFor(t)
			if err := cl.rdb.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			later := 1
			if tc.first == "partner_b" {
				later = 0
			}
			gate[1-later].Store(pass)
			gate[later].Store(holdLost)
			if _, err := b.Act(ctx, map[string]any{"act": "value.set", "field": "want_b", "value": answerB}); codeOf(err) != "room_lost" {
				t.Fatalf("an act on the wiped room: %v, want room_lost", err)
			}

			// Redis comes to hold the change and both answers, at its rev.
			var stored room.State
			for {
				m, err := cl.nodes[0].Store.Meta(ctx, r.ID)
				stored = room.State{}
				if err == nil && json.Unmarshal(m.State, &stored) == nil &&
					len(stored.Values["want_a"]) > 0 && len(stored.Values["want_b"]) > 0 && stored.Ready["partner_a"] {
					stored.Rev = m.Rev
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("Redis never held the change and both answers: %s (%v)", m.State, err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if stored.Rev != newer.Rev || string(stored.Values["want_a"]) != mustJSON(t, answerA) || string(stored.Values["want_b"]) != mustJSON(t, answerB) {
				t.Errorf("restored at rev %d (partner_a's change at %d), values %s", stored.Rev, newer.Rev, mustJSON(t, stored.Values))
			}

			// partner_b is ready too: with partner_a's kept readiness the
			// room moves on, and each partner gets its view.
			act(t, b, map[string]any{"act": "ready", "ready": true})
			for i, s := range ownAnswersOnly(t, a, b, newer.Rev) {
				if s.Stage == newer.Stage {
					t.Errorf("%s's view still at stage %q: partner_a's readiness was lost", []string{"partner_a", "partner_b"}[i], s.Stage)
				}
			}
		})
	}
}
