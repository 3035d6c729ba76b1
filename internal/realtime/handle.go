package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"repairroom/internal/changeset"
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
	case protocol.TPull:
		err = c.pull(ctx, m.ID, *m.Field, m.Epoch, *m.Since)
	case protocol.TAct:
		err = c.act(ctx, m)
	case protocol.TPresence:
		c.presenceMoved(m.Field, m.Sel)
	}
	if err != nil {
		c.replyErr(m.ID, err)
	}
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
	role := room.Role(c.p.Role)
	w := protocol.Welcome{
		T: protocol.TWelcome, V: protocol.Version,
		Me:       protocol.Me{ID: c.id, Role: c.p.Role, Name: c.p.Name},
		Room:     mustJSON(room.View(tpl, s, role)),
		Template: mustJSON(tpl.ForRole(c.p.Role)),
		Fields:   map[string]protocol.FieldSnapshot{},
	}
	for _, k := range keys {
		if room.CanRead(tpl, s, role, k) {
			f := snap.Fields[k]
			w.Fields[k] = protocol.FieldSnapshot{Epoch: f.Epoch, Version: f.Version, Text: f.Text}
		}
	}
	if err := c.h.st.SetPresence(ctx, c.p.Room, c.id, mustJSON(c.presence.record())); err != nil {
		return 1011, err
	}
	all, err := c.h.st.Presence(ctx, c.p.Room)
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

// push validates and commits a push. Nothing is stored unless every update
// applies cleanly, and the ack is sent only after Redis has the result.
func (c *conn) push(ctx context.Context, m protocol.In) error {
	key, tpl, role := *m.Field, c.p.Template, room.Role(c.p.Role)
	if !tplHasKey(tpl, key) {
		// Refuse before Snapshot, which would create the made-up key in
		// Redis, outside the keys DeleteRoom removes. Same words as
		// room.CanWrite uses for a field the role may not know about.
		return protocol.Errorf(protocol.CodeUnknownField, "there is no text %q", key)
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		snap, err := c.h.st.Snapshot(ctx, c.p.Room, []string{key})
		if err != nil {
			return err
		}
		s, err := decodeState(snap.State, snap.Rev)
		if err != nil {
			return err
		}
		if err := room.CanWrite(tpl, s, role, key, c.h.now()); err != nil {
			return err
		}
		f := snap.Fields[key]
		switch v := *m.Version; {
		case m.Epoch != f.Epoch || v > f.Version:
			c.enqueue(protocol.Encode(protocol.Reset{T: protocol.TReset, Re: m.ID, Field: key,
				FieldSnapshot: protocol.FieldSnapshot{Epoch: f.Epoch, Version: f.Version, Text: f.Text}}))
			return nil
		case v < f.Version:
			return c.behind(ctx, m.ID, key, f.Epoch, v, f.Version)
		}
		p, err := c.applyUpdates(m, f, s)
		if err != nil {
			return err
		}
		res, err := c.h.st.Push(ctx, p)
		if err != nil {
			return err
		}
		switch res.Status {
		case store.PushOK:
			c.enqueue(protocol.Encode(protocol.FieldReply{T: protocol.TAck, Re: m.ID, Field: key, Version: res.Version}))
			return nil
		case store.PushBehind:
			return c.behind(ctx, m.ID, key, res.Epoch, *m.Version, res.Version)
		case store.PushGone:
			return store.ErrNoRoom
		}
		// PushRev or PushEpoch: the state or the field changed between the
		// read and the commit; decide again on fresh data.
	}
	return protocol.Errorf(protocol.CodeUnavailable, "the room is changing too fast; nothing was stored; push again")
}

