package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"

	"repairroom/internal/protocol"
)

// Linear fan-out. Without coalescing, N sockets joining a room cost N²
// frames (every join sent the whole list to every socket) and N sockets
// moving their cursors cost N² frames a presence interval. Here:
//
//   - member changes of a room are read and sent at most once per
//     limits.MembersEvery per node, as a diff against the list this node
//     sent last (joined, changed, left); a socket's first members frame
//     after its welcome is the whole list, so a diff always applies to
//     what the socket holds;
//   - cursor moves of a room's local sockets are published at most
//     limits.RoomPresencePerSecond times a second per node, several
//     members in one bus message and one frame, on top of the per-socket
//     limit (limits.PresenceEvery).
//
// So N joins cost O(N) frames per node for a given span of time, and a
// room's presence costs each socket at most RoomPresencePerSecond frames
// a second per node.

// membersDiff is the "members" frame that carries a change: members that
// joined, members whose name or role changed, and the ids of those who
// left. (The whole list travels as protocol.Members, with "members".)
type membersDiff struct {
	T       string            `json:"t"`
	Joined  []protocol.Member `json:"joined,omitempty"`
	Changed []protocol.Member `json:"changed,omitempty"`
	Left    []string          `json:"left,omitempty"`
}

// presenceBatch is the "presence" frame of several members at once (one
// member travels as protocol.Presence, with "member").
type presenceBatch struct {
	T       string            `json:"t"`
	Members []protocol.Member `json:"members"`
}

// memberSync coalesces a room's member changes on this node.
type memberSync struct {
	mu    sync.Mutex
	timer *time.Timer // set while a flush is scheduled
	last  time.Time   // when the last flush started

	flush  sync.Mutex                 // one flush at a time; guards sent and conn.membersSynced
	sent   map[string]protocol.Member // the list as last sent, by id
	failed int                        // reads failed in a row
}

// membersChanged schedules a flush: at once when the last one is older
// than MembersEvery, else when it will be. Notices that arrive meanwhile
// are covered by that flush, which reads the list fresh.
func (rh *roomHub) membersChanged() {
	ms := &rh.members
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.timer != nil {
		return
	}
	wait := max(rh.h.cfg.Limits.MembersEvery-time.Since(ms.last), 0)
	ms.timer = time.AfterFunc(wait, rh.flushMembers)
}

func (rh *roomHub) flushMembers() {
	ms := &rh.members
	ms.mu.Lock()
	ms.timer = nil
	ms.last = time.Now()
	ms.mu.Unlock()
	select {
	case <-rh.stop:
		return
	default:
	}
	ms.flush.Lock()
	defer ms.flush.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	all, err := rh.h.st.Presence(ctx, rh.id)
	cancel()
	if err != nil {
		ms.failed++
		if ms.failed == 1 {
			rh.h.log.Warn("reading members failed; retrying", "room", rh.id, "err", err)
		}
		rh.membersChanged() // try again after MembersEvery
		return
	}
	ms.failed = 0
	cur := liveMembers(all, time.Now())
	var diff membersDiff
	next := make(map[string]protocol.Member, len(cur))
	for _, m := range cur {
		next[m.ID] = m
		old, ok := ms.sent[m.ID]
		switch {
		case !ok:
			diff.Joined = append(diff.Joined, m)
		case old.Name != m.Name || old.Role != m.Role:
			diff.Changed = append(diff.Changed, m)
		}
	}
	for id := range ms.sent {
		if _, ok := next[id]; !ok {
			diff.Left = append(diff.Left, id)
		}
	}
	ms.sent = next
	changed := len(diff.Joined)+len(diff.Changed)+len(diff.Left) > 0

	conns, st := rh.snapshot()
	full := map[string][]byte{}
	part := map[string][]byte{}
	for _, c := range conns {
		role := c.p.Role
		if !c.membersSynced {
			b, ok := full[role]
			if !ok {
				b = protocol.Encode(protocol.Members{T: protocol.TMembers, Members: filterMembers(rh.tpl, st, role, cur)})
				full[role] = b
			}
			c.membersSynced = true
			c.deliver(b)
			continue
		}
		if !changed {
			continue
		}
		b, ok := part[role]
		if !ok {
			d := diff
			d.T = protocol.TMembers
			d.Joined = filterMembers(rh.tpl, st, role, diff.Joined)
			d.Changed = filterMembers(rh.tpl, st, role, diff.Changed)
			b = protocol.Encode(d)
			part[role] = b
		}
		c.deliver(b)
	}
}

// roomPresence coalesces the cursor moves of a room's local sockets into
// at most RoomPresencePerSecond publishes a second.
type roomPresence struct {
	mu      sync.Mutex
	pending map[*conn]struct{}
	timer   *time.Timer
	last    time.Time
	pub     sync.Mutex // one publish at a time
}

// presenceQueued notes that c moved; its latest position goes out with
// the room's next presence publish.
func (rh *roomHub) presenceQueued(c *conn) {
	rp := &rh.presence
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if rp.pending == nil {
		rp.pending = make(map[*conn]struct{})
	}
	rp.pending[c] = struct{}{}
	if rp.timer != nil {
		return
	}
	every := time.Second / time.Duration(rh.h.cfg.Limits.RoomPresencePerSecond)
	wait := max(every-time.Since(rp.last), 0)
	rp.timer = time.AfterFunc(wait, rh.flushPresence)
}

// flushPresence stores and publishes the pending moves in one round trip.
// Each mover's own publish lock is held meanwhile, so a socket that is
// leaving (leavePresence takes the same lock, after marking it stopped)
// cannot have its record written back after it was removed.
func (rh *roomHub) flushPresence() {
	rp := &rh.presence
	rp.pub.Lock()
	defer rp.pub.Unlock()
	rp.mu.Lock()
	pend := rp.pending
	rp.pending, rp.timer, rp.last = nil, nil, time.Now()
	rp.mu.Unlock()
	select {
	case <-rh.stop:
		return
	default:
	}
	recs := make(map[string][]byte, len(pend))
	members := make([]protocol.Member, 0, len(pend))
	for c := range pend {
		c.presence.pub.Lock()
		defer c.presence.pub.Unlock()
		c.presence.mu.Lock()
		stopped := c.presence.stopped
		c.presence.mu.Unlock()
		if stopped {
			continue
		}
		m := c.presence.record()
		recs[c.id] = mustJSON(m)
		members = append(members, m)
	}
	if len(members) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	body := mustJSON(members)
	if err := rh.h.st.PublishPresenceBatch(ctx, rh.id, recs, encodeBus(busHeader{Kind: kindPresence}, body)); err != nil {
		rh.h.log.Debug("publishing presence failed", "room", rh.id, "err", err)
	}
}

// deliverPresence sends a presence bus message (one member, or several)
// to the local sockets: one frame per role.
func (rh *roomHub) deliverPresence(conns []*conn, body []byte) {
	var ms []protocol.Member
	if b := bytes.TrimSpace(body); len(b) > 0 && b[0] == '[' {
		if json.Unmarshal(b, &ms) != nil {
			return
		}
	} else {
		var m protocol.Member
		if json.Unmarshal(b, &m) != nil {
			return
		}
		ms = []protocol.Member{m}
	}
	if len(ms) == 0 {
		return
	}
	_, st := rh.snapshot()
	perRole(conns, func(role string) []byte {
		f := filterMembers(rh.tpl, st, role, ms)
		if len(f) == 1 {
			return protocol.Encode(protocol.Presence{T: protocol.TPresOut, Member: f[0]})
		}
		return protocol.Encode(presenceBatch{T: protocol.TPresOut, Members: f})
	})
}
