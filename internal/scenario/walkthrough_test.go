package scenario_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"repairroom/internal/client"
	"repairroom/internal/room"
	"repairroom/internal/testnode"
)

// session is one conversation under test: a room, its participants'
// clients, and the moderator's secret note marker.
type session struct {
	t       *testing.T
	cl      *cluster
	r       testnode.Room
	a, b    *client.Client
	mod     *client.Client // nil when self-guided
	marker  string
	secrets []string // private words of one partner (see secret)
}

func newSession(t *testing.T, cl *cluster, template, mode string) *session {
	s := &session{t: t, cl: cl, r: cl.nodes[0].CreateRoom(t, template, mode)}
	// Partners on one node, the moderator on the other when there are two:
	// everything also crosses nodes.
	s.a = cl.dial(t, 0, s.r, "partner_a", client.Options{})
	s.b = cl.dial(t, 0, s.r, "partner_b", client.Options{})
	if mode == "guided" {
		s.mod = cl.dial(t, len(cl.nodes)-1, s.r, "moderator", client.Options{})
		s.marker = fmt.Sprintf("PRIVATE-NOTE-%s", s.r.ID[:8])
	}
	return s
}

func (s *session) all() []*client.Client {
	if s.mod == nil {
		return []*client.Client{s.a, s.b}
	}
	return []*client.Client{s.a, s.b, s.mod}
}

// write types text at the end of key and waits until everyone who may read
// key shows it, as stored in Redis.
func (s *session) write(c *client.Client, key, text string) fieldState {
	s.t.Helper()
	appendText(s.t, c, key, text)
	f := s.cl.settle(s.t, s.r.ID, key, s.all()...)
	if !strings.Contains(f.Text, text) {
		s.t.Fatalf("%s holds %q, without %q", key, f.Text, text)
	}
	return f
}

// note has the moderator add to the private notes, with the secret marker,
// and move its cursor there.
func (s *session) note(text string) {
	s.t.Helper()
	if s.mod == nil {
		return
	}
	s.write(s.mod, "notes", fmt.Sprintf(" %s %s.", s.marker, text))
	s.mod.Presence("notes", []int{1, 3})
}

// stage moves a guided room to stage (the moderator) and waits until
// everyone is there.
func (s *session) stage(id string) {
	s.t.Helper()
	act(s.t, s.mod, map[string]any{"act": "stage.set", "stage": id})
	s.waitAll("stage "+id, func(st room.State) bool { return st.Stage == id })
}

func (s *session) waitAll(what string, ok func(room.State) bool) room.State {
	s.t.Helper()
	var last room.State
	for _, c := range s.all() {
		last = waitState(s.t, c, what, ok)
	}
	return last
}

func (s *session) version(key string) int64 {
	return s.cl.fields(s.t, s.r.ID, key)[key].Version
}

// signAgreement: both partners write and sign; a sign-off at an old version
// is refused; one more edit voids both sign-offs (the marks stay, bound to
// the old version); both sign again.
func (s *session) signAgreement(key string) {
	t := s.t
	t.Helper()
	s.write(s.a, key, "We agree to speak one at a time 🤝")
	s.write(s.b, key, "\nand to ask for a break when flooded.")
	v := s.version(key)
	refuseAct(t, s.a, "stale", map[string]any{"act": "sign", "field": key, "version": v - 1})
	for _, c := range []*client.Client{s.a, s.b} {
		_, cv := c.Confirmed(key)
		act(t, c, map[string]any{"act": "sign", "field": key, "version": cv})
	}
	signed := func(v int64) func(room.State) bool {
		return func(st room.State) bool {
			sg := room.Signed(st, key, map[string]int64{key: v})
			return sg[room.PartnerA] && sg[room.PartnerB]
		}
	}
	s.waitAll("both signed "+key, signed(v))

	// One more edit, by either partner: both sign-offs are void.
	f := s.write(s.b, key, " Also: no phones at dinner.")
	st := state(t, s.a)
	if m := st.Signs[key]; m[room.PartnerA].Version != v || m[room.PartnerB].Version != v {
		t.Fatalf("marks after the edit: %+v", m)
	}
	if sg := room.Signed(st, key, map[string]int64{key: f.Version}); len(sg) != 0 {
		t.Fatalf("sign-offs survive an edit: %v (marks at %d, text at %d)", sg, v, f.Version)
	}
	for _, c := range []*client.Client{s.a, s.b} {
		act(t, c, map[string]any{"act": "sign", "field": key, "version": f.Version})
	}
	s.waitAll("both signed again "+key, signed(f.Version))

	// A partner may withdraw, and sign again.
	act(t, s.a, map[string]any{"act": "unsign", "field": key})
	s.waitAll("a withdrew from "+key, func(st room.State) bool {
		sg := room.Signed(st, key, map[string]int64{key: f.Version})
		return !sg[room.PartnerA] && sg[room.PartnerB]
	})
	act(t, s.a, map[string]any{"act": "sign", "field": key, "version": f.Version})
	s.waitAll("signed for good "+key, signed(f.Version))
}

