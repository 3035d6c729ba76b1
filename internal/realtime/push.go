package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"repairroom/internal/changeset"
	"repairroom/internal/protocol"
	"repairroom/internal/room"
	"repairroom/internal/store"
)

// pushStore is what the push path needs of the store. It is defined here,
// where it is used, so a test can wrap the real store (a commit that fails
// after the permission check and the apply must never be acknowledged).
type pushStore interface {
	Snapshot(ctx context.Context, id string, fields []string) (store.Snapshot, error)
	State(ctx context.Context, id string) ([]byte, int64, error)
	Push(ctx context.Context, p store.Push) (store.PushResult, error)
	Pull(ctx context.Context, id, field, epoch string, since int64) (store.Pulled, error)
	BumpEpoch(ctx context.Context, id, field, epoch string) (string, error)
}

// pushes returns the store the push path uses.
func (h *Hub) pushes() pushStore {
	if h.ps != nil {
		return h.ps
	}
	return h.st
}

// parsed is a push's updates, checked against every limit that does not
// depend on the text.
type parsed struct {
	ups      []changeset.Update
	inserted int // UTF-16 units inserted, counted as inserted
}

// parsePush parses the updates of m. A push whose every update changes
// nothing (e.g. [n] on a text of length n) is refused bad_changes: it
// would take a version number and void checkpoints for nothing (see
// docs/protocol.md, "push").
func (c *conn) parsePush(m protocol.In) (parsed, error) {
	maxIns := c.h.cfg.Limits.MaxInsertUnits
	lim := changeset.Limits{MaxInsertUnits: maxIns}
	out := parsed{ups: make([]changeset.Update, len(m.Updates))}
	empty := true
	for i, u := range m.Updates {
		cs, err := lim.Parse(u.Changes)
		if err != nil {
			if errors.Is(err, changeset.ErrTooLarge) {
				return out, protocol.Errorf(protocol.CodeTooLarge, "update %d: %v", i, err)
			}
			return out, protocol.Errorf(protocol.CodeBadChanges, "update %d: %v", i, err)
		}
		out.inserted += cs.InsertedUnits()
		if out.inserted > maxIns {
			return out, protocol.Errorf(protocol.CodeTooLarge, "push inserts more than %d characters (a replacement counts all it inserts)", maxIns)
		}
		empty = empty && cs.Empty()
		out.ups[i] = changeset.Update{ClientID: u.ClientID, Changes: cs}
	}
	if empty {
		return out, protocol.Errorf(protocol.CodeBadChanges, "the push changes nothing")
	}
	return out, nil
}

// pushView returns the room state and the head of key: from this node's
// caches when they are there and fresh is false, else read from Redis in
// one round trip (and cached).
func (c *conn) pushView(ctx context.Context, key string, fresh bool) (room.State, store.Head, error) {
	hs := &c.rh.heads
	if !fresh {
		_, st := c.rh.snapshot()
		if h, ok := hs.get(key); ok && st != nil {
			return *st, h, nil
		}
	}
	snap, err := c.h.pushes().Snapshot(ctx, c.p.Room, []string{key})
	if err != nil {
		return room.State{}, store.Head{}, err
	}
	s, err := decodeState(snap.State, snap.Rev)
	if err != nil {
		return room.State{}, store.Head{}, err
	}
	c.rh.noteState(s)
	h := snap.Heads[key]
	hs.put(key, h)
	return s, h, nil
}

