package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"repairroom/internal/protocol"
	"repairroom/internal/redistest"
	"repairroom/internal/store"
)

// TestOwnCommitsAreDeliveredOnce: the pusher's node delivers each commit
// itself, the ack first and its own update right behind it, and drops the
// copy the channel brings back; a commit made on another node (published
// only) is delivered from the channel, once.
func TestOwnCommitsAreDeliveredOnce(t *testing.T) {
	e := startPush(t, store.New(redistest.Client(t), store.DefaultOptions()), nil)
	ctx := context.Background()
	id := e.fsRoom(t)
	for i := 0; i < 5; i++ {
		pid := fmt.Sprintf("p%d", i)
		if i == 0 {
			e.push(pid, 0, `[{"clientID":"c","changes":[[0,"x"]]}]`)
		} else {
			e.push(pid, int64(i), fmt.Sprintf(`[{"clientID":"c","changes":[%d,[0,"x"]]}]`, i))
		}
		if f := e.ws.next(t, answerTo(pid)); f.T != protocol.TAck || f.Version != int64(i+1) {
			t.Fatalf("push %d: %+v", i, f)
		}
		// Queued with the ack, so it is the very next frame.
		select {
		case b := <-e.ws.out:
			var f frame
			if err := json.Unmarshal(b, &f); err != nil || f.T != protocol.TUpdates || f.From != int64(i) {
				t.Fatalf("after ack %d came %s, want the update from %d", i, b, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no update after ack %d", i)
		}
	}
	// Another node's commit: it reaches this node only on the channel.
	snap, err := e.h.st.Snapshot(ctx, id, []string{"wins"})
	if err != nil {
		t.Fatal(err)
	}
	h := snap.Heads["wins"]
	body := protocol.Encode(protocol.Updates{T: protocol.TUpdates, Field: "wins", Epoch: h.Epoch, From: h.Version,
		Updates: []json.RawMessage{json.RawMessage(`{"clientID":"o","changes":[5,[0,"y"]]}`)}})
	hd := busHeader{Kind: kindUpdates, Aud: []string{"partner_a", "partner_b"}, Field: "wins", Epoch: h.Epoch, From: h.Version, N: 1}
	for i := 0; i < 2; i++ { // the second copy is a duplicate
		if err := e.h.st.Publish(ctx, id, encodeBus(hd, body)); err != nil {
			t.Fatal(err)
		}
	}
	// The channel is ordered: once this notice is here, every copy above
	// was dispatched.
	if err := e.h.st.Publish(ctx, id, encodeBus(busHeader{Kind: kindNotice}, []byte(`{"t":"notice","text":"end"}`))); err != nil {
		t.Fatal(err)
	}
	e.ws.next(t, func(f frame) bool { return f.T == "notice" })
	counts := map[int64]int{}
	for _, f := range e.ws.seen {
		if f.T == protocol.TUpdates {
			counts[f.From]++
		}
	}
	if len(counts) != 1 || counts[5] != 1 {
		t.Fatalf("updates frames after the pushes, by version: %v; want only the other node's, once", counts)
	}
}

// TestChannelWaitsForThePushInFlight: while this node's push to a field
// is in flight, the channel's copy of it and what follows are held; when
// the push returns, the socket gets the ack, the commit and then the
// later commit, each once and in order. A push that failed releases what
// was held.
func TestChannelWaitsForThePushInFlight(t *testing.T) {
	e := startPush(t, store.New(redistest.Client(t), store.DefaultOptions()), nil)
	id := e.fsRoom(t)
	e.h.mu.Lock()
	rh := e.h.rooms[id]
	e.h.mu.Unlock()
	conns, _ := rh.snapshot()
	if len(conns) != 1 {
		t.Fatalf("%d sockets", len(conns))
	}
	self := conns[0]
	ep := e.fs.Epoch
	upd := func(from int64, cid string) (busHeader, []byte) {
		return busHeader{Kind: kindUpdates, Aud: []string{"partner_a"}, Field: "wins", Epoch: ep, From: from, N: 1},
			protocol.Encode(protocol.Updates{T: protocol.TUpdates, Field: "wins", Epoch: ep, From: from,
				Updates: []json.RawMessage{json.RawMessage(fmt.Sprintf(`{"clientID":%q,"changes":[%d,[0,"x"]]}`, cid, from))}})
	}
	mine, mineBody := upd(0, "me")
	mine.Node = e.h.node
	other, otherBody := upd(1, "other")
	other.Node = "elsewhere"

	rh.beginCommit("wins")
	rh.fromChannel(mine, mineBody)
	rh.fromChannel(other, otherBody)
	if b, ok := e.ws.nextData(50 * time.Millisecond); ok {
		t.Fatalf("delivered while the push was in flight: %s", b)
	}
	ack := protocol.Encode(protocol.FieldReply{T: protocol.TAck, Re: "p", Field: "wins", Version: 1})
	rh.endCommit("wins", true, mine, mineBody, self, ack)
	want := []string{"ack", "updates 0 me", "updates 1 other"}
	for i, w := range want {
		b, ok := e.ws.nextData(10 * time.Second)
		if !ok {
			t.Fatalf("frame %d (%s) missing", i, w)
		}
		var f frame
		_ = json.Unmarshal(b, &f)
		got := f.T
		if f.T == protocol.TUpdates {
			got = fmt.Sprintf("updates %d %s", f.From, f.Updates[0].ClientID)
		}
		if got != w {
			t.Fatalf("frame %d: %s, want %s", i, b, w)
		}
	}
	// A failed push releases the next commit held behind it.
	next, nextBody := upd(2, "other")
	rh.beginCommit("wins")
	rh.fromChannel(next, nextBody)
	rh.endCommit("wins", false, busHeader{}, nil, self, nil)
	b, ok := e.ws.nextData(10 * time.Second)
	var f frame
	if !ok || json.Unmarshal(b, &f) != nil || f.T != protocol.TUpdates || f.From != 2 {
		t.Fatalf("after a failed push: %s (%v)", b, ok)
	}
}

// nextData returns the next frame written that is not about members,
// presence or the room, waiting at most wait.
func (s *scriptedWS) nextData(wait time.Duration) ([]byte, bool) {
	timeout := time.After(wait)
	for {
		select {
		case b := <-s.out:
			var f frame
			_ = json.Unmarshal(b, &f)
			if f.T == protocol.TMembers || f.T == protocol.TPresOut || f.T == protocol.TRoom {
				continue
			}
			return b, true
		case <-timeout:
			return nil, false
		}
	}
}
