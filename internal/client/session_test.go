package client

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1000, 0)

// started returns an online session that received a welcome with wins at
// version v holding text under epoch "e1".
func started(t *testing.T, text string, v int64) *session {
	t.Helper()
	s := newSession("me", true)
	s.online = true
	s.handle(enc(map[string]any{"t": "welcome", "v": 1, "room": map[string]any{},
		"fields": map[string]FieldSnapshot{"wins": {Epoch: "e1", Version: v, Text: text}}}), t0)
	if s.fields["wins"] == nil {
		t.Fatal("welcome not taken")
	}
	return s
}

func sent(t *testing.T, s *session) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, b := range s.take() {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func updates(from int64, epoch string, ups ...string) []byte {
	var list []map[string]any
	for _, u := range ups {
		id, ch, _ := strings.Cut(u, " ")
		list = append(list, map[string]any{"clientID": id, "changes": json.RawMessage(ch)})
	}
	return enc(map[string]any{"t": "updates", "field": "wins", "epoch": epoch, "from": from, "updates": list})
}

func mustEdit(t *testing.T, s *session, pos, del int, ins string) {
	t.Helper()
	if err := s.edit("wins", pos, del, ins); err != nil {
		t.Fatal(err)
	}
	s.pump(t0)
}

func TestRemoteUpdateRebasesPendingLikeCollab(t *testing.T) {
	s := started(t, "abc", 0)
	mustEdit(t, s, 1, 0, "X")
	s.take()
	// Another client inserted at the same place first: as in collab
	// (unconfirmed.map(remote)), the remote insertion goes first.
	s.handle(updates(0, "e1", `other [1,[0,"Y"],2]`), t0)
	d := s.fields["wins"]
	if d.confirmed != "aYbc" || d.version != 1 || d.text != "aYXbc" {
		t.Fatalf("confirmed %q v%d, local %q", d.confirmed, d.version, d.text)
	}
	if got := string(d.pending[0].raw); got != `[2,[0,"X"],2]` {
		t.Fatalf("pending rebased to %s", got)
	}
	checkSession(t, s)
}

func TestEchoConfirmsOwnUpdateThenRemoteOnesApply(t *testing.T) {
	s := started(t, "", 0)
	mustEdit(t, s, 0, 0, "hi 👍🏽")
	push := sent(t, s)
	if len(push) != 1 || push[0]["t"] != "push" || push[0]["version"] != 0.0 {
		t.Fatalf("sent %v", push)
	}
	mustEdit(t, s, 7, 0, "!") // while the first is in flight: not sent yet
	if len(s.take()) != 0 {
		t.Fatal("a second push went out while one was in flight")
	}
	s.handle(enc(map[string]any{"t": "ack", "re": push[0]["id"], "field": "wins", "version": 1}), t0)
	if len(s.take()) != 0 {
		t.Fatal("pushed again before our echo arrived")
	}
	// Our echo, then someone else's update, in one message.
	s.handle(updates(0, "e1", `me [[0,"hi 👍🏽"]]`, `other [[3,"yo"],4]`), t0)
	d := s.fields["wins"]
	if d.confirmed != "yo👍🏽" || d.text != "yo👍🏽!" || len(d.pending) != 1 {
		t.Fatalf("confirmed %q local %q pending %d", d.confirmed, d.text, len(d.pending))
	}
	if len(s.confirmations) != 1 || s.confirmations[0].Version != 1 || len(s.acks) != 1 || s.acks[0].Version != 1 {
		t.Fatalf("confirmations %+v acks %+v", s.confirmations, s.acks)
	}
	// The remaining edit is pushed at the new version.
	next := sent(t, s)
	if len(next) != 1 || next[0]["version"] != 2.0 {
		t.Fatalf("sent %v", next)
	}
	checkSession(t, s)
}

func TestOldAndDuplicateUpdatesAreIgnored(t *testing.T) {
	s := started(t, "ab", 3)
	s.handle(updates(1, "e1", `x [[2,"zz"]]`, `x [[2,"q"]]`), t0) // versions 1, 2: already here
	s.handle(updates(3, "e1", `x [2,[0,"c"]]`), t0)
	s.handle(updates(3, "e1", `x [2,[0,"c"]]`), t0) // the same again (pull and fan-out)
	s.handle(updates(2, "e1", `x [[2,"q"]]`, `x [2,[0,"c"]]`, `x [3,[0,"d"]]`), t0)
	if d := s.fields["wins"]; d.text != "abcd" || d.version != 5 {
		t.Fatalf("%q v%d", d.text, d.version)
	}
	if s.anomalies != 0 {
		t.Fatalf("%d anomalies", s.anomalies)
	}
}

func TestGapIsPulledNotApplied(t *testing.T) {
	s := started(t, "ab", 3)
	s.handle(updates(5, "e1", `x [2,[0,"c"]]`), t0)
	out := sent(t, s)
	if len(out) != 1 || out[0]["t"] != "pull" || out[0]["since"] != 3.0 || out[0]["epoch"] != "e1" {
		t.Fatalf("sent %v", out)
	}
	if d := s.fields["wins"]; d.version != 3 || d.text != "ab" {
		t.Fatalf("applied across a gap: %q v%d", d.text, d.version)
	}
	// A second gapped message while the pull is out does not pull again.
	s.handle(updates(6, "e1", `x [3,[0,"d"]]`), t0)
	if more := sent(t, s); len(more) != 0 {
		t.Fatalf("sent %v", more)
	}
	// The reply fills in 3..5, but the message at 6 was dropped: pull again.
	s.handle(enc(map[string]any{"t": "updates", "re": out[0]["id"], "field": "wins", "epoch": "e1", "from": 3,
		"updates": []any{
			map[string]any{"clientID": "x", "changes": json.RawMessage(`[[2,"A"]]`)},
			map[string]any{"clientID": "x", "changes": json.RawMessage(`[[1,"B"]]`)},
			map[string]any{"clientID": "x", "changes": json.RawMessage(`[1,[0,"c"]]`)},
		}}), t0)
	if d := s.fields["wins"]; d.text != "Bc" || d.version != 6 {
		t.Fatalf("%q v%d", d.text, d.version)
	}
	if again := sent(t, s); len(again) != 1 || again[0]["t"] != "pull" || again[0]["since"] != 6.0 {
		t.Fatalf("after the pull: sent %v", again)
	}
}

func TestBehindWaitsForTheMissedUpdatesThenPushesAgain(t *testing.T) {
	s := started(t, "x", 0)
	mustEdit(t, s, 1, 0, "1")
	push := sent(t, s)
	s.handle(enc(map[string]any{"t": "behind", "re": push[0]["id"], "field": "wins", "version": 1}), t0)
	if out := sent(t, s); len(out) != 0 {
		t.Fatalf("pushed again before the missed update: %v", out)
	}
	s.handle(updates(0, "e1", `other [[1,"y"]]`), t0)
	out := sent(t, s)
	if len(out) != 1 || out[0]["t"] != "push" || out[0]["version"] != 1.0 {
		t.Fatalf("sent %v", out)
	}
	ups, _ := json.Marshal(out[0]["updates"])
	if string(ups) != `[{"changes":[1,[0,"1"]],"clientID":"me"}]` {
		t.Fatalf("re-push carries %s", ups)
	}
}

func TestResetRebasesPendingOntoSnapshot(t *testing.T) {
	s := started(t, "hello", 4)
	mustEdit(t, s, 5, 0, " world")
	mustEdit(t, s, 0, 1, "J")
	s.take()
	s.handle(enc(map[string]any{"t": "reset", "field": "wins", "epoch": "e2", "version": 0, "text": ""}), t0)
	d := s.fields["wins"]
	if d.epoch != "e2" || d.version != 0 || d.confirmed != "" || d.text != "J world" {
		t.Fatalf("after reset: epoch %s v%d confirmed %q local %q", d.epoch, d.version, d.confirmed, d.text)
	}
	checkSession(t, s)
	// The edits go out at the new epoch and version.
	s.fields["wins"].inFlight = ""
	s.pump(t0)
	out := sent(t, s)
	if len(out) != 1 || out[0]["epoch"] != "e2" || out[0]["version"] != 0.0 {
		t.Fatalf("sent %v", out)
	}
}

func TestResumeSameEpochPushesAtConfirmedVersion(t *testing.T) {
	s := started(t, "ab", 2)
	mustEdit(t, s, 2, 0, "c")
	s.take()
	s.disconnected()
	mustEdit(t, s, 3, 0, "d") // offline
	s.online = true
	s.handle(enc(map[string]any{"t": "welcome", "v": 1, "room": map[string]any{},
		"fields": map[string]FieldSnapshot{"wins": {Epoch: "e1", Version: 3, Text: "abc"}}}), t0)
	out := sent(t, s)
	if len(out) != 1 || out[0]["t"] != "push" || out[0]["version"] != 2.0 {
		t.Fatalf("resume sent %v", out)
	}
	// The server stored "c" before the connection dropped: behind, then
	// the log from 2, where our own update is confirmed by clientID.
	s.handle(enc(map[string]any{"t": "behind", "re": out[0]["id"], "field": "wins", "version": 3}), t0)
	s.handle(updates(2, "e1", `me [2,[0,"c"]]`), t0)
	d := s.fields["wins"]
	if d.confirmed != "abc" || d.text != "abcd" || len(d.pending) != 1 {
		t.Fatalf("confirmed %q local %q pending %d", d.confirmed, d.text, len(d.pending))
	}
	out = sent(t, s)
	if len(out) != 1 || out[0]["version"] != 3.0 {
		t.Fatalf("sent %v", out)
	}
}

func TestResumeOtherEpochTakesSnapshot(t *testing.T) {
	s := started(t, "old text", 7)
	s.disconnected()
	mustEdit(t, s, 8, 0, " + mine")
	s.online = true
	s.handle(enc(map[string]any{"t": "welcome", "v": 1, "room": map[string]any{},
		"fields": map[string]FieldSnapshot{"wins": {Epoch: "e9", Version: 0, Text: ""}}}), t0)
	d := s.fields["wins"]
	if d.text != " + mine" || d.epoch != "e9" {
		t.Fatalf("local %q epoch %s", d.text, d.epoch)
	}
	out := sent(t, s)
	if len(out) != 1 || out[0]["epoch"] != "e9" || out[0]["version"] != 0.0 {
		t.Fatalf("sent %v", out)
	}
}

func TestRevealedDraftIsFetched(t *testing.T) {
	s := started(t, "", 0)
	s.handle(enc(map[string]any{"t": "room", "room": map[string]any{"rev": 1, "revealed": map[string]bool{"one.partner_b": true}}}), t0)
	out := sent(t, s)
	if len(out) != 1 || out[0]["t"] != "pull" || out[0]["field"] != "one.partner_b" || out[0]["epoch"] != "" {
		t.Fatalf("sent %v", out)
	}
	s.handle(enc(map[string]any{"t": "reset", "re": out[0]["id"], "field": "one.partner_b", "epoch": "e5", "version": 2, "text": "thanks"}), t0)
	if d := s.fields["one.partner_b"]; d == nil || d.text != "thanks" {
		t.Fatalf("draft not taken: %+v", d)
	}
}

func TestRefusedPushStaysPendingUntilTheRoomChanges(t *testing.T) {
	s := started(t, "", 0)
	mustEdit(t, s, 0, 0, "x")
	out := sent(t, s)
	s.handle(enc(map[string]any{"t": "error", "re": out[0]["id"], "code": "on_break", "message": "break"}), t0)
	if s.refusals != 1 || len(s.fields["wins"].pending) != 1 || len(s.take()) != 0 {
		t.Fatalf("refusals %d, pending %d", s.refusals, len(s.fields["wins"].pending))
	}
	s.handle(enc(map[string]any{"t": "room", "room": map[string]any{"rev": 2}}), t0)
	if out := sent(t, s); len(out) != 1 || out[0]["t"] != "push" {
		t.Fatalf("no retry after the room changed: %v", out)
	}
}

func TestEditChecksRange(t *testing.T) {
	s := started(t, "a👍b", 0)
	for _, c := range []struct{ pos, del int }{{-1, 0}, {0, 5}, {5, 0}, {2, 0}, {1, 1}} {
		if err := s.edit("wins", c.pos, c.del, "x"); err == nil {
			t.Errorf("edit %d+%d accepted", c.pos, c.del)
		}
	}
	if err := s.edit("nope", 0, 0, "x"); err == nil {
		t.Error("edit of an unknown field accepted")
	}
	mustEdit(t, s, 1, 2, "\r\n")
	if d := s.fields["wins"]; d.text != "a\nb" {
		t.Fatalf("%q", d.text)
	}
}

func TestDiffSetKeepsSurrogatePairsWhole(t *testing.T) {
	cases := [][2]string{
		{"", ""}, {"", "a"}, {"abc", ""}, {"👍🏽", "👍🏾"}, {"a😀b", "a😁b"},
		{"e\u0301", "e\u0300"}, {"same", "same"}, {"line\nline", "line\n\nline"},
	}
	for _, c := range cases {
		cs, err := diffSet(c[0], c[1])
		if err != nil {
			t.Fatalf("%q -> %q: %v", c[0], c[1], err)
		}
		got, err := cs.Apply(c[0])
		if err != nil || got != c[1] {
			t.Fatalf("%q -> %q: got %q, %v", c[0], c[1], got, err)
		}
	}
}

func TestRoomOlderThanHeldIsIgnored(t *testing.T) {
	s := newSession("me", false)
	s.online = true
	s.handle(enc(map[string]any{"t": "welcome", "v": 1, "room": map[string]any{"rev": 5, "stage": "b"}, "fields": map[string]any{}}), t0)
	// Held back until after the welcome, already contained in it.
	s.handle(enc(map[string]any{"t": "room", "room": map[string]any{"rev": 5, "stage": "a"}}), t0)
	s.handle(enc(map[string]any{"t": "room", "room": map[string]any{"rev": 4, "stage": "a"}}), t0)
	if string(s.room) != `{"rev":5,"stage":"b"}` {
		t.Fatalf("room %s", s.room)
	}
	s.handle(enc(map[string]any{"t": "room", "room": map[string]any{"rev": 6, "stage": "c"}}), t0)
	if string(s.room) != `{"rev":6,"stage":"c"}` {
		t.Fatalf("room %s", s.room)
	}
}

// An acknowledged push whose echo was lost with the connection is not
// pushed again after the welcome: the client fetches the echo, confirms
// its own update by clientID, and only then pushes what is left.
func TestResumeAfterAckFetchesTheEchoInsteadOfPushingAgain(t *testing.T) {
	s := started(t, "ab", 2)
	mustEdit(t, s, 2, 0, "c")
	out := sent(t, s)
	if len(out) != 1 || out[0]["t"] != "push" {
		t.Fatalf("sent %v", out)
	}
	s.handle(enc(map[string]any{"t": "ack", "re": out[0]["id"], "field": "wins", "version": 3}), t0)
	s.disconnected()
	mustEdit(t, s, 3, 0, "d") // offline
	s.online = true
	s.handle(enc(map[string]any{"t": "welcome", "v": 1, "room": map[string]any{},
		"fields": map[string]FieldSnapshot{"wins": {Epoch: "e1", Version: 3, Text: "abc"}}}), t0)
	out = sent(t, s)
	if len(out) != 1 || out[0]["t"] != "pull" || out[0]["since"] != 2.0 {
		t.Fatalf("resume sent %v, want one pull from 2", out)
	}
	up := updates(2, "e1", `me [2,[0,"c"]]`)
	var m map[string]any
	if err := json.Unmarshal(up, &m); err != nil {
		t.Fatal(err)
	}
	m["re"] = out[0]["id"]
	s.handle(enc(m), t0)
	d := s.fields["wins"]
	if d.confirmed != "abc" || d.text != "abcd" || len(d.pending) != 1 {
		t.Fatalf("confirmed %q local %q pending %d", d.confirmed, d.text, len(d.pending))
	}
	out = sent(t, s)
	if len(out) != 1 || out[0]["t"] != "push" || out[0]["version"] != 3.0 || len(out[0]["updates"].([]any)) != 1 {
		t.Fatalf("sent %v, want a push of the one update left at version 3", out)
	}
}
