package httpapi

import (
	"context"

	"repairroom/internal/room"
)

// createPracticeRoom creates a room through the hub, as POST /api/rooms
// does.
func (a *api) createPracticeRoom(ctx context.Context, id, from, tplID string, mode room.Mode, names map[string]string) error {
	tpl, _ := a.Templates.Get(tplID)
	return a.Hub.CreateRoom(ctx, id, tpl, mode, names)
}
