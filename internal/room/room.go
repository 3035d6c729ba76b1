// Package room holds the state of a conversation room and the one place
// that decides who may change it.
//
// Every change goes through Apply (room acts: stages, floor, breaks, values,
// sign-offs, questions...) or is first checked with CanWrite (collaborative
// text pushes). Both share the same checks — role, mode, stage, lock, floor,
// break — so the rules live in one file (rules.go) and are tested as a table.
// Reads are filtered with CanRead, Readers and View: a partner never receives
// anything about a moderator-owned field.
//
// The package is pure: no I/O, no clock (the caller passes the time), no
// randomness (the caller passes an id generator).
package room

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"time"

	"repairroom/internal/templates"
)

// Role is a participant's seat in the room.
type Role string

// The roles. A self-guided room has only the two partners.
const (
	PartnerA  Role = "partner_a"
	PartnerB  Role = "partner_b"
	Moderator Role = "moderator"
)

// IsPartner reports whether r is one of the two partners.
func (r Role) IsPartner() bool { return r == PartnerA || r == PartnerB }

// Mode says whether a therapist moderates the room.
type Mode string

// The modes.
const (
	Guided     Mode = "guided" // a moderator runs the session
	SelfGuided Mode = "self"   // no moderator; stages advance when both partners are ready
)

// Limits on what a room accepts.
const (
	DefaultBreak    = 20 * time.Minute // a break.start without minutes, and a self-guided break.request
	MinBreak        = 20 * time.Minute // shorter breaks do not let a flooded body calm down
	MaxBreak        = 24 * time.Hour   // longer ones become avoidance
	MaxQuestions    = 50               // per questions field
	MaxQuestionText = 2000             // characters in a question or an answer
	MaxReason       = 500              // characters in a break reason
	// UndoWindow is how long the partner who started a self-guided break
	// can take it back ("pressed by mistake") without waiting it out.
	UndoWindow = time.Minute
)

// State is everything about a room except its texts, which live in the
// store with their versions (Env.Versions passes those versions in).
//
// Invariants kept by Apply: Stage is a stage of the template; Floor is ""
// or a partner; Roles, once set, maps each template role to a different
// partner; Ready and Floor are cleared whenever the stage changes; a Mark is
// valid only while its Version equals the current version of its text (see
// Signed and MirrorStatus), so editing a text silently voids its sign-offs
// and confirmation without another write.
type State struct {
	Rev      int64  `json:"rev"` // bumped by the store on every write; Apply does not touch it
	Template string `json:"template"`
	Mode     Mode   `json:"mode"`
	Stage    string `json:"stage"` // current stage id

	Locked map[string]bool `json:"locked,omitempty"` // stage id -> locked: only the moderator writes there
	// Floor is the partner who may write in a turn-taking stage; "" is nobody yet.
	Floor        Role            `json:"floor,omitempty"`
	Break        *Break          `json:"break,omitempty"`        // the latest break, kept after it is over
	BreakRequest *BreakRequest   `json:"breakRequest,omitempty"` // guided rooms: a partner asked for a break
	Roles        map[string]Role `json:"roles,omitempty"`        // template role id -> seat
	Ready        map[Role]bool   `json:"ready,omitempty"`

	Values    map[string]json.RawMessage `json:"values,omitempty"`    // field id -> scale (number) or choice (string or []string)
	Signs     map[string]map[Role]Mark   `json:"signs,omitempty"`     // agreement field id -> partner -> sign-off
	Mirrors   map[string]Mark            `json:"mirrors,omitempty"`   // mirror field id -> the speaker's answer
	Revealed  map[string]bool            `json:"revealed,omitempty"`  // reveal text key ("F.partner_a") -> revealed
	Questions map[string][]Question      `json:"questions,omitempty"` // questions field id -> queue, in the order asked
	Names     map[Role]string            `json:"names,omitempty"`     // display name of each seat, chosen at creation

	// Answered lists, in a View only, the fields whose value the viewer may
	// not read but which have one: the other partner learns that a safety
	// rating was given, never the number. Never stored.
	Answered map[string]bool `json:"answered,omitempty"`
	// Alerts are, per field, the latest answer that asked for the
	// moderator's attention (a safety screen's "no"). Moderator only.
	Alerts map[string]Alert `json:"alerts,omitempty"`
	// Hold pauses a self-guided conversation because a partner answered the
	// safety screen in a way that says it is not safe to go on. It lasts
	// while that answer stands. The other partner's view says neither who
	// nor why.
	Hold *Hold `json:"hold,omitempty"`

	Started time.Time  `json:"started"`
	Ended   *time.Time `json:"ended,omitempty"`

	// Carried is what a couple agreed in an earlier session, set once at
	// creation by the therapist's practice and never changed by Apply:
	// agreements both signed and the plan, shown read-only as "what we
	// agreed last time". Its shape belongs to httpapi (practice_carry.go);
	// it held only what both partners could read in the earlier room.
	Carried json.RawMessage `json:"carried,omitempty"`

	// RetentionDays is the period its people chose for keeping the room
	// (0: the server's default). The store enforces it; it is recorded here,
	// never by Apply, so every seat's signed view carries it and a room
	// rebuilt from those views after Redis lost its data keeps that period
	// instead of the default (a shorter choice is a privacy choice).
	RetentionDays int `json:"retentionDays,omitempty"`
}

// Mark is a sign-off or a mirror confirmation, made against one version of
// the text; it counts only while the text is still at that version.
type Mark struct {
	By      Role      `json:"by"`
	At      time.Time `json:"at"`
	Version int64     `json:"version"`
	Status  string    `json:"status,omitempty"` // mirrors: "yes" or "again"
}

