package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"repairroom/internal/redistest"
	"repairroom/internal/testnode"
)

func TestCreateRoom(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{CreatePerMin: 5})
	cases := []struct {
		name, body string
		status     int
		code       string
		links      int
	}{
		{"guided", `{"template":"betrayal","mode":"guided","names":{"partner_a":"Sam"}}`, 201, "", 3},
		{"self-guided", `{"template":"checkin","mode":"self"}`, 201, "", 2},
		{"unknown template", `{"template":"nope","mode":"self"}`, 400, "unknown_template", 0},
		{"bad mode", `{"template":"checkin","mode":"solo"}`, 400, "bad_mode", 0},
		{"not json", `template=checkin`, 400, "bad_json", 0},
		{"rate limited", `{"template":"checkin","mode":"self"}`, 429, "rate_limited", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(n.URL+"/api/rooms", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				Code  string
				Links []struct{ Role, Label, URL string }
			}
			_ = json.NewDecoder(resp.Body).Decode(&out)
			if resp.StatusCode != tc.status || out.Code != tc.code || len(out.Links) != tc.links {
				t.Fatalf("got %d %q with %d links, want %d %q with %d", resp.StatusCode, out.Code, len(out.Links), tc.status, tc.code, tc.links)
			}
			for _, l := range out.Links {
				if !strings.HasPrefix(l.URL, "/r/") || !strings.Contains(l.URL, "#t=") {
					t.Fatalf("link %q must carry its token in the fragment", l.URL)
				}
			}
			if tc.name == "guided" && out.Links[0].Label != "Sam" {
				t.Fatalf("partner A's link label %q, want the chosen name", out.Links[0].Label)
			}
		})
	}
}

func TestDeleteRoomRemovesEverything(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{})
	r := n.CreateRoom(t, "checkin", "guided")
	ws, _ := dial(t, n, r.ID, r.Tokens["partner_a"])
	del := func(tok string) int {
		req, _ := http.NewRequest(http.MethodDelete, n.URL+"/api/rooms/"+r.ID, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := del(r.Tokens["partner_b"]); got != http.StatusForbidden {
		t.Fatalf("a partner deleted a guided room: %d", got)
	}
	if got := del(r.Tokens["moderator"]); got != http.StatusNoContent {
		t.Fatalf("moderator delete: %d", got)
	}
	if code := closeCode(t, ws); code != 4004 {
		t.Fatalf("open socket closed with %d, want 4004", code)
	}
	// Only the tombstone stays (with the room's TTL): it tells a deleted
	// room from one whose data Redis lost.
	if keys := rdb.Keys(t.Context(), "rr:{"+r.ID+"}*").Val(); len(keys) != 1 || keys[0] != "rr:{"+r.ID+"}:deleted" {
		t.Fatalf("keys left: %v, want only the tombstone", keys)
	}
	if _, resp, err := n.Dial(r.ID, r.Tokens["partner_a"]); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("joining a deleted room: %v", resp)
	}
}

// Without a trusted proxy, X-Forwarded-For is the client's own words and
// must not let it escape the per-address room limit.
func TestRoomLimitIgnoresForwardedForFromClients(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{CreatePerMin: 2})
	statuses := []int{}
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest(http.MethodPost, n.URL+"/api/rooms", strings.NewReader(`{"template":"checkin","mode":"self"}`))
		req.Header.Set("X-Forwarded-For", "10.0.0."+string(rune('1'+i)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
	}
	if statuses[2] != http.StatusTooManyRequests {
		t.Fatalf("statuses %v: a forged X-Forwarded-For escaped the limit", statuses)
	}
}
