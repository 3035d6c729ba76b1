package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"repairroom/internal/auth"
	"repairroom/internal/limits"
	"repairroom/internal/realtime"
	"repairroom/internal/redistest"
	"repairroom/internal/store"
	"repairroom/internal/testnode"
)

func push(id, field, epoch string, version int64, changes string) map[string]any {
	return map[string]any{"t": "push", "id": id, "field": field, "epoch": epoch, "version": version,
		"updates": []any{map[string]any{"clientID": "c-" + id, "changes": json.RawMessage(changes)}}}
}

func dial(t *testing.T, n *testnode.Node, room, tok string) (*websocket.Conn, frame) {
	t.Helper()
	ws, resp, err := n.Dial(room, tok)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("dial: %v (HTTP %d)", err, code)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws, next(t, ws, ofType("welcome"))
}

func TestPartnerNeverReceivesModeratorNotes(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{})
	r := n.CreateRoom(t, "betrayal", "guided")

	mod, w := dial(t, n, r.ID, r.Tokens["moderator"])
	ep, v, _ := fieldOf(t, w, "notes")
	secret := "private-observation-4471"
	send(t, mod, push("n1", "notes", ep, v, fmt.Sprintf(`[[0,%q]]`, secret)))
	next(t, mod, reply("n1"))

	for _, role := range []string{"partner_a", "partner_b"} {
		ws, welcome := dial(t, n, r.ID, r.Tokens[role])
		if strings.Contains(string(welcome.raw), secret) || strings.Contains(string(welcome.raw), `"notes"`) {
			t.Fatalf("%s welcome mentions the moderator's notes: %s", role, welcome.raw)
		}
		// Further notes edits and presence in the notes field never reach it.
		send(t, mod, push("n2"+role, "notes", ep, v+1, fmt.Sprintf(`[%d,[0," more"]]`, len(secret))))
		next(t, mod, reply("n2"+role))
		v++
		send(t, mod, map[string]any{"t": "presence", "field": "notes", "sel": []int{1, 1}})
		// A marker the partner does receive, to know everything before it arrived.
		send(t, mod, map[string]any{"t": "act", "id": "m" + role, "act": "stage.lock", "stage": "apology", "locked": true})
		next(t, mod, reply("m"+role))
		got := next(t, ws, ofType("room"))
		_ = got
		_ = ws.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				break
			}
			if strings.Contains(string(b), secret) || strings.Contains(string(b), `"notes"`) {
				t.Fatalf("%s received a frame about the notes: %s", role, b)
			}
		}
	}
}

func TestUpdatesAndPresenceCrossNodes(t *testing.T) {
	rdb := redistest.Client(t)
	n1 := testnode.Start(t, rdb, testnode.Options{})
	n2 := testnode.Start(t, rdb, testnode.Options{})
	r := n1.CreateRoom(t, "checkin", "self")

	a, wa := dial(t, n1, r.ID, r.Tokens["partner_a"])
	b, _ := dial(t, n2, r.ID, r.Tokens["partner_b"])

	// A sees B join although B is on the other node.
	next(t, a, membersWith("partner_b"))
	// Presence crosses nodes.
	send(t, a, map[string]any{"t": "presence", "field": "wins", "sel": []int{0, 0}})
	next(t, b, func(f frame) bool {
		m, _ := f.m["member"].(map[string]any)
		return f.t() == "presence" && m["role"] == "partner_a" && m["field"] == "wins"
	})
	// Updates cross nodes, in order, with the author's clientID, and the
	// author gets its own echo too.
	ep, v, _ := fieldOf(t, wa, "wins")
	send(t, a, push("p1", "wins", ep, v, `[[0,"hello"]]`))
	if f := next(t, a, reply("p1")); f.t() != "ack" {
		t.Fatalf("push: %s", f.raw)
	}
	send(t, a, push("p2", "wins", ep, v+1, `[5,[0," there"]]`))
	next(t, a, reply("p2"))
	for _, ws := range []*websocket.Conn{a, b} {
		for i, want := range []string{`[[0,"hello"]]`, `[5,[0," there"]]`} {
			f := next(t, ws, ofType("updates"))
			ups := f.m["updates"].([]any)
			got, _ := json.Marshal(ups[0].(map[string]any)["changes"])
			if int64(f.m["from"].(float64)) != v+int64(i) || string(got) != want {
				t.Fatalf("update %d: %s", i, f.raw)
			}
		}
	}
	// When A leaves, B sees it.
	a.Close()
	next(t, b, membersLeft(1))
}

