package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"repairroom/internal/export"
	"repairroom/internal/room"
	"repairroom/internal/store"
)

// What a seat takes home. Every route is authorised by the seat's invite
// token in the Authorization header (Bearer): the page keeps tokens in the
// URL fragment, and a query string would put them in logs and histories.
// Each answer is filtered for the token's role by the export package,
// which asks the room package (room.View, room.CanRead).
//
//	GET /api/rooms/:id/summary        the summary as JSON
//	GET /api/rooms/:id/summary.md     the same as a Markdown download
//	GET /api/rooms/:id/calendar.ics   the check-ins as an RFC 5545 calendar
//	GET /api/rooms/:id/timeline       the session moment by moment (summary_timeline.go)
//	GET /api/rooms/:id/retention      until when the room is kept
//	POST /api/rooms/:id/retention     {days}: keep it that long (managers)
//
// The Markdown's times are written in the zone the page names in the
// X-Time-Zone header (an IANA name such as Europe/Paris), UTC without it.
func (a *api) mountSummary(app *fiber.App) {
	app.Get("/api/rooms/:id/summary", a.summaryJSON)
	app.Get("/api/rooms/:id/summary.md", a.summaryMarkdown)
	app.Get("/api/rooms/:id/calendar.ics", a.summaryCalendar)
	app.Get("/api/rooms/:id/timeline", a.timeline)
	app.Get("/api/rooms/:id/retention", a.retention)
	app.Post("/api/rooms/:id/retention", a.setRetention)
}

// retention answers {keptUntil}: when the room's data expires unless
// something is written before (every write keeps it for the retention
// period again), for the "kept until" line of the room page.
func (a *api) retention(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	z, err := a.authorize(c, id, bearer(c))
	if z == nil {
		return err
	}
	until, err := a.Store.KeptUntil(c.UserContext(), id, a.Now())
	if err != nil {
		return apiError(c, fiber.StatusServiceUnavailable, "unavailable", "storage is not reachable; try again")
	}
	return c.JSON(retentionResp{KeptUntil: until.UTC(), LinkExpires: time.Unix(z.claims.Expires, 0).UTC(), MayChange: mayManage(z), MaxDays: int(a.Limits.MaxRoomTTL / (24 * time.Hour))})
}

type retentionResp struct {
	KeptUntil time.Time `json:"keptUntil"`
	// LinkExpires is when the asking seat's link stops working: a room kept
	// longer than its links can only be opened with new ones (rotate).
	LinkExpires time.Time `json:"linkExpires"`
	MayChange   bool      `json:"mayChange"` // the moderator; both partners without one
	MaxDays     int       `json:"maxDays"`   // limits.MaxRoomTTL in days
}

// setRetention: POST {days} keeps the room for that many days from now,
// and that long after every later write: shorter or longer than the
// server's default, up to limits.MaxRoomTTL. The moderator decides, or
// either partner of a self-guided room (as for deleting it).
func (a *api) setRetention(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	z, err := a.authorize(c, id, bearer(c))
	if z == nil {
		return err
	}
	if !mayManage(z) {
		return apiError(c, fiber.StatusForbidden, "forbidden", "only the moderator (or, without one, a partner) may change how long the room is kept")
	}
	var req struct {
		Days int `json:"days"`
	}
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_json", "the body must be JSON: {days}")
	}
	maxDays := int(a.Limits.MaxRoomTTL / (24 * time.Hour))
	if req.Days < 1 || req.Days > maxDays {
		return apiError(c, fiber.StatusBadRequest, "bad_value", fmt.Sprintf("a room is kept from 1 to %d days", maxDays))
	}
	ctx := c.UserContext()
	if err := a.Store.SetRetention(ctx, id, room.TextKeys(z.tpl), time.Duration(req.Days)*24*time.Hour); err != nil {
		if errors.Is(err, store.ErrNoRoom) || errors.Is(err, store.ErrRoomLost) {
			return apiError(c, fiber.StatusNotFound, "no_room", "this room does not exist any more")
		}
		return apiError(c, fiber.StatusServiceUnavailable, "unavailable", "storage is not reachable; try again")
	}
	// Recorded in the room state too, so every seat's signed view carries
	// it and a room rebuilt after Redis lost its data keeps this period.
	if err := a.Hub.RecordRetention(ctx, id, room.Role(z.claims.Role), req.Days); err != nil {
		return apiError(c, fiber.StatusServiceUnavailable, "unavailable", "storage is not reachable; try again")
	}
	until, err := a.Store.KeptUntil(ctx, id, a.Now())
	if err != nil {
		return apiError(c, fiber.StatusServiceUnavailable, "unavailable", "storage is not reachable; try again")
	}
	a.Log.Info("room retention changed", "room", id, "days", req.Days)
	return c.JSON(retentionResp{KeptUntil: until.UTC(), LinkExpires: time.Unix(z.claims.Expires, 0).UTC(), MayChange: true, MaxDays: maxDays})
}

