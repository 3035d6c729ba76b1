package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"sort"
	"testing"

	"github.com/redis/go-redis/v9"

	"repairroom/internal/limits"
	"repairroom/internal/realtime"
	"repairroom/internal/redistest"
	"repairroom/internal/testnode"
)

// redisDump is every key of the database with its serialised value.
func redisDump(t *testing.T, rdb redis.UniversalClient) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		if k == "" {
			continue
		}
		if typ := rdb.Type(ctx, k).Val(); typ == "hash" {
			b, _ := json.Marshal(rdb.HGetAll(ctx, k).Val())
			out[k] = string(b)
		} else {
			out[k] = typ + ":" + rdb.Dump(ctx, k).Val()
		}
	}
	return out
}

// refused dials and expects HTTP 429 with code.
func refused(t *testing.T, n *testnode.Node, room, tok, code string) {
	t.Helper()
	ws, resp, err := n.Dial(room, tok)
	if err == nil {
		ws.Close()
		t.Fatalf("socket admitted; want %s", code)
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("refusal: %v %v; want HTTP 429", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	var got struct{ Code, Message string }
	if json.Unmarshal(body, &got) != nil || got.Code != code || got.Message == "" {
		t.Fatalf("refusal body %s; want code %s and a message", body, code)
	}
}

func socketNode(t *testing.T, rdb redis.UniversalClient, l limits.Limits) *testnode.Node {
	return testnode.Start(t, rdb, testnode.Options{Realtime: realtime.Config{Limits: l}})
}

// Each socket limit refuses before the upgrade with 429 and its code, and
// a refusal leaves Redis as it was; a closed socket frees its place.
func TestSocketLimits(t *testing.T) {
	cases := []struct {
		name   string
		limits limits.Limits
		code   string
	}{
		{"seat", limits.Limits{SocketsPerSeat: 2, SocketsPerRoom: 16, SocketsPerAddr: 64}, "too_many_sockets_seat"},
		{"room", limits.Limits{SocketsPerSeat: 2, SocketsPerRoom: 3, SocketsPerAddr: 64}, "too_many_sockets_room"},
		{"address", limits.Limits{SocketsPerSeat: 4, SocketsPerRoom: 16, SocketsPerAddr: 3}, "too_many_sockets_address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rdb := redistest.Client(t)
			nodes := []*testnode.Node{socketNode(t, rdb, tc.limits), socketNode(t, rdb, tc.limits)}
			r := nodes[0].CreateRoom(t, "checkin", "self")
			other := nodes[0].CreateRoom(t, "checkin", "self")
			// Three sockets, spread over both nodes (the count is shared).
			var opened []string
			switch tc.name {
			case "seat":
				dial(t, nodes[0], r.ID, r.Tokens["partner_a"])
				dial(t, nodes[1], r.ID, r.Tokens["partner_a"])
				opened = []string{r.ID, r.Tokens["partner_a"]}
			case "room":
				dial(t, nodes[0], r.ID, r.Tokens["partner_a"])
				dial(t, nodes[1], r.ID, r.Tokens["partner_a"])
				dial(t, nodes[1], r.ID, r.Tokens["partner_b"])
				opened = []string{r.ID, r.Tokens["partner_b"]}
			case "address":
				dial(t, nodes[0], r.ID, r.Tokens["partner_a"])
				dial(t, nodes[1], r.ID, r.Tokens["partner_b"])
				dial(t, nodes[1], other.ID, other.Tokens["partner_a"])
				opened = []string{r.ID, r.Tokens["partner_b"]}
			}
			before := redisDump(t, rdb)
			refused(t, nodes[0], opened[0], opened[1], tc.code)
			refused(t, nodes[1], opened[0], opened[1], tc.code)
			if after := redisDump(t, rdb); !reflect.DeepEqual(before, after) {
				t.Fatalf("a refusal changed Redis:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// A closed socket stops counting: its seat may open another.
func TestClosedSocketFreesItsPlace(t *testing.T) {
	rdb := redistest.Client(t)
	n := socketNode(t, rdb, limits.Limits{SocketsPerSeat: 1, SocketsPerRoom: 16, SocketsPerAddr: 64})
	r := n.CreateRoom(t, "checkin", "self")
	ws, _ := dial(t, n, r.ID, r.Tokens["partner_a"])
	refused(t, n, r.ID, r.Tokens["partner_a"], "too_many_sockets_seat")
	ws.Close()
	waitFor(t, func() bool {
		ws, _, err := n.Dial(r.ID, r.Tokens["partner_a"])
		if err == nil {
			ws.Close()
		}
		return err == nil
	}, "the seat may open a socket again")
}

// The flood budget belongs to the seat: a socket that used it up and
// reconnects finds it still used up (it was refilled on every reconnect).
func TestFloodBudgetSurvivesReconnect(t *testing.T) {
	rdb := redistest.Client(t)
	// One token per 100 s: nothing refills during the test.
	n := socketNode(t, rdb, limits.Limits{RatePerSecond: 0.01, RateBurst: 5, FloodClose: 1000})
	r := n.CreateRoom(t, "checkin", "self")
	ws, _ := dial(t, n, r.ID, r.Tokens["partner_a"])
	for i := 0; i < 6; i++ {
		send(t, ws, map[string]any{"t": "presence", "field": nil, "sel": nil})
	}
	if f := next(t, ws, ofType("error")); f.m["code"] != "rate_limited" {
		t.Fatalf("sixth message: %s", f.raw)
	}
	ws.Close()
	again, _ := dial(t, n, r.ID, r.Tokens["partner_a"])
	send(t, again, map[string]any{"t": "presence", "field": nil, "sel": nil})
	if f := next(t, again, ofType("error")); f.m["code"] != "rate_limited" {
		t.Fatalf("first message after reconnecting: %s", f.raw)
	}
	// Another seat has its own budget.
	b, _ := dial(t, n, r.ID, r.Tokens["partner_b"])
	send(t, b, map[string]any{"t": "pull", "id": "q", "field": "wins", "epoch": "x", "since": 0})
	if f := next(t, b, reply("q")); f.m["code"] == "rate_limited" {
		t.Fatalf("the other seat was limited: %s", f.raw)
	}
}
