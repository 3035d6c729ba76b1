package room

import (
	"testing"
	"testing/fstest"
	"time"

	"repairroom/internal/templates"
)

// testYAML exercises every owner and kind: seats, both, moderator, roles;
// a plain stage, a turn-taking stage, a questions stage and a last stage.
const testYAML = `
id: test
title: Test
roles:
  - {id: hurt, label: Hurt, question: "Who was hurt?"}
  - {id: involved, label: Involved, question: "Who broke the trust?"}
stages:
  - id: open
    title: Open
    fields:
      - {id: notes, label: Private notes, owner: moderator, kind: text}
      - {id: mod_score, label: Mood, owner: moderator, kind: scale}
      - {id: mod_pick, label: Tone, owner: moderator, kind: choice, options: [calm, tense]}
      - {id: a_text, label: A, owner: partner_a, kind: text}
      - {id: b_text, label: B, owner: partner_b, kind: text}
      - {id: both_text, label: Both, owner: both, kind: text}
      - {id: deal, label: Deal, owner: both, kind: agreement}
      - {id: safe_a, label: Safe, owner: partner_a, kind: scale}
      - {id: feel_b, label: Feel, owner: partner_b, kind: choice, multi: true, options: [sad, calm, angry]}
      - {id: mood_a, label: Mood, owner: partner_a, kind: choice, options: [ok, low]}
      - {id: a_mirror, label: Mirror, owner: partner_b, kind: mirror, speaker: partner_a}
      - {id: pick, label: Pick, owner: both, kind: reveal}
      - {id: priv_a, label: For my therapist, owner: partner_a, kind: text, visibility: owner, anytime: true, guidedOnly: true}
      - {id: rate_b, label: Safe, owner: partner_b, kind: scale, visibility: owner}
      - {id: screen_a, label: Safe today, owner: partner_a, kind: choice, options: ["yes", "no", "unsure"], alert: ["no", "unsure"], pause: ["no"], visibility: owner}
  - id: turns
    title: Turns
    turnTaking: true
    fields:
      - {id: hurt_text, label: Hurt, owner: hurt, kind: text}
      - {id: inv_mirror, label: Heard, owner: involved, kind: mirror, speaker: hurt}
      - {id: inv_validate, label: Makes sense, owner: involved, kind: mirror, speaker: hurt, after: inv_mirror}
      - {id: turn_both, label: Both, owner: both, kind: text}
  - id: ask
    title: Ask
    fields:
      - {id: qs, label: Questions, owner: hurt, kind: questions, answerer: involved}
  - id: last
    title: Last
    fields:
      - {id: last_text, label: Last, owner: both, kind: text}
`

func testTemplate(t testing.TB) *templates.Template {
	t.Helper()
	set, err := templates.Load(fstest.MapFS{"t/test.yaml": {Data: []byte(testYAML)}}, "t")
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := set.Get("test")
	return tpl
}

var (
	t0  = time.Date(2025, 5, 4, 18, 0, 0, 0, time.UTC)
	now = t0.Add(time.Hour)
)

// testEnv: every text the table touches has content.
func testEnv() Env {
	return Env{
		Now: now,
		Versions: map[string]int64{
			"deal": 3, "a_mirror": 2, "inv_mirror": 1, "pick.partner_a": 2, "pick.partner_b": 2,
		},
		NewID: func() string { return "qx" },
	}
}

// roomAt is a guided room at stage, roles assigned (hurt: partner_b,
// involved: partner_a), with one open question.
func roomAt(tpl *templates.Template, stage string) State {
	s := New(tpl, Guided, t0)
	s.Stage = stage
	s.Roles = map[string]Role{"hurt": PartnerB, "involved": PartnerA}
	s.Questions = map[string][]Question{"qs": {{ID: "q1", Text: "Why?", Status: QuestionOpen, AskedAt: t0}}}
	return s
}

