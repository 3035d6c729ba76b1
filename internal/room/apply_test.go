package room

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// richRoom has something in every map, so aliasing shows up anywhere.
func richRoom(t *testing.T) State {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	s.Locked = map[string]bool{"last": true}
	s.Ready = map[Role]bool{PartnerA: true}
	s.Values = map[string]json.RawMessage{"safe_a": json.RawMessage("4"), "mod_score": json.RawMessage("2")}
	s.Signs = map[string]map[Role]Mark{"deal": {PartnerA: {By: PartnerA, At: t0, Version: 3}}}
	s.Mirrors = map[string]Mark{"a_mirror": {By: PartnerA, At: t0, Version: 1, Status: MirrorAgain}}
	s.Revealed = map[string]bool{"pick.partner_b": true}
	s.Break = &Break{By: Moderator, Started: t0, Until: t0.Add(20 * time.Minute)}
	s.BreakRequest = &BreakRequest{By: PartnerB, At: t0}
	return s
}

func snapshot(t *testing.T, s State) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestApplyNeverMutatesItsInput(t *testing.T) {
	tpl := testTemplate(t)
	for _, tc := range []struct {
		by    Role
		stage string
		a     Action
	}{
		{Moderator, "open", Action{Act: ActRolesSet, Roles: map[string]Role{"hurt": PartnerA, "involved": PartnerB}}},
		{Moderator, "open", Action{Act: ActStageSet, Stage: "turns"}},
		{Moderator, "open", Action{Act: ActStageLock, Stage: "last", Locked: false}},
		{Moderator, "open", Action{Act: ActStageLock, Locked: true}},
		{Moderator, "turns", Action{Act: ActFloorGive, Role: PartnerB}},
		{Moderator, "open", Action{Act: ActBreakStart}},
		{PartnerA, "open", Action{Act: ActBreakRequest}},
		{PartnerA, "open", Action{Act: ActReady, Ready: false}},
		{PartnerB, "open", Action{Act: ActReady, Ready: true}},
		{PartnerA, "open", Action{Act: ActValueSet, Field: "safe_a", Value: json.RawMessage("9")}},
		{PartnerA, "open", Action{Act: ActValueSet, Field: "safe_a", Value: json.RawMessage("null")}},
		{Moderator, "open", Action{Act: ActValueSet, Field: "mod_score", Value: json.RawMessage("5")}},
		{PartnerB, "open", Action{Act: ActSign, Field: "deal", Version: 3}},
		{PartnerA, "open", Action{Act: ActUnsign, Field: "deal"}},
		{PartnerA, "open", Action{Act: ActMirrorConfirm, Field: "a_mirror", Version: 2, Status: MirrorYes}},
		{PartnerA, "open", Action{Act: ActReveal, Field: "pick"}},
		{PartnerB, "ask", Action{Act: ActQuestionAdd, Field: "qs", Text: "Who knew?"}},
		{PartnerA, "ask", Action{Act: ActQuestionAnswer, Field: "qs", Item: "q1", Text: "Nobody."}},
		{PartnerA, "ask", Action{Act: ActQuestionStatus, Field: "qs", Item: "q1", Status: QuestionNotNow}},
		{Moderator, "open", Action{Act: ActSessionEnd}},
	} {
		t.Run(tc.a.Act, func(t *testing.T) {
			s := richRoom(t)
			s.Stage = tc.stage
			if tc.by != Moderator {
				s.Break = nil // partners cannot act during a break
			}
			before := snapshot(t, s)
			next, _, err := Apply(tpl, s, tc.by, tc.a, testEnv())
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if snapshot(t, s) != before {
				t.Fatal("Apply changed its input")
			}
			if snapshot(t, next) == before {
				t.Error("Apply changed nothing")
			}
			// Scribble over everything the result holds: the input must not move.
			for k := range next.Values {
				next.Values[k][0] = 'x'
			}
			for _, m := range next.Signs {
				for r := range m {
					m[r] = Mark{}
				}
			}
			for k := range next.Questions {
				next.Questions[k][0].Text = "x"
			}
			if next.Break != nil {
				next.Break.Until = time.Time{}
			}
			if next.Ready != nil {
				next.Ready[PartnerB] = true
			}
			if next.Roles != nil {
				next.Roles["x"] = PartnerA
			}
			next.Mirrors["x"] = Mark{}
			if snapshot(t, s) != before {
				t.Error("the result shares memory with the input")
			}
		})
	}
}

