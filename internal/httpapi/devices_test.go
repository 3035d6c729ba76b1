package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"

	"repairroom/internal/protocol"
	"repairroom/internal/redistest"
	"repairroom/internal/testnode"
)

// deviceSecret is a well-formed device secret (32+ base64url characters).
func deviceSecret(tag string) string { return tag + strings.Repeat("x", 40) }

// dialDevice opens a socket to the room as a browser with a device secret.
func dialDevice(t *testing.T, n *testnode.Node, roomID, tok, secret string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	return n.Dial(roomID, tok+"&device="+secret)
}

// deviceCall makes an authorised request to the device routes.
func deviceCall(t *testing.T, n *testnode.Node, method, path, tok, origin string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, n.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return doJSON(t, req, out)
}

type deviceList struct {
	Devices []struct{ ID, Seat, Name string }
}

// TestDeviceSecondDeviceAnnouncedListedAndRemoved: a partner's second
// browser is announced to every seat; the moderator lists and removes it;
// its socket closes 4003 and it is refused afterwards (upgrade, binding,
// way back), while the first browser stays; a partner may not list or
// remove devices.
func TestDeviceSecondDeviceAnnouncedListedAndRemoved(t *testing.T) {
	n := testnode.Start(t, redistest.Client(t), testnode.Options{})
	r := n.CreateRoom(t, "checkin", "guided")
	mod, _ := dial(t, n, r.ID, r.Tokens["moderator"])
	partnerB, _ := dial(t, n, r.ID, r.Tokens["partner_b"])

	first, second := deviceSecret("one"), deviceSecret("two")
	a1, _, err := dialDevice(t, n, r.ID, r.Tokens["partner_a"], first)
	if err != nil {
		t.Fatal(err)
	}
	defer a1.Close()
	next(t, a1, ofType("welcome"))
	a2, _, err := dialDevice(t, n, r.ID, r.Tokens["partner_a"], second)
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	next(t, a2, ofType("welcome"))

	for name, ws := range map[string]*websocket.Conn{"moderator": mod, "partner B": partnerB, "partner A's first browser": a1} {
		f := next(t, ws, ofType(protocol.TNotice))
		if f.m["kind"] != "device_new" || f.m["seat"] != "partner_a" {
			t.Fatalf("%s got %s", name, f.raw)
		}
	}

	var list deviceList
	if st := deviceCall(t, n, "GET", "/api/rooms/"+r.ID+"/devices", r.Tokens["moderator"], "", &list); st != http.StatusOK || len(list.Devices) != 2 {
		t.Fatalf("moderator's list: %d %+v", st, list)
	}
	newest := list.Devices[1].ID // ordered by seat, then first seen
	if st := deviceCall(t, n, "GET", "/api/rooms/"+r.ID+"/devices", r.Tokens["partner_b"], "", nil); st != http.StatusForbidden {
		t.Fatalf("a partner listed the devices of a guided room: %d", st)
	}
	refusals := []struct {
		name, tok, origin string
		status            int
	}{
		{"the other partner", r.Tokens["partner_b"], n.URL, http.StatusForbidden},
		{"the seat's own partner in a guided room", r.Tokens["partner_a"], n.URL, http.StatusForbidden},
		{"the moderator from another origin", r.Tokens["moderator"], "http://evil.example", http.StatusForbidden},
		{"no token", "", n.URL, http.StatusUnauthorized},
	}
	if st := deviceCall(t, n, "DELETE", "/api/rooms/"+r.ID+"/devices/not-a-device", r.Tokens["moderator"], n.URL, nil); st != http.StatusNotFound {
		t.Fatalf("removing a malformed device id: %d", st)
	}
	for _, tc := range refusals {
		if st := deviceCall(t, n, "DELETE", "/api/rooms/"+r.ID+"/devices/"+newest, tc.tok, tc.origin, nil); st != tc.status {
			t.Fatalf("removal by %s: %d, want %d", tc.name, st, tc.status)
		}
	}
	if st := deviceCall(t, n, "DELETE", "/api/rooms/"+r.ID+"/devices/"+newest, r.Tokens["moderator"], n.URL, nil); st != http.StatusNoContent {
		t.Fatalf("the moderator's removal: %d", st)
	}
	if code := closeCode(t, a2); code != protocol.CloseRevoked {
		t.Fatalf("the removed browser's socket closed with %d, want 4003", code)
	}
	// The first browser is still in the room.
	send(t, a1, map[string]any{"t": "act", "id": "still", "act": "stage.set", "stage": "nope"})
	next(t, a1, reply("still"))

	if _, resp, err := dialDevice(t, n, r.ID, r.Tokens["partner_a"], second); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the removed browser was let in again: %v", err)
	}
	resp, err := http.Get(n.URL + "/ws/rooms/" + r.ID + "?token=" + r.Tokens["partner_a"] + "&device=" + second)
	if err != nil {
		t.Fatal(err)
	}
	var probe struct{ Code string }
	_ = json.NewDecoder(resp.Body).Decode(&probe)
	resp.Body.Close()
	if probe.Code != "device_removed" {
		t.Fatalf("the probe of a removed browser: %d %q", resp.StatusCode, probe.Code)
	}
	req, _ := http.NewRequest("POST", n.URL+"/api/rooms/"+r.ID+"/device", strings.NewReader(`{"secret":"`+second+`"}`))
	req.Header.Set("Authorization", "Bearer "+r.Tokens["partner_a"])
	req.Header.Set("Origin", n.URL)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("the removed browser bound again: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", n.URL+"/api/rooms/"+r.ID+"/enter", strings.NewReader(`{"secret":"`+second+`"}`))
	req.Header.Set("Origin", n.URL)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&probe)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || probe.Code != "device_removed" {
		t.Fatalf("the way back let a removed browser in: %d %q", resp.StatusCode, probe.Code)
	}
	if st := deviceCall(t, n, "GET", "/api/rooms/"+r.ID+"/devices", r.Tokens["moderator"], "", &list); st != http.StatusOK || len(list.Devices) != 1 || list.Devices[0].ID == newest {
		t.Fatalf("the list after removal: %d %+v", st, list)
	}
}

