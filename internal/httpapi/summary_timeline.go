package httpapi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"repairroom/internal/export"
	"repairroom/internal/room"
	"repairroom/internal/store"
)

// timelineFrame answers GET /api/rooms/:id/timeline[?at=unix-ms]: the
// moments of the session (for the slider) and the room at moment at (the
// last moment without it): each readable text as it was then, its
// version and who had written it, and the events up to then.
type timelineFrame struct {
	Moments []int64              `json:"moments"` // unix milliseconds, in order
	At      int64                `json:"at"`
	Scene   export.Scene         `json:"scene"`
	Texts   map[string]frameText `json:"texts"`
}

type frameText struct {
	Version int64             `json:"version"`
	Text    string            `json:"text"`
	Authors map[room.Role]int `json:"authors,omitempty"`
	// Approx: the text at that moment may be newer than Text (at Version):
	// the log entries after it were compacted into a later snapshot.
	Approx bool `json:"approx,omitempty"`
}

// maxTimelineEvents bounds what one timeline request reads from the
// events stream (the store trims it near limits' MaxEvents anyway).
const maxTimelineEvents = 20000

func (a *api) timeline(c *fiber.Ctx) error {
	in, err := a.loadInput(c)
	if in == nil {
		return err
	}
	if !export.MayScrub(in.State, in.Viewer) {
		return apiError(c, fiber.StatusForbidden, "forbidden", "the session's timeline opens to partners once the session has ended")
	}
	ctx := c.UserContext()
	raw, err := a.Store.Events(ctx, in.RoomID, maxTimelineEvents)
	if err != nil {
		return apiError(c, fiber.StatusServiceUnavailable, "unavailable", "storage is not reachable; try again")
	}
	evs := make([]room.Event, 0, len(raw))
	for _, b := range raw {
		var e room.Event
		if json.Unmarshal(b, &e) == nil {
			evs = append(evs, e)
		}
	}
	evs = export.Events(in.Template, in.State, in.Viewer, evs)
	keys := export.ReadableKeys(in.Template, in.State, in.Viewer)
	points := make(map[string][]export.Point, len(keys))
	epochs := make(map[string]string, len(keys))
	for _, k := range keys {
		ps, epoch, err := a.textPoints(c, in.RoomID, k)
		if err != nil {
			return err
		}
		points[k], epochs[k] = ps, epoch
	}
	moments := export.Moments(evs, points)
	out := timelineFrame{Moments: make([]int64, len(moments)), Texts: make(map[string]frameText, len(keys))}
	for i, m := range moments {
		out.Moments[i] = m.UnixMilli()
	}
	at := a.Now()
	if len(moments) > 0 {
		at = moments[len(moments)-1]
	}
	if q := c.Query("at"); q != "" {
		ms, err := strconv.ParseInt(q, 10, 64)
		if err != nil {
			return apiError(c, fiber.StatusBadRequest, "bad_value", "at is a time in unix milliseconds")
		}
		at = time.UnixMilli(ms)
	}
	out.At = at.UnixMilli()
	out.Scene = export.SceneAt(in.Template, evs, at)
	for _, k := range keys {
		v, exact := export.VersionAt(points[k], at)
		ft := frameText{Version: v, Authors: export.Authors(points[k], at), Approx: !exact}
		if v > 0 {
			text, got, ok, err := a.Store.TextAt(ctx, in.RoomID, k, epochs[k], v)
			if err != nil {
				return fmt.Errorf("timeline of %s: %w", in.RoomID, err)
			}
			ft.Text, ft.Version = text, got
			ft.Approx = ft.Approx || (ok && got != v)
		}
		out.Texts[k] = ft
	}
	return c.JSON(out)
}

// textPoints lists the known versions of text key k with their times: the
// older snapshots kept in the field's history, then every entry of the
// log (its author and time).
func (a *api) textPoints(c *fiber.Ctx, id, k string) ([]export.Point, string, error) {
	ctx := c.UserContext()
	hist, err := a.Store.History(ctx, id, k)
	if err != nil {
		return nil, "", apiError(c, fiber.StatusServiceUnavailable, "unavailable", "storage is not reachable; try again")
	}
	snap, err := a.Store.Snapshot(ctx, id, []string{k})
	if err != nil {
		return nil, "", apiError(c, fiber.StatusServiceUnavailable, "unavailable", "storage is not reachable; try again")
	}
	epoch, base := snap.Fields[k].Epoch, snap.Heads[k].Base
	// The log reaches back to some version at or below the snapshot's
	// base: find the oldest one it still holds (a pull below it resets).
	pull := func(since int64) (store.Pulled, error) {
		p, err := a.Store.Pull(ctx, id, k, epoch, since)
		if err != nil {
			return p, apiError(c, fiber.StatusServiceUnavailable, "unavailable", "storage is not reachable; try again")
		}
		return p, nil
	}
	pulled, err := pull(0)
	if err != nil {
		return nil, "", err
	}
	if pulled.Reset {
		lo, hi := int64(1), base
		for lo < hi {
			mid := lo + (hi-lo)/2
			p, err := pull(mid)
			if err != nil {
				return nil, "", err
			}
			if p.Reset {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		if pulled, err = pull(lo); err != nil {
			return nil, "", err
		}
		if pulled.Reset {
			return nil, "", fmt.Errorf("timeline of %s: %s: the log does not reach its snapshot at %d", id, k, base)
		}
	}
	from := pulled.From
	var ps []export.Point
	for _, h := range hist {
		if h.Epoch == epoch && h.Version > 0 && h.Version <= from {
			ps = append(ps, export.Point{Version: h.Version, At: h.At})
		}
	}
	for i, b := range pulled.Entries {
		e, _, err := store.ParseEntry(b)
		if err != nil {
			return nil, "", fmt.Errorf("timeline of %s: %s: %w", id, k, err)
		}
		ps = append(ps, export.Point{Version: from + int64(i) + 1, At: time.UnixMilli(e.At), By: room.Role(e.By)})
	}
	// Times never go back along versions; a clock step between nodes is
	// clamped so the slider's search stays sound.
	for i := 1; i < len(ps); i++ {
		if ps[i].At.Before(ps[i-1].At) {
			ps[i].At = ps[i-1].At
		}
	}
	return ps, epoch, nil
}
