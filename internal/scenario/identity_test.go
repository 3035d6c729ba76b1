package scenario_test

import (
	"strings"
	"testing"
	"time"

	"repairroom/internal/client"
	"repairroom/internal/store"
)

// TestRedisRestartedFromAnOlderCopyMovesIdleFieldsToNewEpochs: Redis is
// killed and restarted from a copy of its AOF taken before the last
// acknowledged update, while every client is idle. Each node, once its
// pub/sub connection is subscribed again, checks the Redis identity (once
// for the burst) before sending heads, sees a new run id and moves the
// fields it serves to a new epoch: the heads carry it, the clients reset,
// and later typing never gives a version number a second text.
func TestRedisRestartedFromAnOlderCopyMovesIdleFieldsToNewEpochs(t *testing.T) {
	red, cl := startAOFCluster(t)
	t.Cleanup(func() {
		if t.Failed() {
			for i, n := range cl.nodes {
				t.Logf("node %d log:\n%s", i, n.Log.String())
			}
		}
	})
	r := cl.nodes[0].CreateRoom(t, "checkin", "self")
	opts := client.Options{AutoReconnect: true, MaxBackoff: 200 * time.Millisecond}
	a := cl.dial(t, 0, r, "partner_a", opts)
	b := cl.dial(t, 1, r, "partner_b", opts)
	appendText(t, a, "wins", "one ")
	cl.settle(t, r.ID, "wins", a, b)
	time.Sleep(1500 * time.Millisecond) // appendfsync everysec: "one " is on disk
	copied := red.copyAOF()
	before := cl.fields(t, r.ID, "wins")["wins"]
	appendText(t, a, "wins", "two ") // acknowledged, not in the copy
	cl.settle(t, r.ID, "wins", a, b)

	red.kill()
	red.start(copied)
	// Nobody types: only the nodes' resubscriptions can tell the clients.
	ctx := ctxFor(t)
	for _, c := range []*client.Client{a, b} {
		if err := c.Wait(ctx, func() bool { return c.Connected() && c.Epoch("wins") != before.Epoch }); err != nil {
			t.Fatalf("a client stayed under epoch %s after Redis went back: %v\n%s", before.Epoch, err, c)
		}
	}
	cl.waitIdentityChecks(t)
	appendText(t, b, "wins", "three")
	after := cl.settle(t, r.ID, "wins", a, b)
	if after.Epoch == before.Epoch || !strings.HasSuffix(after.Text, "three") {
		t.Errorf("wins after the restart: %+v (epoch before %s)", after, before.Epoch)
	}
	// "two " was acknowledged: the clients' checkpoints bring it back, once.
	if strings.Count(after.Text, "one ") != 1 || strings.Count(after.Text, "two ") != 1 {
		t.Errorf("wins after the restart: %q, want every acknowledged word once", after.Text)
	}
	// However many moves and restores came between, the epoch's lineage
	// names the one the clients held before.
	found := false
	for _, l := range (store.Field{From: after.From}).Lineage() {
		found = found || l.Epoch == before.Epoch
	}
	if !found {
		t.Errorf("lineage %q of epoch %s does not name %s", after.From, after.Epoch, before.Epoch)
	}
	checkNoVersionReused(t, a, b)
}