func TestApplyReturnsInputAndNoEventWhenRefused(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	got, ev, err := Apply(tpl, s, PartnerA, Action{Act: ActStageSet, Stage: "turns"}, testEnv())
	if err == nil || ev.Act != "" || snapshot(t, got) != snapshot(t, s) {
		t.Errorf("refused act: state changed or event %+v (err %v)", ev, err)
	}
}

func TestSignIsVoidedByAnEditAfterIt(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	env := testEnv() // deal is at version 3
	var err error
	for _, p := range []Role{PartnerA, PartnerB} {
		if s, _, err = Apply(tpl, s, p, Action{Act: ActSign, Field: "deal", Version: 3}, env); err != nil {
			t.Fatal(err)
		}
	}
	if got := Signed(s, "deal", env.Versions); !got[PartnerA] || !got[PartnerB] {
		t.Fatalf("both signed at version 3, Signed = %v", got)
	}
	env.Versions["deal"] = 4 // someone edited the text
	if got := Signed(s, "deal", env.Versions); len(got) != 0 {
		t.Errorf("after an edit, Signed = %v, want nobody", got)
	}
	if _, _, err := Apply(tpl, s, PartnerA, Action{Act: ActSign, Field: "deal", Version: 3}, env); errCode(err) != CodeStale {
		t.Errorf("signing the old version: %v, want stale", err)
	}
	s, _, err = Apply(tpl, s, PartnerA, Action{Act: ActSign, Field: "deal", Version: 4}, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := Signed(s, "deal", env.Versions); !got[PartnerA] || got[PartnerB] {
		t.Errorf("after re-signing, Signed = %v, want partner_a only", got)
	}
	s, _, err = Apply(tpl, s, PartnerA, Action{Act: ActUnsign, Field: "deal"}, env)
	if err != nil || len(Signed(s, "deal", env.Versions)) != 0 {
		t.Errorf("unsign: %v, Signed = %v", err, Signed(s, "deal", env.Versions))
	}
	env.Versions["deal"] = 0
	if _, _, err := Apply(tpl, s, PartnerA, Action{Act: ActSign, Field: "deal"}, env); errCode(err) != CodeBadValue {
		t.Errorf("signing an empty agreement: %v, want bad_value", err)
	}
}

func TestMirrorConfirmationFollowsTheTextVersion(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	env := testEnv() // a_mirror is at version 2
	if _, _, err := Apply(tpl, s, PartnerA, Action{Act: ActMirrorConfirm, Field: "a_mirror", Version: 2, Status: "maybe"}, env); errCode(err) != CodeBadValue {
		t.Errorf("status maybe: %v", err)
	}
	if _, _, err := Apply(tpl, s, PartnerA, Action{Act: ActMirrorConfirm, Field: "a_mirror", Version: 1, Status: MirrorYes}, env); errCode(err) != CodeStale {
		t.Errorf("old version: %v", err)
	}
	s, _, err := Apply(tpl, s, PartnerA, Action{Act: ActMirrorConfirm, Field: "a_mirror", Version: 2, Status: MirrorAgain}, env)
	if err != nil || MirrorStatus(s, "a_mirror", env.Versions) != MirrorAgain {
		t.Fatalf("again: %v, status %q", err, MirrorStatus(s, "a_mirror", env.Versions))
	}
	env.Versions["a_mirror"] = 3 // the listener tried again
	if got := MirrorStatus(s, "a_mirror", env.Versions); got != "" {
		t.Errorf("after a new try, status %q, want none", got)
	}
	s, _, _ = Apply(tpl, s, PartnerA, Action{Act: ActMirrorConfirm, Field: "a_mirror", Version: 3, Status: MirrorYes}, env)
	if got := MirrorStatus(s, "a_mirror", env.Versions); got != MirrorYes {
		t.Errorf("status %q, want yes", got)
	}
}

func TestSelfGuidedRoomAdvancesWhenBothAreReady(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	s.Mode = SelfGuided
	s.Floor = PartnerA
	env := testEnv()
	s, ev, err := Apply(tpl, s, PartnerA, Action{Act: ActReady, Ready: true}, env)
	if err != nil || s.Stage != "open" || ev.Detail["advanced"] != nil {
		t.Fatalf("one ready: stage %q, event %+v, err %v", s.Stage, ev, err)
	}
	s, ev, err = Apply(tpl, s, PartnerB, Action{Act: ActReady, Ready: true}, env)
	if err != nil {
		t.Fatal(err)
	}
	if s.Stage != "turns" || s.Ready != nil || s.Floor != "" || ev.Detail["advanced"] != true || ev.Stage != "turns" {
		t.Errorf("both ready: stage %q ready %v floor %q event %+v", s.Stage, s.Ready, s.Floor, ev)
	}
	// Changing one's mind before the other is ready: no advance.
	s, _, _ = Apply(tpl, s, PartnerA, Action{Act: ActReady, Ready: true}, env)
	s, _, _ = Apply(tpl, s, PartnerA, Action{Act: ActReady, Ready: false}, env)
	s, _, _ = Apply(tpl, s, PartnerB, Action{Act: ActReady, Ready: true}, env)
	if s.Stage != "turns" {
		t.Errorf("advanced although partner_a withdrew: %q", s.Stage)
	}
	// Both ready at the last stage ends the session.
	s.Stage, s.Ready = "last", map[Role]bool{PartnerB: true}
	s, ev, err = Apply(tpl, s, PartnerA, Action{Act: ActReady, Ready: true}, env)
	if err != nil || s.Ended == nil || !s.Ended.Equal(now) || ev.Detail["ended"] != true {
		t.Errorf("last stage: ended %v event %+v err %v", s.Ended, ev, err)
	}
}

func TestGuidedReadinessDoesNotAdvance(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	s.Ready = map[Role]bool{PartnerB: true}
	s, _, err := Apply(tpl, s, PartnerA, Action{Act: ActReady, Ready: true}, testEnv())
	if err != nil || s.Stage != "open" || !s.Ready[PartnerA] || !s.Ready[PartnerB] {
		t.Errorf("guided: stage %q ready %v err %v", s.Stage, s.Ready, err)
	}
}

func TestRoomCannotLeaveTheFirstStageWithoutRoles(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	s.Roles, s.Mode, s.Ready = nil, SelfGuided, map[Role]bool{PartnerA: true}
	if _, _, err := Apply(tpl, s, PartnerB, Action{Act: ActReady, Ready: true}, testEnv()); errCode(err) != CodeRolesUnset {
		t.Errorf("self-guided: %v, want roles_unset", err)
	}
	s.Mode, s.Ready = Guided, nil
	if _, _, err := Apply(tpl, s, Moderator, Action{Act: ActStageSet, Stage: "last"}, testEnv()); errCode(err) != CodeRolesUnset {
		t.Errorf("guided: %v, want roles_unset", err)
	}
}

func TestStageChangeClearsReadyAndFloor(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "turns")
	s.Floor, s.Ready = PartnerB, map[Role]bool{PartnerA: true}
	next, ev, err := Apply(tpl, s, Moderator, Action{Act: ActStageSet, Stage: "ask"}, testEnv())
	if err != nil || next.Stage != "ask" || next.Floor != "" || next.Ready != nil || ev.Detail["from"] != "turns" {
		t.Errorf("stage.set: %+v %+v %v", next, ev, err)
	}
	same, ev, err := Apply(tpl, s, Moderator, Action{Act: ActStageSet, Stage: "turns"}, testEnv())
	if err != nil || same.Floor != PartnerB || ev.Detail["unchanged"] != true {
		t.Errorf("stage.set to the current stage should change nothing: %+v %v", ev, err)
	}
	if _, _, err := Apply(tpl, s, Moderator, Action{Act: ActStageSet, Stage: "nowhere"}, testEnv()); errCode(err) != CodeUnknownStage {
		t.Errorf("unknown stage: %v", err)
	}
	if _, _, err := Apply(tpl, s, Moderator, Action{Act: ActStageLock, Stage: "nowhere", Locked: true}, testEnv()); errCode(err) != CodeUnknownStage {
		t.Errorf("lock unknown stage: %v", err)
	}
}