// scenarios turn a room at the operation's stage into the room state under test.
var scenarios = map[string]func(s *State){
	"guided":  func(s *State) {},
	"locked":  func(s *State) { s.Locked = map[string]bool{s.Stage: true} },
	"floor_a": func(s *State) { s.Floor = PartnerA },
	"floor_b": func(s *State) { s.Floor = PartnerB },
	"break": func(s *State) {
		s.Break = &Break{By: Moderator, Started: now.Add(-5 * time.Minute), Until: now.Add(15 * time.Minute)}
	},
	"break_over": func(s *State) {
		s.Break = &Break{By: Moderator, Started: now.Add(-30 * time.Minute), Until: now.Add(-time.Minute)}
	},
	"self":         func(s *State) { s.Mode = SelfGuided },
	"self_floor_b": func(s *State) { s.Mode = SelfGuided; s.Floor = PartnerB },
	"roles_unset":  func(s *State) { s.Roles = nil },
	"elsewhere":    func(s *State) { s.Stage = "last" },
	"ended":        func(s *State) { e := now.Add(-time.Minute); s.Ended = &e },
	// A self-guided break started 30 seconds ago by partner_a, and one 25 minutes old.
	"self_break_new": func(s *State) {
		s.Mode = SelfGuided
		s.Break = &Break{By: PartnerA, AskedBy: PartnerA, Started: now.Add(-30 * time.Second), Until: now.Add(19 * time.Minute)}
	},
	"self_break_old": func(s *State) {
		s.Mode = SelfGuided
		s.Break = &Break{By: PartnerA, AskedBy: PartnerA, Started: now.Add(-25 * time.Minute), Until: now.Add(35 * time.Minute)}
	},
	// partner_a's safety answer paused a self-guided conversation.
	"paused": func(s *State) {
		s.Mode = SelfGuided
		s.Hold = &Hold{Since: now.Add(-time.Minute), By: PartnerA, Field: "screen_a"}
	},
	// partner_a holds the floor, and the hurt partner confirmed the mirror.
	"mirrored": func(s *State) {
		s.Floor = PartnerA
		s.Mirrors = map[string]Mark{"inv_mirror": {By: PartnerB, At: t0, Version: 1, Status: MirrorYes}}
	},
}

// op is one thing a participant tries: a text push (key) or an act.
type op struct {
	stage string // the stage the room is at (before the scenario)
	key   string
	act   Action
}

var ops = map[string]op{
	"write:notes":          {stage: "open", key: "notes"},
	"write:a_text":         {stage: "open", key: "a_text"},
	"write:b_text":         {stage: "open", key: "b_text"},
	"write:both_text":      {stage: "open", key: "both_text"},
	"write:deal":           {stage: "open", key: "deal"},
	"write:a_mirror":       {stage: "open", key: "a_mirror"},
	"write:pick.partner_a": {stage: "open", key: "pick.partner_a"},
	"write:hurt_text":      {stage: "turns", key: "hurt_text"},
	"write:inv_mirror":     {stage: "turns", key: "inv_mirror"},
	"write:turn_both":      {stage: "turns", key: "turn_both"},
	"write:priv_a":         {stage: "open", key: "priv_a"},
	"write:inv_validate":   {stage: "turns", key: "inv_validate"},
	"value.set:rate_b":     {stage: "open", act: Action{Act: ActValueSet, Field: "rate_b", Value: []byte("4")}},
	"value.set:screen_a":   {stage: "open", act: Action{Act: ActValueSet, Field: "screen_a", Value: []byte(`"no"`)}},
	"break.undo":           {stage: "open", act: Action{Act: ActBreakUndo}},
	"break.back":           {stage: "open", act: Action{Act: ActBreakBack, Ready: true}},
	"value.set:safe_a":     {stage: "open", act: Action{Act: ActValueSet, Field: "safe_a", Value: []byte("7")}},
	"value.set:mod_score":  {stage: "open", act: Action{Act: ActValueSet, Field: "mod_score", Value: []byte("3")}},
	"sign:deal":            {stage: "open", act: Action{Act: ActSign, Field: "deal", Version: 3}},
	"unsign:deal":          {stage: "open", act: Action{Act: ActUnsign, Field: "deal"}},
	"confirm:a_mirror":     {stage: "open", act: Action{Act: ActMirrorConfirm, Field: "a_mirror", Version: 2, Status: MirrorYes}},
	"reveal:pick":          {stage: "open", act: Action{Act: ActReveal, Field: "pick"}},
	"question.add":         {stage: "ask", act: Action{Act: ActQuestionAdd, Field: "qs", Text: "When did it start?"}},
	"question.answer":      {stage: "ask", act: Action{Act: ActQuestionAnswer, Field: "qs", Item: "q1", Text: "In March."}},
	"question.status":      {stage: "ask", act: Action{Act: ActQuestionStatus, Field: "qs", Item: "q1", Status: QuestionNotNow}},
	"roles.set":            {stage: "open", act: Action{Act: ActRolesSet, Roles: map[string]Role{"hurt": PartnerB, "involved": PartnerA}}},
	"stage.set":            {stage: "open", act: Action{Act: ActStageSet, Stage: "turns"}},
	"stage.lock":           {stage: "open", act: Action{Act: ActStageLock, Stage: "open", Locked: true}},
	"floor.give":           {stage: "turns", act: Action{Act: ActFloorGive, Role: PartnerA}},
	"break.start":          {stage: "open", act: Action{Act: ActBreakStart, Minutes: 30}},
	"break.end":            {stage: "open", act: Action{Act: ActBreakEnd}},
	"break.request":        {stage: "open", act: Action{Act: ActBreakRequest, Reason: "I feel flooded"}},
	"ready":                {stage: "open", act: Action{Act: ActReady, Ready: true}},
	"session.end":          {stage: "open", act: Action{Act: ActSessionEnd}},
	"nonsense":             {stage: "open", act: Action{Act: "dance"}},
}

