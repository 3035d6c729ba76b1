package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"repairroom/internal/changeset"
	"repairroom/internal/checkpoint"
	"repairroom/internal/protocol"
	"repairroom/internal/room"
	"repairroom/internal/store"
)

// Signed checkpoints and restores (docs/protocol.md, "Checkpoints").
//
// Every text a client is told the server holds (welcome, reset, updates,
// ack) carries a signature over (room, field, epoch, version, sha256 of
// the text there); every room state a client gets carries one over (room,
// role, rev, sha256 of the view). A client keeps the latest of each. When
// Redis comes back older than what it acknowledged, or empty, the client
// presents them in a "restore" and the server, after checking the
// signature against the text it is shown, puts them back under a new
// epoch. Nothing the server did not acknowledge can be restored: the MAC
// covers the text's hash, and only the server holds the key.

// signField signs key's text at (epoch, version); "" when the hub has no
// signer (checkpoints off).
func (h *Hub) signField(roomID, key, epoch string, version int64, text string) string {
	if h.cfg.Checkpoints == nil {
		return ""
	}
	return h.cfg.Checkpoints.SignField(checkpoint.Field{Room: roomID, Field: key, Epoch: epoch, Version: version, Text: checkpoint.HashText(text)})
}

// fieldSnapshot is f as a client receives it (welcome, reset): with its
// signature and its lineage.
func (h *Hub) fieldSnapshot(roomID, key string, f store.Field) protocol.FieldSnapshot {
	out := protocol.FieldSnapshot{Epoch: f.Epoch, Version: f.Version, Text: f.Text, Sig: h.signField(roomID, key, f.Epoch, f.Version, f.Text)}
	if ls := f.Lineage(); len(ls) > 0 {
		out.Lineage = make([]protocol.Lineage, len(ls))
		for i, l := range ls {
			out.Lineage[i] = protocol.Lineage{Epoch: l.Epoch, Version: l.Version}
		}
	}
	return out
}

// signRoom signs the view of the room state role receives; view is the
// JSON sent, at rev.
func (h *Hub) signRoom(roomID, role string, rev int64, view []byte) string {
	if h.cfg.Checkpoints == nil {
		return ""
	}
	return h.cfg.Checkpoints.SignRoom(checkpoint.Room{Room: roomID, Role: role, Rev: rev, State: checkpoint.HashOf(view)})
}

// roomFrame is the room message role receives for state s: its view and
// the view's signature.
func (rh *roomHub) roomFrame(s room.State, role string, event json.RawMessage) protocol.Room {
	v := mustJSON(room.View(rh.tpl, s, room.Role(role)))
	return protocol.Room{T: protocol.TRoom, Room: v, Event: event, Sig: rh.h.signRoom(rh.id, role, s.Rev, v)}
}

// canonicalState re-encodes a presented room view the way the server
// encodes views, so that a client that parsed and re-serialised it (a
// browser) presents the same hash.
func canonicalState(b []byte) (room.State, []byte, error) {
	var s room.State
	if err := json.Unmarshal(b, &s); err != nil {
		return s, nil, fmt.Errorf("decoding the presented state: %w", err)
	}
	return s, mustJSON(s), nil
}

// lostError is what a socket is told when the room's data is gone from
// the store without a delete: not "deleted", but "present what you hold".
func lostError() *protocol.Error {
	return protocol.Errorf(protocol.CodeRoomLost, "the room's data is being restored: present your checkpoints (restore), then send again")
}

func badCheckpoint() *protocol.Error {
	return protocol.Errorf(protocol.CodeBadCheckpoint, "this checkpoint was not signed by the server for this text: nothing was restored")
}

// restore handles a client's "restore": a room-state checkpoint or a
// field checkpoint.
func (c *conn) restore(ctx context.Context, m protocol.In) error {
	if c.h.cfg.Checkpoints == nil {
		return protocol.Errorf(protocol.CodeUnavailable, "this server does not sign checkpoints: nothing was restored")
	}
	if m.Room != nil {
		return c.restoreRoom(ctx, m)
	}
	return c.restoreField(ctx, m)
}