// TestDeviceSelfGuidedOwnSeat: in a self-guided room each partner lists
// and removes their own seat's devices, never the other's.
func TestDeviceSelfGuidedOwnSeat(t *testing.T) {
	n := testnode.Start(t, redistest.Client(t), testnode.Options{})
	r := n.CreateRoom(t, "checkin", "self")
	b, _ := dial(t, n, r.ID, r.Tokens["partner_b"])
	var sockets []*websocket.Conn
	for _, s := range []string{deviceSecret("phone"), deviceSecret("laptop")} {
		ws, _, err := dialDevice(t, n, r.ID, r.Tokens["partner_a"], s)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		next(t, ws, ofType("welcome"))
		sockets = append(sockets, ws)
	}
	if f := next(t, b, ofType(protocol.TNotice)); f.m["seat"] != "partner_a" {
		t.Fatalf("partner B was told %s", f.raw)
	}
	var list deviceList
	if st := deviceCall(t, n, "GET", "/api/rooms/"+r.ID+"/devices", r.Tokens["partner_b"], "", &list); st != http.StatusOK || len(list.Devices) != 0 {
		t.Fatalf("partner B sees partner A's devices: %d %+v", st, list)
	}
	if st := deviceCall(t, n, "GET", "/api/rooms/"+r.ID+"/devices", r.Tokens["partner_a"], "", &list); st != http.StatusOK || len(list.Devices) != 2 {
		t.Fatalf("partner A's own list: %d %+v", st, list)
	}
	laptop := list.Devices[1].ID
	if st := deviceCall(t, n, "DELETE", "/api/rooms/"+r.ID+"/devices/"+laptop, r.Tokens["partner_b"], n.URL, nil); st != http.StatusForbidden {
		t.Fatalf("partner B removed partner A's device: %d", st)
	}
	if st := deviceCall(t, n, "DELETE", "/api/rooms/"+r.ID+"/devices/"+laptop, r.Tokens["partner_a"], n.URL, nil); st != http.StatusNoContent {
		t.Fatalf("partner A's own removal: %d", st)
	}
	if code := closeCode(t, sockets[1]); code != protocol.CloseRevoked {
		t.Fatalf("the removed laptop closed with %d", code)
	}
}
