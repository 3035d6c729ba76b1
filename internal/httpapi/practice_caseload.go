package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"repairroom/internal/practice"
	"repairroom/internal/protocol"
	"repairroom/internal/room"
	"repairroom/internal/store"
	"repairroom/internal/templates"
)

// The caseload: couples, their sessions (rooms) and what the therapist
// does with them. Room ids in paths are looked up in the practice's own
// records first, so a practice cannot reach a room it did not open.
//
// "Live now" is polled (GET /api/practice/status every few seconds, which
// does not renew the sign-in: practice.go), not
// pushed over a socket: presence is already in Redis, one HGETALL per room
// answers it on any node, and a caseload page left open all day should not
// hold a socket and a room subscription per session it lists.

// presenceFresh matches realtime's rule for a live presence record: a
// record not refreshed for two minutes belongs to a socket that is gone.
const presenceFresh = 2 * time.Minute

func (a *api) mountCaseload(in fiber.Router) {
	in.Get("/caseload", a.caseload)
	in.Post("/couples", a.addCouple)
	in.Delete("/couples/:couple", a.deleteCouple)
	in.Post("/couples/:couple/sessions", a.createLimit, a.newSession)
	in.Get("/sessions/:room/links", a.sessionLinks)
	in.Post("/sessions/:room/rotate", a.rotateSession)
	in.Post("/sessions/:room/end", a.endSession)
	in.Delete("/sessions/:room", a.deleteSession)
}

type presentView struct {
	Role string `json:"role"`
	Name string `json:"name"`
}

// Session statuses as the caseload shows them.
const (
	statusNotStarted = "not_started" // nobody has been in the room yet
	statusLive       = "live"        // someone is in the room now
	statusOpen       = "open"        // used before, nobody in it now
	statusEnded      = "ended"       // the session was ended in the room
	statusGone       = "gone"        // the room expired or its data was lost
)

type sessionView struct {
	ID            string        `json:"id"`
	Couple        string        `json:"couple"`
	Template      string        `json:"template"`
	TemplateTitle string        `json:"templateTitle"`
	Mode          string        `json:"mode"`
	Created       time.Time     `json:"created"`
	From          string        `json:"from,omitempty"`
	Status        string        `json:"status"`
	Present       []presentView `json:"present"`
	// NextCheckin is the earliest check-in of the room's plan still ahead
	// (RFC 3339 with the couple's offset), read from the room each time.
	NextCheckin string `json:"nextCheckin,omitempty"`
}

type coupleView struct {
	practice.Couple
	Sessions    []sessionView `json:"sessions"`
	NextCheckin string        `json:"nextCheckin,omitempty"` // the earliest of its sessions'
}

// nextCheckin is the earliest check-in after now in the room's plan fields.
func nextCheckin(tpl *templates.Template, st room.State, now time.Time) string {
	var best time.Time
	out := ""
	for _, stage := range tpl.Stages {
		for _, f := range stage.Fields {
			if f.Kind != templates.KindCheckins {
				continue
			}
			for _, c := range room.Checkins(st, f.ID) {
				at, err := time.Parse(time.RFC3339, c.At)
				if err != nil || !at.After(now) || (!best.IsZero() && !at.Before(best)) {
					continue
				}
				best, out = at, c.At
			}
		}
	}
	return out
}

// earlier picks the earlier of two RFC 3339 stamps ("" is no stamp).
func earlier(a, b string) string {
	ta, ea := time.Parse(time.RFC3339, a)
	tb, eb := time.Parse(time.RFC3339, b)
	switch {
	case ea != nil:
		return b
	case eb != nil:
		return a
	case tb.Before(ta):
		return b
	}
	return a
}

