package scenario_test

import (
	"context"
	"errors"
	"testing"

	"github.com/fasthttp/websocket"

	"repairroom/internal/client"
	"repairroom/internal/limits"
	"repairroom/internal/realtime"
	"repairroom/internal/testnode"
)

// TestShutdownDrainsBusyConnections: a node shutting down closes even a
// socket whose client never stops sending (its frames sit buffered, each
// read used to push the read deadline out again), so Shutdown finishes by
// draining instead of giving up at its deadline; and a Go client on that
// node resumes on the other one with nothing lost.
func TestShutdownDrainsBusyConnections(t *testing.T) {
	cl := startCluster(t, 2, testnode.Options{Realtime: realtime.Config{Limits: limits.Limits{RatePerSecond: 1e6, RateBurst: 1e6}}})
	n := cl.nodes[1]
	r := n.CreateRoom(t, "checkin", "self")

	ws, _, err := (&websocket.Dialer{}).Dial(n.WSURL(r.ID, r.Tokens["partner_b"]), map[string][]string{"Origin": {origin}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	flooding := make(chan struct{})
	go func() {
		defer close(flooding)
		for ws.WriteMessage(websocket.TextMessage, []byte(`{"t":"presence","field":"wins","sel":[0,0]}`)) == nil {
		}
	}()
	readErr := make(chan error, 1)
	go func() { // read so the server's queue never fills
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				readErr <- err
				return
			}
		}
	}()
	c := cl.dial(t, 1, r, "partner_a", client.Options{AutoReconnect: true})
	appendText(t, c, "wins", "before the shutdown. ")
	cl.settle(t, r.ID, "wins", c)

	ctx, cancel := context.WithTimeout(context.Background(), liveness)
	defer cancel()
	if err := n.Hub.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown did not drain: %v", err)
	}
	<-flooding
	appendText(t, c, "wins", "after it.")
	f := cl.settle(t, r.ID, "wins", c)
	if f.Text != "before the shutdown. after it." {
		t.Fatalf("after moving nodes: %q", f.Text)
	}
	if u := c.URL(); u[:len(u)-len(r.Tokens["partner_a"])] != cl.nodes[0].WSURL(r.ID, "") {
		t.Fatalf("the client is on %s", u)
	}
	var ce *websocket.CloseError
	if err := <-readErr; !errors.As(err, &ce) || ce.Code != 1001 {
		t.Fatalf("the flooding socket ended with %v, want close 1001", err)
	}
}