// applyUpdates applies every update of m to f's text and builds the commit.
func (c *conn) applyUpdates(m protocol.In, f store.Field, s room.State) (store.Push, error) {
	key := *m.Field
	lim := changeset.Limits{MaxInsertUnits: c.h.cfg.Limits.MaxInsertUnits}
	text := f.Text
	now := strconv.FormatInt(c.h.now().UnixMilli(), 10)
	entries := make([][]byte, 0, len(m.Updates))
	raws := make([]json.RawMessage, 0, len(m.Updates))
	inserted := 0
	for i, u := range m.Updates {
		cs, err := lim.Parse(u.Changes)
		if err != nil {
			if errors.Is(err, changeset.ErrTooLarge) {
				return store.Push{}, protocol.Errorf(protocol.CodeTooLarge, "update %d: %v", i, err)
			}
			return store.Push{}, protocol.Errorf(protocol.CodeBadChanges, "update %d: %v", i, err)
		}
		if text, err = cs.Apply(text); err != nil {
			return store.Push{}, protocol.Errorf(protocol.CodeBadChanges, "update %d does not fit the text at version %d: %v", i, *m.Version+int64(i), err)
		}
		inserted += cs.LenAfter() - cs.LenBefore()
		if inserted > c.h.cfg.Limits.MaxInsertUnits {
			return store.Push{}, protocol.Errorf(protocol.CodeTooLarge, "push inserts more than %d characters", c.h.cfg.Limits.MaxInsertUnits)
		}
		canon, err := cs.MarshalJSON()
		if err != nil {
			return store.Push{}, protocol.Errorf(protocol.CodeBadChanges, "update %d: %v", i, err)
		}
		entry := logEntry{ClientID: u.ClientID, Changes: canon, By: c.p.Role, At: json.Number(now)}
		b := mustJSON(entry)
		entries = append(entries, b)
		raws = append(raws, b)
	}
	if n := changeset.UTF16Len(text); n > c.h.cfg.Limits.MaxFieldUnits {
		return store.Push{}, protocol.Errorf(protocol.CodeTooLarge, "the field would hold %d characters; at most %d fit", n, c.h.cfg.Limits.MaxFieldUnits)
	}
	frame := protocol.Encode(protocol.Updates{T: protocol.TUpdates, Field: key, Epoch: f.Epoch, From: f.Version, Updates: raws})
	readers := room.Readers(c.p.Template, s, key)
	aud := make([]string, len(readers))
	for i, r := range readers {
		aud[i] = string(r)
	}
	return store.Push{
		Room: c.p.Room, Field: key, Rev: s.Rev, Epoch: f.Epoch, Version: f.Version,
		Text: text, Entries: entries, Publish: encodeBus(busHeader{Kind: kindUpdates, Aud: aud}, frame),
	}, nil
}

// logEntry is one stored update; clients read clientID and changes, the
// rest is the session history.
type logEntry struct {
	ClientID string          `json:"clientID"`
	Changes  json.RawMessage `json:"changes"`
	By       string          `json:"by"`
	At       json.Number     `json:"at"`
}

// behind answers a push at an old version, then sends what was missed.
func (c *conn) behind(ctx context.Context, re, key, epoch string, since, current int64) error {
	c.enqueue(protocol.Encode(protocol.FieldReply{T: protocol.TBehind, Re: re, Field: key, Version: current}))
	return c.pull(ctx, "", key, epoch, since)
}

// pull sends the updates of key after since, or a reset snapshot.
func (c *conn) pull(ctx context.Context, re, key, epoch string, since int64) error {
	tpl := c.p.Template
	unknown := protocol.Errorf(protocol.CodeUnknownField, "there is no text %q", key)
	if !tplHasKey(tpl, key) {
		return unknown
	}
	_, st := c.rh.snapshot()
	if st == nil || !room.CanRead(tpl, *st, room.Role(c.p.Role), key) {
		// Check against fresh state before refusing: the cache may lag.
		b, rev, err := c.h.st.State(ctx, c.p.Room)
		if err != nil {
			return err
		}
		s, err := decodeState(b, rev)
		if err != nil {
			return err
		}
		c.rh.noteState(s)
		if !room.CanRead(tpl, s, room.Role(c.p.Role), key) {
			if moderatorOwned(tpl, key) {
				return unknown // not even an error may tell a partner it exists
			}
			return protocol.Errorf(protocol.CodeForbidden, "you cannot read this field")
		}
	}
	p, err := c.h.st.Pull(ctx, c.p.Room, key, epoch, since)
	if err != nil {
		return err
	}
	if p.Reset {
		c.enqueue(protocol.Encode(protocol.Reset{T: protocol.TReset, Re: re, Field: key, FieldSnapshot: protocol.FieldSnapshot(p.Field)}))
		return nil
	}
	ups := make([]json.RawMessage, len(p.Entries))
	for i, e := range p.Entries {
		ups[i] = e
	}
	c.enqueue(protocol.Encode(protocol.Updates{T: protocol.TUpdates, Re: re, Field: key, Epoch: p.Field.Epoch, From: p.From, Updates: ups}))
	return nil
}

// moderatorOwned reports whether text key belongs to a moderator-owned field.
func moderatorOwned(tpl *templates.Template, key string) bool {
	id, _, _ := strings.Cut(key, ".")
	f, _, ok := tpl.Field(id)
	return ok && f.Owner == templates.OwnerModerator
}

func tplHasKey(tpl *templates.Template, key string) bool {
	for _, k := range room.TextKeys(tpl) {
		if k == key {
			return true
		}
	}
	return false
}