func TestBreakMinutesBounds(t *testing.T) {
	tpl := testTemplate(t)
	for _, tc := range []struct {
		minutes int
		want    string
		until   time.Duration
	}{
		{0, "ok", 20 * time.Minute},
		{-5, CodeBadValue, 0},
		{19, CodeBadValue, 0},
		{20, "ok", 20 * time.Minute},
		{90, "ok", 90 * time.Minute},
		{1440, "ok", 24 * time.Hour},
		{1441, CodeBadValue, 0},
	} {
		s := roomAt(tpl, "open")
		s.BreakRequest = &BreakRequest{By: PartnerA, At: t0}
		next, ev, err := Apply(tpl, s, Moderator, Action{Act: ActBreakStart, Minutes: tc.minutes, Reason: "breathe"}, testEnv())
		if got := errCode(err); got != tc.want {
			t.Errorf("%d minutes: %s, want %s", tc.minutes, got, tc.want)
			continue
		}
		if err != nil {
			continue
		}
		b := next.Break
		if b.By != Moderator || !b.Started.Equal(now) || !b.Until.Equal(now.Add(tc.until)) || b.Reason != "breathe" || next.BreakRequest != nil {
			t.Errorf("%d minutes: break %+v, request %v", tc.minutes, b, next.BreakRequest)
		}
		if ev.Detail["minutes"] != int(tc.until/time.Minute) {
			t.Errorf("%d minutes: event %+v", tc.minutes, ev)
		}
	}
	s := roomAt(tpl, "open")
	if _, _, err := Apply(tpl, s, Moderator, Action{Act: ActBreakStart, Reason: strings.Repeat("x", MaxReason+1)}, testEnv()); errCode(err) != CodeBadValue {
		t.Errorf("long reason: %v", err)
	}
}

