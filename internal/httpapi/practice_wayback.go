package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"repairroom/internal/room"
	"repairroom/internal/store"
)

// The way back into a room for a partner (or a therapist without a
// practice): opening an invite link once binds the seat to this browser
// through a random device secret the browser keeps; the room keeps only
// its hash, under the room's own keys, so the binding expires and is
// deleted with the room. Later, /r/ROOM without a token trades the secret
// for a fresh token of the same seat. A binding is tied to the link
// generation it was made under: replacing the links (rotate) revokes the
// bindings made with the old ones, as it revokes the links.

// deviceRecord is what a room keeps of a bound browser.
type deviceRecord struct {
	Seat string    `json:"seat"`
	Role string    `json:"role"`
	Gen  int64     `json:"gen"`
	At   time.Time `json:"at"`
}

type deviceReq struct {
	Secret string `json:"secret"`
}

// deviceHash checks a device secret's shape (base64url, 32 to 128
// characters) and returns its hash.
func deviceHash(secret string) (string, bool) {
	if len(secret) < 32 || len(secret) > 128 {
		return "", false
	}
	for _, r := range secret {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "", false
		}
	}
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:]), true
}

func (a *api) mountWayBack(app fiber.Router) {
	app.Post("/api/rooms/:id/device", a.bindDevice)
	app.Post("/api/rooms/:id/enter", a.enterWithDevice)
	app.Post("/api/rooms/:id/device/status", a.deviceStatus)
	a.mountDevices(app) // practice_devices.go
}

// roomInfo is what a browser keeps to list a room it opened.
func (a *api) roomInfo(meta store.Meta) fiber.Map {
	info := fiber.Map{"created": meta.Created.UTC(), "title": meta.Template}
	if tpl, ok := a.Templates.Get(meta.Template); ok {
		info["title"] = tpl.Title
	}
	var st room.State
	if json.Unmarshal(meta.State, &st) == nil {
		info["ended"] = st.Ended != nil
	}
	return info
}

// bindDevice binds the token holder's seat to the browser's device secret.
func (a *api) bindDevice(c *fiber.Ctx) error {
	if !a.originAllowed(c) {
		return apiError(c, fiber.StatusForbidden, "bad_origin", "this origin may not bind a device")
	}
	id := strings.Clone(c.Params("id"))
	z, err := a.authorize(c, id, bearer(c))
	if z == nil {
		return err
	}
	var req deviceReq
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return apiError(c, fiber.StatusBadRequest, "bad_json", "the body must be JSON: {secret}")
	}
	h, ok := deviceHash(req.Secret)
	if !ok {
		return apiError(c, fiber.StatusBadRequest, "bad_secret", "the device secret must be 32 to 128 base64url characters")
	}
	res, err := a.seatDevice(c.UserContext(), id, z, h) // practice_devices.go: binds and announces
	if err != nil {
		if errors.Is(err, store.ErrNoRoom) || errors.Is(err, store.ErrRoomLost) {
			return apiError(c, fiber.StatusNotFound, "no_room", "this room does not exist any more")
		}
		return err
	}
	if res == store.DeviceGone {
		return apiError(c, fiber.StatusForbidden, "device_removed", "this device was removed from the room")
	}
	info := a.roomInfo(z.meta)
	info["role"] = z.claims.Role
	return c.JSON(info)
}

// deviceSeat finds the room and the binding of the browser's secret. It
// answers the HTTP error itself (and returns a nil record).
func (a *api) deviceSeat(c *fiber.Ctx) (string, store.Meta, *deviceRecord, error) {
	var meta store.Meta
	if !a.originAllowed(c) {
		return "", meta, nil, apiError(c, fiber.StatusForbidden, "bad_origin", "this origin may not enter a room")
	}
	id := strings.Clone(c.Params("id"))
	if !validRoomID(id) {
		return id, meta, nil, apiError(c, fiber.StatusNotFound, "no_room", "no such room")
	}
	var req deviceReq
	if err := json.Unmarshal(c.Body(), &req); err != nil {
		return id, meta, nil, apiError(c, fiber.StatusBadRequest, "bad_json", "the body must be JSON: {secret}")
	}
	h, ok := deviceHash(req.Secret)
	if !ok {
		return id, meta, nil, apiError(c, fiber.StatusBadRequest, "bad_secret", "the device secret must be 32 to 128 base64url characters")
	}
	ctx := c.UserContext()
	meta, err := a.Store.Meta(ctx, id)
	if errors.Is(err, store.ErrNoRoom) || errors.Is(err, store.ErrRoomLost) {
		return id, meta, nil, apiError(c, fiber.StatusNotFound, "no_room", "this room does not exist any more")
	}
	if err != nil {
		return id, meta, nil, err
	}
	b, err := a.Store.Device(ctx, id, h)
	if errors.Is(err, store.ErrNoDevice) {
		return id, meta, nil, apiError(c, fiber.StatusUnauthorized, "unknown_device", "this browser has not opened this room before; use your personal link")
	}
	if err != nil {
		return id, meta, nil, err
	}
	if store.DeviceRemoved(b) {
		return id, meta, nil, apiError(c, fiber.StatusUnauthorized, "device_removed", "this device was removed from the room")
	}
	var rec deviceRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return id, meta, nil, err
	}
	if rec.Gen != meta.Gen {
		return id, meta, nil, apiError(c, fiber.StatusUnauthorized, "revoked", "the links of this room were replaced; ask for your new link")
	}
	return id, meta, &rec, nil
}

// enterWithDevice trades a bound device secret for a fresh token of its
// seat.
func (a *api) enterWithDevice(c *fiber.Ctx) error {
	id, meta, rec, err := a.deviceSeat(c)
	if rec == nil {
		return err
	}
	var names map[string]string
	_ = json.Unmarshal(meta.Names, &names)
	l := a.link(id, rec.Seat, names[rec.Seat], meta.Gen, a.Now().Add(a.TokenTTL))
	_, tok, _ := strings.Cut(l.URL, "#t=")
	return c.JSON(fiber.Map{"token": tok, "role": rec.Role})
}

// deviceStatus tells the start page's "my rooms" how a room it remembers
// is doing (title, date, ended), without minting a token.
func (a *api) deviceStatus(c *fiber.Ctx) error {
	_, meta, rec, err := a.deviceSeat(c)
	if rec == nil {
		return err
	}
	info := a.roomInfo(meta)
	info["role"] = rec.Role
	return c.JSON(info)
}
