package scenario_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"repairroom/internal/client"
	"repairroom/internal/testnode"
)

// TestResentPushIsAcknowledgedNotAppliedTwice: the server stores a push,
// but its ack is lost with the connection. Resent after reconnecting, at
// the same version and with the same clientID, the server's rebase drops
// the update it already accepted and acknowledges at the head; the client
// finds its own update in the log: the text holds it once.
func TestResentPushIsAcknowledgedNotAppliedTwice(t *testing.T) {
	cl := startCluster(t, 1, testnode.Options{})
	r := cl.nodes[0].CreateRoom(t, "checkin", "self")

	t.Run("raw frames", func(t *testing.T) {
		n := cl.nodes[0]
		h := map[string][]string{"Origin": {origin}}
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
		ws, _, err := d.Dial(n.WSURL(r.ID, r.Tokens["partner_b"]), h)
		if err != nil {
			t.Fatal(err)
		}
		var w struct {
			Fields map[string]struct {
				Epoch   string
				Version int64
				Text    string
			}
		}
		_, b, err := ws.ReadMessage()
		if err != nil || json.Unmarshal(b, &w) != nil {
			t.Fatalf("welcome: %v %s", err, b)
		}
		f := w.Fields["wins"]
		push := fmt.Sprintf(`{"t":"push","id":"once","field":"wins","epoch":%q,"version":%d,"updates":[{"clientID":"raw-b","changes":[[0,"RAW-ONCE 👍🏽"]]}]}`, f.Epoch, f.Version)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(push)); err != nil {
			t.Fatal(err)
		}
		_ = ws.NetConn().Close() // before reading anything: the ack is lost
		// The server handles what it read; wait until Redis has it.
		waitRedis(t, cl, r.ID, "wins", f.Version+1)

		ws, _, err = d.Dial(n.WSURL(r.ID, r.Tokens["partner_b"]), h)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		if _, _, err := ws.ReadMessage(); err != nil { // welcome
			t.Fatal(err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte(push)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(liveness))
		// The server already holds the update (same clientID, in the log
		// after the pushed version): its rebase drops it, and the answer is
		// an ack at the version that update made.
		var ack map[string]any
		for ack == nil {
			_, b, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("waiting for the answer: %v", err)
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			switch {
			case m["re"] == "once" && m["t"] != "ack":
				t.Fatalf("resent push answered %s", b)
			case m["re"] == "once":
				ack = m
			}
		}
		if ack["version"] != float64(f.Version+1) {
			t.Fatalf("ack %v", ack)
		}
		fs := cl.fields(t, r.ID, "wins")["wins"]
		if fs.Version != f.Version+1 || strings.Count(fs.Text, "RAW-ONCE") != 1 {
			t.Fatalf("after the resend: %+v", fs)
		}
	})

	t.Run("client", func(t *testing.T) {
		// The client loses every frame from the moment it pushes, and its
		// connection when the ack comes: the push is stored, unacknowledged.
		var armed, dropped atomic.Bool
		var c *client.Client
		c = cl.dial(t, 0, r, "partner_a", client.Options{OnFrame: func(raw []byte) bool {
			if !armed.Load() {
				return true
			}
			if strings.Contains(string(raw), `"t":"ack"`) {
				dropped.Store(true) // before Drop, which wakes the Wait below
				c.Drop()
			}
			return false
		}})
		appendText(t, c, "wins", "before, ")
		before := cl.settle(t, r.ID, "wins", c)

		armed.Store(true)
		appendText(t, c, "wins", "CLIENT-ONCE é\u0301")
		if err := c.Wait(ctxFor(t), dropped.Load); err != nil {
			t.Fatal(err)
		}
		armed.Store(false)
		stored := waitRedis(t, cl, r.ID, "wins", before.Version+1)
		if text, v := c.Confirmed("wins"); v != before.Version || c.Pending() != 1 || text != before.Text {
			t.Fatalf("the client saw its push confirmed: v%d pending %d", v, c.Pending())
		}
		seen := len(c.Frames())

		if err := c.Reconnect(ctxFor(t)); err != nil {
			t.Fatal(err)
		}
		after := cl.settle(t, r.ID, "wins", c)
		if after.Version != stored.Version || strings.Count(after.Text, "CLIENT-ONCE") != 1 {
			t.Fatalf("after resuming: %+v (stored %+v)", after, stored)
		}
		// The client did resend at the old version and was acknowledged at
		// the head, without a new version.
		sawAck := false
		for _, f := range c.Frames()[seen:] {
			var m map[string]any
			_ = json.Unmarshal(f, &m)
			if m["t"] == "ack" && m["field"] == "wins" && m["version"] == float64(stored.Version) {
				sawAck = true
			}
		}
		if !sawAck {
			t.Fatal("the resent push was not acknowledged at the head")
		}
		log := cl.log(t, r.ID, "wins")
		if n := len(log); int64(n) != after.Version || log[n-1].ClientID != c.ClientID() {
			t.Fatalf("log of %d entries, last by %s", n, log[n-1].ClientID)
		}
		conf := c.Confirmations()
		if last := conf[len(conf)-1]; last.Version != stored.Version {
			t.Fatalf("last confirmation %+v", last)
		}
	})
}