// breakBlocksPartners: a partner asks for a 30-minute break, with a reason
// for the therapist only; the moderator accepts it with the minutes asked
// for; a partner's push is refused on_break (and stays pending) until the
// moderator ends the break, when it goes through. The other partner learns
// who asked and who started it, never the reason.
func (s *session) breakBlocksPartners(key string) {
	t := s.t
	t.Helper()
	reason := "I need a moment " + s.secret("REASON-B")
	act(t, s.b, map[string]any{"act": "break.request", "reason": reason, "minutes": 30})
	waitState(t, s.mod, "the break request", func(st room.State) bool {
		return st.BreakRequest != nil && st.BreakRequest.By == room.PartnerB && st.BreakRequest.Reason == reason && st.BreakRequest.Minutes == 30
	})
	act(t, s.mod, map[string]any{"act": "break.start"})
	s.waitAll("the break", func(st room.State) bool { return st.Break != nil && st.BreakRequest == nil })
	if br := state(t, s.mod).Break; br.Until.Sub(br.Started) != 30*time.Minute || br.AskedBy != room.PartnerB || br.By != room.Moderator || br.Reason != reason {
		t.Fatalf("the accepted break: %+v", br)
	}
	if br := state(t, s.a).Break; br.Reason != "" || br.AskedBy != room.PartnerB {
		t.Fatalf("partner_a's view of partner_b's break: %+v", br)
	}
	syncRefused(t, s.a, key, " written during the break", "on_break")
	refuseAct(t, s.b, "on_break", map[string]any{"act": "break.request"})
	if got := rawPush(t, s.b, key, "x"); got != "on_break" {
		t.Fatalf("partner_b pushed during the break: %q", got)
	}
	refuseAct(t, s.a, "on_break", map[string]any{"act": "break.end"}) // partners can do nothing during a break
	act(t, s.mod, map[string]any{"act": "break.end"})
	s.waitAll("the break's end", func(st room.State) bool { return st.Break.EndedHow == room.BreakEndedByModerator })
	f := s.cl.settle(t, s.r.ID, key, s.all()...)
	if !strings.Contains(f.Text, "written during the break") {
		t.Fatalf("the edit held back by the break is lost: %q", f.Text)
	}
}

// finish ends the session and checks that no partner ever received the
// moderator's notes, not even their field id.
func (s *session) finish(endBy *client.Client) {
	t := s.t
	t.Helper()
	act(t, endBy, map[string]any{"act": "session.end"})
	s.waitAll("the end", func(st room.State) bool { return st.Ended != nil })
	s.check()
}

func (s *session) check() {
	s.t.Helper()
	for _, c := range s.all() {
		if n := c.Anomalies(); n != 0 {
			s.t.Errorf("a client met %d frames that did not fit", n)
		}
	}
	var secrets []string
	if s.marker != "" {
		secrets = append(secrets, s.marker)
	}
	noLeak(s.t, "partner_a", s.a, secrets...)
	noLeak(s.t, "partner_b", s.b, secrets...)
	// What one partner keeps for the therapist never reaches the other.
	noPrivateLeak(s.t, "partner_a", s.a, s.privateOf(room.PartnerB), s.secretsOf("-B")...)
	noPrivateLeak(s.t, "partner_b", s.b, s.privateOf(room.PartnerA), s.secretsOf("-A")...)
}

// secret returns a marker unique to this session, remembered so that
// check can look for it where it must not be. Markers ending in -A are
// partner_a's private words, -B partner_b's.
func (s *session) secret(name string) string {
	m := fmt.Sprintf("%s-%s-%d", name, s.r.ID[:6], len(s.secrets))
	s.secrets = append(s.secrets, m)
	return m
}

func (s *session) secretsOf(suffix string) []string {
	var out []string
	for _, m := range s.secrets {
		if strings.Contains(m, suffix+"-") {
			out = append(out, m)
		}
	}
	return out
}