// restoreField verifies a field checkpoint and, when it is newer than what
// the store holds, puts it back under a new epoch; every reader (this
// socket included) then gets a reset to it.
func (c *conn) restoreField(ctx context.Context, m protocol.In) error {
	key, tpl, role := *m.Field, c.p.Template, room.Role(c.p.Role)
	if !tplHasKey(tpl, key) {
		return protocol.Errorf(protocol.CodeUnknownField, "there is no text %q", key)
	}
	text, version := *m.Text, *m.Version
	ck := checkpoint.Field{Room: c.p.Room, Field: key, Epoch: m.Epoch, Version: version, Text: checkpoint.HashText(text)}
	if err := c.h.cfg.Checkpoints.VerifyField(ck, m.Sig); err != nil {
		c.h.log.Warn("refused a checkpoint", "room", c.p.Room, "field", key, "role", c.p.Role, "err", err)
		return badCheckpoint()
	}
	if n := changeset.UTF16Len(text); n > c.h.cfg.Limits.MaxFieldUnits {
		return protocol.Errorf(protocol.CodeTooLarge, "the checkpoint holds %d characters; at most %d fit", n, c.h.cfg.Limits.MaxFieldUnits)
	}
	b, rev, err := c.h.st.State(ctx, c.p.Room)
	if err != nil {
		return err
	}
	s, err := decodeState(b, rev)
	if err != nil {
		return err
	}
	if !room.CanRead(tpl, s, role, key) {
		if moderatorOwned(tpl, key) {
			return protocol.Errorf(protocol.CodeUnknownField, "there is no text %q", key)
		}
		return protocol.Errorf(protocol.CodeForbidden, "you cannot read this field")
	}
	epoch := store.NewEpoch()
	// The frame names only the checkpoint's epoch in its lineage: that pair
	// is what lets readers under it keep what they had acknowledged (the
	// store also appends that epoch's own lineage when it still holds it;
	// later snapshots carry all of it).
	snap := c.h.fieldSnapshot(c.p.Room, key, store.Field{Epoch: epoch, Version: version, Text: text,
		From: store.LineageOf(store.Lineage{Epoch: m.Epoch, Version: version})})
	frame := protocol.Encode(protocol.Reset{T: protocol.TReset, Field: key, RestoredFrom: m.Epoch, FieldSnapshot: snap})
	aud := audience(room.Readers(tpl, s, key))
	res, err := c.h.st.RestoreField(ctx, c.p.Room, key, m.Epoch, version, text, epoch, encodeBus(busHeader{Kind: kindUpdates, Aud: aud}, frame))
	if err != nil {
		return err
	}
	if res.Status != store.RestoreOK {
		return protocol.Errorf(protocol.CodeStaleCheckpoint, "the server holds version %d of this text, as new as the checkpoint (%d) or newer: nothing was restored", res.Version, version)
	}
	c.rh.heads.drop(key) // the cached head is of the old epoch
	c.h.log.Info("restored a field from a checkpoint", "room", c.p.Room, "field", key, "role", c.p.Role, "version", version, "epoch", epoch)
	c.enqueue(protocol.Encode(protocol.Reply{T: protocol.TOK, Re: m.ID}))
	return nil
}

// restoreRoom verifies a room-state checkpoint and recreates the room's
// meta from it when the room was lost. Only the presenting seat's own view
// is accepted (so the role in the MAC is the socket's), and the view of a
// partner lacks what only others may read: the moderator's view is the
// whole state, and replaces a partner's; a partner's view is combined
// with one restored from the other partner's (mergeRoom). Text fields come
// back by their own checkpoints.
func (c *conn) restoreRoom(ctx context.Context, m protocol.In) error {
	rc := m.Room
	if rc.Role != c.p.Role {
		return protocol.Errorf(protocol.CodeBadCheckpoint, "a seat may only present its own view of the room")
	}
	s, canon, err := canonicalState(rc.State)
	if err != nil {
		return badCheckpoint()
	}
	ck := checkpoint.Room{Room: c.p.Room, Role: rc.Role, Rev: s.Rev, State: checkpoint.HashOf(canon)}
	if err := c.h.cfg.Checkpoints.VerifyRoom(ck, rc.Sig); err != nil {
		c.h.log.Warn("refused a room checkpoint", "room", c.p.Room, "role", c.p.Role, "err", err)
		return badCheckpoint()
	}
	if s.Template != c.p.Template.ID {
		return badCheckpoint()
	}
	stored := s
	stored.Rev = 0 // the rev lives beside the state in the meta
	payload := encodeBus(busHeader{Kind: kindState}, mustJSON(busState{State: mustJSON(s)}))
	ok, err := c.h.st.RestoreRoom(ctx, c.p.Room, c.p.Role, s.Template, string(s.Mode), s.Started, mustJSON(stored), s.Rev, c.p.Gen, mustJSON(s.Names), payload,
		time.Duration(c.h.retentionOf(s))*24*time.Hour) // the period its people chose (retention.go)
	if err != nil {
		return err
	}
	if ok {
		c.h.log.Info("restored a lost room from a checkpoint", "room", c.p.Room, "role", c.p.Role, "rev", s.Rev)
	} else if room.Role(c.p.Role).IsPartner() {
		if err := c.mergeRoom(ctx, s); err != nil {
			return err
		}
	}
	c.enqueue(protocol.Encode(protocol.Reply{T: protocol.TOK, Re: m.ID}))
	return nil
}

