package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"repairroom/internal/protocol"
	"repairroom/internal/room"
	"repairroom/internal/store"
	"repairroom/internal/templates"
)

// roomHub is one room on this node: its local connections, and a queue
// of what the node's shared subscription received for the room, drained in
// order by the room's own goroutine (so one slow room never holds up the
// subscription's reader or another room).
type roomHub struct {
	h          *Hub
	id         string
	tpl        *templates.Template
	err        error
	ready      chan struct{}
	stop       chan struct{} // closed when the last local member leaves
	refs       int           // guarded by h.mu
	subscribed bool          // the node's subscriber holds the channel for this hub
	heads      heads         // cached field heads for the push path (heads.go)

	qmu         sync.Mutex
	q           [][]byte
	lost        bool // the queue overflowed: clients must catch up from the logs
	dispatching bool // a dispatcher goroutine runs (run)

	hmu          sync.Mutex
	headsRunning bool // a heads goroutine is retrying
	headsAgain   bool // another resubscription came while it ran

	dmu   sync.Mutex       // orders deliveries of updates (deliver.go)
	flows map[string]*flow // per field: how far delivered, pushes in flight, held messages

	members  memberSync   // coalesced member lists (fanout.go)
	presence roomPresence // coalesced cursor moves of local sockets (fanout.go)

	mu    sync.Mutex
	conns map[*conn]struct{}
	state *room.State // latest state seen, for filtering presence; nil until known
}

// inboxCap bounds a room's queue of bus messages. Beyond it messages are
// dropped and the room's sockets get heads, as after a resubscription.
const inboxCap = 8192

func newRoomHub(h *Hub, id string, tpl *templates.Template) *roomHub {
	return &roomHub{h: h, id: id, tpl: tpl, conns: make(map[*conn]struct{}),
		ready: make(chan struct{}), stop: make(chan struct{})}
}

// queue hands a bus message to the room's dispatcher without blocking the
// subscription's reader. A dispatcher runs while messages are queued and
// ends when there are none (run), so a quiet room holds no goroutine; at
// most one runs, which keeps the channel's order.
func (rh *roomHub) queue(p []byte) {
	rh.qmu.Lock()
	if len(rh.q) >= inboxCap {
		rh.lost = true
	} else {
		rh.q = append(rh.q, p)
	}
	start := !rh.dispatching
	rh.dispatching = true
	rh.qmu.Unlock()
	if start {
		go rh.run()
	}
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

// run delivers the room's queued bus messages, in the order they were
// published, and ends when none are left (queue starts it again) or the
// last local member left.
func (rh *roomHub) run() {
	var batch [][]byte
	for {
		rh.qmu.Lock()
		select {
		case <-rh.stop:
			// The last local member left: nobody to deliver to.
			rh.q, rh.lost, rh.dispatching = nil, false, false
			rh.qmu.Unlock()
			return
		default:
		}
		batch, rh.q = rh.q, batch[:0]
		lost := rh.lost
		rh.lost = false
		if len(batch) == 0 && !lost {
			rh.dispatching = false
			rh.qmu.Unlock()
			return
		}
		rh.qmu.Unlock()
		for i, p := range batch {
			rh.dispatch(p)
			batch[i] = nil
		}
		if lost {
			rh.requestHeads()
		}
	}
}

func (rh *roomHub) dispatch(p []byte) {
	hd, body, err := decodeBus(p)
	if err != nil {
		rh.h.log.Error("dropping a bus message", "room", rh.id, "err", err)
		return
	}
	conns, _ := rh.snapshot()
	switch hd.Kind {
	case kindUpdates:
		rh.fromChannel(hd, body) // in order, once, however it came (deliver.go)
	case kindState:
		rh.deliverState(conns, body)
	case kindMembers:
		// Joins and leaves on different nodes publish in any order, so the
		// notice carries no list: the current one is read when the
		// coalesced flush runs, and the last flush always shows the truth.
		rh.membersChanged()
	case kindPresence:
		rh.deliverPresence(conns, body)
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
	case kindDevice:
		for _, c := range conns {
			if c.p.Device != "" && c.p.Device == string(body) {
				c.kill(protocol.CloseRevoked, DeviceRemovedReason)
			}
		}
	case kindNotice:
		for _, c := range conns {
			c.deliver(body)
		}
	case kindHeads:
		rh.heads.dropAll() // fields moved to new epochs (identity.go)
		for _, c := range conns {
			if hasRole(hd.Aud, c.p.Role) {
				c.deliver(body)
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
		msg := rh.roomFrame(s, role, nil)
		if !ev.Private || role == string(room.Moderator) {
			msg.Event = bs.Event
		}
		return protocol.Encode(msg)
	})
}

// requestHeads sends heads and the current state to every local socket,
// retrying with backoff until it could read them: right after Redis comes
// back, go-redis still answers with its cached dial error for a moment, and
// a heads message that is never sent leaves clients behind for good.
func (rh *roomHub) requestHeads() {
	rh.hmu.Lock()
	if rh.headsRunning {
		rh.headsAgain = true
		rh.hmu.Unlock()
		return
	}
	rh.headsRunning = true
	rh.hmu.Unlock()
	go func() {
		failures := 0
		for {
			err := rh.sendHeads()
			if err == nil {
				failures = 0
				rh.hmu.Lock()
				if !rh.headsAgain {
					rh.headsRunning = false
					rh.hmu.Unlock()
					return
				}
				rh.headsAgain = false
				rh.hmu.Unlock()
				continue
			}
			failures++
			if failures == 1 || failures%20 == 0 {
				rh.h.log.Warn("could not read heads after resubscribing; retrying", "room", rh.id, "attempt", failures, "err", err)
			}
			t := time.NewTimer(headsBackoff(failures))
			select {
			case <-rh.stop:
				t.Stop()
				rh.hmu.Lock()
				rh.headsRunning = false
				rh.hmu.Unlock()
				return
			case <-t.C:
			}
		}
	}()
}

// headsBackoff: 100 ms doubling to 5 s.
func headsBackoff(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < n && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// sendHeads tells every local socket where each readable field is, after
// the subscription was re-established and messages may have been lost.
func (rh *roomHub) sendHeads() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rh.h.ensureStoreIdentity(ctx); err != nil {
		return fmt.Errorf("checking the Redis identity: %w", err)
	}
	keys := room.TextKeys(rh.tpl)
	snap, err := rh.h.st.Snapshot(ctx, rh.id, keys)
	if errors.Is(err, store.ErrNoRoom) {
		// Deleted meanwhile (its notice closes the sockets too) or expired
		// (no notice comes): close them here, never ask for checkpoints.
		conns, _ := rh.snapshot()
		for _, c := range conns {
			c.kill(protocol.CloseRoomDeleted, "the room no longer exists")
		}
		return nil
	}
	if errors.Is(err, store.ErrRoomLost) {
		rh.tellLost() // the clients present their checkpoints (restore.go)
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading heads: %w", err)
	}
	var s room.State
	if err := json.Unmarshal(snap.State, &s); err != nil {
		return nil // unreadable state: retrying cannot help
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
		return protocol.Encode(rh.roomFrame(s, role, nil))
	})
	return nil
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
