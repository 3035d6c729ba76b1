package httpapi_test

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"repairroom/internal/testnode"
)

// When Redis goes away mid-session, a push is answered with a clear
// "unavailable" error (never an ack), /readyz says so, and once Redis is
// back the same push goes through.
func TestStorageOutageIsReportedNotAcknowledged(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer rdb.Close()
	n := testnode.Start(t, rdb, testnode.Options{})
	r := n.CreateRoom(t, "checkin", "self")
	ws, w := dial(t, n, r.ID, r.Tokens["partner_a"])
	ep, v, _ := fieldOf(t, w, "wins")

	addr := mr.Addr()
	mr.Close()
	send(t, ws, push("down", "wins", ep, v, `[[0,"kept safe"]]`))
	if f := next(t, ws, reply("down")); f.t() != "error" || f.m["code"] != "unavailable" {
		t.Fatalf("push while Redis is down: %s", f.raw)
	}
	resp, err := n.HTTPGet("/readyz")
	if err != nil || resp != 503 {
		t.Fatalf("readyz while Redis is down: %d %v", resp, err)
	}

	if err := mr.StartAddr(addr); err != nil {
		t.Fatalf("restarting the store: %v", err)
	}
	send(t, ws, push("up", "wins", ep, v, `[[0,"kept safe"]]`))
	if f := next(t, ws, reply("up")); f.t() != "ack" {
		t.Fatalf("push after Redis came back: %s", f.raw)
	}
}
