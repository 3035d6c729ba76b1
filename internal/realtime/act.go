package realtime

import (
	"context"
	"encoding/json"
	"strings"

	"repairroom/internal/protocol"
	"repairroom/internal/room"
)

// act applies one room action through room.Apply (the single place that
// decides what is allowed) and commits it with a compare-and-set on the
// state's rev, retrying when another change came first.
func (c *conn) act(ctx context.Context, m protocol.In) error {
	var a room.Action
	if err := json.Unmarshal(m.Raw, &a); err != nil {
		return protocol.Errorf(protocol.CodeBadMessage, "act arguments: %v", err)
	}
	tpl, role := c.p.Template, room.Role(c.p.Role)
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
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := c.h.st.Snapshot(ctx, c.p.Room, keys)
		if err != nil {
			return err
		}
		s, err := decodeState(snap.State, snap.Rev)
		if err != nil {
			return err
		}
		env := room.Env{Now: c.h.now(), Versions: map[string]int64{}, NewID: newConnID}
		for k, f := range snap.Fields {
			env.Versions[k] = f.Version
		}
		ns, ev, err := room.Apply(tpl, s, role, a, env)
		if err != nil {
			return err
		}
		ns.Rev = s.Rev + 1
		stateJSON, evJSON := mustJSON(ns), mustJSON(ev)
		payload := encodeBus(busHeader{Kind: kindState}, mustJSON(busState{State: stateJSON, Event: evJSON}))
		ok, err := c.h.st.CommitState(ctx, c.p.Room, s.Rev, stateJSON, evJSON, payload)
		if err != nil {
			return err
		}
		if ok {
			c.enqueue(protocol.Encode(protocol.Reply{T: protocol.TOK, Re: m.ID}))
			return nil
		}
	}
	return protocol.Errorf(protocol.CodeUnavailable, "the room is changing too fast; nothing was changed; try again")
}