// push validates, rebases and commits a push. Nothing is stored unless
// every update applies cleanly and every limit allows it, and the ack is
// sent only after Redis has committed. The usual cost is one Redis round
// trip: state and head come from this node's caches and the commit script
// is the arbiter; on a mismatch the push is decided again on fresh data.
func (c *conn) push(ctx context.Context, m protocol.In) error {
	key, tpl, role := *m.Field, c.p.Template, room.Role(c.p.Role)
	if !tplHasKey(tpl, key) {
		// Refuse before reading, which would create the made-up key in
		// Redis, outside the keys DeleteRoom removes. Same words as
		// room.CanWrite uses for a field the role may not know about.
		return protocol.Errorf(protocol.CodeUnknownField, "there is no text %q", key)
	}
	pp, err := c.parsePush(m)
	if err != nil {
		return err
	}
	ps, hs := c.h.pushes(), &c.rh.heads
	fresh := false
	for attempt := 0; attempt < maxAttempts; attempt++ {
		s, h, err := c.pushView(ctx, key, fresh)
		if err != nil {
			return err
		}
		if err := room.CanWrite(tpl, s, role, key, c.h.now()); err != nil {
			if !fresh {
				fresh = true // the cached state may lag: refuse only on fresh data
				continue
			}
			return err
		}
		v := *m.Version
		if m.Epoch != h.Epoch || v > h.Version {
			if !fresh {
				fresh = true
				continue
			}
			if m.Epoch == h.Epoch {
				// Above the field's version under its own epoch: Redis went
				// back. Never reuse those version numbers for other text.
				return c.rollback(ctx, m.ID, key, h.Epoch)
			}
			c.sendReset(m.ID, key, h.Field)
			return nil
		}
		ups := pp.ups
		if v < h.Version {
			over, ok, err := c.acceptedSince(ctx, key, h, v)
			if err != nil {
				return err
			}
			if !ok {
				if !fresh {
					fresh = true
					continue
				}
				// Beyond the log window: the client must catch up first.
				return c.behind(ctx, m.ID, key, h.Epoch, v, h.Version)
			}
			if ups, err = changeset.RebaseEach(ups, over); err != nil {
				return protocol.Errorf(protocol.CodeBadChanges, "the updates do not follow version %d: %v", v, err)
			}
			if len(ups) == 0 {
				// Every update was accepted before (a resend whose ack was
				// lost): ack at the version the last of them made.
				c.enqueue(protocol.Encode(protocol.FieldReply{T: protocol.TAck, Re: m.ID, Field: key, Version: v + acceptedAt(pp.ups, over)}))
				return nil
			}
		}
		p, cm, err := c.commitOf(key, h, s, ups, pp.inserted)
		if err != nil {
			return err
		}
		c.rh.beginCommit(key) // the channel's copy waits for this push's outcome (deliver.go)
		res, err := ps.Push(ctx, p)
		if err != nil || res.Status != store.PushOK {
			c.rh.endCommit(key, false, cm.hd, nil, c, nil) // releases what the channel brought meanwhile
		}
		if err != nil {
			// The commit may or may not have happened: forget the head, and
			// never ack. If it was stored, the echo brings it to the client.
			hs.drop(key)
			return err
		}
		switch res.Status {
		case store.PushOK:
			hs.committed(key, h.Epoch, h.Version, p.Entries, cm.text, res)
			// The ack carries the same checkpoint as the frame (restore.go);
			// this node's sockets get the frame without waiting for the channel.
			ack := protocol.Encode(protocol.FieldReply{T: protocol.TAck, Re: m.ID, Field: key, Version: res.Version, Sig: cm.sig})
			c.rh.endCommit(key, true, cm.hd, cm.frame, c, ack)
			return nil
		case store.PushRateLimited:
			return protocol.Errorf(protocol.CodeRateLimited, "this seat may insert at most %d characters a minute; nothing was stored; push again later", c.h.cfg.Limits.SeatInsertPerMinute)
		case store.PushTooLarge:
			return protocol.Errorf(protocol.CodeTooLarge, "the room stores as much as it may (%d bytes); nothing was stored", c.h.cfg.Limits.RoomBytes)
		case store.PushGone:
			if _, _, err := ps.State(ctx, c.p.Room); err != nil {
				return err // ErrNoRoom or ErrRoomLost
			}
		case store.PushBehind, store.PushEpoch:
			hs.drop(key)
		}
		// PushRev, or the field moved between the read and the commit:
		// decide again on fresh data.
		fresh = true
	}
	return protocol.Errorf(protocol.CodeUnavailable, "the room is changing too fast; nothing was stored; push again")
}