// roomStatus reads a room's status from its state and presence in Redis.
func (a *api) roomStatus(ctx context.Context, p string, r practice.Room) (sessionView, error) {
	v := sessionView{ID: r.ID, Couple: r.Couple, Template: r.Template, Mode: r.Mode, Created: r.Created, From: r.From, Present: []presentView{}}
	tpl, ok := a.Templates.Get(r.Template)
	if ok {
		v.TemplateTitle = tpl.Title
	}
	meta, err := a.Store.Meta(ctx, r.ID)
	if errors.Is(err, store.ErrNoRoom) || errors.Is(err, store.ErrRoomLost) {
		v.Status = statusGone
		return v, nil
	}
	if err != nil {
		return v, err
	}
	var st room.State
	if err := json.Unmarshal(meta.State, &st); err != nil {
		return v, err
	}
	all, err := a.Store.Presence(ctx, r.ID)
	if err != nil {
		return v, err
	}
	now := a.Now()
	if tpl != nil {
		v.NextCheckin = nextCheckin(tpl, st, now)
	}
	seen := map[string]bool{}
	for _, rec := range all {
		var m protocol.Member
		if json.Unmarshal([]byte(rec), &m) != nil || now.Sub(time.UnixMilli(m.Seen)) > presenceFresh || seen[m.Role] {
			continue
		}
		seen[m.Role] = true // one entry per seat, however many tabs
		v.Present = append(v.Present, presentView{Role: m.Role, Name: m.Name})
	}
	switch {
	case st.Ended != nil:
		v.Status = statusEnded
	case len(v.Present) > 0:
		v.Status = statusLive
		if !r.Seen {
			r.Seen = true
			if err := a.Practice.AddRoom(ctx, p, r); err != nil {
				return v, err
			}
		}
	case r.Seen || meta.Rev > 0:
		v.Status = statusOpen
	default:
		v.Status = statusNotStarted
	}
	return v, nil
}

func (a *api) caseload(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p := practiceOf(c)
	pr, err := a.Practice.Get(ctx, p)
	if errors.Is(err, practice.ErrNotFound) {
		return apiError(c, fiber.StatusUnauthorized, "signed_out", "this practice no longer exists")
	}
	if err != nil {
		return err
	}
	couples, err := a.Practice.Couples(ctx, p)
	if err != nil {
		return err
	}
	rooms, err := a.Practice.Rooms(ctx, p)
	if err != nil {
		return err
	}
	byCouple := map[string][]sessionView{}
	for _, r := range rooms {
		v, err := a.roomStatus(ctx, p, r)
		if err != nil {
			return err
		}
		byCouple[r.Couple] = append(byCouple[r.Couple], v)
	}
	out := []coupleView{}
	for _, cp := range couples {
		cv := coupleView{Couple: cp, Sessions: byCouple[cp.ID]}
		if cv.Sessions == nil {
			cv.Sessions = []sessionView{}
		}
		for _, s := range cv.Sessions {
			cv.NextCheckin = earlier(cv.NextCheckin, s.NextCheckin)
		}
		out = append(out, cv)
	}
	tpls := []fiber.Map{}
	for _, t := range a.Templates.List() {
		tpls = append(tpls, fiber.Map{"id": t.ID, "title": t.Title})
	}
	return c.JSON(fiber.Map{"practice": fiber.Map{"name": pr.Name}, "couples": out, "templates": tpls})
}

// caseloadStatus is what the caseload page polls: each room's status and
// who is present, nothing else.
func (a *api) caseloadStatus(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p := practiceOf(c)
	rooms, err := a.Practice.Rooms(ctx, p)
	if err != nil {
		return err
	}
	out := map[string]fiber.Map{}
	for _, r := range rooms {
		v, err := a.roomStatus(ctx, p, r)
		if err != nil {
			return err
		}
		out[r.ID] = fiber.Map{"status": v.Status, "present": v.Present}
	}
	return c.JSON(fiber.Map{"rooms": out})
}

type coupleReq struct {
	Label string            `json:"label"`
	Names map[string]string `json:"names"`
}

const maxLabelLen = 60