func TestBreakLifecycle(t *testing.T) {
	tpl := testTemplate(t)
	env := testEnv()
	// Guided: a partner asks; everyone sees the request; the moderator calls it.
	s := roomAt(tpl, "open")
	s, ev, err := Apply(tpl, s, PartnerB, Action{Act: ActBreakRequest, Reason: "I feel flooded"}, env)
	if err != nil || s.BreakRequest == nil || s.BreakRequest.By != PartnerB || s.Break != nil || ev.Private || ev.Detail["alert"] != "moderator" {
		t.Fatalf("request: %+v %+v %v", s.BreakRequest, ev, err)
	}
	s, _, err = Apply(tpl, s, Moderator, Action{Act: ActBreakStart}, env)
	if err != nil || s.BreakRequest != nil || !s.OnBreak(now) {
		t.Fatalf("start: %v", err)
	}
	if got := errCode(CanWrite(tpl, s, PartnerA, "a_text", now.Add(19*time.Minute))); got != CodeOnBreak {
		t.Errorf("during the break: %s", got)
	}
	if err := CanWrite(tpl, s, PartnerA, "a_text", now.Add(20*time.Minute)); err != nil {
		t.Errorf("when the break is over: %v", err)
	}
	if err := CanWrite(tpl, s, Moderator, "notes", now.Add(time.Minute)); err != nil {
		t.Errorf("moderator notes during a break: %v", err)
	}
	// The moderator ends it early.
	env.Now = now.Add(5 * time.Minute)
	s, _, err = Apply(tpl, s, Moderator, Action{Act: ActBreakEnd}, env)
	if err != nil || s.OnBreak(env.Now) || !s.Break.Until.Equal(env.Now) {
		t.Fatalf("end: %v %+v", err, s.Break)
	}
	if err := CanWrite(tpl, s, PartnerA, "a_text", env.Now); err != nil {
		t.Errorf("after the break was ended: %v", err)
	}
	// Self-guided: asking starts a 20-minute break at once.
	self := roomAt(tpl, "open")
	self.Mode = SelfGuided
	self, ev, err = Apply(tpl, self, PartnerA, Action{Act: ActBreakRequest}, testEnv())
	if err != nil || self.BreakRequest != nil || self.Break == nil || !self.Break.Until.Equal(now.Add(DefaultBreak)) || ev.Detail["started"] != true {
		t.Errorf("self-guided request: %+v %+v %v", self.Break, ev, err)
	}
}