// acceptedAt returns how many of over lead up to (and include) the last of
// ups that over already holds, matched by clientID in order as
// changeset.Rebase matches them.
func acceptedAt(ups, over []changeset.Update) int64 {
	next, last := 0, 0
	for i, u := range over {
		if next < len(ups) && ups[next].ClientID == u.ClientID {
			next, last = next+1, i+1
		}
	}
	return int64(last)
}

// acceptedSince returns the updates accepted after version v up to h's
// head, from the cached tail or else from Redis; false when the log no
// longer reaches back to v (or Redis moved past h: decide again).
func (c *conn) acceptedSince(ctx context.Context, key string, h store.Head, v int64) ([]changeset.Update, bool, error) {
	var raws [][]byte
	if v >= h.TailFrom {
		raws = h.Tail[v-h.TailFrom:]
	} else {
		p, err := c.h.pushes().Pull(ctx, c.p.Room, key, h.Epoch, v)
		if err != nil {
			return nil, false, err
		}
		if p.Reset || p.Field.Version != h.Version || p.Field.Epoch != h.Epoch {
			return nil, false, nil
		}
		raws = p.Entries
	}
	out := make([]changeset.Update, len(raws))
	for i, b := range raws {
		e, cs, err := store.ParseEntry(b)
		if err != nil {
			return nil, false, fmt.Errorf("reading the log of %s: %w", key, err)
		}
		out[i] = changeset.Update{ClientID: e.ClientID, Changes: cs}
	}
	return out, true, nil
}

// commit is what a push delivers once Redis has it: the text it made, the
// fan-out frame with its bus header, and the frame's checkpoint signature.
type commit struct {
	text  string
	hd    busHeader
	frame []byte
	sig   string
}

// commitOf applies ups to h's text and builds the commit and its fan-out
// frame (which carries each update's clientID, so the pusher's collab
// confirms its own, rebased or not).
func (c *conn) commitOf(key string, h store.Head, s room.State, ups []changeset.Update, inserted int) (store.Push, commit, error) {
	text := h.Text
	now := c.h.now().UnixMilli()
	entries := make([][]byte, len(ups))
	raws := make([]json.RawMessage, len(ups))
	for i, u := range ups {
		var err error
		if text, err = u.Changes.Apply(text); err != nil {
			return store.Push{}, commit{}, protocol.Errorf(protocol.CodeBadChanges, "update %d does not fit the text at version %d: %v", i, h.Version+int64(i), err)
		}
		canon, err := u.Changes.MarshalJSON()
		if err != nil {
			return store.Push{}, commit{}, protocol.Errorf(protocol.CodeBadChanges, "update %d: %v", i, err)
		}
		b := appendEntry(make([]byte, 0, len(canon)+len(u.ClientID)+64), u.ClientID, canon, c.p.Role, now)
		entries[i], raws[i] = b, b
	}
	if n := changeset.UTF16Len(text); n > c.h.cfg.Limits.MaxFieldUnits {
		return store.Push{}, commit{}, protocol.Errorf(protocol.CodeTooLarge, "the field would hold %d characters; at most %d fit", n, c.h.cfg.Limits.MaxFieldUnits)
	}
	n := int64(len(raws))
	sig := c.h.signField(c.p.Room, key, h.Epoch, h.Version+n, text) // a checkpoint (restore.go)
	frame := protocol.Encode(protocol.Updates{T: protocol.TUpdates, Field: key, Epoch: h.Epoch, From: h.Version, Updates: raws, Sig: sig})
	readers := room.Readers(c.p.Template, s, key)
	aud := make([]string, len(readers))
	for i, r := range readers {
		aud[i] = string(r)
	}
	hd := busHeader{Kind: kindUpdates, Aud: aud, Field: key, Epoch: h.Epoch, From: h.Version, N: n, Node: c.h.node}
	return store.Push{
		Room: c.p.Room, Field: key, Seat: c.p.Seat, Rev: s.Rev, Epoch: h.Epoch, Version: h.Version,
		Base: h.Base, SinceBytes: h.SinceBytes, Text: text, Inserted: inserted,
		Entries: entries, Publish: encodeBus(hd, frame),
	}, commit{text: text, hd: hd, frame: frame, sig: sig}, nil
}