// privateOf lists the fields of the room's template that only p (and the
// moderator) may read, from the moderator's or p's welcome.
func (s *session) privateOf(p room.Role) []string {
	var tpl struct {
		Stages []struct {
			Fields []struct {
				ID         string `json:"id"`
				Owner      string `json:"owner"`
				Visibility string `json:"visibility"`
			} `json:"fields"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(s.a.Welcome().Template, &tpl); err != nil {
		s.t.Fatalf("template: %v", err)
	}
	roles := state(s.t, s.a).Roles
	var out []string
	for _, st := range tpl.Stages {
		for _, f := range st.Fields {
			if f.Visibility == "owner" && (room.Role(f.Owner) == p || roles[f.Owner] == p) {
				out = append(out, f.ID)
			}
		}
	}
	return out
}

// noPrivateLeak walks every frame a partner received, welcomes included:
// none may carry a value, an update, an event value or a cursor for the
// other partner's private fields, any alert, or the other's private words.
func noPrivateLeak(t *testing.T, who string, cl *client.Client, fields []string, secrets ...string) {
	t.Helper()
	if len(fields) == 0 {
		return
	}
	for _, f := range cl.Frames() {
		for _, m := range secrets {
			if strings.Contains(string(f), m) {
				t.Fatalf("%s received %q in %s", who, m, f)
			}
		}
		var v any
		if err := json.Unmarshal(f, &v); err != nil {
			t.Fatalf("%s: a frame that is not JSON: %s", who, f)
		}
		if path := privateIn(v, fields, ""); path != "" {
			t.Fatalf("%s received %s in %s", who, path, f)
		}
	}
}

func privateIn(v any, fields []string, at string) string {
	switch v := v.(type) {
	case map[string]any:
		if _, ok := v["alerts"]; ok {
			return at + ".alerts"
		}
		if vals, ok := v["values"].(map[string]any); ok {
			for k := range vals {
				if slices.Contains(fields, k) {
					return at + ".values." + k
				}
			}
		}
		if f, ok := v["field"].(string); ok && slices.Contains(fields, f) {
			if v["t"] == "updates" || v["t"] == "reset" || v["sel"] != nil {
				return at + " " + f + " text or cursor"
			}
			if d, ok := v["detail"].(map[string]any); ok && d["value"] != nil {
				return at + ".detail.value of " + f
			}
		}
		if fs, ok := v["fields"].(map[string]any); ok && at == "" {
			for k := range fs {
				if slices.Contains(fields, k) {
					return "fields." + k
				}
			}
		}
		for k, x := range v {
			if p := privateIn(x, fields, at+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, x := range v {
			if p := privateIn(x, fields, fmt.Sprintf("%s[%d]", at, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

func TestBetrayalWalkthrough(t *testing.T) {
	cl := startCluster(t, 2, testnode.Options{})
	s := newSession(t, cl, "betrayal", "guided")
	a, b, mod := s.a, s.b, s.mod

	// start: the safety screen, each partner's line to the therapist,
	// ground rules (signed), private safety ratings, roles, a break.
	s.note("first impressions: both anxious")
	act(t, a, map[string]any{"act": "value.set", "field": "screen_safe_a", "value": "No"})
	act(t, a, map[string]any{"act": "value.set", "field": "screen_afraid_a", "value": "Not sure"})
	act(t, b, map[string]any{"act": "value.set", "field": "screen_safe_b", "value": "Yes"})
	act(t, b, map[string]any{"act": "value.set", "field": "screen_afraid_b", "value": "No"})
	refuseAct(t, b, "forbidden", map[string]any{"act": "value.set", "field": "screen_safe_a", "value": "Yes"})
	st := waitState(t, mod, "the alerts", func(st room.State) bool { return len(st.Alerts) == 2 })
	if st.Alerts["screen_safe_a"].Value != "No" || st.Alerts["screen_afraid_a"].Value != "Not sure" || st.Alerts["screen_safe_a"].By != room.PartnerA {
		t.Fatalf("the therapist's alerts: %+v", st.Alerts)
	}
	// An act's ok may reach its socket before the room frame of the change
	// (which comes through the room's channel): wait for both answers.
	if st = waitState(t, b, "a answered", func(st room.State) bool {
		return st.Answered["screen_safe_a"] && st.Answered["screen_afraid_a"] && st.Values["screen_afraid_b"] != nil
	}); st.Hold != nil || st.Values["screen_safe_b"] == nil {
		t.Fatalf("partner_b's view after partner_a's answers: %+v", st)
	}
	s.write(a, "private_a", "I am scared of how he reacts at home. "+s.secret("LINE-A"))
	if b.Has("private_a") || a.Has("private_b") {
		t.Fatal("a partner holds the other's line to the therapist")
	}
	if rawPush(t, b, "private_a", "me too") != "forbidden" {
		t.Fatal("partner_b wrote into partner_a's private line")
	}
	refuseAct(t, mod, "roles_unset", map[string]any{"act": "stage.set", "stage": "acknowledge"})
	refuseAct(t, a, "forbidden", map[string]any{"act": "roles.set", "roles": map[string]any{"hurt": "partner_a", "involved": "partner_b"}})
	act(t, mod, map[string]any{"act": "roles.set", "roles": map[string]any{"hurt": "partner_b", "involved": "partner_a"}})
	s.waitAll("roles", func(st room.State) bool { return st.Roles["hurt"] == room.PartnerB })
	act(t, a, map[string]any{"act": "value.set", "field": "safety_start_a", "value": 4})
	act(t, b, map[string]any{"act": "value.set", "field": "safety_start_b", "value": 6})
	refuseAct(t, b, "forbidden", map[string]any{"act": "value.set", "field": "safety_start_a", "value": 9})
	refuseAct(t, a, "bad_value", map[string]any{"act": "value.set", "field": "safety_start_a", "value": 11})
	waitState(t, mod, "ratings", func(st room.State) bool {
		return string(st.Values["safety_start_a"]) == "4" && string(st.Values["safety_start_b"]) == "6"
	})
	waitState(t, a, "b rated", func(st room.State) bool {
		return st.Answered["safety_start_b"] && st.Values["safety_start_b"] == nil && string(st.Values["safety_start_a"]) == "4"
	})
	s.breakBlocksPartners("ground_rules")
	s.signAgreement("ground_rules")

	// acknowledge: turn taking; the hurt partner speaks, the other mirrors
	// until the speaker confirms.
	s.stage("acknowledge")
	s.note("b speaks first")
	syncRefused(t, b, "impact", "Since I found out, I have felt small.", "not_your_turn")
	act(t, mod, map[string]any{"act": "floor.give", "role": "partner_b"})
	s.cl.settle(t, s.r.ID, "impact", s.all()...) // the held-back edit goes through
	s.write(b, "impact", " What hurts most is the lying.")
	syncRefused(t, a, "impact_mirror", "What I hear is that you felt small.", "not_your_turn")
	act(t, mod, map[string]any{"act": "floor.give", "role": "partner_a"})
	f := s.cl.settle(t, s.r.ID, "impact_mirror", s.all()...)
	refuseAct(t, a, "forbidden", map[string]any{"act": "mirror.confirm", "field": "impact_mirror", "version": f.Version, "status": "yes"})
	act(t, b, map[string]any{"act": "mirror.confirm", "field": "impact_mirror", "version": f.Version, "status": "again"})
	s.waitAll("try again", func(st room.State) bool {
		return room.MirrorStatus(st, "impact_mirror", map[string]int64{"impact_mirror": f.Version}) == room.MirrorAgain
	})
	f = s.write(a, "impact_mirror", " And that the lying hurts most. Did I get it?")
	refuseAct(t, b, "stale", map[string]any{"act": "mirror.confirm", "field": "impact_mirror", "version": f.Version - 1, "status": "yes"})
	act(t, b, map[string]any{"act": "mirror.confirm", "field": "impact_mirror", "version": f.Version, "status": "yes"})
	s.waitAll("yes, that's it", func(st room.State) bool {
		return room.MirrorStatus(st, "impact_mirror", map[string]int64{"impact_mirror": f.Version}) == room.MirrorYes
	})
	// Imago: validation opened with the mirror's "yes"; empathy waits for
	// validation's.
	s.write(b, "private_b", "He is listening today. "+s.secret("LINE-B")) // from any stage, with the floor elsewhere
	if got := rawPush(t, a, "impact_empathy", "I imagine you feel alone."); got != "forbidden" {
		t.Fatalf("empathy before validation: %q", got)
	}
	f = s.write(a, "impact_validate", "It makes sense to me that you feel small, because I hid it.")
	act(t, b, map[string]any{"act": "mirror.confirm", "field": "impact_validate", "version": f.Version, "status": "yes"})
	s.waitAll("validated", func(st room.State) bool { return st.Mirrors["impact_validate"].Status == room.MirrorYes })
	f = s.write(a, "impact_empathy", "I imagine you feel alone and foolish.")
	act(t, b, map[string]any{"act": "mirror.confirm", "field": "impact_empathy", "version": f.Version, "status": "yes"})
	s.waitAll("empathy confirmed", func(st room.State) bool { return st.Mirrors["impact_empathy"].Status == room.MirrorYes })

	// apology: the involved partner's three texts; the hurt partner's.
	s.stage("apology")
	s.write(a, "apology_what", "I lied to you about where I was.")
	s.write(a, "apology_why", "I am sorry because it broke what we built.")
	s.write(a, "apology_prevent", "From now on, I will tell you first.")
	s.write(b, "apology_heard", "What I still need is time.")
	if got := rawPush(t, b, "apology_what", "not mine"); got != "forbidden" {
		t.Fatalf("the hurt partner wrote the apology: %q", got)
	}

	// questions: the hurt partner asks, the other answers or sets aside.
	s.stage("questions")
	s.note("questions going well")
	act(t, b, map[string]any{"act": "question.add", "field": "healing_questions", "text": "Who else knew?"})
	act(t, b, map[string]any{"act": "question.add", "field": "healing_questions", "text": "Why then? 😔"})
	refuseAct(t, a, "forbidden", map[string]any{"act": "question.add", "field": "healing_questions", "text": "May I ask?"})
	st = s.waitAll("two questions", func(st room.State) bool { return len(st.Questions["healing_questions"]) == 2 })
	q1, q2 := st.Questions["healing_questions"][0].ID, st.Questions["healing_questions"][1].ID
	act(t, a, map[string]any{"act": "question.answer", "field": "healing_questions", "item": q1, "text": "Nobody."})
	refuseAct(t, b, "forbidden", map[string]any{"act": "question.answer", "field": "healing_questions", "item": q2, "text": "x"})
	act(t, a, map[string]any{"act": "question.status", "field": "healing_questions", "item": q2, "status": "notnow"})
	s.waitAll("answered and set aside", func(st room.State) bool {
		qs := st.Questions["healing_questions"]
		return len(qs) == 2 && qs[0].Status == room.QuestionAnswered && qs[0].Answer == "Nobody." && qs[1].Status == room.QuestionNotNow
	})
	act(t, b, map[string]any{"act": "question.status", "field": "healing_questions", "item": q2, "status": "open"})
	s.waitAll("reopened", func(st room.State) bool { return st.Questions["healing_questions"][1].Status == room.QuestionOpen })

	// openness: two agreements.
	s.stage("openness")
	s.signAgreement("transparency")
	s.write(a, "boundaries", "We agree that ")
	s.write(b, "boundaries", "phones stay open.")
	v := s.version("boundaries")
	act(t, a, map[string]any{"act": "sign", "field": "boundaries", "version": v})
	act(t, b, map[string]any{"act": "sign", "field": "boundaries", "version": v})
	s.waitAll("boundaries signed", func(st room.State) bool {
		return len(room.Signed(st, "boundaries", map[string]int64{"boundaries": v})) == 2
	})

	// plan: the moderator writes into a shared field too.
	s.stage("plan")
	s.signAgreement("plan_steps")
	act(t, mod, map[string]any{"act": "value.set", "field": "checkins", "value": []map[string]any{{"at": time.Now().Add(72 * time.Hour).Format(time.RFC3339)}}})
	act(t, b, map[string]any{"act": "value.set", "field": "milestones", "value": []map[string]any{{"title": "One month 🎉"}}})
	s.waitAll("plan lists", func(st room.State) bool {
		return len(room.Checkins(st, "checkins")) == 1 && len(room.Milestones(st, "milestones")) == 1
	})

	// attune: each one's needs (by role), rituals signed by both.
	s.stage("attune")
	s.write(b, "needs_hurt", "I feel cared for when you tell me your plans.")
	s.write(a, "needs_involved", "I feel cared for when you say good morning.")
	if rawPush(t, a, "needs_hurt", "x") != "forbidden" {
		t.Fatal("the involved partner wrote the hurt partner's needs")
	}
	s.signAgreement("rituals")

	// attach: a renewed commitment, when both want it.
	s.stage("attach")
	s.write(a, "private_a", " Still scared. "+s.secret("LINE-A"))
	s.signAgreement("commitment")

	// forgiveness: partner_b reveals a draft; partner_a keeps theirs.
	s.stage("forgiveness")
	s.write(b, "forgiveness.partner_b", "I choose to let go of waiting for the past to change. 12 May.")
	s.write(a, "forgiveness.partner_a", "I am not ready "+s.secret("DRAFT-A"))
	act(t, b, map[string]any{"act": "reveal", "field": "forgiveness"})
	if err := a.Wait(ctxFor(t), func() bool { return strings.Contains(a.Text("forgiveness.partner_b"), "let go") }); err != nil {
		t.Fatalf("the revealed forgiveness never reached partner_a: %v", err)
	}

	// closing: ratings again, appreciations (optional: partner_b gives none).
	s.stage("closing")
	s.note("closing calmer")
	act(t, a, map[string]any{"act": "value.set", "field": "safety_end_a", "value": 6})
	act(t, b, map[string]any{"act": "value.set", "field": "safety_end_b", "value": 7})
	s.write(a, "appreciation_a", "You stayed.")

	// partner_b reconnects: the new welcome holds nothing private of partner_a's.
	if err := b.Reconnect(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	waitState(t, b, "back with a's rating answered", func(st room.State) bool { return st.Answered["safety_end_a"] })
	s.check()
	s.finish(mod)
	if got := rawPush(t, a, "appreciation_a", "late"); got != "ended" {
		t.Fatalf("a push after the end: %q", got)
	}
	s.write(mod, "notes", " Written after the end.")
	if got := rawPush(t, a, "private_a", "late"); got != "ended" {
		t.Fatalf("a private line after the end: %q", got)
	}
	s.check()
}

func TestAftermathWalkthrough(t *testing.T) {
	cl := startCluster(t, 2, testnode.Options{})
	s := newSession(t, cl, "aftermath", "guided")
	a, b, mod := s.a, s.b, s.mod

	// feelings: several choices each.
	s.note("both calm enough")
	act(t, a, map[string]any{"act": "value.set", "field": "feelings_a", "value": []string{"hurt", "unheard"}})
	act(t, b, map[string]any{"act": "value.set", "field": "feelings_b", "value": []string{"criticised", "tired"}})
	refuseAct(t, b, "bad_value", map[string]any{"act": "value.set", "field": "feelings_b", "value": []string{"elated"}})
	s.waitAll("feelings", func(st room.State) bool {
		return string(st.Values["feelings_a"]) == `["hurt","unheard"]` && string(st.Values["feelings_b"]) == `["criticised","tired"]`
	})

	// realities: turns; each listener sums up, each speaker confirms.
	s.stage("realities")
	act(t, mod, map[string]any{"act": "floor.give", "role": "partner_a"})
	s.waitAll("a's turn", func(st room.State) bool { return st.Floor == room.PartnerA })
	s.write(a, "reality_a", "What I saw was a closed door.\nWhat I needed was a hug.")
	syncRefused(t, b, "summary_of_a", "What I hear is that you needed a hug.", "not_your_turn")
	act(t, mod, map[string]any{"act": "floor.give", "role": "partner_b"})
	f := s.cl.settle(t, s.r.ID, "summary_of_a", s.all()...)
	act(t, a, map[string]any{"act": "mirror.confirm", "field": "summary_of_a", "version": f.Version, "status": "yes"})
	s.write(b, "reality_b", "What I saw was a raised voice.")
	act(t, mod, map[string]any{"act": "floor.give", "role": "partner_a"})
	f2 := s.write(a, "summary_of_b", "It makes sense that you stepped away.")
	act(t, b, map[string]any{"act": "mirror.confirm", "field": "summary_of_b", "version": f2.Version, "status": "yes"})
	s.waitAll("both confirmed", func(st room.State) bool {
		vs := map[string]int64{"summary_of_a": f.Version, "summary_of_b": f2.Version}
		return room.MirrorStatus(st, "summary_of_a", vs) == room.MirrorYes && room.MirrorStatus(st, "summary_of_b", vs) == room.MirrorYes
	})

	// triggers, with a break.
	s.stage("triggers")
	s.write(a, "triggers_a", "It got bigger when ")
	s.breakBlocksPartners("triggers_a")
	s.write(b, "triggers_b", "It reminds me of my father's silences.")

	// responsibility.
	s.stage("responsibility")
	s.note("good ownership from both")
	s.write(a, "contributed_a", "I was already tired.")
	s.write(a, "apology_a", "I'm sorry that I slammed the door.")
	s.write(b, "contributed_b", "I was already worried.")
	s.write(b, "apology_b", "I'm sorry that I raised my voice.")

	// plans: requests, then one thing each, drafted alone and revealed.
	s.stage("plans")
	s.write(a, "plan_a", "Next time, it would help me if you said when you need space.")
	s.write(b, "plan_b", "Next time, it would help me if you stayed in the room.")
	revealDrafts(t, s, "one_thing", "Next time, I will breathe first 🌬️", "Next time, I will say it softly.")
	s.finish(mod)
}

// revealDrafts: each partner drafts alone (the other partner does not even
// hold the text), then reveals: the other receives it, and it is frozen.
func revealDrafts(t *testing.T, s *session, field, textA, textB string) {
	t.Helper()
	ka, kb := field+".partner_a", field+".partner_b"
	refuseAct(t, s.b, "bad_value", map[string]any{"act": "reveal", "field": field}) // nothing written yet
	s.write(s.a, ka, textA)
	s.write(s.b, kb, textB)
	if s.b.Has(ka) || s.a.Has(kb) {
		t.Fatal("a partner holds the other's unrevealed draft")
	}
	if s.mod != nil && (s.mod.Text(ka) != textA || s.mod.Text(kb) != textB) {
		t.Fatal("the moderator does not see the drafts")
	}
	for _, rv := range []struct {
		by, other *client.Client
		key, text string
	}{{s.a, s.b, ka, textA}, {s.b, s.a, kb, textB}} {
		act(t, rv.by, map[string]any{"act": "reveal", "field": field})
		if err := rv.other.Wait(ctxFor(t), func() bool { return rv.other.Text(rv.key) == rv.text }); err != nil {
			t.Fatalf("the revealed %s never reached the other partner: %v", rv.key, err)
		}
		if got := rawPush(t, rv.by, rv.key, "changed my mind"); got != "forbidden" {
			t.Fatalf("a revealed draft changed: %q", got)
		}
	}
}

func TestCheckinGuidedWalkthrough(t *testing.T) {
	cl := startCluster(t, 2, testnode.Options{})
	s := newSession(t, cl, "checkin", "guided")
	a, b, mod := s.a, s.b, s.mod

	s.note("a lighter week")
	s.write(a, "wins", "We walked to the lake. ")
	s.write(b, "wins", "We cooked together 🍲.")
	s.write(mod, "wins", " (Both smiled.)")
	s.breakBlocksPartners("wins")
	revealDrafts(t, s, "appreciated", "I appreciated your note.", "I appreciated the tea ☕.")

	s.stage("hard")
	refuseAct(t, a, "forbidden", map[string]any{"act": "stage.set", "stage": "next"})
	s.write(a, "hard_a", "It was hard for me when plans changed.")
	s.write(b, "hard_b", "It was hard for me when I felt alone.")

	s.stage("commitments")
	s.note("commitments renewed")
	s.signAgreement("commitments")

	s.stage("next")
	s.write(a, "next_checkin", "Sunday 19 May, 8 pm")
	s.finish(mod)
}

// TestCheckinSelfGuidedWalkthrough: no moderator; each stage moves on when
// both partners are ready, and the last one ends the session. A break a
// partner asks for starts at once and holds both partners' pushes until
// its time is up (the node's clock is moved past it).
func TestCheckinSelfGuidedWalkthrough(t *testing.T) {
	var skew atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	cl := startCluster(t, 1, testnode.Options{Now: now})
	s := newSession(t, cl, "checkin", "self")
	a, b := s.a, s.b
	ready := func(next string) {
		t.Helper()
		act(t, a, map[string]any{"act": "ready", "ready": true})
		if st := waitState(t, b, "a ready", func(st room.State) bool { return st.Ready[room.PartnerA] }); st.Ended != nil {
			t.Fatal("one partner ready moved the room on")
		}
		act(t, b, map[string]any{"act": "ready", "ready": true})
		if next == "" {
			s.waitAll("the end", func(st room.State) bool { return st.Ended != nil })
			return
		}
		s.waitAll("stage "+next, func(st room.State) bool { return st.Stage == next && len(st.Ready) == 0 })
	}

	refuseAct(t, a, "forbidden", map[string]any{"act": "stage.set", "stage": "hard"})
	s.write(a, "wins", "We walked. ")
	s.write(b, "wins", "We laughed 😂.")
	revealDrafts(t, s, "appreciated", "Your patience.", "Your jokes.")
	ready("hard")

	s.write(a, "hard_a", "It was hard for me when ")
	// Pressed by mistake: only its starter undoes it, in its first minute.
	act(t, b, map[string]any{"act": "break.request"})
	s.waitAll("b's break", func(st room.State) bool { return st.Break != nil && st.Break.By == room.PartnerB })
	refuseAct(t, a, "forbidden", map[string]any{"act": "break.undo"})
	act(t, b, map[string]any{"act": "break.undo"})
	s.waitAll("undone", func(st room.State) bool { return st.Break.EndedHow == room.BreakUndone })

	// A 40-minute break: after 20 minutes, both "ready to come back" end it.
	act(t, a, map[string]any{"act": "break.request", "reason": "tired", "minutes": 40})
	s.waitAll("the break", func(st room.State) bool {
		return st.Break != nil && st.Break.By == room.PartnerA && st.Break.EndedHow == ""
	})
	if st := state(t, b); st.Break.Reason != "" {
		t.Fatalf("an unshared reason reached partner_b: %+v", st.Break)
	}
	syncRefused(t, b, "hard_b", "I felt unheard.", "on_break")
	refuseAct(t, a, "on_break", map[string]any{"act": "ready", "ready": true})
	refuseAct(t, a, "on_break", map[string]any{"act": "break.end"})
	refuseAct(t, a, "on_break", map[string]any{"act": "break.back", "ready": true}) // not before 20 minutes
	skew.Store(int64(90 * time.Second))
	refuseAct(t, a, "on_break", map[string]any{"act": "break.undo"}) // the minute is over
	skew.Store(int64(21 * time.Minute))
	act(t, a, map[string]any{"act": "break.back", "ready": true})
	waitState(t, b, "a is ready to come back", func(st room.State) bool { return st.Break.Back[room.PartnerA] })
	refuseAct(t, b, "on_break", map[string]any{"act": "ready", "ready": true})
	act(t, b, map[string]any{"act": "break.back", "ready": true})
	s.waitAll("both back", func(st room.State) bool { return st.Break.EndedHow == room.BreakBothBack })
	s.cl.settle(t, s.r.ID, "hard_b", s.all()...)
	s.write(a, "hard_a", "I was alone on Tuesday.")
	ready("commitments")

	s.signAgreement("commitments")
	ready("next")

	s.write(b, "next_checkin", "Sunday 19 May, 8 pm")
	ready("")
	if got := rawPush(t, a, "next_checkin", "late"); got != "ended" {
		t.Fatalf("a push after the end: %q", got)
	}
	s.check()
}

// TestBetrayalSelfGuidedSafetyNoPausesForBoth: without a therapist there is
// no private line; a "No" on the safety screen pauses the conversation for
// both, and the other partner's copy says neither who nor why. Changing the
// answer lifts the pause; ending the conversation stays possible.
func TestBetrayalSelfGuidedSafetyNoPausesForBoth(t *testing.T) {
	cl := startCluster(t, 1, testnode.Options{})
	s := newSession(t, cl, "betrayal", "self")
	a, b := s.a, s.b
	if got := rawPush(t, a, "private_a", "hello"); got != "unknown_field" {
		t.Fatalf("a private line to nobody: %q", got)
	}
	act(t, b, map[string]any{"act": "value.set", "field": "screen_safe_b", "value": "No"})
	st := waitState(t, a, "the pause", func(st room.State) bool { return st.Hold != nil })
	if st.Hold.By != "" || st.Hold.Field != "" || st.Answered["screen_safe_b"] != true || st.Values["screen_safe_b"] != nil {
		t.Fatalf("partner_a learns who paused, or why: %+v", st)
	}
	if st := waitState(t, b, "own pause", func(st room.State) bool { return st.Hold != nil }); st.Hold.By != room.PartnerB {
		t.Fatalf("partner_b's pause: %+v", st.Hold)
	}
	syncRefused(t, a, "ground_rules", "We agree to...", "paused")
	refuseAct(t, a, "paused", map[string]any{"act": "ready", "ready": true})
	act(t, b, map[string]any{"act": "value.set", "field": "screen_safe_b", "value": "Yes"})
	s.waitAll("the pause lifted", func(st room.State) bool { return st.Hold == nil })
	s.cl.settle(t, s.r.ID, "ground_rules", s.all()...)
	act(t, b, map[string]any{"act": "value.set", "field": "screen_safe_b", "value": "No"})
	s.waitAll("paused again", func(st room.State) bool { return st.Hold != nil })
	s.finish(a)
}

// TestDecideWalkthrough: the short "do we want to repair?" path, guided:
// private answers, drafts compared, a next step both sign.
func TestDecideWalkthrough(t *testing.T) {
	cl := startCluster(t, 2, testnode.Options{})
	s := newSession(t, cl, "decide", "guided")
	a, b, mod := s.a, s.b, s.mod
	s.note("ambivalent")
	act(t, a, map[string]any{"act": "value.set", "field": "want_a", "value": "Not yet"})
	act(t, b, map[string]any{"act": "value.set", "field": "want_b", "value": "Yes"})
	waitState(t, mod, "both answers", func(st room.State) bool { return st.Values["want_a"] != nil && st.Values["want_b"] != nil })
	waitState(t, b, "a answered", func(st room.State) bool { return st.Answered["want_a"] && st.Values["want_a"] == nil })
	s.write(a, "private_a", "I am not sure I want this. "+s.secret("LINE-A"))
	revealDrafts(t, s, "standing", "I feel torn.", "I want to try.")
	s.stage("needs")
	s.write(a, "would_need_a", "I could try if we saw someone together.")
	s.write(b, "would_need_b", "I could try if you told me the truth.")
	s.stage("next")
	s.signAgreement("next_step")
	s.finish(mod)
}
