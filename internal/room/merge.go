package room

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"

	"repairroom/internal/templates"
)

// Merging partners' views of a restored room (issue 11, docs/protocol.md
// "Checkpoints and restore").
//
// When Redis is wiped, a room's state comes back from the first seat that
// presents its signed view. A partner's view is filtered (View): in a room
// restored from partner_a's view, partner_b's private values, the reason of
// a break partner_b asked for and who paused the conversation are blank.
// When partner_b then presents its own view of the same rev, MergeView puts
// back what only partner_b could read, and nothing else.

// MergeView returns base with what other — partner by's view of the state
// base is a view of (same template and rev) — holds and base lacks, among
// what by may read:
//
//   - entries of Values, Signs, Mirrors, Questions and Revealed keyed by a
//     field by can read (CanRead against base) that base does not have; an
//     Answered marker for a value put back is dropped (the value is there
//     now);
//   - the reason of a break or break request that is by's own (by started
//     or asked for it) and unshared, where base's reason is blank;
//   - who paused a self-guided conversation, and on which field, when it
//     was by and base's copy is blank.
//
// Nothing base holds is ever changed. ok is false, and base is returned
// unchanged, when by is not a partner (the moderator's view is the whole
// state: it replaces a partner's, it is not merged) or when other is not
// by's view of the merged state: once merged, View(t, merged, by) must be
// other exactly, so a view of another state (another rev, a rolled-back
// history) adds nothing.
func MergeView(t *templates.Template, base, other State, by Role) (merged State, ok bool) {
	if !by.IsPartner() || base.Template != t.ID || other.Template != base.Template || other.Rev != base.Rev {
		return base, false
	}
	m := base.Clone()
	readable := func(key string) bool { return CanRead(t, base, by, key) }
	m.fillFrom(other, readable, readable)

	if b, o := m.Break, other.Break; b != nil && o != nil && b.Reason == "" && o.Reason != "" &&
		!o.Shared && (o.By == by || o.AskedBy == by) {
		b.Reason = o.Reason
	}
	if r, o := m.BreakRequest, other.BreakRequest; r != nil && o != nil && r.Reason == "" && o.Reason != "" &&
		!o.Shared && o.By == by {
		r.Reason = o.Reason
	}
	if h, o := m.Hold, other.Hold; h != nil && o != nil && h.By == "" && h.Field == "" && o.By == by {
		h.By, h.Field = o.By, o.Field
	}

	if !sameView(View(t, m, by), other) {
		return base, false
	}
	return m, true
}

// fillFrom copies into m the values (whose key value accepts) and the
// signs, mirrors, questions and reveals (whose key ok accepts) that src
// holds and m lacks; a value put back loses its Answered marker.
func (m *State) fillFrom(src State, value, ok func(key string) bool) {
	var added []string
	m.Values, added = fill(m.Values, src.Values, value, func(v json.RawMessage) json.RawMessage { return bytes.Clone(v) })
	for _, k := range added {
		delete(m.Answered, k)
	}
	if len(m.Answered) == 0 {
		m.Answered = nil
	}
	m.Signs, _ = fill(m.Signs, src.Signs, ok, maps.Clone)
	m.Mirrors, _ = fill(m.Mirrors, src.Mirrors, ok, same)
	m.Questions, _ = fill(m.Questions, src.Questions, ok, slices.Clone)
	m.Revealed, _ = fill(m.Revealed, src.Revealed, ok, same)
}

// fill copies into dst the entries of src whose key ok accepts and dst
// lacks, and returns dst (made when nil and needed) and the keys copied.
func fill[V any](dst, src map[string]V, ok func(string) bool, clone func(V) V) (map[string]V, []string) {
	var added []string
	for k, v := range src {
		if _, have := dst[k]; have || !ok(k) {
			continue
		}
		if dst == nil {
			dst = map[string]V{}
		}
		dst[k] = clone(v)
		added = append(added, k)
	}
	return dst, added
}

func same[V any](v V) V { return v }

// sameView compares two views as the server encodes them (the encoding
// the room checkpoints sign), the rev included.
func sameView(a, b State) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// CarryPrivate returns hi — a room state restored from the views of the
// partners hiBy — with what lo, a signed view of another rev, holds that
// none of hiBy may read: the other partner's private values, signs and
// the like, the reason of a break that partner asked for, who paused the
// conversation. It is how two partners' views of different revs combine
// after a wipe (one saw a change the other had not): hi is the newer of
// the two and decides everything its partners could read; lo adds only
// what they could not.
//
// A value is carried only where hi marks it answered (hi attests it
// existed at its rev); a break's reason, a request's reason and a hold's
// author only onto the same break, request or hold. Nothing hi holds is
// ever changed: ok is false, and hi is returned unchanged, when a role of
// hiBy is not a partner, the templates differ, or the result would show
// any of hiBy anything other than hi shows it.
func CarryPrivate(t *templates.Template, hi, lo State, hiBy []Role) (State, bool) {
	if len(hiBy) == 0 || hi.Template != t.ID || lo.Template != hi.Template {
		return hi, false
	}
	for _, r := range hiBy {
		if !r.IsPartner() {
			return hi, false
		}
	}
	hidden := func(key string) bool {
		for _, r := range hiBy {
			if CanRead(t, hi, r, key) {
				return false
			}
		}
		return true
	}
	m := hi.Clone()
	m.fillFrom(lo, func(k string) bool { return hi.Answered[k] && hidden(k) }, hidden)

	if b, o := m.Break, lo.Break; b != nil && o != nil && b.Reason == "" && o.Reason != "" && !o.Shared &&
		b.By == o.By && b.AskedBy == o.AskedBy && b.Started.Equal(o.Started) {
		b.Reason = o.Reason
	}
	if r, o := m.BreakRequest, lo.BreakRequest; r != nil && o != nil && r.Reason == "" && o.Reason != "" && !o.Shared &&
		r.By == o.By && r.At.Equal(o.At) {
		r.Reason = o.Reason
	}
	if h, o := m.Hold, lo.Hold; h != nil && o != nil && h.By == "" && h.Field == "" && h.Since.Equal(o.Since) {
		h.By, h.Field = o.By, o.Field
	}

	for _, r := range hiBy {
		if !sameView(View(t, m, r), View(t, hi, r)) {
			return hi, false
		}
	}
	return m, true
}