// appendEntry writes the store.Entry JSON for one update. Unlike
// json.Marshal it keeps the canonical changes byte for byte (no HTML
// escaping of "<", ">", "&"), as the client's toJSON wrote them.
func appendEntry(b []byte, clientID string, changes []byte, by string, at int64) []byte {
	id, _ := json.Marshal(clientID) // a string: cannot fail
	role, _ := json.Marshal(by)
	b = append(b, `{"clientID":`...)
	b = append(b, id...)
	b = append(b, `,"changes":`...)
	b = append(b, changes...)
	b = append(b, `,"by":`...)
	b = append(b, role...)
	b = append(b, `,"at":`...)
	b = strconv.AppendInt(b, at, 10)
	return append(b, '}')
}

// rollback moves key to a new epoch after a client proved Redis went back
// (it holds a version above the field's under the same epoch), and resets
// the client to the field as it is now.
func (c *conn) rollback(ctx context.Context, re, key, epoch string) error {
	ps := c.h.pushes()
	if _, err := ps.BumpEpoch(ctx, c.p.Room, key, epoch); err != nil {
		return err
	}
	c.rh.heads.drop(key)
	c.h.log.Warn("a client is ahead of Redis: the field moved to a new epoch", "room", c.p.Room, "field", key)
	snap, err := ps.Snapshot(ctx, c.p.Room, []string{key})
	if err != nil {
		return err
	}
	c.sendReset(re, key, snap.Fields[key])
	return nil
}

func (c *conn) sendReset(re, key string, f store.Field) {
	c.enqueue(protocol.Encode(protocol.Reset{T: protocol.TReset, Re: re, Field: key, FieldSnapshot: c.h.fieldSnapshot(c.p.Room, key, f)}))
}

// behind answers a push at a version older than the log window, then
// sends what was missed (a reset, as the log no longer reaches back).
func (c *conn) behind(ctx context.Context, re, key, epoch string, since, current int64) error {
	c.enqueue(protocol.Encode(protocol.FieldReply{T: protocol.TBehind, Re: re, Field: key, Version: current}))
	return c.pull(ctx, "", key, epoch, since)
}

// pull sends the updates of key after since, or a reset snapshot. A pull
// above the field's version under its epoch moves the field to a new
// epoch first (store.Pull), so the reset never reuses a version number.
func (c *conn) pull(ctx context.Context, re, key, epoch string, since int64) error {
	tpl := c.p.Template
	unknown := protocol.Errorf(protocol.CodeUnknownField, "there is no text %q", key)
	if !tplHasKey(tpl, key) {
		return unknown
	}
	ps := c.h.pushes()
	_, st := c.rh.snapshot()
	if st == nil || !room.CanRead(tpl, *st, room.Role(c.p.Role), key) {
		// Check against fresh state before refusing: the cache may lag.
		b, rev, err := ps.State(ctx, c.p.Room)
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
	p, err := ps.Pull(ctx, c.p.Room, key, epoch, since)
	if err != nil {
		return err
	}
	if p.Rollback {
		c.rh.heads.drop(key)
		c.h.log.Warn("a client is ahead of Redis: the field moved to a new epoch", "room", c.p.Room, "field", key)
	}
	if p.Reset {
		c.sendReset(re, key, p.Field)
		return nil
	}
	ups := make([]json.RawMessage, len(p.Entries))
	for i, e := range p.Entries {
		ups[i] = e
	}
	c.enqueue(protocol.Encode(protocol.Updates{T: protocol.TUpdates, Re: re, Field: key, Epoch: p.Field.Epoch, From: p.From, Updates: ups}))
	return nil
}