func TestOriginRefused(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{})
	r := n.CreateRoom(t, "checkin", "self")
	for _, origin := range []string{"http://evil.example", ""} {
		_, resp, err := n.DialOrigin(r.ID, r.Tokens["partner_a"], origin)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("origin %q: want HTTP 403, got err=%v resp=%v", origin, err, resp)
		}
	}
	n2 := testnode.Start(t, rdb, testnode.Options{AllowedOrigins: []string{"https://rooms.example.org"}})
	ws, _, err := n2.DialOrigin(r.ID, r.Tokens["partner_a"], "https://rooms.example.org")
	if err != nil {
		t.Fatalf("allow-listed origin refused: %v", err)
	}
	ws.Close()
}

func TestTokensRefusedAtUpgrade(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{})
	r := n.CreateRoom(t, "checkin", "guided")
	other := n.CreateRoom(t, "checkin", "guided")
	signer, _ := auth.NewSigner(testnode.Secret)
	wrongKey, _ := auth.NewSigner([]byte("another-secret-another-secret-another"))
	good := r.Tokens["partner_a"]
	payload, _, _ := strings.Cut(good, ".")

	cases := []struct {
		name, room, token, code string
		status                  int
	}{
		{"forged signature", r.ID, payload + ".AAAA", "bad_token", 401},
		{"other key", r.ID, wrongKey.Sign(auth.Claims{Room: r.ID, Role: "moderator", Seat: "moderator", Expires: time.Now().Add(time.Hour).Unix(), Gen: 1}), "bad_token", 401},
		{"role escalation", r.ID, strings.Replace(good, payload, strings.TrimRight(payload, "=")+"x", 1), "bad_token", 401},
		{"expired", r.ID, signer.Sign(auth.Claims{Room: r.ID, Role: "partner_a", Seat: "partner_a", Expires: time.Now().Add(-time.Minute).Unix(), Gen: 1}), "expired", 401},
		{"other room", r.ID, other.Tokens["moderator"], "bad_token", 401},
		{"garbage", r.ID, "%00%ff", "bad_token", 401},
		{"empty", r.ID, "", "bad_token", 401},
		// A valid link to a room with no keys and no tombstone: Redis lost
		// it (a deleted room answers no_room, see TestDeleteRoomRemovesEverything).
		{"lost room", "aaaaaaaaaaaaaaaaaaaaaaaaaa", signer.Sign(auth.Claims{Room: "aaaaaaaaaaaaaaaaaaaaaaaaaa", Role: "partner_a", Expires: time.Now().Add(time.Hour).Unix(), Gen: 1}), "room_lost", 503},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := n.Dial(tc.room, tc.token)
			if err == nil {
				t.Fatal("upgrade succeeded")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("want HTTP %d, got %v", tc.status, resp)
			}
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), `"code":"`+tc.code+`"`) {
				t.Fatalf("want code %s, got %s", tc.code, body)
			}
		})
	}

	// Rotation revokes old links, and closes sockets opened with them.
	ws, _ := dial(t, n, r.ID, r.Tokens["partner_b"])
	req, _ := http.NewRequest(http.MethodPost, n.URL+"/api/rooms/"+r.ID+"/rotate", nil)
	req.Header.Set("Authorization", "Bearer "+r.Tokens["partner_a"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a partner of a guided room rotated links: %v %v", err, resp.Status)
	}
	req.Header.Set("Authorization", "Bearer "+r.Tokens["moderator"])
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("rotate: %v %v", err, resp)
	}
	if code := closeCode(t, ws); code != 4003 {
		t.Fatalf("socket with a revoked token closed with %d, want 4003", code)
	}
	_, resp, err = n.Dial(r.ID, r.Tokens["partner_b"])
	if err == nil || resp.StatusCode != 401 {
		t.Fatalf("revoked token accepted: %v", resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `"revoked"`) {
		t.Fatalf("want code revoked, got %s", body)
	}

	// Tokens never reach the logs.
	for role, tok := range r.Tokens {
		if strings.Contains(n.Log.String(), tok) {
			t.Fatalf("the %s token appears in the server log", role)
		}
	}
}