func TestFloorPassesInSelfGuidedRooms(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "turns")
	s.Mode = SelfGuided
	env := testEnv()
	s, ev, err := Apply(tpl, s, PartnerB, Action{Act: ActFloorGive, Role: PartnerB}, env) // take the empty floor
	if err != nil || s.Floor != PartnerB || ev.Detail["to"] != "partner_b" {
		t.Fatalf("take: %v %q", err, s.Floor)
	}
	if _, _, err := Apply(tpl, s, PartnerA, Action{Act: ActFloorGive, Role: PartnerA}, env); errCode(err) != CodeNotYourTurn {
		t.Errorf("grab: %v", err)
	}
	s, _, err = Apply(tpl, s, PartnerB, Action{Act: ActFloorGive, Role: PartnerA}, env) // pass it on
	if err != nil || s.Floor != PartnerA {
		t.Fatalf("pass: %v", err)
	}
	if err := CanWrite(tpl, s, PartnerA, "inv_mirror", now); err != nil {
		t.Errorf("the listener holds the floor and mirrors: %v", err)
	}
	// The speaker confirms the mirror without the floor.
	if _, _, err := Apply(tpl, s, PartnerB, Action{Act: ActMirrorConfirm, Field: "inv_mirror", Version: 1, Status: MirrorYes}, env); err != nil {
		t.Errorf("confirm without the floor: %v", err)
	}
	if _, _, err := Apply(tpl, s, PartnerA, Action{Act: ActFloorGive, Role: "moderator"}, env); errCode(err) != CodeBadValue {
		t.Errorf("floor to the moderator: %v", err)
	}
}

func TestRolesSetValidates(t *testing.T) {
	tpl := testTemplate(t)
	for _, tc := range []struct {
		roles map[string]Role
		want  string
	}{
		{map[string]Role{"hurt": PartnerA, "involved": PartnerB}, "ok"},
		{map[string]Role{"hurt": PartnerA}, CodeBadValue},
		{map[string]Role{"hurt": PartnerA, "involved": PartnerA}, CodeBadValue},
		{map[string]Role{"hurt": PartnerA, "other": PartnerB}, CodeBadValue},
		{map[string]Role{"hurt": PartnerA, "involved": Moderator}, CodeBadValue},
		{nil, CodeBadValue},
	} {
		s := roomAt(tpl, "open")
		s.Roles = nil
		next, ev, err := Apply(tpl, s, Moderator, Action{Act: ActRolesSet, Roles: tc.roles}, testEnv())
		if got := errCode(err); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.roles, got, tc.want)
		}
		if err == nil && (next.Roles["hurt"] != PartnerA || ev.Detail["roles"] == nil) {
			t.Errorf("%v: roles %v", tc.roles, next.Roles)
		}
	}
}

