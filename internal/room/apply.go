package room

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"repairroom/internal/templates"
)

// The acts Apply understands.
const (
	ActRolesSet       = "roles.set"       // {roles}
	ActStageSet       = "stage.set"       // {stage}
	ActStageLock      = "stage.lock"      // {stage, locked}; stage "" = the current one
	ActFloorGive      = "floor.give"      // {role}; role "" = nobody
	ActBreakStart     = "break.start"     // {minutes, reason}; minutes 0 = 20
	ActBreakEnd       = "break.end"       // {}
	ActBreakRequest   = "break.request"   // {minutes, reason, share}
	ActBreakUndo      = "break.undo"      // {}: self-guided, its starter, within UndoWindow
	ActBreakBack      = "break.back"      // {ready}: self-guided, after MinBreak; both ready ends it
	ActReady          = "ready"           // {ready}
	ActValueSet       = "value.set"       // {field, value}; value null clears
	ActSign           = "sign"            // {field, version}
	ActUnsign         = "unsign"          // {field}
	ActMirrorConfirm  = "mirror.confirm"  // {field, version, status}
	ActReveal         = "reveal"          // {field}
	ActQuestionAdd    = "question.add"    // {field, text}
	ActQuestionAnswer = "question.answer" // {field, item, text}
	ActQuestionStatus = "question.status" // {field, item, status}
	ActSessionEnd     = "session.end"     // {}
	// ActRetentionSet names the event of a retention change (Hub.RecordRetention);
	// it is not an act Apply accepts: the HTTP API changes retention.
	ActRetentionSet = "retention.set" // detail {days}
)

// Action is a request to change the room, decoded from a client's
// {"t":"act", ...} message. Which arguments matter depends on Act.
type Action struct {
	Act     string          `json:"act"`
	Stage   string          `json:"stage,omitempty"`
	Field   string          `json:"field,omitempty"`
	Role    Role            `json:"role,omitempty"`
	Value   json.RawMessage `json:"value,omitempty"`
	Minutes int             `json:"minutes,omitempty"`
	Locked  bool            `json:"locked,omitempty"`
	Text    string          `json:"text,omitempty"`
	Item    string          `json:"item,omitempty"`
	Version int64           `json:"version,omitempty"`
	Status  string          `json:"status,omitempty"`
	Ready   bool            `json:"ready,omitempty"`
	Roles   map[string]Role `json:"roles,omitempty"`
	Reason  string          `json:"reason,omitempty"`
	// Share: a break reason may also be shown to the other partner.
	Share bool `json:"share,omitempty"`
}

// Env is what Apply needs from outside: the time, the current version of
// each text (by text key; a missing key is version 0, an untouched text),
// and a source of unique ids for new questions.
type Env struct {
	Now      time.Time
	Versions map[string]int64
	NewID    func() string
	// BreakReturnAfter: how long a self-guided break lasts before both
	// partners being ready may end it; zero means MinBreak (the server's
	// setting, limits.BreakReturnAfter, shortens it only for tests).
	BreakReturnAfter time.Duration
}

// breakReturnAfter is env.BreakReturnAfter, or MinBreak when unset.
func (e Env) breakReturnAfter() time.Duration {
	if e.BreakReturnAfter > 0 {
		return e.BreakReturnAfter
	}
	return MinBreak
}

// minutesText says d in minutes, or in seconds when shorter than one.
func minutesText(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", int(d/time.Second))
	}
	return fmt.Sprintf("%d minutes", int(d/time.Minute))
}

// Event records a successful act for the session timeline and for the
// clients. It never carries the free text of a moderator field; events
// about moderator fields are Private (send them to the moderator only).
type Event struct {
	Act     string         `json:"act"`
	By      Role           `json:"by"`
	At      time.Time      `json:"at"`
	Field   string         `json:"field,omitempty"`
	Stage   string         `json:"stage,omitempty"`
	Detail  map[string]any `json:"detail,omitempty"`
	Private bool           `json:"private,omitempty"`
}