// mergeRoom combines this partner's verified view with a room restored
// from partners' views. Of the same rev, it adds what only this partner
// could read: private values, its break reason, its hold (room.MergeView).
// Of another rev, while nothing changed since the restore, the newer of
// the two decides what its partners could read and the older adds only
// what they could not (room.CarryPrivate): so a change one partner saw
// acknowledged just before the wipe is not lost to the other's older
// view, and neither is that other's private answer. The store's script
// only guards the write with the rev and restoredBy it was decided on. A
// room the moderator's view restored, one never restored, one changed
// since, or one that already holds this seat's view of its rev is left as
// it is: the presenter gets ok all the same (the room is there).
func (c *conn) mergeRoom(ctx context.Context, view room.State) error {
	tpl, role := c.p.Template, room.Role(c.p.Role)
	for attempt := 0; attempt < maxAttempts; attempt++ {
		r, err := c.h.st.RestoredRoom(ctx, c.p.Room)
		if err != nil {
			return err
		}
		base, err := decodeState(r.State, r.Rev)
		if err != nil {
			return err
		}
		const combined = "combined a partner's view of another rev with a restored room"
		var merged room.State
		var ok bool
		var how string
		switch {
		case r.Rev == view.Rev && r.MayMerge(c.p.Role):
			merged, ok = room.MergeView(tpl, base, view, role)
			how = "merged a partner's view into a restored room"
		case r.Rev < view.Rev && r.Unchanged():
			merged, ok = room.CarryPrivate(tpl, view, base, []room.Role{role})
			how = combined
		case r.Rev > view.Rev && r.Unchanged() && !slices.Contains(r.By, c.p.Role):
			// (an older view of a seat the state already holds adds nothing)
			merged, ok = room.CarryPrivate(tpl, base, view, roles(r.By))
			how = combined
		default:
			return nil
		}
		if !ok {
			// Signed, but not a view that fits the restored state (a
			// history Redis went back on): nothing of it is taken.
			c.h.log.Warn("a partner's view does not fit the restored room state; not merged", "room", c.p.Room, "role", c.p.Role, "rev", view.Rev, "restoredRev", r.Rev)
			return nil
		}
		stored := merged
		stored.Rev = 0 // the rev lives beside the state in the meta
		payload := encodeBus(busHeader{Kind: kindState}, mustJSON(busState{State: mustJSON(merged)}))
		done, err := c.h.st.MergeRestoredRoom(ctx, c.p.Room, r.Rev, merged.Rev, r.By, c.p.Role, mustJSON(stored), payload)
		if err != nil {
			return err
		}
		if done {
			c.h.log.Info(how, "room", c.p.Room, "role", c.p.Role, "rev", merged.Rev, "viewRev", view.Rev, "restoredBy", r.By)
			return nil
		}
	}
	return nil // the room kept changing under us: what changed it decided
}

func roles(seats []string) []room.Role {
	out := make([]room.Role, len(seats))
	for i, s := range seats {
		out[i] = room.Role(s)
	}
	return out
}

// tellLost tells this node's sockets of the room that its data is gone:
// a resubscription after Redis came back found the room lost (an empty
// replica, a restart without its data). Each node tells its own sockets.
func (rh *roomHub) tellLost() {
	conns, _ := rh.snapshot()
	frame := protocol.ErrorFrame("", lostError())
	for _, c := range conns {
		c.deliver(frame)
	}
}

func audience(readers []room.Role) []string {
	aud := make([]string, len(readers))
	for i, r := range readers {
		aud[i] = string(r)
	}
	return aud
}

// isLost reports whether err says the room's data was lost (not deleted).
// Every socket of the room, on every node, is then told (announceLost):
// idle ones too, which would otherwise never learn it and never present
// the checkpoints only they may hold (a private field's only reader).
func (c *conn) isLost(err error) bool {
	if !errors.Is(err, store.ErrRoomLost) {
		return false
	}
	c.announceLost()
	return true
}

// announceLost publishes the room_lost notice to every seat of the room.
// It costs one publish per refused message; clients present what they
// hold at most every half second however many notices come.
func (c *conn) announceLost() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	frame := protocol.ErrorFrame("", lostError())
	aud := []string{string(room.PartnerA), string(room.PartnerB), string(room.Moderator)}
	if err := c.h.st.Publish(ctx, c.p.Room, encodeBus(busHeader{Kind: kindUpdates, Aud: aud}, frame)); err != nil {
		c.h.log.Warn("announcing a lost room failed", "room", c.p.Room, "err", err)
	}
}