func TestValueSetValidates(t *testing.T) {
	tpl := testTemplate(t)
	for _, tc := range []struct {
		by    Role
		field string
		value string
		want  string // "bad_value", or the stored JSON
	}{
		{PartnerA, "safe_a", "0", "0"},
		{PartnerA, "safe_a", "10", "10"},
		{PartnerA, "safe_a", " 7.0 ", "7"},
		{PartnerA, "safe_a", "11", CodeBadValue},
		{PartnerA, "safe_a", "-1", CodeBadValue},
		{PartnerA, "safe_a", "6.5", CodeBadValue},
		{PartnerA, "safe_a", `"7"`, CodeBadValue},
		{PartnerA, "safe_a", "1e300", CodeBadValue},
		{PartnerA, "safe_a", "null", ""},
		{PartnerA, "mood_a", `"low"`, `"low"`},
		{PartnerA, "mood_a", `"fine"`, CodeBadValue},
		{PartnerA, "mood_a", `["low"]`, CodeBadValue},
		{PartnerB, "feel_b", `["sad","angry"]`, `["sad","angry"]`},
		{PartnerB, "feel_b", `["sad","sad"]`, CodeBadValue},
		{PartnerB, "feel_b", `["glad"]`, CodeBadValue},
		{PartnerB, "feel_b", `"sad"`, CodeBadValue},
		{PartnerB, "feel_b", `[]`, ""},
		{PartnerA, "a_text", `"hi"`, CodeBadAction},
		{PartnerA, "nope", `1`, CodeUnknownField},
	} {
		s := roomAt(tpl, "open")
		s.Values = map[string]json.RawMessage{tc.field: json.RawMessage("1")}
		next, _, err := Apply(tpl, s, tc.by, Action{Act: ActValueSet, Field: tc.field, Value: json.RawMessage(tc.value)}, testEnv())
		if err != nil {
			if got := errCode(err); got != tc.want {
				t.Errorf("%s=%s: %s, want %s", tc.field, tc.value, got, tc.want)
			}
			continue
		}
		if got := string(next.Values[tc.field]); got != tc.want {
			t.Errorf("%s=%s: stored %q, want %q", tc.field, tc.value, got, tc.want)
		}
	}
}

func TestQuestionsQueue(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "ask")
	s.Questions = nil
	n := 0
	env := testEnv()
	env.NewID = func() string { n++; return fmt.Sprintf("id%d", n) }
	for i := range MaxQuestions {
		var err error
		if s, _, err = Apply(tpl, s, PartnerB, Action{Act: ActQuestionAdd, Field: "qs", Text: fmt.Sprintf(" Question %d? ", i)}, env); err != nil {
			t.Fatalf("question %d: %v", i, err)
		}
	}
	if q := s.Questions["qs"][0]; q.ID != "id1" || q.Text != "Question 0?" || q.Status != QuestionOpen || !q.AskedAt.Equal(now) {
		t.Errorf("first question %+v", q)
	}
	if _, _, err := Apply(tpl, s, PartnerB, Action{Act: ActQuestionAdd, Field: "qs", Text: "One more?"}, env); errCode(err) != CodeBadValue {
		t.Errorf("question 51: %v", err)
	}
	for _, text := range []string{"", "   ", strings.Repeat("é", MaxQuestionText+1)} {
		if _, _, err := Apply(tpl, s, PartnerA, Action{Act: ActQuestionAnswer, Field: "qs", Item: "id1", Text: text}, env); errCode(err) != CodeBadValue {
			t.Errorf("answer of %d characters: %v", len(text), err)
		}
	}
	if _, _, err := Apply(tpl, s, PartnerA, Action{Act: ActQuestionAnswer, Field: "qs", Item: "nope", Text: "x"}, env); errCode(err) != CodeBadValue {
		t.Errorf("unknown item: %v", err)
	}
	s, ev, err := Apply(tpl, s, PartnerA, Action{Act: ActQuestionAnswer, Field: "qs", Item: "id2", Text: strings.Repeat("é", MaxQuestionText)}, env)
	if q := s.Questions["qs"][1]; err != nil || q.Status != QuestionAnswered || !q.AnsweredAt.Equal(now) || ev.Detail["item"] != "id2" {
		t.Errorf("answer: %v %+v %+v", err, q, ev)
	}
	s, _, err = Apply(tpl, s, PartnerA, Action{Act: ActQuestionStatus, Field: "qs", Item: "id3", Status: QuestionNotNow}, env)
	if err != nil || s.Questions["qs"][2].Status != QuestionNotNow {
		t.Errorf("not now: %v", err)
	}
	s, _, err = Apply(tpl, s, PartnerB, Action{Act: ActQuestionStatus, Field: "qs", Item: "id3", Status: QuestionOpen}, env)
	if err != nil || s.Questions["qs"][2].Status != QuestionOpen {
		t.Errorf("open again: %v", err)
	}
	if _, _, err := Apply(tpl, s, PartnerB, Action{Act: ActQuestionStatus, Field: "qs", Item: "id3", Status: QuestionAnswered}, env); errCode(err) != CodeBadValue {
		t.Errorf("status answered: %v", err)
	}
}