// Apply checks whether by may perform a and returns the new state and the
// event describing the change. The new state is a deep copy: s is never
// modified. On refusal it returns s unchanged and an *Error.
//
// Acts that would change nothing — the stage it is already at, revealing
// what is revealed — succeed with Detail["unchanged"] = true, so a client
// resending after a lost reply is not told off.
func Apply(t *templates.Template, s State, by Role, a Action, env Env) (State, Event, error) {
	g := gate{t: t, s: &s, by: by, now: env.Now}
	if err := g.who(); err != nil {
		return s, Event{}, err
	}
	c := change{gate: g, a: a, env: env, next: s.Clone(),
		ev: Event{Act: a.Act, By: by, At: env.Now, Stage: s.Stage}}
	var err error
	switch a.Act {
	case ActRolesSet:
		err = c.rolesSet()
	case ActStageSet:
		err = c.stageSet()
	case ActStageLock:
		err = c.stageLock()
	case ActFloorGive:
		err = c.floorGive()
	case ActBreakStart:
		err = c.breakStart()
	case ActBreakEnd:
		err = c.breakEnd()
	case ActBreakRequest:
		err = c.breakRequest()
	case ActBreakUndo:
		err = c.breakUndo()
	case ActBreakBack:
		err = c.breakBack()
	case ActReady:
		err = c.ready()
	case ActValueSet:
		err = c.valueSet()
	case ActSign, ActUnsign:
		err = c.sign()
	case ActMirrorConfirm:
		err = c.mirrorConfirm()
	case ActReveal:
		err = c.reveal()
	case ActQuestionAdd:
		err = c.questionAdd()
	case ActQuestionAnswer:
		err = c.questionAnswer()
	case ActQuestionStatus:
		err = c.questionStatus()
	case ActSessionEnd:
		err = c.sessionEnd()
	default:
		err = fail(CodeBadAction, "unknown act %q", a.Act)
	}
	if err != nil {
		return s, Event{}, err
	}
	return c.next, c.ev, nil
}

// change is one Apply in progress: checks read c.s (the state before),
// changes go to c.next.
type change struct {
	gate
	a    Action
	env  Env
	next State
	ev   Event
}

// putValue stores v as the value of field f (nil removes it, and an emptied
// map goes back to nil) and, when everyone may see the field, adds it to
// the event's details. Shared by value.set and the plan lists.
func (c *change) putValue(f *templates.Field, v json.RawMessage) {
	if v == nil {
		delete(c.next.Values, f.ID)
		if len(c.next.Values) == 0 {
			c.next.Values = nil
		}
	} else {
		if c.next.Values == nil {
			c.next.Values = map[string]json.RawMessage{}
		}
		c.next.Values[f.ID] = v
	}
	if !c.ev.Private && f.Visibility == templates.VisibleAll {
		c.detail("value", v)
	}
}

