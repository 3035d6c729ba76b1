package room

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestReadersOfPrivateFields(t *testing.T) {
	tpl := testTemplate(t)
	for _, tc := range []struct {
		mode Mode
		key  string
		want string
	}{
		{Guided, "priv_a", "partner_a moderator"},
		{SelfGuided, "priv_a", ""},
		{Guided, "rate_b", "partner_b moderator"},
		{SelfGuided, "rate_b", "partner_b"},
		{Guided, "screen_a", "partner_a moderator"},
		{Guided, "priv_a.partner_a", ""},
	} {
		s := roomAt(tpl, "open")
		s.Mode = tc.mode
		if got := roles(Readers(tpl, s, tc.key)); got != tc.want {
			t.Errorf("%s %s: readers %q, want %q", tc.mode, tc.key, got, tc.want)
		}
	}
}

// TestPrivateViewShowsThatItWasAnsweredNeverWhat: the other partner's view
// of a room where partner_a answered "no" to the safety screen, rated their
// safety and asked for a private break is the same as if they had answered
// "yes": only "answered".
func TestPrivateViewShowsThatItWasAnsweredNeverWhat(t *testing.T) {
	tpl := testTemplate(t)
	views := map[string]string{}
	for _, answer := range []string{`"no"`, `"yes"`} {
		s := roomAt(tpl, "open")
		env := testEnv()
		var err error
		for _, a := range []Action{
			{Act: ActValueSet, Field: "screen_a", Value: json.RawMessage(answer)},
			{Act: ActValueSet, Field: "safe_a", Value: json.RawMessage("3")},
			{Act: ActBreakRequest, Reason: "I feel flooded " + answer, Minutes: 40},
		} {
			by := PartnerA
			if s, _, err = Apply(tpl, s, by, a, env); err != nil {
				t.Fatal(err)
			}
		}
		s, _, err = Apply(tpl, s, PartnerB, Action{Act: ActValueSet, Field: "rate_b", Value: json.RawMessage("2")}, env)
		if err != nil {
			t.Fatal(err)
		}
		mod := View(tpl, s, Moderator)
		if answer == `"no"` && mod.Alerts["screen_a"].Value != "no" {
			t.Errorf("the moderator has no alert: %+v", mod.Alerts)
		}
		if mod.BreakRequest == nil || mod.BreakRequest.Reason == "" || mod.BreakRequest.Minutes != 40 {
			t.Errorf("the moderator's view of the request: %+v", mod.BreakRequest)
		}
		if own := View(tpl, s, PartnerA); string(own.Values["screen_a"]) != answer || own.BreakRequest.Reason == "" {
			t.Errorf("partner_a's own view lost their answer: %+v", own)
		}
		b := View(tpl, s, PartnerB)
		if !b.Answered["screen_a"] || b.Answered["safe_a"] || b.Answered["rate_b"] {
			t.Errorf("answered = %v, want screen_a only (safe_a is everyone's, rate_b is b's own)", b.Answered)
		}
		if _, ok := b.Values["screen_a"]; ok || b.Alerts != nil || b.BreakRequest.Reason != "" {
			t.Errorf("partner_b sees private content: %+v", b)
		}
		bj, _ := json.Marshal(b)
		views[answer] = strings.ReplaceAll(string(bj), answer, "")
		if strings.Contains(string(bj), "flooded") {
			t.Errorf("the reason reached partner_b: %s", bj)
		}
	}
	if views[`"no"`] != views[`"yes"`] {
		t.Errorf("partner_b's view depends on partner_a's private answer:\n%s\n%s", views[`"no"`], views[`"yes"`])
	}
}

