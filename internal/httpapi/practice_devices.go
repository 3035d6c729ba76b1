package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"repairroom/internal/protocol"
	"repairroom/internal/room"
	"repairroom/internal/store"
)

// Devices of a seat. A seat may be open in several browsers of its
// person. A "device" is one device secret binding (practice_wayback.go):
// its id is the secret's sha256, which the room keeps anyway and which
// opens nothing. A socket opened with a link by a browser that has no
// binding yet is not a device; the web client always presents its secret
// (the upgrade's "device" parameter), and the upgrade binds it, so every
// socket of the web client belongs to a device. Every new device of a
// seat that already had one is announced to the whole room (a "notice"
// frame), and the moderator (in a self-guided room, the seat's own
// person) lists and removes them. A removed device stays in the room's
// hash as a removal mark, with the room's TTL: its sockets are closed with
// 4003 ("device removed") at once on every node, and it is refused at the
// upgrade, at binding and at the way-back exchange. Removing a device does
// not revoke the link: whoever still holds it can open it in another
// browser (which is announced); replacing the link shuts them out.

// removedRecord is a removed device's record: it must start with the
// store's removal mark, {"removed":true.
type removedRecord struct {
	Removed bool      `json:"removed"`
	Seat    string    `json:"seat"`
	At      time.Time `json:"at"`
}

// deviceInfo is one device as listed to the moderator.
type deviceInfo struct {
	ID   string    `json:"id"`
	Seat string    `json:"seat"`
	Name string    `json:"name"`
	At   time.Time `json:"at"`
}

func (a *api) mountDevices(app fiber.Router) {
	app.Get("/api/rooms/:id/devices", a.listDevices)
	app.Delete("/api/rooms/:id/devices/:dev", a.removeDevice)
}

// seatName is the seat's name in the room, or its label.
func seatName(meta store.Meta, seat string) string {
	var names map[string]string
	_ = json.Unmarshal(meta.Names, &names)
	if n := names[seat]; n != "" {
		return n
	}
	return seatLabels[seat]
}

// mayManageDevice: the moderator of a guided room manages every seat's
// devices; in a self-guided room each partner manages their own seat's.
func mayManageDevice(z *authorized, seat string) bool {
	if z.meta.Mode == string(room.SelfGuided) {
		return z.claims.Seat == seat
	}
	return z.claims.Role == string(room.Moderator)
}

// seatDevice binds hash to the token holder's seat and announces it to
// the room when it is a new device of a seat that already had one. It
// returns store.DeviceGone for a removed device (nothing is written).
func (a *api) seatDevice(ctx context.Context, id string, z *authorized, hash string) (int, error) {
	rec, _ := json.Marshal(deviceRecord{Seat: z.claims.Seat, Role: z.claims.Role, Gen: z.claims.Gen, At: a.Now().UTC()}) // plain data: cannot fail
	res, err := a.Store.BindDevice(ctx, id, hash, rec)
	if err != nil || res != store.DeviceNew {
		return res, err
	}
	all, err := a.Store.Devices(ctx, id)
	if err != nil {
		return res, err
	}
	others := 0
	for h, b := range all {
		var r deviceRecord
		if h != hash && !store.DeviceRemoved(b) && json.Unmarshal(b, &r) == nil && r.Seat == z.claims.Seat && r.Gen == z.meta.Gen {
			others++
		}
	}
	if others == 0 {
		return res, nil // the seat's first device is no news
	}
	n := protocol.Notice{Kind: "device_new", Seat: z.claims.Seat, Name: seatName(z.meta, z.claims.Seat), Device: hash, At: a.Now().UTC()}
	if err := a.Hub.Notice(ctx, id, n); err != nil {
		a.Log.Warn("could not announce a new device", "room", id, "err", err)
	}
	return res, nil
}

