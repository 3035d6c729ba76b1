package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"repairroom/internal/protocol"
	"repairroom/internal/room"
	"repairroom/internal/store"
	"repairroom/internal/templates"
)

// opTimeout bounds one message's storage work.
const opTimeout = 10 * time.Second

// maxAttempts bounds retries when the room state changed under a write.
const maxAttempts = 8

func (c *conn) handle(data []byte) {
	read := time.Now()
	m, err := protocol.Decode(data)
	if err != nil {
		var pe *protocol.Error
		errors.As(err, &pe)
		c.enqueue(protocol.ErrorFrame(m.ID, pe))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	switch m.T {
	case protocol.TPush:
		err = c.push(ctx, m)
		c.h.cfg.Observer.PushDone(pushOutcome(err), time.Since(read))
	case protocol.TPull:
		err = c.pull(ctx, m.ID, *m.Field, m.Epoch, *m.Since)
	case protocol.TAct:
		err = c.act(ctx, m)
	case protocol.TPresence:
		c.presenceMoved(m.Field, m.Sel)
	case protocol.TRestore:
		err = c.restore(ctx, m)
	}
	if err != nil {
		c.replyErr(m.ID, err)
	}
}

// pushOutcome names how a push ended, for metrics: ok (answered with an
// ack, behind or reset), refused (a protocol or room rule said no) or
// error (storage, a lost room).
func pushOutcome(err error) string {
	var pe *protocol.Error
	var re *room.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &pe), errors.As(err, &re):
		return "refused"
	}
	return "error"
}

// replyErr turns any error into an error frame with a stable code.
func (c *conn) replyErr(re string, err error) {
	var pe *protocol.Error
	var re2 *room.Error
	switch {
	case errors.As(err, &pe):
	case errors.As(err, &re2):
		pe = &protocol.Error{Code: re2.Code, Message: re2.Message}
	case errors.Is(err, store.ErrNoRoom):
		c.kill(protocol.CloseRoomDeleted, "the room no longer exists")
		return
	case c.isLost(err):
		pe = lostError()
	default:
		c.h.log.Warn("message failed", "room", c.p.Room, "err", err)
		pe = protocol.Errorf(protocol.CodeUnavailable, "storage is unavailable; nothing was stored; try again")
	}
	c.enqueue(protocol.ErrorFrame(re, pe))
}

func decodeState(b []byte, rev int64) (room.State, error) {
	var s room.State
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("decoding room state: %w", err)
	}
	s.Rev = rev
	return s, nil
}

var errRevoked = errors.New("the invite token was revoked by a link rotation")

// sendWelcome loads the room as this participant may see it and queues the
// welcome, then records presence.
func (c *conn) sendWelcome() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	tpl := c.p.Template
	keys := room.TextKeys(tpl)
	snap, err := c.h.st.Snapshot(ctx, c.p.Room, keys)
	if errors.Is(err, store.ErrNoRoom) {
		return protocol.CloseRoomDeleted, err
	}
	if err != nil {
		return 1011, err
	}
	if snap.Gen != c.p.Gen {
		// The links were rotated after the token was checked at the upgrade
		// but before this socket joined the room's fan-out, so the rotation
		// notice could not reach it: refuse it here.
		return protocol.CloseRevoked, errRevoked
	}
	s, err := decodeState(snap.State, snap.Rev)
	if err != nil {
		return 1011, err
	}
	c.rh.noteState(s)
	for k, hd := range snap.Heads {
		c.rh.heads.put(k, hd) // the first push needs no read of its own
	}
	role := room.Role(c.p.Role)
	view := mustJSON(room.View(tpl, s, role))
	w := protocol.Welcome{
		T: protocol.TWelcome, V: protocol.Version,
		Me:       protocol.Me{ID: c.id, Role: c.p.Role, Name: c.p.Name},
		Room:     view,
		RoomSig:  c.h.signRoom(c.p.Room, c.p.Role, s.Rev, view),
		Template: mustJSON(tpl.ForRole(c.p.Role)),
		Fields:   map[string]protocol.FieldSnapshot{},
		Limits:   c.h.cfg.Limits.ForClient(),
	}
	for _, k := range keys {
		if room.CanRead(tpl, s, role, k) {
			w.Fields[k] = c.h.fieldSnapshot(c.p.Room, k, snap.Fields[k]) // signed, with its lineage (restore.go)
		}
	}
	all, err := c.h.st.JoinPresence(ctx, c.p.Room, c.id, mustJSON(c.presence.record()))
	if err != nil {
		return 1011, err
	}
	w.Members = filterMembers(tpl, &s, c.p.Role, liveMembers(all, time.Now()))
	c.welcome(protocol.Encode(w))
	_ = c.h.st.Touch(ctx, c.p.Room, keys)
	c.publishMembers(ctx)
	return 0, nil
}

func liveMembers(all map[string]string, now time.Time) []protocol.Member {
	out := make([]protocol.Member, 0, len(all))
	for _, v := range all {
		var m protocol.Member
		if json.Unmarshal([]byte(v), &m) != nil {
			continue
		}
		if now.Sub(time.UnixMilli(m.Seen)) > presenceTTL {
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c *conn) publishMembers(ctx context.Context) {
	if err := c.h.st.Publish(ctx, c.p.Room, encodeBus(busHeader{Kind: kindMembers}, nil)); err != nil {
		c.h.log.Warn("publishing members failed", "room", c.p.Room, "err", err)
	}
}

func (c *conn) leavePresence() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.presence.stop()
	// Wait for a publish in flight, so it cannot write the record back
	// after it is removed.
	c.presence.pub.Lock()
	defer c.presence.pub.Unlock()
	if err := c.h.st.RemovePresence(ctx, c.p.Room, c.id); err != nil {
		c.h.log.Warn("removing presence failed", "room", c.p.Room, "err", err)
		return
	}
	c.publishMembers(ctx)
}

// moderatorOwned reports whether text key belongs to a moderator-owned field.
func moderatorOwned(tpl *templates.Template, key string) bool {
	id, _, _ := strings.Cut(key, ".")
	f, _, ok := tpl.Field(id)
	return ok && f.Owner == templates.OwnerModerator
}

func tplHasKey(tpl *templates.Template, key string) bool {
	// Walks the template rather than building room.TextKeys: it runs on
	// every push.
	for _, st := range tpl.Stages {
		for _, f := range st.Fields {
			switch f.Kind {
			case templates.KindReveal:
				if key == room.RevealKey(f.ID, room.PartnerA) || key == room.RevealKey(f.ID, room.PartnerB) {
					return true
				}
			case templates.KindText, templates.KindAgreement, templates.KindMirror:
				if key == f.ID {
					return true
				}
			}
		}
	}
	return false
}