func TestBadInputLeavesAcceptedStateAlone(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{})
	r := n.CreateRoom(t, "checkin", "self")
	ws, w := dial(t, n, r.ID, r.Tokens["partner_a"])
	ep, v, _ := fieldOf(t, w, "wins")
	send(t, ws, push("ok", "wins", ep, v, `[[0,"we walked together 🌿"]]`))
	if f := next(t, ws, reply("ok")); f.t() != "ack" {
		t.Fatalf("first push: %s", f.raw)
	}
	text := "we walked together 🌿"
	n16 := 21 // UTF-16 length of text: the emoji counts 2

	bad := []struct {
		name, msg, code string
	}{
		{"not json", `hello`, "bad_json"},
		{"truncated", `{"t":"push"`, "bad_json"},
		{"array", `[1,2]`, "bad_json"},
		{"no type", `{"id":"x"}`, "unknown_type"},
		{"unknown type", `{"t":"shout","id":"x"}`, "unknown_type"},
		{"push without version", `{"t":"push","id":"x","field":"wins","updates":[{"clientID":"c","changes":[1]}]}`, "bad_message"},
		{"changes too long", mustJSON(push("x", "wins", ep, v+1, `[500,[0,"x"]]`)), "bad_changes"},
		{"changes too short", mustJSON(push("x", "wins", ep, v+1, `[[0,"x"]]`)), "bad_changes"},
		{"changes wrong shape", mustJSON(push("x", "wins", ep, v+1, fmt.Sprintf(`[%d,{"a":1}]`, n16))), "bad_changes"},
		{"negative", mustJSON(push("x", "wins", ep, v+1, `[-1]`)), "bad_changes"},
		{"huge number", mustJSON(push("x", "wins", ep, v+1, `[99999999999999999999]`)), "too_large"},
		{"oversized insert", mustJSON(push("x", "wins", ep, v+1, fmt.Sprintf(`[%d,[0,%q]]`, n16, strings.Repeat("x", 40000)))), "too_large"},
		{"unknown field", mustJSON(push("x", "nope", ep, v+1, `[1]`)), "unknown_field"},
		{"other partner's field", mustJSON(push("x", "hard_b", ep, 0, `[[0,"x"]]`)), "forbidden"},
		{"unknown act", `{"t":"act","id":"x","act":"explode"}`, "bad_action"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			send(t, ws, tc.msg)
			f := next(t, ws, ofType("error"))
			if f.m["code"] != tc.code {
				t.Fatalf("want %s, got %s", tc.code, f.raw)
			}
			if msg, _ := f.m["message"].(string); msg == "" {
				t.Fatalf("error without a message: %s", f.raw)
			}
		})
	}
	// A message over the size limit closes the socket with 1009...
	big := fmt.Sprintf(`{"t":"presence","pad":%q}`, strings.Repeat("x", 300<<10))
	_ = ws.WriteMessage(websocket.TextMessage, []byte(big))
	if code := closeCode(t, ws); code != 1009 {
		t.Fatalf("oversized message: close %d, want 1009", code)
	}
	// ...and nothing accepted before was touched.
	fs, err := n.Store.Fields(context.Background(), r.ID, []string{"wins"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fs["wins"]; got.Text != text || got.Version != v+1 {
		t.Fatalf("field after bad input: %+v, want %q at version %d", got, text, v+1)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestFloodIsRateLimited(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{Realtime: realtime.Config{Limits: limits.Limits{RatePerSecond: 1, RateBurst: 5, FloodClose: 50}}})
	r := n.CreateRoom(t, "checkin", "self")
	ws, _ := dial(t, n, r.ID, r.Tokens["partner_a"])
	for i := 0; i < 10; i++ {
		send(t, ws, `{"t":"presence","field":null,"sel":null}`)
	}
	f := next(t, ws, ofType("error"))
	if f.m["code"] != "rate_limited" {
		t.Fatalf("want rate_limited, got %s", f.raw)
	}
	for i := 0; i < 100; i++ {
		if ws.WriteMessage(websocket.TextMessage, []byte(`{"t":"presence"}`)) != nil {
			break
		}
	}
	if code := closeCode(t, ws); code != 4029 {
		t.Fatalf("flood: close %d, want 4029", code)
	}
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	rdb := redistest.Client(t)
	// WriteWait is far beyond the wait below: the slow socket must be let go
	// at once, not when its stuck write finally times out.
	// The seat's insert budget would stop the pushes before the slow
	// socket's buffers fill: it is not what this test is about.
	sopt := store.DefaultOptions()
	sopt.Limits.SeatInsertPerMinute = 1 << 30
	n := testnode.Start(t, rdb, testnode.Options{StoreOptions: &sopt, Realtime: realtime.Config{Limits: limits.Limits{SendQueue: 8, RatePerSecond: 10000, RateBurst: 10000}, WriteWait: time.Minute}})
	r := n.CreateRoom(t, "checkin", "self")
	fast, w := dial(t, n, r.ID, r.Tokens["partner_a"])
	// The slow client never reads after its welcome, through a tiny receive
	// buffer, so the server's socket buffer and then its queue fill up.
	d := websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	h := http.Header{"Origin": {n.URL}}
	slow, _, err := d.Dial(n.WSURL(r.ID, r.Tokens["partner_b"]), h)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	ep, v, _ := fieldOf(t, w, "wins")
	chunk := strings.Repeat("calm ", 6000) // 30,000 units per update
	length := 0
	// Each round replaces the text with one chunk; the fan-out piles up
	// for the slow socket while the fast one keeps getting its acks.
	for i := 0; i < 600 && n.Hub.Conns() == 2; i++ {
		changes := fmt.Sprintf(`[[%d,%q]]`, length, chunk)
		if length == 0 {
			changes = fmt.Sprintf(`[[0,%q]]`, chunk)
		}
		id := fmt.Sprintf("p%d", i)
		send(t, fast, push(id, "wins", ep, v, changes))
		if f := next(t, fast, reply(id)); f.t() != "ack" {
			t.Fatalf("fast client's push %d: %s", i, f.raw)
		}
		v++
		length = len(chunk)
	}
	deadline := time.Now().Add(15 * time.Second)
	for n.Hub.Conns() != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if c := n.Hub.Conns(); c != 1 {
		t.Fatalf("the slow consumer was not disconnected (%d sockets)", c)
	}
	// The fast client is still served.
	send(t, fast, push("after", "wins", ep, v, fmt.Sprintf(`[[%d,"ok"]]`, length)))
	if f := next(t, fast, reply("after")); f.t() != "ack" {
		t.Fatalf("fast client after the disconnect: %s", f.raw)
	}
}

func TestShutdownClosesWith1001AfterInFlightWork(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{})
	r := n.CreateRoom(t, "checkin", "self")
	ws, w := dial(t, n, r.ID, r.Tokens["partner_a"])
	ep, v, _ := fieldOf(t, w, "wins")
	send(t, ws, push("first", "wins", ep, v, `[[0,"one more thing"]]`))
	next(t, ws, reply("first"))
	// A push racing the shutdown is either handled completely (stored and
	// acknowledged before the close) or not at all (the client resends it
	// after reconnecting): never stored without its ack.
	send(t, ws, push("last", "wins", ep, v+1, `[14,[0,"!"]]`))
	n.Stop()
	sawAck := false
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			ce, ok := err.(*websocket.CloseError)
			if !ok || ce.Code != 1001 {
				t.Fatalf("want close 1001, got %v", err)
			}
			break
		}
		if strings.Contains(string(b), `"re":"last"`) && strings.Contains(string(b), `"ack"`) {
			sawAck = true
		}
	}
	fs, err := n.Store.Fields(context.Background(), r.ID, []string{"wins"})
	if err != nil {
		t.Fatal(err)
	}
	switch got := fs["wins"].Text; {
	case got == "one more thing!" && sawAck:
	case got == "one more thing" && !sawAck:
	default:
		t.Fatalf("after shutdown: text %q, ack seen %v", got, sawAck)
	}
}

