package scenario_test

import (
	"testing"

	"repairroom/internal/client"
	"repairroom/internal/room"
	"repairroom/internal/testnode"
)

// TestRefusedPushesChangeNothing: pushes the rules forbid are refused with
// the code that says why, and the field in Redis is left as it was.
func TestRefusedPushesChangeNothing(t *testing.T) {
	cl := startCluster(t, 1, testnode.Options{})
	r := cl.nodes[0].CreateRoom(t, "checkin", "guided")
	mod := cl.dial(t, 0, r, "moderator", client.Options{})
	a := cl.dial(t, 0, r, "partner_a", client.Options{})
	b := cl.dial(t, 0, r, "partner_b", client.Options{})
	clients := map[string]*client.Client{"partner_a": a, "partner_b": b}

	// Something to protect in each field, written at the stage it belongs to.
	appendText(t, a, "wins", "a small win")
	appendText(t, mod, "notes", "moderator's private note")
	cl.settle(t, r.ID, "wins", a, b, mod)
	cl.settle(t, r.ID, "notes", mod)
	act(t, mod, map[string]any{"act": "stage.set", "stage": "hard"})
	for _, c := range []*client.Client{a, b} {
		waitState(t, c, "stage hard", func(s room.State) bool { return s.Stage == "hard" })
	}
	appendText(t, a, "hard_a", "hard for a")
	appendText(t, b, "hard_b", "hard for b")
	cl.settle(t, r.ID, "hard_a", a, b, mod)
	cl.settle(t, r.ID, "hard_b", a, b, mod)

	cases := []struct {
		name, role, key, code string
		before, after         map[string]any // moderator acts around the push
	}{
		{name: "the other partner's field", role: "partner_a", key: "hard_b", code: "forbidden"},
		{name: "a locked stage", role: "partner_a", key: "hard_a", code: "locked",
			before: map[string]any{"act": "stage.lock", "stage": "hard", "locked": true},
			after:  map[string]any{"act": "stage.lock", "stage": "hard", "locked": false}},
		{name: "the moderator's notes", role: "partner_b", key: "notes", code: "unknown_field"},
		{name: "during a break", role: "partner_b", key: "hard_b", code: "on_break",
			before: map[string]any{"act": "break.start", "minutes": 20, "reason": "a pause"},
			after:  map[string]any{"act": "break.end"}},
		{name: "a field of another stage", role: "partner_a", key: "wins", code: "forbidden"},
		{name: "no such field", role: "partner_a", key: "nope", code: "unknown_field"},
	}
	keys := []string{"wins", "notes", "hard_a", "hard_b"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				act(t, mod, tc.before)
			}
			before := cl.fields(t, r.ID, keys...)
			if got := rawPush(t, clients[tc.role], tc.key, "INTRUDER"); got != tc.code {
				t.Fatalf("want %s, got %q", tc.code, got)
			}
			after := cl.fields(t, r.ID, keys...)
			for _, k := range keys {
				if before[k] != after[k] {
					t.Fatalf("%s changed: %+v -> %+v", k, before[k], after[k])
				}
			}
			if tc.after != nil {
				act(t, mod, tc.after)
			}
		})
	}
	// With the lock and the break lifted, the same pushes go through.
	if got := rawPush(t, a, "hard_a", "allowed "); got != "" {
		t.Fatalf("push after unlocking: %s", got)
	}
	if got := rawPush(t, b, "hard_b", "allowed "); got != "" {
		t.Fatalf("push after the break: %s", got)
	}
	noLeak(t, "partner_a", a, "moderator's private note")
	noLeak(t, "partner_b", b, "moderator's private note")
}
