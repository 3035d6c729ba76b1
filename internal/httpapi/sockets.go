package httpapi

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"repairroom/internal/realtime"
)

// admitSocket checks the socket limits (per seat, per room, per client
// address; counted across nodes) before the upgrade, so a refused socket
// gets a reason the client can read: HTTP 429 with
// {"code": "too_many_sockets_seat" | "too_many_sockets_room" |
// "too_many_sockets_address", "message": …}. The address is the one the
// room-creation limit counts (the one a trusted proxy reports). When it
// returns false the answer is written: return err from the handler.
func (a *api) admitSocket(c *fiber.Ctx, p *realtime.Participant) (bool, error) {
	addr := clientAddr(len(a.TrustedProxies) > 0)(c)
	err := a.Hub.AdmitSocket(c.UserContext(), p, addr)
	var refused *realtime.SocketRefused
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &refused):
		return false, apiError(c, fiber.StatusTooManyRequests, refused.Code, refused.Message)
	default:
		a.Log.Warn("counting a socket failed", "err", err)
		return false, apiError(c, fiber.StatusServiceUnavailable, "unavailable", "storage is not reachable; try again")
	}
}
