// Package export turns a room into what the couple takes home: the session
// summary (as data and as Markdown), the calendar of their check-ins (.ics)
// and the session timeline.
//
// Everything here is filtered for one seat exactly as the room is: every
// read goes through room.CanRead and room.View, never a rule of this
// package, so a partner's summary holds nothing the room would not have
// shown that partner (the therapist's notes, the other partner's private
// ratings, an unrevealed draft). The package is pure: the caller reads the
// store and passes the time.
package export

import (
	"encoding/json"
	"time"

	"repairroom/internal/room"
	"repairroom/internal/templates"
)

// Input is a room as stored, for one viewer. Texts and Versions are keyed
// by text key (room.TextKeys) and hold every text of the room: Build drops
// what the viewer may not read.
type Input struct {
	RoomID   string
	Template *templates.Template
	State    room.State
	Texts    map[string]string
	Versions map[string]int64
	Names    map[room.Role]string // display names by seat
	Viewer   room.Role
	// KeptUntil is when the room's data expires (zero: unknown).
	KeptUntil time.Time
}

// Summary is the session as the viewer may read it, in template order.
type Summary struct {
	RoomID    string     `json:"room"`
	Template  string     `json:"template"`
	Title     string     `json:"title"`
	Mode      room.Mode  `json:"mode"`
	Viewer    room.Role  `json:"viewer"`
	Started   time.Time  `json:"started"`
	Ended     *time.Time `json:"ended,omitempty"`
	KeptUntil *time.Time `json:"keptUntil,omitempty"`
	People    []Person   `json:"people"`
	Stages    []Stage    `json:"stages"`
}

// Person is one seat of the room and the template role it was given.
type Person struct {
	Role      room.Role `json:"role"`
	Name      string    `json:"name"`
	RoleLabel string    `json:"roleLabel,omitempty"` // e.g. "The partner who was hurt"
}

// Stage is one stage and its fields as they ended.
type Stage struct {
	ID     string  `json:"id"`
	Title  string  `json:"title"`
	Fields []Field `json:"fields"`
}

// Field is one field as the viewer may read it. Only the members that fit
// its kind are set.
type Field struct {
	ID      string         `json:"id"`
	Label   string         `json:"label"`
	Kind    templates.Kind `json:"kind"`
	Writers []room.Role    `json:"writers,omitempty"` // whose field it is ("both": both partners)
	// Private is a field only its owner and the therapist read (or the
	// therapist's own notes): the summary says so beside it.
	Private bool `json:"private,omitempty"`
	// Withheld: the field has an answer the viewer may not read (the other
	// partner's private rating): it was answered, nothing more.
	Withheld bool            `json:"withheld,omitempty"`
	Text     *string         `json:"text,omitempty"`  // text, agreement, mirror
	Value    json.RawMessage `json:"value,omitempty"` // scale, choice
	Drafts   []Draft         `json:"drafts,omitempty"`
	Signs    []Sign          `json:"signs,omitempty"`
	// SignedByBoth: both partners' sign-offs hold for the text as it ended.
	SignedByBoth bool             `json:"signedByBoth,omitempty"`
	Mirror       *Mirror          `json:"mirror,omitempty"`
	Questions    []room.Question  `json:"questions,omitempty"`
	Checkins     []room.Checkin   `json:"checkins,omitempty"`
	Milestones   []room.Milestone `json:"milestones,omitempty"`
}

// Draft is one partner's answer to a reveal field.
type Draft struct {
	By       room.Role `json:"by"`
	Text     string    `json:"text"`
	Revealed bool      `json:"revealed"`
}

// Sign is a partner's sign-off; Current is false when the text changed
// after it (the sign-off no longer holds).
type Sign struct {
	By      room.Role `json:"by"`
	At      time.Time `json:"at"`
	Current bool      `json:"current"`
}

// Mirror is the speaker's answer to a mirror; Current as for Sign.
type Mirror struct {
	By      room.Role `json:"by"`
	At      time.Time `json:"at"`
	Status  string    `json:"status"`
	Current bool      `json:"current"`
}