// A partner asking about the moderator's notes gets exactly the answer it
// gets about a field that does not exist, whatever it tries: the error says
// nothing about which private fields there are.
func TestModeratorFieldsLookUnknownToPartners(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{})
	r := n.CreateRoom(t, "betrayal", "guided")
	ws, w := dial(t, n, r.ID, r.Tokens["partner_a"])
	ep, _, _ := fieldOf(t, w, "ground_rules")
	answer := func(key string, msg map[string]any) string {
		send(t, ws, msg)
		f := next(t, ws, reply(msg["id"].(string)))
		s, _ := f.m["message"].(string)
		return fmt.Sprintf("%s %v: %s", f.t(), f.m["code"], strings.ReplaceAll(s, key, "KEY"))
	}
	for _, kind := range []string{"pull", "push"} {
		msg := func(id, key string) map[string]any {
			if kind == "push" {
				return push(id, key, ep, 0, `[[0,"x"]]`)
			}
			return map[string]any{"t": "pull", "id": id, "field": key, "epoch": ep, "since": 0}
		}
		private := answer("notes", msg(kind+"-notes", "notes"))
		madeUp := answer("no_such_field", msg(kind+"-made-up", "no_such_field"))
		if private != madeUp {
			t.Errorf("%s: the notes answer %q, a made-up field %q", kind, private, madeUp)
		}
	}
	// Nothing was stored for the made-up key, so deleting the room leaves
	// nothing of it behind.
	if n, err := rdb.Exists(context.Background(), "rr:{"+r.ID+"}:f:no_such_field").Result(); err != nil || n != 0 {
		t.Fatalf("a push to a made-up field created a Redis key (%d, %v)", n, err)
	}
}
