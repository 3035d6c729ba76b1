package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"repairroom/internal/export"
	"repairroom/internal/room"
	"repairroom/internal/store"
	"repairroom/internal/templates"
)

// Continuity: a couple's new session can start from their last one. What
// they agreed there (agreements both partners signed, as signed) and their
// plan (check-ins, milestones) is copied into the new room's state as
// Carried, read-only, and the room shows it as "what we agreed last time".
// It is copied rather than linked because rooms expire on their own: the
// new room must not depend on the old one still being there.

// Carried is the block a new room carries from an earlier one.
type Carried struct {
	From    string               `json:"from"`
	Title   string               `json:"title"` // the earlier conversation's title
	Started time.Time            `json:"started"`
	Names   map[room.Role]string `json:"names"`
	Fields  []export.Field       `json:"fields"`
	Steps   []string             `json:"steps,omitempty"` // field ids the check-in asks about
}

// carryFrom reads the earlier room and keeps what both partners could read
// there and agreed on: agreements signed by both (with who signed and
// when), and the check-ins and milestones of the plan. The earlier room is
// read through export.Build for partner A, so the room's own read rules
// decide (nothing private to one partner or to the therapist can be
// carried).
func (a *api) carryFrom(ctx context.Context, id string) (*Carried, error) {
	meta, err := a.Store.Meta(ctx, id)
	if errors.Is(err, store.ErrNoRoom) || errors.Is(err, store.ErrRoomLost) {
		return nil, nil // the earlier room expired: nothing to carry
	}
	if err != nil {
		return nil, err
	}
	tpl, ok := a.Templates.Get(meta.Template)
	if !ok {
		return nil, fmt.Errorf("httpapi: carry from %s: template %s is not installed", id, meta.Template)
	}
	var st room.State
	if err := json.Unmarshal(meta.State, &st); err != nil {
		return nil, fmt.Errorf("httpapi: carry from %s: state: %w", id, err)
	}
	snap, err := a.Store.Snapshot(ctx, id, room.TextKeys(tpl))
	if err != nil {
		return nil, err
	}
	in := export.Input{RoomID: id, Template: tpl, State: st, Texts: map[string]string{}, Versions: map[string]int64{}, Names: map[room.Role]string{}, Viewer: room.PartnerA}
	for k, f := range snap.Fields {
		in.Texts[k], in.Versions[k] = f.Text, f.Version
	}
	var names map[string]string
	_ = json.Unmarshal(meta.Names, &names)
	for seat, n := range names {
		in.Names[room.Role(seat)] = n
	}
	sum := export.Build(in)
	c := &Carried{From: id, Title: tpl.Title, Started: st.Started, Names: in.Names, Fields: []export.Field{}}
	for _, stage := range sum.Stages {
		for _, f := range stage.Fields {
			if f.Private || f.Withheld {
				continue
			}
			switch {
			case f.Kind == templates.KindAgreement && f.SignedByBoth:
				f.Signs = currentSigns(f.Signs)
				c.Fields = append(c.Fields, f)
				c.Steps = append(c.Steps, f.ID)
			case f.Kind == templates.KindCheckins && len(f.Checkins) > 0,
				f.Kind == templates.KindMilestones && len(f.Milestones) > 0:
				c.Fields = append(c.Fields, f)
			}
		}
	}
	if len(c.Fields) == 0 {
		return nil, nil
	}
	return c, nil
}

// currentSigns keeps the sign-offs that hold for the text as it ended.
func currentSigns(in []export.Sign) []export.Sign {
	out := []export.Sign{}
	for _, s := range in {
		if s.Current {
			out = append(out, s)
		}
	}
	return out
}

// createPracticeRoom creates a room as Hub.CreateRoom does, with what it
// carries from the room from (if any) in its initial state.
func (a *api) createPracticeRoom(ctx context.Context, id, from, tplID string, mode room.Mode, names map[string]string) error {
	tpl, _ := a.Templates.Get(tplID)
	if from == "" {
		return a.Hub.CreateRoom(ctx, id, tpl, mode, names)
	}
	carried, err := a.carryFrom(ctx, from)
	if err != nil {
		return err
	}
	if carried == nil {
		return a.Hub.CreateRoom(ctx, id, tpl, mode, names)
	}
	// Hub.CreateRoom has no way to pass a carried block, so this is its
	// body with one more line (st.Carried).
	now := a.Now()
	st := room.New(tpl, mode, now)
	st.Names = make(map[room.Role]string, len(names))
	for seat, n := range names {
		st.Names[room.Role(seat)] = n
	}
	if st.Carried, err = json.Marshal(carried); err != nil {
		return fmt.Errorf("httpapi: encode carried block: %w", err)
	}
	stJSON, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("httpapi: encode room state: %w", err)
	}
	namesJSON, _ := json.Marshal(names) // strings only: cannot fail
	return a.Store.CreateRoom(ctx, id, tpl.ID, string(mode), now, stJSON, namesJSON, room.TextKeys(tpl))
}