// loadInput reads the room for the token's seat: state, every text at its
// head, names and retention. It answers the HTTP error itself (nil input).
func (a *api) loadInput(c *fiber.Ctx) (*export.Input, error) {
	id := strings.Clone(c.Params("id"))
	z, err := a.authorize(c, id, bearer(c))
	if z == nil {
		return nil, err
	}
	ctx := c.UserContext()
	keys := room.TextKeys(z.tpl)
	snap, err := a.Store.Snapshot(ctx, id, keys)
	if errors.Is(err, store.ErrNoRoom) {
		return nil, apiError(c, fiber.StatusNotFound, "no_room", "this room does not exist any more")
	}
	if err != nil {
		return nil, apiError(c, fiber.StatusServiceUnavailable, "unavailable", "storage is not reachable; try again")
	}
	var st room.State
	if err := json.Unmarshal(snap.State, &st); err != nil {
		return nil, fmt.Errorf("summary of %s: decoding the room state: %w", id, err)
	}
	in := &export.Input{
		RoomID: id, Template: z.tpl, State: st, Viewer: room.Role(z.claims.Role), Names: st.Names,
		Texts: make(map[string]string, len(keys)), Versions: make(map[string]int64, len(keys)),
	}
	for k, f := range snap.Fields {
		in.Texts[k], in.Versions[k] = f.Text, f.Version
	}
	if until, err := a.Store.KeptUntil(ctx, id, a.Now()); err == nil {
		in.KeptUntil = until.UTC()
	}
	return in, nil
}

func (a *api) summaryJSON(c *fiber.Ctx) error {
	in, err := a.loadInput(c)
	if in == nil {
		return err
	}
	return c.JSON(export.Build(*in))
}

// downloadName is a file name for the room's downloads: the template and
// the session's date, nothing personal.
func downloadName(in *export.Input, ext string) string {
	return fmt.Sprintf("repair-room-%s-%s.%s", in.Template.ID, in.State.Started.UTC().Format("2006-01-02"), ext)
}

func (a *api) summaryMarkdown(c *fiber.Ctx) error {
	in, err := a.loadInput(c)
	if in == nil {
		return err
	}
	loc := time.UTC
	if tz := c.Get("X-Time-Zone"); tz != "" && len(tz) < 64 {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	c.Set(fiber.HeaderContentType, "text/markdown; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+downloadName(in, "md")+`"`)
	return c.Send(export.Markdown(export.Build(*in), loc))
}

func (a *api) summaryCalendar(c *fiber.Ctx) error {
	in, err := a.loadInput(c)
	if in == nil {
		return err
	}
	cal, err := export.Calendar(export.Build(*in), a.Now())
	if err != nil {
		return fmt.Errorf("calendar of %s: %w", in.RoomID, err)
	}
	c.Set(fiber.HeaderContentType, "text/calendar; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+downloadName(in, "ics")+`"`)
	return c.SendString(cal)
}
