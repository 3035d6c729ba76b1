package room

import (
	"fmt"
	"strings"
	"time"

	"repairroom/internal/templates"
)

// Error is a refusal with a stable Code (for clients) and a Message a
// person can read.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Error codes.
const (
	CodeForbidden    = "forbidden"     // this role may never do this, or not in this stage
	CodeLocked       = "locked"        // the stage is locked by the moderator
	CodeNotYourTurn  = "not_your_turn" // a turn-taking stage and someone else holds the floor
	CodeOnBreak      = "on_break"      // a break is running
	CodeEnded        = "ended"         // the session has ended
	CodeBadValue     = "bad_value"     // the action's arguments are invalid
	CodeUnknownField = "unknown_field"
	CodeUnknownStage = "unknown_stage"
	CodeStale        = "stale"       // signed or confirmed a version that is no longer current
	CodeBadAction    = "bad_action"  // unknown act, or an act that does not fit the field
	CodeRolesUnset   = "roles_unset" // the field belongs to a template role not yet assigned
	CodePaused       = "paused"      // a self-guided conversation is paused by a safety answer
)

func fail(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// gate is one request's context: the template, the state as it is before
// the change, who asks, and when. Its methods are the permission rules.
type gate struct {
	t   *templates.Template
	s   *State
	by  Role
	now time.Time
}

// who: checks every request starts with, whatever it is.
func (g gate) who() error {
	switch {
	case g.by != PartnerA && g.by != PartnerB && g.by != Moderator:
		return fail(CodeForbidden, "unknown role %q", g.by)
	case g.s.Mode == SelfGuided && g.by == Moderator:
		return fail(CodeForbidden, "a self-guided room has no moderator")
	case g.s.Template != g.t.ID:
		return fail(CodeBadAction, "the room uses template %q, not %q", g.s.Template, g.t.ID)
	}
	return nil
}

// control: checks for acts that steer the room rather than fill a field.
// The moderator keeps steering during a break (to end it, prepare the next
// stage, hand the floor); partners can do nothing until it is over.
func (g gate) control() error {
	if g.s.Ended != nil {
		return fail(CodeEnded, "the session has ended")
	}
	if g.by.IsPartner() && g.s.Hold != nil {
		return fail(CodePaused, "the conversation is paused")
	}
	if g.by.IsPartner() && g.s.OnBreak(g.now) {
		return fail(CodeOnBreak, "you are on a break; the room opens again when it is over")
	}
	return nil
}

// steerer refuses anyone but the role the room's mode gives a steering act
// to: the moderator in a guided room, either partner in a self-guided one.
func (g gate) steerer(act string) error {
	if g.s.Mode == SelfGuided {
		if !g.by.IsPartner() {
			return fail(CodeForbidden, "only a partner can %s", act)
		}
		return nil
	}
	if g.by != Moderator {
		return fail(CodeForbidden, "only the moderator can %s", act)
	}
	return nil
}

// lookup finds a field. For anyone but the moderator, moderator-owned
// fields do not exist: the answer is the same as for a made-up id, so not
// even an error tells a partner what the moderator's fields are called.
//
// Guided-only fields do not exist in a self-guided room either.
func (g gate) lookup(id string) (*templates.Field, *templates.Stage, error) {
	f, st, ok := g.t.Field(id)
	if !ok || (f.Owner == templates.OwnerModerator && g.by != Moderator) || (f.GuidedOnly && g.s.Mode == SelfGuided) {
		return nil, nil, fail(CodeUnknownField, "there is no field %q", id)
	}
	return f, st, nil
}

// Whether the floor rule applies to a change. In a turn-taking stage only
// the floor holder writes — whatever the field: the speaker's own text, the
// listener's mirror, shared text. The other partner reads. Responses that
// are not speech — signing, confirming a mirror, marking a question "not
// now", revealing a draft — are exempt, so the speaker can answer the
// listener's mirror while the listener holds the floor.
const (
	floorApplies = true
	floorExempt  = false
)

// field decides whether g.by may change field f of stage st, acting as one
// of who (the field's owner for content; its speaker for a confirmation,
// and so on). This is the single rule for every field change.
//
// Moderator-owned fields: the moderator only, always — any stage, lock,
// break, or after the end. Every other field: the session must not have
// ended; no break may be running (for the moderator too: a break pauses the
// conversation); g.by must be one of who ("both" is either partner or the
// moderator; a template role is the seat it was given); the field's stage
// must be the current one; a locked stage is the moderator's alone; and in
// a turn-taking stage a partner needs the floor (see floorApplies).
//
// Anytime fields (a private line to the therapist) need only the owner and
// a session that has not ended. A field whose answer can pause the
// conversation (Pause) stays writable while it is paused, so the partner
// who paused it can change their answer. A field with After waits until
// its mirror's speaker has said "yes, that's it".
func (g gate) field(f *templates.Field, st *templates.Stage, floor bool, who ...templates.Owner) error {
	if f.Owner == templates.OwnerModerator {
		if g.by == Moderator {
			return nil
		}
		return fail(CodeUnknownField, "there is no field %q", f.ID)
	}
	if f.Anytime {
		if g.s.Ended != nil {
			return fail(CodeEnded, "the session has ended")
		}
		return g.isOneOf(f, who)
	}
	if len(f.Pause) > 0 && g.s.Hold != nil && g.s.Ended == nil {
		s := *g.s
		s.Hold = nil
		g.s = &s
	}
	if err := g.control(); err != nil {
		return err
	}
	if g.by == Moderator && g.s.OnBreak(g.now) {
		return fail(CodeOnBreak, "the conversation is paused for a break; end it first")
	}
	if err := g.isOneOf(f, who); err != nil {
		return err
	}
	if st.ID != g.s.Stage {
		return fail(CodeForbidden, "%q belongs to the stage %q, and the room is at %q", f.ID, st.Title, g.s.Stage)
	}
	if f.After != "" && g.s.Mirrors[f.After].Status != MirrorYes {
		return fail(CodeForbidden, "%q opens once the mirror before it is confirmed", f.ID)
	}
	if g.by == Moderator {
		return nil
	}
	if g.s.Locked[st.ID] {
		return fail(CodeLocked, "the stage %q is locked", st.Title)
	}
	if floor && st.TurnTaking && g.s.Floor != g.by {
		if g.s.Floor == "" {
			return fail(CodeNotYourTurn, "this stage takes turns, and nobody has the floor yet")
		}
		return fail(CodeNotYourTurn, "this stage takes turns, and your partner has the floor")
	}
	return nil
}

// isOneOf checks that g.by stands for one of the owners in who.
func (g gate) isOneOf(f *templates.Field, who []templates.Owner) error {
	unset := false
	for _, o := range who {
		switch {
		case o == templates.OwnerBoth:
			return nil // g.by is a partner or the moderator: who() checked it
		case o == templates.OwnerPartnerA || o == templates.OwnerPartnerB:
			if Role(o) == g.by {
				return nil
			}
		case g.t.IsRole(o):
			seat, ok := g.s.Roles[string(o)]
			if !ok {
				unset = true
			} else if seat == g.by {
				return nil
			}
		}
	}
	if unset && g.by.IsPartner() {
		return fail(CodeRolesUnset, "%q belongs to a role nobody has been given yet", f.ID)
	}
	return fail(CodeForbidden, "%q is not yours to change", f.ID)
}

// textField resolves a text key to its field, its stage and, for a reveal
// draft, the partner whose draft it is.
func textField(t *templates.Template, key string) (*templates.Field, *templates.Stage, Role, bool) {
	id, seat, isDraft := strings.Cut(key, ".")
	f, st, ok := t.Field(id)
	switch {
	case !ok:
		return nil, nil, "", false
	case f.Kind == templates.KindReveal:
		if !isDraft || !Role(seat).IsPartner() {
			return nil, nil, "", false
		}
		return f, st, Role(seat), true
	case isDraft || !f.Kind.HasText():
		return nil, nil, "", false
	}
	return f, st, "", true
}

// RevealKey is the text key of partner p's draft of reveal field.
func RevealKey(field string, p Role) string { return field + "." + string(p) }

// CanWrite reports whether by may push an update to text key at now: nil,
// or an *Error saying why not. The store calls it before accepting a push.
//
// Text keys are the ids of text, agreement and mirror fields, and
// "F.partner_a" / "F.partner_b" for the two drafts of a reveal field F. A
// draft is its partner's alone, and is frozen once revealed: the other
// partner sees exactly what was revealed.
func CanWrite(t *templates.Template, s State, by Role, key string, now time.Time) error {
	g := gate{t: t, s: &s, by: by, now: now}
	if err := g.who(); err != nil {
		return err
	}
	f, st, seat, ok := textField(t, key)
	if !ok || (f.Owner == templates.OwnerModerator && by != Moderator) || (f.GuidedOnly && s.Mode == SelfGuided) {
		return fail(CodeUnknownField, "there is no text %q", key)
	}
	if seat == "" {
		return g.field(f, st, floorApplies, f.Owner)
	}
	if err := g.field(f, st, floorApplies, templates.Owner(seat)); err != nil {
		return err
	}
	if s.Revealed[key] {
		return fail(CodeForbidden, "this answer has been revealed and can no longer change")
	}
	return nil
}

// CanRead reports whether by may see key: a text key (see CanWrite) or the
// id of any field (for its value, sign-offs, confirmation or questions).
// Moderator-owned fields are the moderator's alone; a field visible to its
// owner only is its owner's and the moderator's; a reveal draft is its
// partner's and the moderator's, and the other partner's once revealed;
// everything else is everyone's. A self-guided room has no moderator, and
// no guided-only field.
func CanRead(t *templates.Template, s State, by Role, key string) bool {
	switch {
	case by != PartnerA && by != PartnerB && by != Moderator:
		return false
	case by == Moderator && s.Mode == SelfGuided:
		return false
	}
	id, seat, isDraft := strings.Cut(key, ".")
	f, _, ok := t.Field(id)
	switch {
	case !ok:
		return false
	case f.Owner == templates.OwnerModerator:
		return by == Moderator && !isDraft
	case f.GuidedOnly && s.Mode == SelfGuided:
		return false
	case f.Visibility == templates.VisibleOwner:
		if isDraft {
			return false
		}
		seat, ok := seatOf(t, s, f.Owner)
		return by == Moderator || (ok && by == seat)
	case isDraft:
		if f.Kind != templates.KindReveal || !Role(seat).IsPartner() {
			return false
		}
		return by == Role(seat) || by == Moderator || s.Revealed[key]
	}
	return true
}

// Readers returns the roles that may read key now, for filtering fan-out.
func Readers(t *templates.Template, s State, key string) []Role {
	var out []Role
	for _, r := range []Role{PartnerA, PartnerB, Moderator} {
		if CanRead(t, s, r, key) {
			out = append(out, r)
		}
	}
	return out
}

// TextKeys returns every collaborative text key of t, in template order:
// the id of each text, agreement and mirror field (moderator fields
// included: filter with Readers), and both draft keys of each reveal field.
func TextKeys(t *templates.Template) []string {
	var keys []string
	for _, st := range t.Stages {
		for _, f := range st.Fields {
			switch f.Kind {
			case templates.KindReveal:
				keys = append(keys, RevealKey(f.ID, PartnerA), RevealKey(f.ID, PartnerB))
			case templates.KindText, templates.KindAgreement, templates.KindMirror:
				keys = append(keys, f.ID)
			}
		}
	}
	return keys
}

// seatOf resolves an owner to the seat it names now: a seat, or the seat a
// template role was given (false while roles are unassigned).
func seatOf(t *templates.Template, s State, o templates.Owner) (Role, bool) {
	switch {
	case o == templates.OwnerPartnerA || o == templates.OwnerPartnerB:
		return Role(o), true
	case t.IsRole(o):
		seat, ok := s.Roles[string(o)]
		return seat, ok
	}
	return "", false
}

// View returns the state as by may see it: a deep copy in which, for anyone
// but the moderator, values, sign-offs, confirmations and questions of
// fields by cannot read are gone — so nothing about a moderator-owned field,
// not even its id, reaches a partner. A value of a field visible to its
// owner only becomes an entry of Answered. Alerts are the moderator's;
// break reasons the moderator's and the asker's unless shared; who paused
// a self-guided conversation, and why, only the one who did.
func View(t *templates.Template, s State, by Role) State {
	v := s.Clone()
	if by == Moderator {
		return v
	}
	readable := func(key string) bool { return CanRead(t, s, by, key) }
	for k := range v.Values {
		if f, _, ok := t.Field(k); ok && !readable(k) && f.Visibility == templates.VisibleOwner {
			if v.Answered == nil {
				v.Answered = map[string]bool{}
			}
			v.Answered[k] = true
		}
	}
	v.Alerts = nil
	if b := v.Break; b != nil && !b.Shared && b.AskedBy != by && b.By != by {
		b.Reason = ""
	}
	if r := v.BreakRequest; r != nil && !r.Shared && r.By != by {
		r.Reason = ""
	}
	if h := v.Hold; h != nil && h.By != by {
		h.By, h.Field = "", ""
	}
	v.Values = keep(v.Values, readable)
	v.Signs = keep(v.Signs, readable)
	v.Mirrors = keep(v.Mirrors, readable)
	v.Questions = keep(v.Questions, readable)
	v.Revealed = keep(v.Revealed, readable)
	return v
}

// keep deletes the keys of m that ok refuses, and returns nil if none remain.
func keep[V any](m map[string]V, ok func(string) bool) map[string]V {
	for k := range m {
		if !ok(k) {
			delete(m, k)
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