func (c *change) detail(kv ...any) {
	if c.ev.Detail == nil {
		c.ev.Detail = map[string]any{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		c.ev.Detail[kv[i].(string)] = kv[i+1]
	}
}

// rolesMissing reports whether the template has roles the room has not
// assigned yet. Roles can only be set in the first stage, so the room may
// not leave it before.
func (g gate) rolesMissing() bool {
	return len(g.t.Roles) > 0 && len(g.s.Roles) == 0
}

// moveTo changes stage; Ready and Floor belong to a stage and are cleared.
func (c *change) moveTo(stage string) {
	c.next.Stage = stage
	c.next.Ready = nil
	c.next.Floor = ""
	c.ev.Stage = stage
}

func (c *change) rolesSet() error {
	if err := c.control(); err != nil {
		return err
	}
	if err := c.steerer("assign the roles"); err != nil {
		return err
	}
	if len(c.t.Roles) == 0 {
		return fail(CodeBadAction, "this conversation has no roles to assign")
	}
	if c.s.Stage != c.t.Stages[0].ID {
		return fail(CodeForbidden, "roles can only be assigned in the first stage")
	}
	if len(c.a.Roles) != len(c.t.Roles) {
		return fail(CodeBadValue, "assign each of the %d roles to one partner", len(c.t.Roles))
	}
	seats := map[Role]bool{}
	for _, r := range c.t.Roles {
		seat, ok := c.a.Roles[r.ID]
		switch {
		case !ok:
			return fail(CodeBadValue, "role %q is not assigned", r.ID)
		case !seat.IsPartner():
			return fail(CodeBadValue, "role %q must go to partner_a or partner_b, not %q", r.ID, seat)
		case seats[seat]:
			return fail(CodeBadValue, "each partner takes a different role")
		}
		seats[seat] = true
	}
	c.next.Roles = maps.Clone(c.a.Roles)
	c.detail("roles", maps.Clone(c.next.Roles))
	return nil
}

func (c *change) stageSet() error {
	if err := c.control(); err != nil {
		return err
	}
	if c.s.Mode == SelfGuided {
		return fail(CodeForbidden, "in a self-guided room the stage moves on when you are both ready")
	}
	if err := c.steerer("change the stage"); err != nil {
		return err
	}
	idx := c.t.StageIndex(c.a.Stage)
	switch {
	case idx < 0:
		return fail(CodeUnknownStage, "there is no stage %q", c.a.Stage)
	case c.a.Stage == c.s.Stage:
		c.detail("unchanged", true)
		return nil
	case idx > 0 && c.rolesMissing():
		return fail(CodeRolesUnset, "assign the roles before moving on")
	}
	c.detail("from", c.s.Stage)
	c.moveTo(c.a.Stage)
	return nil
}

func (c *change) stageLock() error {
	if err := c.control(); err != nil {
		return err
	}
	if c.by != Moderator {
		return fail(CodeForbidden, "only the moderator can lock a stage")
	}
	stage := c.a.Stage
	if stage == "" {
		stage = c.s.Stage
	}
	if c.t.StageIndex(stage) < 0 {
		return fail(CodeUnknownStage, "there is no stage %q", stage)
	}
	if c.a.Locked {
		if c.next.Locked == nil {
			c.next.Locked = map[string]bool{}
		}
		c.next.Locked[stage] = true
	} else {
		delete(c.next.Locked, stage)
		if len(c.next.Locked) == 0 {
			c.next.Locked = nil
		}
	}
	c.ev.Stage = stage
	c.detail("locked", c.a.Locked)
	return nil
}

// floorGive hands the floor. Guided: the moderator decides. Self-guided:
// the holder passes it on (or lets go), and anyone may take an empty floor.
func (c *change) floorGive() error {
	if err := c.control(); err != nil {
		return err
	}
	if err := c.steerer("give the floor"); err != nil {
		return err
	}
	if c.a.Role != "" && !c.a.Role.IsPartner() {
		return fail(CodeBadValue, "the floor goes to partner_a, partner_b or nobody, not %q", c.a.Role)
	}
	if c.s.Mode == SelfGuided && c.s.Floor != "" && c.s.Floor != c.by {
		return fail(CodeNotYourTurn, "your partner has the floor; they pass it when they are done")
	}
	c.next.Floor = c.a.Role
	c.detail("to", string(c.a.Role))
	return nil
}

func checkReason(reason string) error {
	if utf8.RuneCountInString(reason) > MaxReason {
		return fail(CodeBadValue, "keep the reason under %d characters", MaxReason)
	}
	return nil
}

// breakLength turns requested minutes into a duration: 0 is DefaultBreak;
// anything outside MinBreak..MaxBreak is refused.
func breakLength(minutes int) (time.Duration, error) {
	d := DefaultBreak
	if minutes != 0 {
		d = time.Duration(minutes) * time.Minute
	}
	if d < MinBreak || d > MaxBreak {
		return 0, fail(CodeBadValue, "a break lasts from %d minutes to %d hours", int(MinBreak/time.Minute), int(MaxBreak/time.Hour))
	}
	return d, nil
}

// startBreak starts a break of d and answers any pending request.
func (c *change) startBreak(d time.Duration, b Break) {
	b.By, b.Started, b.Until = c.by, c.now, c.now.Add(d)
	c.next.Break = &b
	c.next.BreakRequest = nil
	c.detail("minutes", int(d/time.Minute), "until", b.Until)
	if b.AskedBy != "" {
		c.detail("askedBy", string(b.AskedBy))
	}
}

// breakStart: the moderator (guided) or a partner (self-guided) starts a
// break. A moderator answering a pending request gives the minutes asked
// for unless they pass their own, and the break carries the asker's
// reason with the asker's choice of who may read it.
func (c *change) breakStart() error {
	if err := c.control(); err != nil {
		return err
	}
	if c.s.Mode == Guided && c.by != Moderator {
		return fail(CodeForbidden, "ask for a break instead; your moderator will call it")
	}
	minutes := c.a.Minutes
	b := Break{Reason: c.a.Reason, Shared: c.a.Share || c.by == Moderator}
	if r := c.s.BreakRequest; r != nil && c.by == Moderator {
		if minutes == 0 {
			minutes = r.Minutes
		}
		b.AskedBy = r.By
		if c.a.Reason == "" {
			b.Reason, b.Shared = r.Reason, r.Shared
		}
	}
	if c.by.IsPartner() {
		b.AskedBy = c.by
	}
	d, err := breakLength(minutes)
	if err != nil {
		return err
	}
	if err := checkReason(b.Reason); err != nil {
		return err
	}
	c.startBreak(d, b)
	return nil
}

// breakEnd ends a break early. Only a moderator can: in a self-guided room
// the agreed minimum is the point of the break.
func (c *change) breakEnd() error {
	if err := c.control(); err != nil {
		return err
	}
	if c.by != Moderator {
		return fail(CodeForbidden, "only the moderator can end a break early")
	}
	if !c.s.OnBreak(c.now) {
		return fail(CodeBadValue, "there is no break going on")
	}
	c.next.Break.Until = c.now
	c.next.Break.EndedHow = BreakEndedByModerator
	return nil
}

// breakUndo: in a self-guided room, the partner who started a break can
// take it back within UndoWindow ("pressed by mistake").
func (c *change) breakUndo() error {
	if err := c.breakInProgress(); err != nil {
		return err
	}
	switch {
	case c.s.Break.By != c.by:
		return fail(CodeForbidden, "only the one who started the break can undo it")
	case c.now.Sub(c.s.Break.Started) > UndoWindow:
		return fail(CodeOnBreak, "a break can be undone only in its first minute; you can come back together after %s", minutesText(c.env.breakReturnAfter()))
	}
	c.next.Break.Until = c.now
	c.next.Break.EndedHow = BreakUndone
	return nil
}

// breakBack: in a self-guided room, once env.BreakReturnAfter (MinBreak by
// default) has passed, each partner
// says whether they are ready to come back; when both are, the break ends.
func (c *change) breakBack() error {
	if err := c.breakInProgress(); err != nil {
		return err
	}
	if after := c.env.breakReturnAfter(); c.now.Sub(c.s.Break.Started) < after {
		return fail(CodeOnBreak, "give it at least %s; then you can both say you are ready to come back", minutesText(after))
	}
	b := c.next.Break
	if c.a.Ready {
		if b.Back == nil {
			b.Back = map[Role]bool{}
		}
		b.Back[c.by] = true
	} else {
		delete(b.Back, c.by)
		if len(b.Back) == 0 {
			b.Back = nil
		}
	}
	c.detail("ready", c.a.Ready)
	if b.Back[PartnerA] && b.Back[PartnerB] {
		b.Until = c.now
		b.EndedHow = BreakBothBack
		c.detail("ended", true)
	}
	return nil
}

// breakInProgress: checks shared by the acts that end a self-guided break
// from inside it.
func (c *change) breakInProgress() error {
	switch {
	case c.s.Ended != nil:
		return fail(CodeEnded, "the session has ended")
	case c.s.Mode != SelfGuided || !c.by.IsPartner():
		return fail(CodeForbidden, "in a guided room the moderator ends a break")
	case !c.s.OnBreak(c.now):
		return fail(CodeBadValue, "there is no break going on")
	}
	return nil
}

// breakRequest is a partner saying "I need a break". Self-guided, that
// starts one at once; guided, it alerts the moderator, who calls it.
func (c *change) breakRequest() error {
	if err := c.control(); err != nil {
		return err
	}
	if !c.by.IsPartner() {
		return fail(CodeForbidden, "the moderator starts a break directly")
	}
	if err := checkReason(c.a.Reason); err != nil {
		return err
	}
	d, err := breakLength(c.a.Minutes)
	if err != nil {
		return err
	}
	if c.s.Mode == SelfGuided {
		c.startBreak(d, Break{AskedBy: c.by, Reason: c.a.Reason, Shared: c.a.Share})
		c.detail("started", true)
		return nil
	}
	c.next.BreakRequest = &BreakRequest{By: c.by, At: c.now, Minutes: int(d / time.Minute), Reason: c.a.Reason, Shared: c.a.Share}
	c.detail("alert", string(Moderator))
	return nil
}

// ready records a partner's readiness. Self-guided, both ready moves the
// room to the next stage, or ends the session after the last one. Guided,
// it only tells the moderator.
func (c *change) ready() error {
	if err := c.control(); err != nil {
		return err
	}
	if !c.by.IsPartner() {
		return fail(CodeForbidden, "only partners mark themselves ready")
	}
	if c.a.Ready {
		if c.next.Ready == nil {
			c.next.Ready = map[Role]bool{}
		}
		c.next.Ready[c.by] = true
	} else {
		delete(c.next.Ready, c.by)
		if len(c.next.Ready) == 0 {
			c.next.Ready = nil
		}
	}
	c.detail("ready", c.a.Ready)
	if c.s.Mode != SelfGuided || !c.next.Ready[PartnerA] || !c.next.Ready[PartnerB] {
		return nil
	}
	idx := c.t.StageIndex(c.s.Stage)
	if idx == len(c.t.Stages)-1 {
		end := c.now
		c.next.Ended = &end
		c.next.Ready = nil
		c.next.Floor = ""
		c.detail("ended", true)
		return nil
	}
	if c.rolesMissing() {
		return fail(CodeRolesUnset, "choose who takes which role before moving on")
	}
	c.detail("advanced", true, "from", c.s.Stage)
	c.moveTo(c.t.Stages[idx+1].ID)
	return nil
}

// sessionEnd stays reachable during a break and a pause: stopping is
// always allowed.
func (c *change) sessionEnd() error {
	if c.s.Ended != nil {
		return fail(CodeEnded, "the session has ended")
	}
	if err := c.steerer("end the session"); err != nil {
		return err
	}
	end := c.now
	c.next.Ended = &end
	return nil
}

// fieldOf finds the action's field and checks its kind.
func (c *change) fieldOf(kinds ...templates.Kind) (*templates.Field, *templates.Stage, error) {
	f, st, err := c.lookup(c.a.Field)
	if err != nil {
		return nil, nil, err
	}
	if !slices.Contains(kinds, f.Kind) {
		return nil, nil, fail(CodeBadAction, "%s does not apply to %q, a %s field", c.a.Act, f.ID, f.Kind)
	}
	c.ev.Field = f.ID
	c.ev.Stage = st.ID
	if f.Owner == templates.OwnerModerator {
		c.ev.Private = true
	}
	return f, st, nil
}

func (c *change) valueSet() error {
	f, st, err := c.fieldOf(templates.KindScale, templates.KindChoice, templates.KindCheckins, templates.KindMilestones)
	if err != nil {
		return err
	}
	if f.Kind.IsPlanList() {
		return c.planSet(f, st) // checkins.go
	}
	if err := c.field(f, st, floorApplies, f.Owner); err != nil {
		return err
	}
	v, err := canonicalValue(f, c.a.Value)
	if err != nil {
		return err
	}
	c.putValue(f, v)
	c.safetyAnswer(f, v)
	return nil
}

// safetyAnswer follows a choice that can alert or pause. Guided: an answer
// among f.Alert is recorded for the moderator. Self-guided: while any
// answer among its field's Pause stands, the conversation is on hold.
// Neither changes anything the other partner can see but Hold's presence.
func (c *change) safetyAnswer(f *templates.Field, v json.RawMessage) {
	var one string
	_ = json.Unmarshal(v, &one)
	if c.s.Mode == Guided && one != "" && slices.Contains(f.Alert, one) {
		if c.next.Alerts == nil {
			c.next.Alerts = map[string]Alert{}
		}
		c.next.Alerts[f.ID] = Alert{By: c.by, Value: one, At: c.now}
	}
	if c.s.Mode != SelfGuided {
		return
	}
	c.next.Hold = nil
	for _, st := range c.t.Stages {
		for i := range st.Fields {
			g := &st.Fields[i]
			var val string
			if len(g.Pause) == 0 || json.Unmarshal(c.next.Values[g.ID], &val) != nil || !slices.Contains(g.Pause, val) {
				continue
			}
			since := c.now
			if c.s.Hold != nil {
				since = c.s.Hold.Since
			}
			seat, _ := seatOf(c.t, c.next, g.Owner)
			c.next.Hold = &Hold{Since: since, By: seat, Field: g.ID}
			return
		}
	}
}

// canonicalValue validates a scale or choice value and re-encodes it, so
// the state holds only values the template allows, in one spelling. JSON
// null (or nothing) clears the value.
func canonicalValue(f *templates.Field, raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var out any
	switch f.Kind {
	case templates.KindScale:
		var n float64
		if err := json.Unmarshal(raw, &n); err != nil || n != float64(int(n)) {
			return nil, fail(CodeBadValue, "%q takes a whole number", f.ID)
		}
		if int(n) < f.Min || int(n) > f.Max {
			return nil, fail(CodeBadValue, "%q goes from %d to %d", f.ID, f.Min, f.Max)
		}
		out = int(n)
	case templates.KindChoice:
		var picks []string
		if f.Multi {
			if err := json.Unmarshal(raw, &picks); err != nil {
				return nil, fail(CodeBadValue, "%q takes a list of options", f.ID)
			}
			if len(picks) == 0 {
				return nil, nil
			}
			out = picks
		} else {
			var one string
			if err := json.Unmarshal(raw, &one); err != nil {
				return nil, fail(CodeBadValue, "%q takes one option", f.ID)
			}
			picks = []string{one}
			out = one
		}
		for i, p := range picks {
			if !slices.Contains(f.Options, p) {
				return nil, fail(CodeBadValue, "%q is not an option of %q", p, f.ID)
			}
			if slices.Contains(picks[:i], p) {
				return nil, fail(CodeBadValue, "%q is picked twice", p)
			}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fail(CodeBadValue, "%v", err)
	}
	return b, nil
}

// currentVersion returns the version of text key, refusing an empty text
// and a version other than the one the client saw.
func (c *change) currentVersion(key, what string) (int64, error) {
	cur := c.env.Versions[key]
	if cur == 0 {
		return 0, fail(CodeBadValue, "there is nothing to %s yet", what)
	}
	if c.a.Version != cur {
		return 0, fail(CodeStale, "the text changed since you read it (version %d, now %d); read it again first", c.a.Version, cur)
	}
	return cur, nil
}

// sign and unsign: a partner's sign-off on an agreement, made against the
// version they saw. Withdrawing needs no version.
func (c *change) sign() error {
	f, st, err := c.fieldOf(templates.KindAgreement)
	if err != nil {
		return err
	}
	if !c.by.IsPartner() {
		return fail(CodeForbidden, "only the partners sign their agreements")
	}
	if err := c.field(f, st, floorExempt, f.Owner); err != nil {
		return err
	}
	if c.a.Act == ActUnsign {
		delete(c.next.Signs[f.ID], c.by)
		if len(c.next.Signs[f.ID]) == 0 {
			delete(c.next.Signs, f.ID)
		}
		if len(c.next.Signs) == 0 {
			c.next.Signs = nil
		}
		return nil
	}
	v, err := c.currentVersion(f.ID, "sign")
	if err != nil {
		return err
	}
	if c.next.Signs == nil {
		c.next.Signs = map[string]map[Role]Mark{}
	}
	if c.next.Signs[f.ID] == nil {
		c.next.Signs[f.ID] = map[Role]Mark{}
	}
	c.next.Signs[f.ID][c.by] = Mark{By: c.by, At: c.now, Version: v}
	c.detail("version", v)
	return nil
}

func (c *change) mirrorConfirm() error {
	f, st, err := c.fieldOf(templates.KindMirror)
	if err != nil {
		return err
	}
	if err := c.field(f, st, floorExempt, f.Speaker); err != nil {
		return err
	}
	if c.a.Status != MirrorYes && c.a.Status != MirrorAgain {
		return fail(CodeBadValue, "answer %q or %q", MirrorYes, MirrorAgain)
	}
	v, err := c.currentVersion(f.ID, "confirm")
	if err != nil {
		return err
	}
	if c.next.Mirrors == nil {
		c.next.Mirrors = map[string]Mark{}
	}
	c.next.Mirrors[f.ID] = Mark{By: c.by, At: c.now, Version: v, Status: c.a.Status}
	c.detail("version", v, "status", c.a.Status)
	return nil
}

// reveal shows a partner's own draft of a reveal field to the other
// partner, for good: from then on the draft cannot change.
func (c *change) reveal() error {
	f, st, err := c.fieldOf(templates.KindReveal)
	if err != nil {
		return err
	}
	if !c.by.IsPartner() {
		return fail(CodeForbidden, "only a partner reveals their own answer")
	}
	if err := c.field(f, st, floorExempt, templates.Owner(c.by)); err != nil {
		return err
	}
	key := RevealKey(f.ID, c.by)
	c.detail("key", key)
	if c.s.Revealed[key] {
		c.detail("unchanged", true)
		return nil
	}
	if c.env.Versions[key] == 0 {
		return fail(CodeBadValue, "write your answer before revealing it")
	}
	if c.next.Revealed == nil {
		c.next.Revealed = map[string]bool{}
	}
	c.next.Revealed[key] = true
	return nil
}

func checkQuestionText(text string) (string, error) {
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return "", fail(CodeBadValue, "the text is empty")
	case utf8.RuneCountInString(text) > MaxQuestionText:
		return "", fail(CodeBadValue, "keep it under %d characters", MaxQuestionText)
	}
	return text, nil
}

func (c *change) questionAdd() error {
	f, st, err := c.fieldOf(templates.KindQuestions)
	if err != nil {
		return err
	}
	if err := c.field(f, st, floorApplies, f.Owner); err != nil {
		return err
	}
	text, err := checkQuestionText(c.a.Text)
	if err != nil {
		return err
	}
	qs := c.next.Questions[f.ID]
	if len(qs) >= MaxQuestions {
		return fail(CodeBadValue, "there is room for %d questions", MaxQuestions)
	}
	id := fmt.Sprintf("q%d", len(qs)+1)
	if c.env.NewID != nil {
		id = c.env.NewID()
	}
	if c.next.Questions == nil {
		c.next.Questions = map[string][]Question{}
	}
	c.next.Questions[f.ID] = append(qs, Question{ID: id, Text: text, Status: QuestionOpen, AskedAt: c.now})
	c.detail("item", id)
	return nil
}

// question finds the action's item in the new state's copy of the queue.
func (c *change) question(f *templates.Field) (*Question, error) {
	qs := c.next.Questions[f.ID]
	i := slices.IndexFunc(qs, func(q Question) bool { return q.ID == c.a.Item })
	if i < 0 {
		return nil, fail(CodeBadValue, "there is no question %q", c.a.Item)
	}
	c.detail("item", c.a.Item)
	return &qs[i], nil
}

func (c *change) questionAnswer() error {
	f, st, err := c.fieldOf(templates.KindQuestions)
	if err != nil {
		return err
	}
	if err := c.field(f, st, floorApplies, f.Answerer); err != nil {
		return err
	}
	q, err := c.question(f)
	if err != nil {
		return err
	}
	text, err := checkQuestionText(c.a.Text)
	if err != nil {
		return err
	}
	q.Answer, q.Status, q.AnsweredAt = text, QuestionAnswered, c.now
	return nil
}

// questionStatus lets the asker or the answerer put a question aside ("not
// now") or open it again; an answered question keeps its answer until it is
// rewritten.
func (c *change) questionStatus() error {
	f, st, err := c.fieldOf(templates.KindQuestions)
	if err != nil {
		return err
	}
	if err := c.field(f, st, floorExempt, f.Owner, f.Answerer); err != nil {
		return err
	}
	if c.a.Status != QuestionNotNow && c.a.Status != QuestionOpen {
		return fail(CodeBadValue, "a question can be set to %q or %q", QuestionNotNow, QuestionOpen)
	}
	q, err := c.question(f)
	if err != nil {
		return err
	}
	q.Status = c.a.Status
	c.detail("status", c.a.Status)
	return nil
}
