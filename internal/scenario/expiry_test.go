package scenario_test

import (
	"errors"
	"testing"
	"time"

	"repairroom/internal/client"
	"repairroom/internal/room"
	"repairroom/internal/templates"
	"repairroom/internal/testnode"
)

// TestExpiredRoomIsNotBroughtBackByCheckpoints: the room's retention is
// shortened and runs out while a partner is connected, holding a signed
// checkpoint of what was typed. The room expired (its retention marker
// says so): it is not "lost", so the partner's next edit closes the
// socket with 4004 instead of asking for checkpoints, and a checkpoint
// presented on a new socket is refused the same way; nothing of the room
// is recreated.
func TestExpiredRoomIsNotBroughtBackByCheckpoints(t *testing.T) {
	cl := startCluster(t, 1, testnode.Options{})
	n := cl.nodes[0]
	r := n.CreateRoom(t, "checkin", "self")
	a := cl.dial(t, 0, r, "partner_a", client.Options{AutoReconnect: true, MaxBackoff: 200 * time.Millisecond})
	appendText(t, a, "wins", "we walked by the river")
	cl.settle(t, r.ID, "wins", a)
	ck := a.Checkpoint("wins")
	if ck == nil || ck.Sig == "" {
		t.Fatalf("no signed checkpoint: %+v", ck)
	}

	set, err := templates.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := set.Get("checkin")
	ctx := ctxFor(t)
	if err := n.Store.SetRetention(ctx, r.ID, room.TextKeys(tpl), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	meta := "rr:{" + r.ID + "}:meta"
	for cl.rdb.Exists(ctx, meta).Val() == 1 { // Redis expires the room
		if ctx.Err() != nil {
			t.Fatal("the room never expired")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The partner types: the room is gone for good, not lost.
	_ = a.EditWith("wins", func(text string) (int, int, string) { return len(text), 0, "!" })
	var ce *client.CloseError
	if err := a.Wait(ctx, func() bool { return false }); !errors.As(err, &ce) || ce.Code != 4004 {
		t.Fatalf("editing an expired room: %v, want close 4004", err)
	}
	if a.Connects() != 1 {
		t.Errorf("the client connected %d times; an expired room is not reconnected to", a.Connects())
	}

	// A checkpoint presented on a fresh socket is refused as well. (The
	// upgrade itself may already be refused: the room does not exist.)
	if b, err := client.Dial(ctx, n.WSURL(r.ID, r.Tokens["partner_a"]), origin, client.Options{}); err == nil {
		_, err := b.Request(ctx, map[string]any{"t": "restore", "field": "wins",
			"epoch": ck.Epoch, "version": ck.Version, "text": ck.Text, "sig": ck.Sig})
		if err == nil {
			t.Error("a checkpoint of an expired room was accepted")
		}
		_ = b.Close()
	}
	for _, k := range cl.rdb.Keys(ctx, "rr:{"+r.ID+"}:*").Val() {
		// Left: the retention marker, and the socket counts of the upgrade
		// just made (they expire by themselves; not room data).
		if k != "rr:{"+r.ID+"}:kept" && k != "rr:{"+r.ID+"}:sockets" {
			t.Errorf("the expired room has keys again: %s", k)
		}
	}
}