// socketDevice reads the upgrade's device secret (the query's "device"):
// it returns the device id the socket belongs to ("" without one), binding
// it on an upgrade, and answers the refusal itself for a removed device
// (ok false).
func (a *api) socketDevice(c *fiber.Ctx, id string, z *authorized, isUpgrade bool) (string, bool, error) {
	h, ok := deviceHash(c.Query("device"))
	if !ok {
		return "", true, nil // no (usable) secret: a socket without a device
	}
	ctx := c.UserContext()
	if !isUpgrade { // the client's probe of why an upgrade failed: no binding
		b, err := a.Store.Device(ctx, id, h)
		if err == nil && store.DeviceRemoved(b) {
			return "", false, apiError(c, fiber.StatusUnauthorized, "device_removed", "this device was removed from the room")
		}
		return "", true, nil
	}
	res, err := a.seatDevice(ctx, id, z, h)
	if err != nil {
		return "", false, err
	}
	if res == store.DeviceGone {
		return "", false, apiError(c, fiber.StatusUnauthorized, "device_removed", "this device was removed from the room")
	}
	return h, true, nil
}

// validDeviceID: a device id is the hex sha256 of its secret (deviceHash).
func validDeviceID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// listDevices lists the devices the token holder may manage.
func (a *api) listDevices(c *fiber.Ctx) error {
	id := strings.Clone(c.Params("id"))
	z, err := a.authorize(c, id, bearer(c))
	if z == nil {
		return err
	}
	if z.meta.Mode != string(room.SelfGuided) && z.claims.Role != string(room.Moderator) {
		return apiError(c, fiber.StatusForbidden, "forbidden", "only the moderator lists the devices of the room")
	}
	all, err := a.Store.Devices(c.UserContext(), id)
	if err != nil {
		return err
	}
	out := []deviceInfo{}
	for h, b := range all {
		var r deviceRecord
		if store.DeviceRemoved(b) || json.Unmarshal(b, &r) != nil || r.Gen != z.meta.Gen || !mayManageDevice(z, r.Seat) {
			continue
		}
		out = append(out, deviceInfo{ID: h, Seat: r.Seat, Name: seatName(z.meta, r.Seat), At: r.At})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seat != out[j].Seat {
			return out[i].Seat < out[j].Seat
		}
		return out[i].At.Before(out[j].At)
	})
	return c.JSON(fiber.Map{"devices": out})
}

// removeDevice removes a device: its sockets close (4003) and it is
// refused from then on.
func (a *api) removeDevice(c *fiber.Ctx) error {
	if !a.originAllowed(c) {
		return apiError(c, fiber.StatusForbidden, "bad_origin", "this origin may not remove a device")
	}
	id := strings.Clone(c.Params("id"))
	dev := strings.Clone(c.Params("dev"))
	z, err := a.authorize(c, id, bearer(c))
	if z == nil {
		return err
	}
	if !validDeviceID(dev) {
		return apiError(c, fiber.StatusNotFound, "no_device", "this room has no such device")
	}
	ctx := c.UserContext()
	b, err := a.Store.Device(ctx, id, dev)
	if errors.Is(err, store.ErrNoDevice) {
		return apiError(c, fiber.StatusNotFound, "no_device", "this room has no such device")
	}
	if err != nil {
		return err
	}
	var r deviceRecord
	if store.DeviceRemoved(b) || json.Unmarshal(b, &r) != nil {
		return c.SendStatus(fiber.StatusNoContent) // removed already
	}
	if !mayManageDevice(z, r.Seat) {
		return apiError(c, fiber.StatusForbidden, "forbidden", "you may not remove this device")
	}
	mark, _ := json.Marshal(removedRecord{Removed: true, Seat: r.Seat, At: a.Now().UTC()}) // plain data: cannot fail
	if err := a.Hub.RemoveDevice(ctx, id, dev, mark); err != nil {
		if errors.Is(err, store.ErrNoDevice) {
			return apiError(c, fiber.StatusNotFound, "no_device", "this room has no such device")
		}
		return err
	}
	a.Log.Info("device removed", "room", id, "seat", r.Seat, "by", z.claims.Seat)
	return c.SendStatus(fiber.StatusNoContent)
}