// Mirror confirmation statuses.
const (
	MirrorYes   = "yes"   // "yes, that's it"
	MirrorAgain = "again" // "try again"
)

// Break is a pause: until Until, partners can neither write nor act.
//
// Reason is read by the moderator and by the partner who asked; the other
// partner reads it only when Shared (the asker ticked "also show to ...").
type Break struct {
	By      Role      `json:"by"`                // who started it
	AskedBy Role      `json:"askedBy,omitempty"` // the partner who asked for it, if someone did
	Started time.Time `json:"started"`
	Until   time.Time `json:"until"` // the agreed time to come back; set to the end time if ended early
	Reason  string    `json:"reason,omitempty"`
	Shared  bool      `json:"shared,omitempty"`
	// Back: self-guided partners who said "ready to come back" (after MinBreak).
	Back map[Role]bool `json:"back,omitempty"`
	// EndedHow says why a break ended before Until: BreakUndone,
	// BreakBothBack or BreakEndedByModerator.
	EndedHow string `json:"endedHow,omitempty"`
}

// How a break ended early.
const (
	BreakUndone           = "undone"    // its starter took it back within UndoWindow
	BreakBothBack         = "both_back" // both partners were ready to come back
	BreakEndedByModerator = "moderator"
)

// BreakRequest is a partner asking the moderator for a break of Minutes.
// Reason follows the same rule as Break.Reason.
type BreakRequest struct {
	By      Role      `json:"by"`
	At      time.Time `json:"at"`
	Minutes int       `json:"minutes"`
	Reason  string    `json:"reason,omitempty"`
	Shared  bool      `json:"shared,omitempty"`
}

// Alert is an answer that asks for the moderator's attention.
type Alert struct {
	By    Role      `json:"by"`
	Value string    `json:"value"`
	At    time.Time `json:"at"`
}

// Hold is a self-guided conversation paused by a safety answer. By and
// Field are blanked in the other partner's view.
type Hold struct {
	Since time.Time `json:"since"`
	By    Role      `json:"by,omitempty"`
	Field string    `json:"field,omitempty"`
}

// Question is one item of a questions field.
type Question struct {
	ID         string    `json:"id"`
	Text       string    `json:"text"`
	Answer     string    `json:"answer,omitempty"`
	Status     string    `json:"status"` // QuestionOpen, QuestionAnswered or QuestionNotNow
	AskedAt    time.Time `json:"askedAt"`
	AnsweredAt time.Time `json:"answeredAt,omitzero"`
}

// Question statuses.
const (
	QuestionOpen     = "open"
	QuestionAnswered = "answered"
	QuestionNotNow   = "notnow"
)

// New returns the state of a fresh room at the template's first stage.
// Templates have at least one stage (the templates package validates it).
func New(t *templates.Template, mode Mode, now time.Time) State {
	return State{Template: t.ID, Mode: mode, Stage: t.Stages[0].ID, Started: now}
}

// OnBreak reports whether a break is running at now.
func (s State) OnBreak(now time.Time) bool {
	return s.Break != nil && now.Before(s.Break.Until)
}

// Clone returns a deep copy of s: nothing in it shares memory with s.
func (s State) Clone() State {
	c := s
	c.Locked = maps.Clone(s.Locked)
	c.Roles = maps.Clone(s.Roles)
	c.Ready = maps.Clone(s.Ready)
	c.Mirrors = maps.Clone(s.Mirrors)
	c.Revealed = maps.Clone(s.Revealed)
	c.Names = maps.Clone(s.Names)
	c.Answered = maps.Clone(s.Answered)
	c.Alerts = maps.Clone(s.Alerts)
	c.Carried = slices.Clone(s.Carried)
	if s.Hold != nil {
		h := *s.Hold
		c.Hold = &h
	}
	if s.Values != nil {
		c.Values = make(map[string]json.RawMessage, len(s.Values))
		for k, v := range s.Values {
			c.Values[k] = bytes.Clone(v)
		}
	}
	if s.Signs != nil {
		c.Signs = make(map[string]map[Role]Mark, len(s.Signs))
		for k, v := range s.Signs {
			c.Signs[k] = maps.Clone(v)
		}
	}
	if s.Questions != nil {
		c.Questions = make(map[string][]Question, len(s.Questions))
		for k, v := range s.Questions {
			c.Questions[k] = slices.Clone(v)
		}
	}
	if s.Break != nil {
		b := *s.Break
		b.Back = maps.Clone(s.Break.Back)
		c.Break = &b
	}
	if s.BreakRequest != nil {
		r := *s.BreakRequest
		c.BreakRequest = &r
	}
	if s.Ended != nil {
		e := *s.Ended
		c.Ended = &e
	}
	return c
}

// Signed returns the partners whose sign-off on agreement field is valid:
// made against the field's current version (versions is the current text
// version by text key). Any edit after a sign-off voids it.
func Signed(s State, field string, versions map[string]int64) map[Role]bool {
	out := map[Role]bool{}
	cur := versions[field]
	for r, m := range s.Signs[field] {
		if cur > 0 && m.Version == cur {
			out[r] = true
		}
	}
	return out
}

// MirrorStatus returns the speaker's answer to mirror field ("yes" or
// "again"), or "" when there is none for the current version of the text.
func MirrorStatus(s State, field string, versions map[string]int64) string {
	m, ok := s.Mirrors[field]
	if !ok || versions[field] == 0 || m.Version != versions[field] {
		return ""
	}
	return m.Status
}
