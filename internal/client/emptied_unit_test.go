package client

import (
	"testing"
	"time"
)

// emptiedPending leaves s with one pending deletion that a partner's
// identical deletion (version v+1) emptied, and returns what s sent
// before the partner's update arrived.
func emptiedPending(t *testing.T, s *session, v int64) {
	t.Helper()
	d := s.fields["wins"]
	s.handle(updates(v, "e1", `other [5,[6]]`), t0)
	if d.text != "hello" || len(d.pending) != 1 || !d.pending[0].changes.Empty() {
		t.Fatalf("local %q, pending %d", d.text, len(d.pending))
	}
}

func TestEmptiedUpdateIsDroppedNotPushed(t *testing.T) {
	cases := []struct {
		name string
		// lose answers the push (or not) before the partner's update,
		// after runs after it.
		lose, after func(s *session)
		// pulls first: the client must ask the server before dropping.
		pullsFirst bool
	}{
		{name: "refused while held back", lose: func(s *session) {
			// The push was refused (locked): nothing stored, its fate known.
			push := sent(t, s)[0]
			s.handle(enc(map[string]any{"t": "error", "re": push["id"], "code": "locked", "message": "locked"}), t0)
		}, after: func(s *session) {
			s.fields["wins"].refused = nil // the room changed
		}},
		{name: "no reply", lose: func(s *session) {
			s.take()
		}, after: func(s *session) {
			s.tick(t0.Add(replyTimeout + time.Second)) // given up: it may be stored
		}, pullsFirst: true},
		{name: "storage unavailable", lose: func(s *session) {
			push := sent(t, s)[0]
			s.handle(enc(map[string]any{"t": "error", "re": push["id"], "code": "unavailable", "message": "x"}), t0)
			s.take()
		}, pullsFirst: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := started(t, "hello world", 4)
			d := s.fields["wins"]
			if err := s.edit("wins", 5, 6, ""); err != nil {
				t.Fatal(err)
			}
			s.pump(t0)
			c.lose(s)
			emptiedPending(t, s, 4)
			if c.after != nil {
				c.after(s)
			}
			now := t0.Add(time.Minute)
			s.pump(now)
			out := sent(t, s)
			for _, m := range out {
				if m["t"] == "push" {
					t.Fatalf("pushed %v", m)
				}
			}
			if c.pullsFirst {
				if len(out) != 1 || out[0]["t"] != "pull" || len(d.pending) != 1 {
					t.Fatalf("sent %v, pending %d: want one pull and the update kept", out, len(d.pending))
				}
				// The server holds nothing of ours after version 5.
				s.handle(enc(map[string]any{"t": "updates", "re": out[0]["id"], "field": "wins", "epoch": "e1", "from": 5, "updates": []any{}}), now)
				if out := sent(t, s); len(out) != 0 {
					t.Fatalf("sent %v", out)
				}
			}
			if len(d.pending) != 0 || s.emptied["wins"] != 1 {
				t.Fatalf("pending %d, emptied %d", len(d.pending), s.emptied["wins"])
			}
			if ok, err := s.settled(0); !ok && err == nil {
				t.Fatal("not settled")
			}
			checkSession(t, s)
		})
	}
}

// TestEmptiedUpdateStoredUnechoedIsConfirmed: the push whose reply was
// lost had been stored; the pull that precedes any drop brings its echo,
// which confirms it (the emptied update is not dropped first).
func TestEmptiedUpdateStoredUnechoedIsConfirmed(t *testing.T) {
	s := started(t, "hello world", 4)
	d := s.fields["wins"]
	if err := s.edit("wins", 5, 6, ""); err != nil {
		t.Fatal(err)
	}
	s.pump(t0)
	s.take() // stored at version 6, after the partner's; the ack is lost
	emptiedPending(t, s, 4)
	now := t0.Add(replyTimeout + time.Second)
	s.tick(now)
	out := sent(t, s)
	if len(out) != 1 || out[0]["t"] != "pull" {
		t.Fatalf("sent %v", out)
	}
	s.handle(enc(map[string]any{"t": "updates", "re": out[0]["id"], "field": "wins", "epoch": "e1", "from": 5,
		"updates": []any{map[string]any{"clientID": "me", "changes": []any{5}}}}), now)
	if d.version != 6 || len(d.pending) != 0 || s.emptied["wins"] != 0 || len(s.confirmations) != 1 {
		t.Fatalf("v%d pending %d emptied %d confirmations %d", d.version, len(d.pending), s.emptied["wins"], len(s.confirmations))
	}
	if out := sent(t, s); len(out) != 0 {
		t.Fatalf("sent %v", out)
	}
	checkSession(t, s)
}

// TestBadChangesReloadsFromTheServer: a push refused bad_changes is
// reported, and the field is reloaded from a snapshot (taken even at our
// own version), so the next push is rebuilt on the server's text rather
// than the refused one again.
func TestBadChangesReloadsFromTheServer(t *testing.T) {
	s := started(t, "abc", 2)
	d := s.fields["wins"]
	d.confirmed = "abX" // our view drifted from the server's
	d.text = "abX"
	if err := s.edit("wins", 3, 0, "!"); err != nil {
		t.Fatal(err)
	}
	s.pump(t0)
	push := sent(t, s)[0]
	s.handle(enc(map[string]any{"t": "error", "re": push["id"], "code": "bad_changes", "message": "update 0 does not fit"}), t0)
	if ok, err := s.settled(0); ok || codeOfErr(err) != "bad_changes" {
		t.Fatalf("settled %v, %v: want the refusal reported", ok, err)
	}
	out := sent(t, s)
	if len(out) != 1 || out[0]["t"] != "pull" || out[0]["epoch"] != "" {
		t.Fatalf("sent %v: want a snapshot pull", out)
	}
	s.handle(enc(map[string]any{"t": "reset", "re": out[0]["id"], "field": "wins", "epoch": "e1", "version": 2, "text": "abcd"}), t0)
	if d.confirmed != "abcd" || d.text != "abcd!" || len(d.pending) != 1 {
		t.Fatalf("confirmed %q local %q pending %d", d.confirmed, d.text, len(d.pending))
	}
	d.refused = nil // as Sync does
	s.pump(t0)
	again := sent(t, s)
	if len(again) != 1 || again[0]["t"] != "push" || string(enc(again[0]["updates"])) == string(enc(push["updates"])) {
		t.Fatalf("sent %v after %v", again, push)
	}
	checkSession(t, s)
}

func codeOfErr(err error) string {
	if e, ok := err.(interface{ Unwrap() error }); ok {
		if se, ok := e.Unwrap().(*ServerError); ok {
			return se.Code
		}
	}
	if se, ok := err.(*ServerError); ok {
		return se.Code
	}
	return ""
}