// Build returns the summary of in for in.Viewer. A viewer who may read
// nothing (a moderator seat of a self-guided room) gets the frame only.
func Build(in Input) Summary {
	t, s, by := in.Template, in.State, in.Viewer
	v := room.View(t, s, by)
	out := Summary{
		RoomID: in.RoomID, Template: t.ID, Title: t.Title, Mode: s.Mode, Viewer: by,
		Started: s.Started, Ended: s.Ended, People: people(in), Stages: []Stage{},
	}
	if !in.KeptUntil.IsZero() {
		k := in.KeptUntil
		out.KeptUntil = &k
	}
	for _, st := range t.Stages {
		os := Stage{ID: st.ID, Title: st.Title, Fields: []Field{}}
		for i := range st.Fields {
			if f, ok := field(in, v, &st.Fields[i]); ok {
				os.Fields = append(os.Fields, f)
			}
		}
		out.Stages = append(out.Stages, os)
	}
	return out
}

func people(in Input) []Person {
	seats := []room.Role{room.PartnerA, room.PartnerB}
	if in.State.Mode == room.Guided {
		seats = append(seats, room.Moderator)
	}
	var out []Person
	for _, r := range seats {
		p := Person{Role: r, Name: in.Names[r]}
		for _, def := range in.Template.Roles {
			if in.State.Roles[def.ID] == r {
				p.RoleLabel = def.Label
			}
		}
		out = append(out, p)
	}
	return out
}

// writers names the seats that write f, as the room has assigned them.
func writers(t *templates.Template, s room.State, f *templates.Field) []room.Role {
	switch o := f.Owner; {
	case o == templates.OwnerBoth:
		return []room.Role{room.PartnerA, room.PartnerB}
	case o == templates.OwnerModerator:
		return []room.Role{room.Moderator}
	case t.IsRole(o):
		if seat, ok := s.Roles[string(o)]; ok {
			return []room.Role{seat}
		}
		return nil
	default:
		return []room.Role{room.Role(o)}
	}
}

// field is f as the viewer reads it in v (the viewer's View of the state);
// false when the field does not exist for the viewer at all.
func field(in Input, v room.State, f *templates.Field) (Field, bool) {
	t, s, by := in.Template, in.State, in.Viewer
	out := Field{ID: f.ID, Label: f.Label, Kind: f.Kind, Writers: writers(t, s, f),
		Private: f.Owner == templates.OwnerModerator || f.Visibility == templates.VisibleOwner}
	if f.Kind == templates.KindReveal {
		for _, p := range []room.Role{room.PartnerA, room.PartnerB} {
			key := room.RevealKey(f.ID, p)
			if room.CanRead(t, s, by, key) {
				out.Drafts = append(out.Drafts, Draft{By: p, Text: in.Texts[key], Revealed: s.Revealed[key]})
			}
		}
		return out, room.CanRead(t, s, by, f.ID)
	}
	if !room.CanRead(t, s, by, f.ID) {
		// The room tells the other partner that a private answer exists and
		// nothing else (View's Answered); anything else does not exist here.
		if v.Answered[f.ID] {
			out.Withheld = true
			return out, true
		}
		if f.Owner != templates.OwnerModerator && !(f.GuidedOnly && s.Mode == room.SelfGuided) && f.Visibility == templates.VisibleOwner {
			return out, true // not answered; say nothing more
		}
		return Field{}, false
	}
	switch f.Kind {
	case templates.KindText, templates.KindAgreement, templates.KindMirror:
		text := in.Texts[f.ID]
		out.Text = &text
	case templates.KindScale, templates.KindChoice:
		out.Value = v.Values[f.ID]
	case templates.KindQuestions:
		out.Questions = v.Questions[f.ID]
	case templates.KindCheckins:
		out.Checkins = room.Checkins(v, f.ID)
	case templates.KindMilestones:
		out.Milestones = room.Milestones(v, f.ID)
	}
	if f.Kind == templates.KindAgreement {
		cur := in.Versions[f.ID]
		for _, p := range []room.Role{room.PartnerA, room.PartnerB} {
			if m, ok := v.Signs[f.ID][p]; ok {
				out.Signs = append(out.Signs, Sign{By: p, At: m.At, Current: cur > 0 && m.Version == cur})
			}
		}
		out.SignedByBoth = len(room.Signed(v, f.ID, in.Versions)) == 2
	}
	if f.Kind == templates.KindMirror {
		if m, ok := v.Mirrors[f.ID]; ok {
			out.Mirror = &Mirror{By: m.By, At: m.At, Status: m.Status, Current: room.MirrorStatus(v, f.ID, in.Versions) != ""}
		}
	}
	return out, true
}