// permissions is the rule book: for each operation and room state, what
// partner_a, partner_b and the moderator get ("ok" or an error code).
// In the test room, hurt = partner_b and involved = partner_a.
const permissions = `
# operation          state          partner_a      partner_b      moderator

# A moderator field: the moderator's alone, always; partners do not even learn it exists.
write:notes          guided         unknown_field  unknown_field  ok
write:notes          locked         unknown_field  unknown_field  ok
write:notes          floor_a        unknown_field  unknown_field  ok
write:notes          break          unknown_field  unknown_field  ok
write:notes          break_over     unknown_field  unknown_field  ok
write:notes          self           unknown_field  unknown_field  forbidden
write:notes          roles_unset    unknown_field  unknown_field  ok
write:notes          elsewhere      unknown_field  unknown_field  ok
write:notes          ended          unknown_field  unknown_field  ok
value.set:mod_score  guided         unknown_field  unknown_field  ok
value.set:mod_score  locked         unknown_field  unknown_field  ok
value.set:mod_score  break          unknown_field  unknown_field  ok
value.set:mod_score  self           unknown_field  unknown_field  forbidden
value.set:mod_score  elsewhere      unknown_field  unknown_field  ok
value.set:mod_score  ended          unknown_field  unknown_field  ok

# A seat's own field.
write:a_text         guided         ok             forbidden      forbidden
write:a_text         locked         locked         forbidden      forbidden
write:a_text         floor_a        ok             forbidden      forbidden
write:a_text         floor_b        ok             forbidden      forbidden
write:a_text         break          on_break       on_break       on_break
write:a_text         break_over     ok             forbidden      forbidden
write:a_text         self           ok             forbidden      forbidden
write:a_text         self_floor_b   ok             forbidden      forbidden
write:a_text         roles_unset    ok             forbidden      forbidden
write:a_text         elsewhere      forbidden      forbidden      forbidden
write:a_text         ended          ended          ended          ended
write:b_text         guided         forbidden      ok             forbidden
write:b_text         locked         forbidden      locked         forbidden
write:b_text         floor_a        forbidden      ok             forbidden
write:b_text         break          on_break       on_break       on_break
write:b_text         break_over     forbidden      ok             forbidden
write:b_text         self           forbidden      ok             forbidden
write:b_text         elsewhere      forbidden      forbidden      forbidden
write:b_text         ended          ended          ended          ended
value.set:safe_a     guided         ok             forbidden      forbidden
value.set:safe_a     locked         locked         forbidden      forbidden
value.set:safe_a     floor_b        ok             forbidden      forbidden
value.set:safe_a     break          on_break       on_break       on_break
value.set:safe_a     break_over     ok             forbidden      forbidden
value.set:safe_a     self           ok             forbidden      forbidden
value.set:safe_a     roles_unset    ok             forbidden      forbidden
value.set:safe_a     elsewhere      forbidden      forbidden      forbidden
value.set:safe_a     ended          ended          ended          ended

# Shared fields: either partner, and the moderator (who also writes through a lock).
write:both_text      guided         ok             ok             ok
write:both_text      locked         locked         locked         ok
write:both_text      floor_a        ok             ok             ok
write:both_text      break          on_break       on_break       on_break
write:both_text      break_over     ok             ok             ok
write:both_text      self           ok             ok             forbidden
write:both_text      roles_unset    ok             ok             ok
write:both_text      elsewhere      forbidden      forbidden      forbidden
write:both_text      ended          ended          ended          ended
write:deal           guided         ok             ok             ok
write:deal           locked         locked         locked         ok
write:deal           break          on_break       on_break       on_break
write:deal           self           ok             ok             forbidden
write:deal           elsewhere      forbidden      forbidden      forbidden
write:deal           ended          ended          ended          ended

# Agreements are signed by partners only.
sign:deal            guided         ok             ok             forbidden
sign:deal            locked         locked         locked         forbidden
sign:deal            floor_a        ok             ok             forbidden
sign:deal            break          on_break       on_break       forbidden
sign:deal            break_over     ok             ok             forbidden
sign:deal            self           ok             ok             forbidden
sign:deal            roles_unset    ok             ok             forbidden
sign:deal            elsewhere      forbidden      forbidden      forbidden
sign:deal            ended          ended          ended          forbidden
unsign:deal          guided         ok             ok             forbidden
unsign:deal          locked         locked         locked         forbidden
unsign:deal          break          on_break       on_break       forbidden
unsign:deal          self           ok             ok             forbidden
unsign:deal          elsewhere      forbidden      forbidden      forbidden
unsign:deal          ended          ended          ended          forbidden

# A mirror: the listener (partner_b) writes, the speaker (partner_a) confirms.
write:a_mirror       guided         forbidden      ok             forbidden
write:a_mirror       locked         forbidden      locked         forbidden
write:a_mirror       break          on_break       on_break       on_break
write:a_mirror       self           forbidden      ok             forbidden
write:a_mirror       elsewhere      forbidden      forbidden      forbidden
write:a_mirror       ended          ended          ended          ended
confirm:a_mirror     guided         ok             forbidden      forbidden
confirm:a_mirror     locked         locked         forbidden      forbidden
confirm:a_mirror     floor_b        ok             forbidden      forbidden
confirm:a_mirror     break          on_break       on_break       on_break
confirm:a_mirror     break_over     ok             forbidden      forbidden
confirm:a_mirror     self           ok             forbidden      forbidden
confirm:a_mirror     roles_unset    ok             forbidden      forbidden
confirm:a_mirror     elsewhere      forbidden      forbidden      forbidden
confirm:a_mirror     ended          ended          ended          ended

# A reveal field: each partner drafts and reveals their own; the moderator only reads.
write:pick.partner_a guided         ok             forbidden      forbidden
write:pick.partner_a locked         locked         forbidden      forbidden
write:pick.partner_a break          on_break       on_break       on_break
write:pick.partner_a self           ok             forbidden      forbidden
write:pick.partner_a elsewhere      forbidden      forbidden      forbidden
write:pick.partner_a ended          ended          ended          ended
reveal:pick          guided         ok             ok             forbidden
reveal:pick          locked         locked         locked         forbidden
reveal:pick          floor_b        ok             ok             forbidden
reveal:pick          break          on_break       on_break       forbidden
reveal:pick          break_over     ok             ok             forbidden
reveal:pick          self           ok             ok             forbidden
reveal:pick          elsewhere      forbidden      forbidden      forbidden
reveal:pick          ended          ended          ended          forbidden

# A turn-taking stage: a partner writes only while holding the floor.
write:hurt_text      guided         forbidden      not_your_turn  forbidden
write:hurt_text      locked         forbidden      locked         forbidden
write:hurt_text      floor_a        forbidden      not_your_turn  forbidden
write:hurt_text      floor_b        forbidden      ok             forbidden
write:hurt_text      break          on_break       on_break       on_break
write:hurt_text      break_over     forbidden      not_your_turn  forbidden
write:hurt_text      self           forbidden      not_your_turn  forbidden
write:hurt_text      self_floor_b   forbidden      ok             forbidden
write:hurt_text      roles_unset    roles_unset    roles_unset    forbidden
write:hurt_text      elsewhere      forbidden      forbidden      forbidden
write:hurt_text      ended          ended          ended          ended
write:inv_mirror     guided         not_your_turn  forbidden      forbidden
write:inv_mirror     locked         locked         forbidden      forbidden
write:inv_mirror     floor_a        ok             forbidden      forbidden
write:inv_mirror     floor_b        not_your_turn  forbidden      forbidden
write:inv_mirror     break          on_break       on_break       on_break
write:inv_mirror     self           not_your_turn  forbidden      forbidden
write:inv_mirror     self_floor_b   not_your_turn  forbidden      forbidden
write:inv_mirror     roles_unset    roles_unset    roles_unset    forbidden
write:inv_mirror     elsewhere      forbidden      forbidden      forbidden
write:inv_mirror     ended          ended          ended          ended
write:turn_both      guided         not_your_turn  not_your_turn  ok
write:turn_both      locked         locked         locked         ok
write:turn_both      floor_a        ok             not_your_turn  ok
write:turn_both      floor_b        not_your_turn  ok             ok
write:turn_both      break          on_break       on_break       on_break
write:turn_both      break_over     not_your_turn  not_your_turn  ok
write:turn_both      self           not_your_turn  not_your_turn  forbidden
write:turn_both      self_floor_b   not_your_turn  ok             forbidden
write:turn_both      roles_unset    not_your_turn  not_your_turn  ok
write:turn_both      elsewhere      forbidden      forbidden      forbidden
write:turn_both      ended          ended          ended          ended

# Questions: the hurt partner (partner_b) asks, the involved one (partner_a) answers.
question.add         guided         forbidden      ok             forbidden
question.add         locked         forbidden      locked         forbidden
question.add         floor_a        forbidden      ok             forbidden
question.add         break          on_break       on_break       on_break
question.add         break_over     forbidden      ok             forbidden
question.add         self           forbidden      ok             forbidden
question.add         roles_unset    roles_unset    roles_unset    forbidden
question.add         elsewhere      forbidden      forbidden      forbidden
question.add         ended          ended          ended          ended
question.answer      guided         ok             forbidden      forbidden
question.answer      locked         locked         forbidden      forbidden
question.answer      break          on_break       on_break       on_break
question.answer      self           ok             forbidden      forbidden
question.answer      roles_unset    roles_unset    roles_unset    forbidden
question.answer      elsewhere      forbidden      forbidden      forbidden
question.answer      ended          ended          ended          ended
question.status      guided         ok             ok             forbidden
question.status      locked         locked         locked         forbidden
question.status      break          on_break       on_break       on_break
question.status      self           ok             ok             forbidden
question.status      roles_unset    roles_unset    roles_unset    forbidden
question.status      elsewhere      forbidden      forbidden      forbidden
question.status      ended          ended          ended          ended

# Steering the room: the moderator when guided, the partners when self-guided.
roles.set            guided         forbidden      forbidden      ok
roles.set            locked         forbidden      forbidden      ok
roles.set            break          on_break       on_break       ok
roles.set            break_over     forbidden      forbidden      ok
roles.set            self           ok             ok             forbidden
roles.set            roles_unset    forbidden      forbidden      ok
roles.set            elsewhere      forbidden      forbidden      forbidden
roles.set            ended          ended          ended          ended
stage.set            guided         forbidden      forbidden      ok
stage.set            locked         forbidden      forbidden      ok
stage.set            floor_a        forbidden      forbidden      ok
stage.set            break          on_break       on_break       ok
stage.set            break_over     forbidden      forbidden      ok
stage.set            self           forbidden      forbidden      forbidden
stage.set            roles_unset    forbidden      forbidden      roles_unset
stage.set            elsewhere      forbidden      forbidden      ok
stage.set            ended          ended          ended          ended
stage.lock           guided         forbidden      forbidden      ok
stage.lock           locked         forbidden      forbidden      ok
stage.lock           break          on_break       on_break       ok
stage.lock           self           forbidden      forbidden      forbidden
stage.lock           elsewhere      forbidden      forbidden      ok
stage.lock           ended          ended          ended          ended
floor.give           guided         forbidden      forbidden      ok
floor.give           floor_b        forbidden      forbidden      ok
floor.give           locked         forbidden      forbidden      ok
floor.give           break          on_break       on_break       ok
floor.give           break_over     forbidden      forbidden      ok
floor.give           self           ok             ok             forbidden
floor.give           self_floor_b   not_your_turn  ok             forbidden
floor.give           roles_unset    forbidden      forbidden      ok
floor.give           ended          ended          ended          ended
break.start          guided         forbidden      forbidden      ok
break.start          locked         forbidden      forbidden      ok
break.start          break          on_break       on_break       ok
break.start          break_over     forbidden      forbidden      ok
break.start          self           ok             ok             forbidden
break.start          self_floor_b   ok             ok             forbidden
break.start          ended          ended          ended          ended
break.end            guided         forbidden      forbidden      bad_value
break.end            break          on_break       on_break       ok
break.end            break_over     forbidden      forbidden      bad_value
break.end            self           forbidden      forbidden      forbidden
break.end            ended          ended          ended          ended
break.request        guided         ok             ok             forbidden
break.request        locked         ok             ok             forbidden
break.request        break          on_break       on_break       forbidden
break.request        break_over     ok             ok             forbidden
break.request        self           ok             ok             forbidden
break.request        ended          ended          ended          ended
ready                guided         ok             ok             forbidden
ready                locked         ok             ok             forbidden
ready                break          on_break       on_break       forbidden
ready                break_over     ok             ok             forbidden
ready                self           ok             ok             forbidden
ready                roles_unset    ok             ok             forbidden
ready                ended          ended          ended          ended
session.end          guided         forbidden      forbidden      ok
session.end          break          forbidden      forbidden      ok
session.end          self           ok             ok             forbidden
session.end          self_break_new ok             ok             forbidden
session.end          paused         ok             ok             forbidden
session.end          ended          ended          ended          ended

# Breaks that fit, self-guided: the starter (partner_a) undoes one within its
# first minute; after 20 minutes each partner says "ready to come back".
break.undo           guided         forbidden      forbidden      forbidden
break.undo           break          forbidden      forbidden      forbidden
break.undo           self           bad_value      bad_value      forbidden
break.undo           self_break_new ok             forbidden      forbidden
break.undo           self_break_old on_break       forbidden      forbidden
break.undo           ended          ended          ended          ended
break.back           guided         forbidden      forbidden      forbidden
break.back           self           bad_value      bad_value      forbidden
break.back           self_break_new on_break       on_break       forbidden
break.back           self_break_old ok             ok             forbidden
break.back           ended          ended          ended          ended
break.request        self_break_new on_break       on_break       forbidden
ready                paused         paused         paused         forbidden
break.request        paused         paused         paused         forbidden

# Private to the therapist: a line from partner_a open in every stage, state
# and lock until the end; it does not exist without a therapist.
write:priv_a         guided         ok             forbidden      forbidden
write:priv_a         locked         ok             forbidden      forbidden
write:priv_a         floor_b        ok             forbidden      forbidden
write:priv_a         break          ok             forbidden      forbidden
write:priv_a         elsewhere      ok             forbidden      forbidden
write:priv_a         self           unknown_field  unknown_field  forbidden
write:priv_a         paused         unknown_field  unknown_field  forbidden
write:priv_a         ended          ended          ended          ended
value.set:rate_b     guided         forbidden      ok             forbidden
value.set:rate_b     break          on_break       on_break       on_break
value.set:rate_b     self           forbidden      ok             forbidden
# A safety-screen answer stays changeable while it pauses the conversation;
# nothing else a partner writes does.
value.set:screen_a   guided         ok             forbidden      forbidden
value.set:screen_a   locked         locked         forbidden      forbidden
value.set:screen_a   break          on_break       on_break       on_break
value.set:screen_a   self           ok             forbidden      forbidden
value.set:screen_a   paused         ok             forbidden      forbidden
value.set:screen_a   ended          ended          ended          ended
write:a_text         paused         paused         paused         forbidden
write:b_text         paused         paused         paused         forbidden

# Imago: validation opens once the speaker confirmed the mirror.
write:inv_validate   guided         forbidden      forbidden      forbidden
write:inv_validate   floor_a        forbidden      forbidden      forbidden
write:inv_validate   mirrored       ok             forbidden      forbidden
write:inv_validate   roles_unset    roles_unset    roles_unset    forbidden
write:inv_validate   ended          ended          ended          ended

nonsense             guided         bad_action     bad_action     bad_action
nonsense             self           bad_action     bad_action     forbidden
`
