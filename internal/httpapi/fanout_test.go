package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"repairroom/internal/limits"
	"repairroom/internal/realtime"
	"repairroom/internal/redistest"
	"repairroom/internal/testnode"
)

// crowdLimits lets one room hold a crowd: the socket limits are what
// refuses a crowd in production; here the fan-out itself is under test.
func crowdLimits() realtime.Config {
	return realtime.Config{Limits: limits.Limits{
		SocketsPerSeat: 10000, SocketsPerRoom: 10000, SocketsPerAddr: 10000,
		RatePerSecond: 1e6, RateBurst: 1e6,
	}}
}

// observer counts what one socket receives and keeps its member list the
// way a client does (whole lists replace, diffs apply).
type observer struct {
	mu      sync.Mutex
	frames  map[string]int
	members map[string]bool
	done    chan struct{}
}

func observe(t *testing.T, ws *websocket.Conn, welcome frame) *observer {
	o := &observer{frames: map[string]int{}, members: map[string]bool{}, done: make(chan struct{})}
	ms, _ := welcome.m["members"].([]any)
	for _, m := range ms {
		o.members[m.(map[string]any)["id"].(string)] = true
	}
	go func() {
		defer close(o.done)
		for {
			_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			for _, line := range bytes.Split(b, []byte{'\n'}) {
				var f struct {
					T       string `json:"t"`
					Members []struct {
						ID string `json:"id"`
					} `json:"members"`
					Joined []struct {
						ID string `json:"id"`
					} `json:"joined"`
					Left []string `json:"left"`
				}
				if json.Unmarshal(line, &f) != nil {
					continue
				}
				o.mu.Lock()
				o.frames[f.T]++
				if f.T == "members" {
					if f.Members != nil {
						o.members = map[string]bool{}
						for _, m := range f.Members {
							o.members[m.ID] = true
						}
					}
					for _, m := range f.Joined {
						o.members[m.ID] = true
					}
					for _, id := range f.Left {
						delete(o.members, id)
					}
				}
				o.mu.Unlock()
			}
		}
	}()
	return o
}

func (o *observer) count(t string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.frames[t]
}

func (o *observer) size() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.members)
}

// 200 sockets join one room over two nodes. Member changes are coalesced
// into diffs, so each socket receives a number of members frames that
// does not grow with the crowd (it was one per join: 200 each, 40,000 in
// all), every observer still ends with the exact list, and a client in
// another room keeps receiving its updates throughout.
func TestCrowdJoinCostsLinearFrames(t *testing.T) {
	rdb := redistest.Client(t)
	nodes := []*testnode.Node{testnode.Start(t, rdb, testnode.Options{Realtime: crowdLimits()}), testnode.Start(t, rdb, testnode.Options{Realtime: crowdLimits()})}
	crowd := nodes[0].CreateRoom(t, "checkin", "self")
	seats := []string{"partner_a", "partner_b"}

	var obs []*observer
	for i := 0; i < 4; i++ {
		ws, w := dial(t, nodes[i%2], crowd.ID, crowd.Tokens[seats[i%2]])
		obs = append(obs, observe(t, ws, w))
	}

	other := nodes[0].CreateRoom(t, "checkin", "self")
	writer, w := dial(t, nodes[0], other.ID, other.Tokens["partner_a"])
	reader, _ := dial(t, nodes[1], other.ID, other.Tokens["partner_b"])
	ep, v, _ := fieldOf(t, w, "wins")

	const n = 200
	for i := 0; i < n; i++ {
		dial(t, nodes[i%2], crowd.ID, crowd.Tokens[seats[i%2]])
		if i%20 == 19 {
			id := fmt.Sprint("p", i)
			changes := `[[0,"x"]]`
			if v > 0 {
				changes = fmt.Sprintf(`[%d,[0,"x"]]`, v)
			}
			send(t, writer, push(id, "wins", ep, v, changes))
			if f := next(t, writer, reply(id)); f.t() != "ack" {
				t.Fatalf("push in the other room during the crowd: %s", f.raw)
			}
			v++
			if u := next(t, reader, ofType("updates")); int64(u.m["from"].(float64)) != v-1 {
				t.Fatalf("the other room's partner got %s", u.raw)
			}
		}
	}
	for i, o := range obs {
		waitFor(t, func() bool { return o.size() == n+len(obs) }, fmt.Sprintf("observer %d lists every member (has %d)", i, o.size()))
	}
	for i, o := range obs {
		got := o.count("members")
		t.Logf("observer %d: %d members frames for %d joins", i, got, n)
		if got > n/2 {
			t.Errorf("observer %d received %d members frames for %d joins: not coalesced", i, got, n)
		}
	}
}

// Cursor moves of a crowd are coalesced per room, not only per socket: an
// observer receives fewer presence frames than there are movers (each
// socket alone would publish at least twice: its first move at once, its
// last one after PresenceEvery).
func TestCrowdPresenceIsCappedPerRoom(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{Realtime: crowdLimits()})
	r := n.CreateRoom(t, "checkin", "self")
	ws, w := dial(t, n, r.ID, r.Tokens["partner_a"])
	o := observe(t, ws, w)
	const movers, moves = 40, 10
	var socks []*websocket.Conn
	for i := 0; i < movers; i++ {
		s, _ := dial(t, n, r.ID, r.Tokens["partner_b"])
		socks = append(socks, s)
	}
	for m := 0; m < moves; m++ {
		for _, s := range socks {
			send(t, s, map[string]any{"t": "presence", "field": "wins", "sel": []int{m, m}})
		}
	}
	waitFor(t, func() bool { return o.count("presence") > 0 }, "presence arrives")
	time.Sleep(500 * time.Millisecond) // let the last coalesced publish land
	got := o.count("presence")
	t.Logf("%d presence frames for %d moves", got, movers*moves)
	if got >= movers {
		t.Errorf("observer received %d presence frames for %d moves: not coalesced", got, movers*moves)
	}
}

// membersWith matches a members frame that shows a member of role: in a
// whole list, or as joined.
func membersWith(role string) func(frame) bool {
	return func(f frame) bool {
		if f.t() != "members" {
			return false
		}
		for _, k := range []string{"members", "joined"} {
			ms, _ := f.m[k].([]any)
			for _, m := range ms {
				if m.(map[string]any)["role"] == role {
					return true
				}
			}
		}
		return false
	}
}

// membersLeft matches a members frame that says someone left: a diff
// with left, or a whole list of n members.
func membersLeft(n int) func(frame) bool {
	return func(f frame) bool {
		if f.t() != "members" {
			return false
		}
		if l, _ := f.m["left"].([]any); len(l) > 0 {
			return true
		}
		ms, ok := f.m["members"].([]any)
		return ok && len(ms) == n
	}
}