func (a *api) addCouple(c *fiber.Ctx) error {
	var req coupleReq
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_json", "the body must be JSON: {label, names}")
	}
	label := strings.TrimSpace(req.Label)
	if label == "" || len([]rune(label)) > maxLabelLen {
		return apiError(c, fiber.StatusBadRequest, "bad_label", "a couple needs a label of at most 60 characters (no real names needed)")
	}
	cp := practice.Couple{ID: practice.NewID(10), Label: label, Names: map[string]string{}, Created: a.Now().UTC()}
	for _, seat := range []string{string(room.PartnerA), string(room.PartnerB)} {
		n := strings.TrimSpace(req.Names[seat])
		if len([]rune(n)) > maxNameLen {
			return apiError(c, fiber.StatusBadRequest, "bad_name", "names are at most 40 characters")
		}
		if n != "" {
			cp.Names[seat] = n
		}
	}
	if err := a.Practice.AddCouple(c.UserContext(), practiceOf(c), cp); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(cp)
}

// deleteCouple deletes the couple's rooms (every key of them, through the
// room store), then the couple.
func (a *api) deleteCouple(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p := practiceOf(c)
	id := strings.Clone(c.Params("couple"))
	if _, err := a.Practice.Couple(ctx, p, id); err != nil {
		return a.practiceMissing(c, err)
	}
	rooms, err := a.Practice.Rooms(ctx, p)
	if err != nil {
		return err
	}
	for _, r := range rooms {
		if r.Couple != id {
			continue
		}
		if err := a.deletePracticeRoom(ctx, r); err != nil {
			return err
		}
	}
	if err := a.Practice.DeleteCouple(ctx, p, id); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// practiceMissing answers 404 for what the practice does not have
// (including what another practice has).
func (a *api) practiceMissing(c *fiber.Ctx, err error) error {
	if errors.Is(err, practice.ErrNotFound) {
		return apiError(c, fiber.StatusNotFound, "not_found", "your practice has no such couple or session")
	}
	return err
}

type sessionReq struct {
	Template string `json:"template"`
	Mode     string `json:"mode"`
	// From is an earlier session of the same couple whose signed
	// agreements and plan the new room shows as "what we agreed last time".
	From string `json:"from"`
}

type sessionResp struct {
	Session sessionView `json:"session"`
	Links   []link      `json:"links"`
}

func (a *api) newSession(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p := practiceOf(c)
	cp, err := a.Practice.Couple(ctx, p, strings.Clone(c.Params("couple")))
	if err != nil {
		return a.practiceMissing(c, err)
	}
	var req sessionReq
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_json", "the body must be JSON: {template, mode, from}")
	}
	tpl, mode, err := a.templateAndMode(c, req.Template, req.Mode)
	if tpl == nil {
		return err
	}
	if req.From != "" {
		prev, err := a.Practice.Room(ctx, p, req.From)
		if err != nil || prev.Couple != cp.ID {
			return apiError(c, fiber.StatusBadRequest, "bad_from", "carry over only from a session of the same couple")
		}
	}
	pr, err := a.Practice.Get(ctx, p)
	if err != nil {
		return err
	}
	names := a.seatNames(cp, pr.Name, mode)
	id, err := newRoomID()
	if err != nil {
		return err
	}
	if err := a.createPracticeRoom(ctx, id, req.From, tpl.ID, mode, names); err != nil {
		return err
	}
	a.Counters.RoomCreated()
	r := practice.Room{ID: id, Couple: cp.ID, Template: tpl.ID, Mode: string(mode), Created: a.Now().UTC(), From: req.From}
	if err := a.Practice.AddRoom(ctx, p, r); err != nil {
		return err
	}
	a.Log.Info("room created", "room", id, "template", tpl.ID, "mode", mode, "practice", p)
	v, err := a.roomStatus(ctx, p, r)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(sessionResp{Session: v, Links: a.practiceLinks(id, mode, names, 1)})
}

