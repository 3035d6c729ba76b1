package realtime

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"repairroom/internal/protocol"
	"repairroom/internal/room"
	"repairroom/internal/store"
	"repairroom/internal/templates"
)

// roomHub is one room on this node: its local connections and the one
// Redis subscription they share.
type roomHub struct {
	h     *Hub
	id    string
	tpl   *templates.Template
	sub   *store.Subscription
	err   error
	ready chan struct{}
	stop  chan struct{} // closed when the last local member leaves
	refs  int           // guarded by h.mu

	mu    sync.Mutex
	conns map[*conn]struct{}
	state *room.State // latest state seen, for filtering presence; nil until known
}

func (rh *roomHub) add(c *conn) {
	rh.mu.Lock()
	rh.conns[c] = struct{}{}
	rh.mu.Unlock()
}

func (rh *roomHub) remove(c *conn) {
	rh.mu.Lock()
	delete(rh.conns, c)
	rh.mu.Unlock()
}

// noteState remembers s if it is newer than what the hub knows.
func (rh *roomHub) noteState(s room.State) {
	rh.mu.Lock()
	if rh.state == nil || s.Rev > rh.state.Rev {
		rh.state = &s
	}
	rh.mu.Unlock()
}

func (rh *roomHub) snapshot() ([]*conn, *room.State) {
	rh.mu.Lock()
	defer rh.mu.Unlock()
	out := make([]*conn, 0, len(rh.conns))
	for c := range rh.conns {
		out = append(out, c)
	}
	return out, rh.state
}

// run delivers the room's bus messages until the subscription closes.
func (rh *roomHub) run() {
	defer rh.h.wg.Done()
	for {
		p, resub, ok := rh.sub.Next()
		if !ok {
			return
		}
		if resub {
			rh.sendHeads()
			continue
		}
		rh.dispatch(p)
	}
}

func (rh *roomHub) dispatch(p []byte) {
	hd, body, err := decodeBus(p)
	if err != nil {
		rh.h.log.Error("dropping a bus message", "room", rh.id, "err", err)
		return
	}
	conns, st := rh.snapshot()
	switch hd.Kind {
	case kindUpdates:
		for _, c := range conns {
			if hasRole(hd.Aud, c.p.Role) {
				c.deliver(body)
			}
		}
	case kindState:
		rh.deliverState(conns, body)
	case kindMembers:
		// Joins and leaves on different nodes publish in any order, so the
		// notice carries no list: the current one is read when it arrives,
		// and the last notice always shows the truth.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		all, err := rh.h.st.Presence(ctx, rh.id)
		cancel()
		if err != nil {
			rh.h.log.Warn("reading members failed", "room", rh.id, "err", err)
			return
		}
		ms := liveMembers(all, time.Now())
		perRole(conns, func(role string) []byte {
			return protocol.Encode(protocol.Members{T: protocol.TMembers, Members: filterMembers(rh.tpl, st, role, ms)})
		})
	case kindPresence:
		var m protocol.Member
		if json.Unmarshal(body, &m) != nil {
			return
		}
		perRole(conns, func(role string) []byte {
			return protocol.Encode(protocol.Presence{T: protocol.TPresOut, Member: filterMembers(rh.tpl, st, role, []protocol.Member{m})[0]})
		})
	case kindDeleted:
		for _, c := range conns {
			c.kill(protocol.CloseRoomDeleted, "the room was deleted")
		}
	case kindRotated:
		gen, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			rh.h.log.Error("dropping a rotation notice", "room", rh.id, "err", err)
			return
		}
		for _, c := range conns {
			if c.p.Gen < gen {
				c.kill(protocol.CloseRevoked, "links were rotated")
			}
		}
	}
}

// perRole encodes one frame per role present and delivers it: at most
// three encodings per message, however many sockets.
func perRole(conns []*conn, frame func(role string) []byte) {
	cache := map[string][]byte{}
	for _, c := range conns {
		b, ok := cache[c.p.Role]
		if !ok {
			b = frame(c.p.Role)
			cache[c.p.Role] = b
		}
		if b != nil {
			c.deliver(b)
		}
	}
}

func (rh *roomHub) deliverState(conns []*conn, body []byte) {
	var bs busState
	if err := json.Unmarshal(body, &bs); err != nil {
		rh.h.log.Error("dropping a state message", "room", rh.id, "err", err)
		return
	}
	var s room.State
	if err := json.Unmarshal(bs.State, &s); err != nil {
		rh.h.log.Error("dropping a state message", "room", rh.id, "err", err)
		return
	}
	rh.noteState(s)
	var ev room.Event
	_ = json.Unmarshal(bs.Event, &ev)
	perRole(conns, func(role string) []byte {
		msg := protocol.Room{T: protocol.TRoom, Room: mustJSON(room.View(rh.tpl, s, room.Role(role)))}
		if !ev.Private || role == string(room.Moderator) {
			msg.Event = bs.Event
		}
		return protocol.Encode(msg)
	})
}

// sendHeads tells every local socket where each readable field is, after
// the subscription was re-established and messages may have been lost.
func (rh *roomHub) sendHeads() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	keys := room.TextKeys(rh.tpl)
	snap, err := rh.h.st.Snapshot(ctx, rh.id, keys)
	if err != nil {
		rh.h.log.Warn("could not read heads after resubscribing", "room", rh.id, "err", err)
		return
	}
	var s room.State
	if json.Unmarshal(snap.State, &s) != nil {
		return
	}
	s.Rev = snap.Rev
	rh.noteState(s)
	conns, _ := rh.snapshot()
	perRole(conns, func(role string) []byte {
		heads := protocol.Heads{T: protocol.THeads, Fields: map[string]protocol.FieldHead{}}
		for _, k := range keys {
			if room.CanRead(rh.tpl, s, room.Role(role), k) {
				f := snap.Fields[k]
				heads.Fields[k] = protocol.FieldHead{Epoch: f.Epoch, Version: f.Version}
			}
		}
		return protocol.Encode(heads)
	})
	// State messages may have been lost too: send the current one.
	perRole(conns, func(role string) []byte {
		return protocol.Encode(protocol.Room{T: protocol.TRoom, Room: mustJSON(room.View(rh.tpl, s, room.Role(role)))})
	})
}

// filterMembers hides from role where others are when that field is one
// role may not read (a partner never learns the id of a private field).
func filterMembers(tpl *templates.Template, st *room.State, role string, ms []protocol.Member) []protocol.Member {
	out := make([]protocol.Member, len(ms))
	for i, m := range ms {
		if m.Field != nil && (st == nil || !room.CanRead(tpl, *st, room.Role(role), *m.Field)) {
			m.Field, m.Sel = nil, nil
		}
		out[i] = m
	}
	return out
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
