package client

import (
	"testing"
)

// startedSigned is started with a signed welcome: the checkpoint is wins
// at (e1, v) with text.
func startedSigned(t *testing.T, text string, v int64) *session {
	t.Helper()
	s := newSession("me", true)
	s.online = true
	s.handle(enc(map[string]any{"t": "welcome", "v": 1, "me": map[string]any{"role": "partner_a"},
		"room": map[string]any{"rev": 1}, "roomSig": "RS1",
		"fields": map[string]FieldSnapshot{"wins": {Epoch: "e1", Version: v, Text: text, Sig: "S0"}}}), t0)
	if s.fields["wins"] == nil {
		t.Fatal("welcome not taken")
	}
	return s
}

func TestCheckpointFollowsSignedFramesAndAcks(t *testing.T) {
	s := startedSigned(t, "ab", 4)
	d := s.fields["wins"]
	if d.ck == nil || d.ck.Version != 4 || d.ck.Text != "ab" || d.ck.Sig != "S0" {
		t.Fatalf("welcome checkpoint %+v", d.ck)
	}
	// A signed updates frame moves the checkpoint to the version it ends at.
	s.handle(enc(map[string]any{"t": "updates", "field": "wins", "epoch": "e1", "from": 4, "sig": "S5",
		"updates": []map[string]any{{"clientID": "o", "changes": []any{2, []any{0, "c"}}}}}), t0)
	if d.ck.Version != 5 || d.ck.Text != "abc" || d.ck.Sig != "S5" {
		t.Fatalf("after updates %+v", d.ck)
	}
	// Our push is acked with a signature before its echo: adopted when the
	// echo (unsigned here) brings the confirmed text to that version.
	mustEdit(t, s, 3, 0, "d")
	push := sent(t, s)
	s.handle(enc(map[string]any{"t": "ack", "re": push[0]["id"], "field": "wins", "version": 6, "sig": "S6"}), t0)
	if d.ck.Version != 5 {
		t.Fatalf("adopted the ack's checkpoint before the text reached it: %+v", d.ck)
	}
	s.handle(updates(5, "e1", `me [3,[0,"d"]]`), t0)
	if d.ck.Version != 6 || d.ck.Text != "abcd" || d.ck.Sig != "S6" {
		t.Fatalf("after echo %+v", d.ck)
	}
	checkSession(t, s)
}

// The bug of issue 11: a reset under the same epoch at a lower version,
// answering our push, was ignored and the client pushed forever.
func TestResetBelowOurPushIsTakenNotIgnored(t *testing.T) {
	s := started(t, "abc", 7) // unsigned: no checkpoint to present
	mustEdit(t, s, 3, 0, "!")
	push := sent(t, s)
	s.handle(enc(map[string]any{"t": "reset", "re": push[0]["id"], "field": "wins", "epoch": "e1", "version": 5, "text": "ab"}), t0)
	d := s.fields["wins"]
	if d.version != 5 || d.confirmed != "ab" || d.text != "ab!" {
		t.Fatalf("v%d confirmed %q text %q", d.version, d.confirmed, d.text)
	}
	again := sent(t, s)
	if len(again) != 1 || again[0]["t"] != "push" || again[0]["version"] != 5.0 {
		t.Fatalf("sent %v, want a push at 5", again)
	}
	checkSession(t, s)
}

func TestRollbackPresentsCheckpointAndWaits(t *testing.T) {
	s := startedSigned(t, "hello", 9)
	mustEdit(t, s, 5, 0, "!")
	push := sent(t, s)
	// Redis went back to version 6: the server moved the field to e2.
	s.handle(enc(map[string]any{"t": "reset", "re": push[0]["id"], "field": "wins", "epoch": "e2", "version": 6, "text": "hel", "sig": "X"}), t0)
	out := sent(t, s)
	if len(out) != 1 || out[0]["t"] != "restore" || out[0]["version"] != 9.0 || out[0]["text"] != "hello" || out[0]["sig"] != "S0" || out[0]["epoch"] != "e1" {
		t.Fatalf("sent %v, want the checkpoint presented", out)
	}
	s.tick(t0)
	if extra := sent(t, s); len(extra) != 0 {
		t.Fatalf("pushed while restoring: %v", extra)
	}
	// Restored under e3; every reader gets the reset.
	s.handle(enc(map[string]any{"t": "reset", "field": "wins", "epoch": "e3", "version": 9, "text": "hello", "sig": "S9"}), t0)
	s.handle(enc(map[string]any{"t": "ok", "re": out[0]["id"]}), t0)
	d := s.fields["wins"]
	if d.epoch != "e3" || d.version != 9 || d.text != "hello!" || d.ck.Sig != "S9" {
		t.Fatalf("after restore: %s v%d %q ck %+v", d.epoch, d.version, d.text, d.ck)
	}
	again := sent(t, s)
	if len(again) != 1 || again[0]["t"] != "push" || again[0]["epoch"] != "e3" {
		t.Fatalf("sent %v, want the pending edit pushed under e3", again)
	}
	checkSession(t, s)
}

func TestRefusedCheckpointTakesTheServersSnapshot(t *testing.T) {
	for _, code := range []string{"stale_checkpoint", "bad_checkpoint"} {
		t.Run(code, func(t *testing.T) {
			s := startedSigned(t, "hello", 9)
			s.handle(enc(map[string]any{"t": "reset", "field": "wins", "epoch": "e2", "version": 3, "text": "he"}), t0)
			out := sent(t, s)
			if len(out) != 1 || out[0]["t"] != "restore" {
				t.Fatalf("sent %v", out)
			}
			s.handle(enc(map[string]any{"t": "error", "re": out[0]["id"], "code": code, "message": "m"}), t0)
			d := s.fields["wins"]
			if d.ck != nil || d.epoch != "e2" || d.version != 3 || d.text != "he" {
				t.Fatalf("after refusal: %s v%d %q ck %+v", d.epoch, d.version, d.text, d.ck)
			}
			checkSession(t, s)
		})
	}
}

func TestRoomLostPresentsRoomThenFields(t *testing.T) {
	s := startedSigned(t, "hello", 9)
	mustEdit(t, s, 0, 0, ">")
	push := sent(t, s)
	s.handle(enc(map[string]any{"t": "error", "re": push[0]["id"], "code": "room_lost", "message": "m"}), t0)
	out := sent(t, s)
	if len(out) != 2 || out[0]["t"] != "restore" || out[0]["room"] == nil || out[1]["t"] != "restore" || out[1]["field"] != "wins" {
		t.Fatalf("sent %v, want the room then the field presented", out)
	}
	room := out[0]["room"].(map[string]any)
	if room["role"] != "partner_a" || room["sig"] != "RS1" {
		t.Fatalf("room checkpoint %v", room)
	}
	checkSession(t, s)
}

func TestVersionsSeenRecordsReuse(t *testing.T) {
	s := started(t, "abc", 2)
	s.handle(enc(map[string]any{"t": "reset", "field": "wins", "epoch": "e1", "version": 2, "text": "xyz"}), t0)
	s.handle(enc(map[string]any{"t": "welcome", "v": 1, "room": map[string]any{},
		"fields": map[string]FieldSnapshot{"wins": {Epoch: "e1", Version: 1, Text: "x"}}}), t0)
	s.handle(updates(1, "e1", `o [1,[0,"q"]]`), t0)
	if len(s.reused) == 0 {
		t.Fatalf("version 2 of e1 held abc, then xq: not reported (seen %v)", s.seen)
	}
}