// waitRedis waits until key reaches version in Redis.
func waitRedis(t *testing.T, cl *cluster, roomID, key string, version int64) fieldState {
	t.Helper()
	deadline := time.Now().Add(liveness)
	for {
		f := cl.fields(t, roomID, key)[key]
		if f.Version >= version {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s stays at version %d, want %d", key, f.Version, version)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRebuiltFieldTakesUnsentEditsAlong: a field's data is lost while a
// client, offline, has unsent edits. On reconnecting it sees the field
// empty under a new epoch, below its signed checkpoint: it presents the
// checkpoint, the text it had is restored under another new epoch, and
// its edits are rebased onto it; they end up in the text once. A client
// that stayed connected follows to the new epoch.
func TestRebuiltFieldTakesUnsentEditsAlong(t *testing.T) {
	cl := startCluster(t, 1, testnode.Options{})
	r := cl.nodes[0].CreateRoom(t, "checkin", "self")
	a := cl.dial(t, 0, r, "partner_a", client.Options{})
	b := cl.dial(t, 0, r, "partner_b", client.Options{AutoReconnect: true})

	appendText(t, a, "wins", "we cooked 漢字 together")
	cl.settle(t, r.ID, "wins", a, b)
	oldEpoch := a.Epoch("wins")

	a.Drop()
	appendText(t, a, "wins", " — UNSENT-1 👍🏽")
	if err := a.EditWith("wins", func(string) (int, int, string) { return 0, 2, "We" }); err != nil {
		t.Fatal(err)
	}
	if a.Pending() != 2 {
		t.Fatalf("pending %d", a.Pending())
	}
	ctx := ctxFor(t)
	if err := cl.rdb.Del(ctx, fmt.Sprintf("rr:{%s}:f:wins", r.ID), fmt.Sprintf("rr:{%s}:log:wins", r.ID)).Err(); err != nil {
		t.Fatal(err)
	}

	if err := a.Reconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(ctx, func() bool { e := a.Epoch("wins"); return e != oldEpoch && e != "" }); err != nil {
		t.Fatalf("epoch after the rebuild: %q (was %q): %v", a.Epoch("wins"), oldEpoch, err)
	}
	f := cl.settle(t, r.ID, "wins", a, b)
	if f.Epoch == oldEpoch || f.Text != "We cooked 漢字 together — UNSENT-1 👍🏽" {
		t.Fatalf("after the rebuild: %+v", f)
	}
	if b.Epoch("wins") != f.Epoch || b.Text("wins") != f.Text {
		t.Fatalf("the other client: epoch %s text %q", b.Epoch("wins"), b.Text("wins"))
	}
	// The restored field keeps its version; its log starts there.
	if ck := a.Checkpoint("wins"); ck == nil || ck.Version != f.Version || ck.Text != f.Text {
		t.Fatalf("checkpoint after the rebuild: %+v, Redis %+v", ck, f)
	}
}

// TestClientStopsWhenTheLinkNoLongerWorks: a refused token ends Dial with
// the server's reason, and a room deleted under a connected client (close
// 4004) stops it for good instead of reconnecting forever.
func TestClientStopsWhenTheLinkNoLongerWorks(t *testing.T) {
	cl := startCluster(t, 1, testnode.Options{})
	n := cl.nodes[0]
	r := n.CreateRoom(t, "checkin", "self")

	_, err := client.Dial(ctxFor(t), n.WSURL(r.ID, "forged."+r.Tokens["partner_a"]), origin, client.Options{})
	var he *client.HandshakeError
	if !errors.As(err, &he) || he.Status != 401 || he.Code != "bad_token" {
		t.Fatalf("dial with a forged token: %v", err)
	}

	c := cl.dial(t, 0, r, "partner_a", client.Options{AutoReconnect: true})
	req, _ := http.NewRequest(http.MethodDelete, n.URL+"/api/rooms/"+r.ID, nil)
	req.Header.Set("Authorization", "Bearer "+r.Tokens["partner_b"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete room: %v %v", err, resp)
	}
	resp.Body.Close()
	var ce *client.CloseError
	if err := c.Wait(ctxFor(t), func() bool { return false }); !errors.As(err, &ce) || ce.Code != 4004 {
		t.Fatalf("after the room was deleted: %v", err)
	}
	if err := c.Sync(ctxFor(t)); !errors.As(err, &ce) {
		t.Fatalf("sync after the room was deleted: %v", err)
	}
}