func TestSharedBreakReasonReachesTheOtherPartner(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	s, _, err := Apply(tpl, s, PartnerA, Action{Act: ActBreakRequest, Reason: "I need air", Share: true}, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	if View(tpl, s, PartnerB).BreakRequest.Reason != "I need air" {
		t.Error("a shared reason is hidden from the other partner")
	}
	s, _, err = Apply(tpl, s, Moderator, Action{Act: ActBreakStart}, testEnv())
	if err != nil {
		t.Fatal(err)
	}
	b := View(tpl, s, PartnerB).Break
	if b.Reason != "I need air" || b.AskedBy != PartnerA || b.By != Moderator {
		t.Errorf("break as partner_b sees it: %+v", b)
	}
}

func TestModeratorAcceptsARequestWithTheMinutesAskedFor(t *testing.T) {
	tpl := testTemplate(t)
	for _, tc := range []struct {
		asked, given, want int
		code               string
	}{
		{asked: 45, want: 45},
		{asked: 0, want: 20},
		{asked: 45, given: 30, want: 30},
		{asked: 10, code: CodeBadValue},
		{asked: 2000, code: CodeBadValue},
	} {
		s := roomAt(tpl, "open")
		s, _, err := Apply(tpl, s, PartnerB, Action{Act: ActBreakRequest, Minutes: tc.asked, Reason: "flooded"}, testEnv())
		if errCode(err) != orOK(tc.code) {
			t.Errorf("asked %d: %v", tc.asked, err)
			continue
		}
		if tc.code != "" {
			continue
		}
		s, ev, err := Apply(tpl, s, Moderator, Action{Act: ActBreakStart, Minutes: tc.given}, testEnv())
		if err != nil {
			t.Fatal(err)
		}
		if got := int(s.Break.Until.Sub(s.Break.Started) / time.Minute); got != tc.want || s.BreakRequest != nil {
			t.Errorf("asked %d, given %d: %d minutes, request %+v", tc.asked, tc.given, got, s.BreakRequest)
		}
		if s.Break.AskedBy != PartnerB || s.Break.Reason != "flooded" || s.Break.Shared || ev.Detail["askedBy"] != "partner_b" {
			t.Errorf("break %+v event %+v", s.Break, ev)
		}
	}
}

func orOK(code string) string {
	if code == "" {
		return "ok"
	}
	return code
}

func TestSelfGuidedBreakUndoAndBothBack(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	s.Mode = SelfGuided
	at := func(d time.Duration) Env { e := testEnv(); e.Now = now.Add(d); return e }
	s, _, err := Apply(tpl, s, PartnerA, Action{Act: ActBreakRequest, Minutes: 60}, at(0))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Apply(tpl, s, PartnerB, Action{Act: ActBreakUndo}, at(10*time.Second)); errCode(err) != CodeForbidden {
		t.Errorf("the other partner undoes it: %v", err)
	}
	undone, _, err := Apply(tpl, s, PartnerA, Action{Act: ActBreakUndo}, at(50*time.Second))
	if err != nil || undone.OnBreak(now.Add(50*time.Second)) || undone.Break.EndedHow != BreakUndone {
		t.Fatalf("undo: %v %+v", err, undone.Break)
	}
	if _, _, err := Apply(tpl, s, PartnerA, Action{Act: ActBreakUndo}, at(2*time.Minute)); errCode(err) != CodeOnBreak {
		t.Errorf("undo after a minute: %v", err)
	}
	if _, _, err := Apply(tpl, s, PartnerA, Action{Act: ActBreakBack, Ready: true}, at(10*time.Minute)); errCode(err) != CodeOnBreak {
		t.Errorf("back before 20 minutes: %v", err)
	}
	s, _, err = Apply(tpl, s, PartnerA, Action{Act: ActBreakBack, Ready: true}, at(21*time.Minute))
	if err != nil || !s.OnBreak(now.Add(21*time.Minute)) {
		t.Fatalf("one ready ends the break: %v", err)
	}
	s, ev, err := Apply(tpl, s, PartnerB, Action{Act: ActBreakBack, Ready: true}, at(22*time.Minute))
	if err != nil || s.OnBreak(now.Add(22*time.Minute)) || s.Break.EndedHow != BreakBothBack || ev.Detail["ended"] != true {
		t.Fatalf("both ready: %v %+v", err, s.Break)
	}
	if _, _, err := Apply(tpl, s, PartnerA, Action{Act: ActValueSet, Field: "safe_a", Value: json.RawMessage("5")}, at(23*time.Minute)); err != nil {
		t.Errorf("writing after the break: %v", err)
	}
}

func TestSelfGuidedSafetyNoPausesForBothAndSaysNeitherWhoNorWhy(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	s.Mode = SelfGuided
	s, ev, err := Apply(tpl, s, PartnerA, Action{Act: ActValueSet, Field: "screen_a", Value: json.RawMessage(`"no"`)}, testEnv())
	if err != nil || s.Hold == nil || s.Hold.By != PartnerA || s.Alerts != nil {
		t.Fatalf("no hold: %v %+v", err, s)
	}
	if _, ok := ev.Detail["value"]; ok {
		t.Errorf("the event carries the private answer: %+v", ev)
	}
	b := View(tpl, s, PartnerB)
	if b.Hold == nil || b.Hold.By != "" || b.Hold.Field != "" {
		t.Errorf("partner_b's hold: %+v", b.Hold)
	}
	if a := View(tpl, s, PartnerA); a.Hold.By != PartnerA || a.Hold.Field != "screen_a" {
		t.Errorf("partner_a's hold: %+v", a.Hold)
	}
	if _, _, err := Apply(tpl, s, PartnerB, Action{Act: ActReady, Ready: true}, testEnv()); errCode(err) != CodePaused {
		t.Errorf("ready while paused: %v", err)
	}
	for _, v := range []string{`"unsure"`, `"yes"`, `null`} {
		next, _, err := Apply(tpl, s, PartnerA, Action{Act: ActValueSet, Field: "screen_a", Value: json.RawMessage(v)}, testEnv())
		if err != nil || next.Hold != nil {
			t.Errorf("answer %s: %v, hold %+v", v, err, next.Hold)
		}
	}
	if _, _, err := Apply(tpl, s, PartnerB, Action{Act: ActSessionEnd}, testEnv()); err != nil {
		t.Errorf("ending while paused: %v", err)
	}
}

// TestBreakReturnAfterComesFromEnv: the server's setting (limits.
// BreakReturnAfter, shortened for browser tests) decides when both being
// ready may end a self-guided break; unset, it is MinBreak.
func TestBreakReturnAfterComesFromEnv(t *testing.T) {
	tpl := testTemplate(t)
	for _, tc := range []struct {
		name   string
		after  time.Duration
		at     time.Duration
		wantOK bool
	}{
		{"unset: before MinBreak", 0, MinBreak - time.Second, false},
		{"unset: at MinBreak", 0, MinBreak, true},
		{"3s: before", 3 * time.Second, 2 * time.Second, false},
		{"3s: after", 3 * time.Second, 4 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := roomAt(tpl, "open")
			s.Mode = SelfGuided
			at := func(d time.Duration) Env {
				e := testEnv()
				e.Now = now.Add(d)
				e.BreakReturnAfter = tc.after
				return e
			}
			s, _, err := Apply(tpl, s, PartnerA, Action{Act: ActBreakRequest, Minutes: 60}, at(0))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = Apply(tpl, s, PartnerA, Action{Act: ActBreakBack, Ready: true}, at(tc.at))
			if tc.wantOK != (err == nil) || (err != nil && errCode(err) != CodeOnBreak) {
				t.Errorf("break.back after %s with BreakReturnAfter %s: %v", tc.at, tc.after, err)
			}
		})
	}
}
