package client

import (
	"testing"
)

// TestLineageConfirmsAckedUpdates: our push at e1 was acknowledged but its
// echo has not come when the field reaches us under another epoch. If the
// snapshot's lineage holds e1 up to the acknowledged version, the update
// is confirmed (it is in the text) and only the newer keystroke is pushed
// again; otherwise the update is rebased as pending (it may not be there).
// The bug this closes: a restore (e3, from e1) moved again by a Redis
// identity check (e4) lost the restoredFrom, and clients pushed their
// acknowledged updates a second time.
func TestLineageConfirmsAckedUpdates(t *testing.T) {
	lin := func(pairs ...any) []map[string]any {
		var out []map[string]any
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, map[string]any{"epoch": pairs[i], "version": pairs[i+1]})
		}
		return out
	}
	cases := []struct {
		name string
		// via: "reset" (the frame below), or "welcome" after a reconnect
		via     string
		frame   map[string]any
		confirm bool
		text    string // the local text afterwards
	}{
		{"moved twice: e1 -> e3 -> e4", "reset",
			map[string]any{"epoch": "e4", "version": 8, "text": "abc!", "lineage": lin("e3", 8, "e1", 8)}, true, "abc!?"},
		{"in the lineage at a later version", "reset",
			map[string]any{"epoch": "e4", "version": 9, "text": "abc!x", "lineage": lin("e1", 9)}, true, "abc!x?"},
		{"in the lineage below our ack", "reset",
			map[string]any{"epoch": "e4", "version": 7, "text": "abc", "lineage": lin("e1", 7)}, false, "abc!?"},
		{"not in the lineage", "reset",
			map[string]any{"epoch": "e4", "version": 8, "text": "abc!", "lineage": lin("e3", 8, "e0", 8)}, false, "abc!!?"},
		{"restoredFrom alone (older servers)", "reset",
			map[string]any{"epoch": "e3", "version": 8, "text": "abc!", "restoredFrom": "e1"}, true, "abc!?"},
		{"welcome after a reconnect", "welcome",
			map[string]any{"epoch": "e4", "version": 8, "text": "abc!", "lineage": lin("e3", 8, "e1", 8)}, true, "abc!?"},
		{"welcome without lineage", "welcome",
			map[string]any{"epoch": "e4", "version": 8, "text": "abc!"}, false, "abc!!?"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := started(t, "abc", 7)
			mustEdit(t, s, 3, 0, "!")
			push := sent(t, s)
			s.handle(enc(map[string]any{"t": "ack", "re": push[0]["id"], "field": "wins", "version": 8}), t0)
			mustEdit(t, s, 4, 0, "?") // waits for the echo of "!"
			if out := sent(t, s); len(out) != 0 {
				t.Fatalf("pushed before the echo: %v", out)
			}
			f := map[string]any{"field": "wins"}
			for k, v := range tc.frame {
				f[k] = v
			}
			if tc.via == "welcome" {
				s.disconnected()
				s.online = true
				s.handle(enc(map[string]any{"t": "welcome", "v": 1, "room": map[string]any{}, "fields": map[string]any{"wins": f}}), t0)
			} else {
				f["t"] = "reset"
				s.handle(enc(f), t0)
			}
			d := s.fields["wins"]
			if d.epoch != tc.frame["epoch"] || d.text != tc.text {
				t.Fatalf("after the %s: %s v%d %q, want %s %q", tc.via, d.epoch, d.version, d.text, tc.frame["epoch"], tc.text)
			}
			confirmed := len(s.confirmations) == 1 && s.confirmations[0].Version == 8 && s.confirmations[0].Epoch == "e1"
			if confirmed != tc.confirm {
				t.Fatalf("confirmations %+v, want confirmed %v", s.confirmations, tc.confirm)
			}
			wantPending := 1
			if !tc.confirm {
				wantPending = 2
			}
			if tc.name == "in the lineage below our ack" {
				// the text lacks "!": both edits are still ours to send
				wantPending = 2
			}
			if len(d.pending) != wantPending {
				t.Fatalf("%d pending, want %d", len(d.pending), wantPending)
			}
			checkSession(t, s)
		})
	}
}

// TestLateResetToAnAncestorEpochIsIgnored: the restore's reset (e3) can
// reach us after the reset of the move that followed it (e4, whose lineage
// holds e3 at that version): taking it would take us back to e3, and our
// next push there would be answered with e4 again, without the ack we
// had meanwhile under e4 being confirmable.
func TestLateResetToAnAncestorEpochIsIgnored(t *testing.T) {
	s := started(t, "abc", 7)
	s.handle(enc(map[string]any{"t": "reset", "field": "wins", "epoch": "e4", "version": 8, "text": "abc!",
		"lineage": []map[string]any{{"epoch": "e3", "version": 8}, {"epoch": "e1", "version": 8}}}), t0)
	mustEdit(t, s, 4, 0, "?")
	push := sent(t, s)
	if len(push) != 1 || push[0]["epoch"] != "e4" {
		t.Fatalf("sent %v, want a push under e4", push)
	}
	s.handle(enc(map[string]any{"t": "ack", "re": push[0]["id"], "field": "wins", "version": 9}), t0)
	s.handle(enc(map[string]any{"t": "reset", "field": "wins", "epoch": "e3", "version": 8, "text": "abc!", "restoredFrom": "e1"}), t0)
	d := s.fields["wins"]
	if d.epoch != "e4" || d.text != "abc!?" || d.ackedN != 1 {
		t.Fatalf("after the late reset: %s v%d %q acked %d", d.epoch, d.version, d.text, d.ackedN)
	}
	// A newer version of an ancestor epoch is not ours to ignore.
	s.handle(enc(map[string]any{"t": "reset", "field": "wins", "epoch": "e3", "version": 12, "text": "abc!?..."}), t0)
	if d.epoch != "e3" {
		t.Fatalf("a reset to e3 at 12 (above what e4 holds of it) was ignored")
	}
	checkSession(t, s)
}