// seatNames are the couple's chosen names (or Partner A/B) and the
// practice's name for the therapist's seat.
func (a *api) seatNames(cp practice.Couple, practiceName string, mode room.Mode) map[string]string {
	names := map[string]string{}
	for _, seat := range seatsFor(mode) {
		n := cp.Names[seat]
		if seat == string(room.Moderator) {
			n = practiceName
		}
		if r := []rune(n); len(r) > maxNameLen {
			n = string(r[:maxNameLen])
		}
		if n == "" {
			n = seatLabels[seat]
		}
		names[seat] = n
	}
	return names
}

// practiceLinks mints the room's invite links again from their
// ingredients (room, seat, generation): the practice stores no token, and
// a link asked for twice is two valid links of the same generation.
func (a *api) practiceLinks(id string, mode room.Mode, names map[string]string, gen int64) []link {
	exp := a.Now().Add(a.TokenTTL)
	out := []link{}
	for _, seat := range seatsFor(mode) {
		out = append(out, a.link(id, seat, names[seat], gen, exp))
	}
	return out
}

// practiceRoom finds the room named in the path among the practice's own.
func (a *api) practiceRoom(c *fiber.Ctx) (practice.Room, store.Meta, error) {
	ctx := c.UserContext()
	r, err := a.Practice.Room(ctx, practiceOf(c), strings.Clone(c.Params("room")))
	if err != nil {
		return r, store.Meta{}, a.practiceMissing(c, err)
	}
	meta, err := a.Store.Meta(ctx, r.ID)
	if errors.Is(err, store.ErrNoRoom) || errors.Is(err, store.ErrRoomLost) {
		return r, meta, apiError(c, fiber.StatusGone, "no_room", "this room does not exist any more")
	}
	return r, meta, err
}

func (a *api) sessionLinks(c *fiber.Ctx) error {
	r, meta, err := a.practiceRoom(c)
	if err != nil || meta.Template == "" {
		return err
	}
	var names map[string]string
	_ = json.Unmarshal(meta.Names, &names)
	return c.JSON(fiber.Map{"links": a.practiceLinks(r.ID, room.Mode(meta.Mode), names, meta.Gen)})
}

// rotateSession replaces the room's links (the rotate API of a room: every
// earlier link stops working and its sockets are closed with 4003).
func (a *api) rotateSession(c *fiber.Ctx) error {
	r, meta, err := a.practiceRoom(c)
	if err != nil || meta.Template == "" {
		return err
	}
	gen, err := a.Hub.Rotate(c.UserContext(), r.ID)
	if err != nil {
		return err
	}
	var names map[string]string
	_ = json.Unmarshal(meta.Names, &names)
	return c.JSON(fiber.Map{"links": a.practiceLinks(r.ID, room.Mode(meta.Mode), names, gen)})
}

func (a *api) deleteSession(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p := practiceOf(c)
	r, err := a.Practice.Room(ctx, p, strings.Clone(c.Params("room")))
	if err != nil {
		return a.practiceMissing(c, err)
	}
	if err := a.deletePracticeRoom(ctx, r); err != nil {
		return err
	}
	if err := a.Practice.RemoveRoom(ctx, p, r.ID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// endSession ends a guided session as its moderator would in the room
// (a self-guided room is ended by its partners).
func (a *api) endSession(c *fiber.Ctx) error {
	r, meta, err := a.practiceRoom(c)
	if err != nil || meta.Template == "" {
		return err
	}
	if meta.Mode != string(room.Guided) {
		return apiError(c, fiber.StatusBadRequest, "self_guided", "a self-guided session is ended by the partners in the room")
	}
	tpl, ok := a.Templates.Get(meta.Template)
	if !ok {
		return apiError(c, fiber.StatusInternalServerError, "internal", "the room's template is not installed")
	}
	err = a.Hub.EndSession(c.UserContext(), r.ID, tpl)
	var re *room.Error
	if errors.As(err, &re) {
		return apiError(c, fiber.StatusConflict, re.Code, re.Message)
	}
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
