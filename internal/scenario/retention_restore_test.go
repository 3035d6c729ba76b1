package scenario_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"repairroom/internal/client"
	"repairroom/internal/room"
	"repairroom/internal/testnode"
)

// TestWipedRoomKeepsTheRetentionItsPeopleChose: the moderator keeps the
// room for 3 days instead of the server's default; every seat's view (and
// so its signed checkpoint) records it. Redis is wiped; the room comes back
// from the moderator's checkpoint kept for those 3 days, not the default.
func TestWipedRoomKeepsTheRetentionItsPeopleChose(t *testing.T) {
	cl := startCluster(t, 1, testnode.Options{})
	r := cl.nodes[0].CreateRoom(t, "checkin", "guided")
	opts := client.Options{AutoReconnect: true, MaxBackoff: 200 * time.Millisecond}
	mod := cl.dial(t, 0, r, "moderator", opts)
	partner := cl.dial(t, 0, r, "partner_a", opts)
	ctx := ctxFor(t)

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cl.nodes[0].URL+"/api/rooms/"+r.ID+"/retention", strings.NewReader(`{"days":3}`))
	req.Header.Set("Authorization", "Bearer "+r.Tokens["moderator"])
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setting the retention: HTTP %d", resp.StatusCode)
	}
	for _, c := range []*client.Client{mod, partner} {
		waitState(t, c, "the retention in the view", func(s room.State) bool { return s.RetentionDays == 3 })
	}

	if err := cl.rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// The next write finds the room gone; the moderator presents its view.
	appendText(t, mod, "notes", "after the wipe")
	meta := "rr:{" + r.ID + "}:meta"
	deadline := time.Now().Add(10 * time.Second)
	for {
		ttl, _ := cl.rdb.HGet(ctx, meta, "ttl").Result()
		pttl := cl.rdb.PTTL(ctx, meta).Val()
		if ttl == "259200000" && pttl > 71*time.Hour && pttl <= 72*time.Hour {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restored room: ttl %q, expires in %s; want the 3 days its people chose", ttl, pttl)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cl.settle(t, r.ID, "notes", mod)
}