func TestEventsAboutModeratorFieldsArePrivateAndCarryNoValue(t *testing.T) {
	tpl := testTemplate(t)
	s := roomAt(tpl, "open")
	_, ev, err := Apply(tpl, s, Moderator, Action{Act: ActValueSet, Field: "mod_score", Value: json.RawMessage("4")}, testEnv())
	if err != nil || !ev.Private || ev.Detail["value"] != nil {
		t.Errorf("moderator value: %+v %v", ev, err)
	}
	_, ev, err = Apply(tpl, s, PartnerA, Action{Act: ActValueSet, Field: "safe_a", Value: json.RawMessage("4")}, testEnv())
	if err != nil || ev.Private || string(ev.Detail["value"].(json.RawMessage)) != "4" || ev.Field != "safe_a" || ev.Stage != "open" || !ev.At.Equal(now) || ev.By != PartnerA {
		t.Errorf("partner value: %+v %v", ev, err)
	}
}

func TestPartnerViewNeverMentionsModeratorFields(t *testing.T) {
	tpl := testTemplate(t)
	s := richRoom(t)
	s.Values["mod_pick"] = json.RawMessage(`"tense"`)
	moderatorIDs := []string{"notes", "mod_score", "mod_pick"}
	before := snapshot(t, s)
	for _, by := range []Role{PartnerA, PartnerB, "stranger"} {
		v := snapshot(t, View(tpl, s, by))
		for _, id := range moderatorIDs {
			if strings.Contains(v, id) {
				t.Errorf("%s's view mentions %q: %s", by, id, v)
			}
		}
	}
	pa := View(tpl, s, PartnerA)
	if string(pa.Values["safe_a"]) != "4" || pa.Signs["deal"] == nil || pa.Mirrors["a_mirror"].Status != MirrorAgain || pa.Questions["qs"] == nil || !pa.Revealed["pick.partner_b"] || pa.BreakRequest == nil {
		t.Errorf("partner view lost shared state: %+v", pa)
	}
	if mv := View(tpl, s, Moderator); string(mv.Values["mod_score"]) != "2" {
		t.Errorf("moderator view lost the moderator's values")
	}
	if snapshot(t, s) != before {
		t.Error("View changed its input")
	}
}

func TestStateJSONUsesProtocolNames(t *testing.T) {
	s := richRoom(t)
	got := snapshot(t, s)
	for _, want := range []string{`"breakRequest":`, `"askedAt":`, `"rev":0`, `"signs":{"deal":{"partner_a":{"by":"partner_a"`, `"started":`} {
		if !strings.Contains(got, want) {
			t.Errorf("state JSON lacks %s: %s", want, got)
		}
	}
	if strings.Contains(got, "answeredAt") {
		t.Errorf("an unanswered question carries answeredAt: %s", got)
	}
	var back State
	if err := json.Unmarshal([]byte(got), &back); err != nil || snapshot(t, back) != got {
		t.Errorf("state does not round-trip through JSON: %v", err)
	}
	var a Action
	if err := json.Unmarshal([]byte(`{"act":"sign","field":"deal","version":3,"roles":{"hurt":"partner_b"},"value":[1]}`), &a); err != nil || a.Version != 3 || a.Roles["hurt"] != PartnerB || string(a.Value) != "[1]" {
		t.Errorf("action decode: %+v %v", a, err)
	}
}
