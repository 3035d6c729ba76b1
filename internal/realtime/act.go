package realtime

import (
	"context"
	"encoding/json"
	"sync"
	"time"

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
	var keys []string
	if a.Field != "" && tplHasKey(tpl, a.Field) {
		keys = []string{a.Field} // sign and confirm are checked against its version
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

// presenceThrottle coalesces cursor moves: at most one broadcast per
// interval, and the last position is always sent.
type presenceThrottle struct {
	mu      sync.Mutex
	last    time.Time
	pending *protocol.Member
	timer   *time.Timer
	stopped bool
}

func (t *presenceThrottle) stop() {
	t.mu.Lock()
	t.stopped = true
	if t.timer != nil {
		t.timer.Stop()
	}
	t.mu.Unlock()
}

func (c *conn) presenceMoved(field *string, sel []int64) {
	m := protocol.Member{ID: c.id, Role: c.p.Role, Name: c.p.Name, Field: field, Sel: sel}
	t := &c.presence
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	wait := c.h.cfg.PresenceEvery - time.Since(t.last)
	if wait <= 0 && t.timer == nil {
		t.last = time.Now()
		go c.publishPresence(m)
		return
	}
	t.pending = &m
	if t.timer == nil {
		if wait < 0 {
			wait = 0
		}
		t.timer = time.AfterFunc(wait, func() {
			t.mu.Lock()
			p := t.pending
			t.pending, t.timer = nil, nil
			t.last = time.Now()
			stopped := t.stopped
			t.mu.Unlock()
			if p != nil && !stopped {
				c.publishPresence(*p)
			}
		})
	}
}

func (c *conn) publishPresence(m protocol.Member) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.Seen = time.Now().UnixMilli()
	if _, err := c.h.st.SetPresence(ctx, c.p.Room, c.id, mustJSON(m)); err != nil {
		return // presence is best effort
	}
	_ = c.h.st.Publish(ctx, c.p.Room, encodeBus(busHeader{Kind: kindPresence}, mustJSON(m)))
}
