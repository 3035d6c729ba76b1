package realtime

import (
	"context"
	"encoding/json"
	"strings"

	"repairroom/internal/protocol"
	"repairroom/internal/room"
	"repairroom/internal/store"
	"repairroom/internal/templates"
)

// act applies one room action through room.Apply (the single place that
// decides what is allowed) and commits it with a compare-and-set on the
// state's rev, retrying when another change came first.
func (c *conn) act(ctx context.Context, m protocol.In) error {
	var a room.Action
	if err := json.Unmarshal(m.Raw, &a); err != nil {
		return protocol.Errorf(protocol.CodeBadMessage, "act arguments: %v", err)
	}
	if err := c.h.applyAct(ctx, c.p.Room, c.p.Template, room.Role(c.p.Role), a); err != nil {
		return err
	}
	c.enqueue(protocol.Encode(protocol.Reply{T: protocol.TOK, Re: m.ID}))
	return nil
}

// EndSession ends a guided room's session as its moderator would from the
// room: the practice's caseload offers it, so a therapist can close a room
// without opening it. Every socket of the room sees the change.
func (h *Hub) EndSession(ctx context.Context, id string, tpl *templates.Template) error {
	return h.applyAct(ctx, id, tpl, room.Moderator, room.Action{Act: room.ActSessionEnd})
}

// applyAct applies a as role and commits it (see act).
func (h *Hub) applyAct(ctx context.Context, id string, tpl *templates.Template, role room.Role, a room.Action) error {
	// Sign-offs, confirmations and reveals are checked against the
	// current versions of the field's texts (both drafts of a reveal field).
	var keys []string
	if a.Field != "" {
		for _, k := range room.TextKeys(tpl) {
			if k == a.Field || strings.HasPrefix(k, a.Field+".") {
				keys = append(keys, k)
			}
		}
	}
	return h.commitChange(ctx, id, keys, func(snap store.Snapshot, s room.State) (room.State, *room.Event, error) {
		env := room.Env{Now: h.now(), Versions: map[string]int64{}, NewID: newConnID, BreakReturnAfter: h.cfg.Limits.BreakReturnAfter}
		for k, f := range snap.Fields {
			env.Versions[k] = f.Version
		}
		ns, ev, err := room.Apply(tpl, s, role, a, env)
		return ns, &ev, err
	})
}

// commitChange decides a new room state from the current one (decide
// sees the state and the texts of keys) and commits it with a
// compare-and-set on the state's rev, deciding again when another change
// came first. Every socket of the room receives it. A nil event from
// decide means there is nothing to change.
func (h *Hub) commitChange(ctx context.Context, id string, keys []string, decide func(store.Snapshot, room.State) (room.State, *room.Event, error)) error {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := h.st.Snapshot(ctx, id, keys)
		if err != nil {
			return err
		}
		s, err := decodeState(snap.State, snap.Rev)
		if err != nil {
			return err
		}
		ns, ev, err := decide(snap, s)
		if err != nil || ev == nil {
			return err
		}
		ns.Rev = s.Rev + 1
		stateJSON, evJSON := mustJSON(ns), mustJSON(*ev)
		payload := encodeBus(busHeader{Kind: kindState}, mustJSON(busState{State: stateJSON, Event: evJSON}))
		ok, err := h.st.CommitState(ctx, id, s.Rev, stateJSON, evJSON, payload)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return protocol.Errorf(protocol.CodeUnavailable, "the room is changing too fast; nothing was changed; try again")
}
