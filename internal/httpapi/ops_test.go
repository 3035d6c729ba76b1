package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/redis/go-redis/v9"

	"repairroom/internal/limits"
	"repairroom/internal/realtime"
	"repairroom/internal/redistest"
	"repairroom/internal/testnode"
)

// With ALLOWED_ORIGINS set, only an origin on the list (scheme, host and
// port exactly) may upgrade; every other gets 403 before the upgrade.
func TestAllowListRefusesOthersBeforeUpgrade(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{AllowedOrigins: []string{"https://rooms.example.org"}})
	r := n.CreateRoom(t, "checkin", "self")
	cases := []struct {
		origin string
		ok     bool
	}{
		{"https://rooms.example.org", true},
		{"https://ROOMS.example.org:443", true}, // the same origin spelled out
		{"http://rooms.example.org", false},     // another scheme
		{"https://rooms.example.org:8443", false},
		{"https://rooms.example.org.evil.example", false},
		{"https://user@rooms.example.org", false},
		{"https://evil.example", false},
		{n.URL, false}, // the node's own origin is not on the list
		{"null", false},
		{"", false},
	}
	for _, c := range cases {
		ws, resp, err := n.DialOrigin(r.ID, r.Tokens["partner_a"], c.origin)
		if c.ok {
			if err != nil {
				t.Errorf("origin %q refused: %v", c.origin, err)
				continue
			}
			ws.Close()
			continue
		}
		if err == nil {
			ws.Close()
			t.Errorf("origin %q was let through", c.origin)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: want HTTP 403 before the upgrade, got %v", c.origin, resp)
		}
	}
}

// Without a list, the origin must be the one the request was addressed to:
// the app opened as http://127.0.0.1:PORT or by a host name both work, and
// X-Forwarded-Host from a client (no trusted proxy) changes nothing.
func TestSameOriginByRequestHost(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{})
	r := n.CreateRoom(t, "checkin", "self")
	port := n.URL[strings.LastIndex(n.URL, ":")+1:]
	cases := []struct {
		name   string
		origin string
		header http.Header
		ok     bool
	}{
		{"by address", n.URL, nil, true},
		{"by host name", "http://therapy.local:" + port, http.Header{"Host": {"therapy.local:" + port}}, true},
		{"other port", "http://127.0.0.1:1", nil, false},
		{"other scheme", "https://127.0.0.1:" + port, nil, false},
		{"user-info", "http://x@127.0.0.1:" + port, nil, false},
		{"forwarded host from a client", "http://evil.example", http.Header{"X-Forwarded-Host": {"evil.example"}}, false},
		{"forwarded proto from a client", "https://127.0.0.1:" + port, http.Header{"X-Forwarded-Proto": {"https"}}, false},
	}
	for _, c := range cases {
		h := http.Header{"Origin": {c.origin}}
		for k, v := range c.header {
			h[k] = v
		}
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
		ws, resp, err := d.Dial(n.WSURL(r.ID, r.Tokens["partner_a"]), h)
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case !c.ok && err == nil:
			t.Errorf("%s: let through", c.name)
		case !c.ok && (resp == nil || resp.StatusCode != http.StatusForbidden):
			t.Errorf("%s: want 403, got %v", c.name, resp)
		}
		if ws != nil {
			ws.Close()
		}
	}
}

// The room-creation limit is one budget for every node on the Redis.
func TestRoomLimitSharedAcrossNodes(t *testing.T) {
	rdb := redistest.Client(t)
	other := redis.NewClient(rdb.(*redis.Client).Options())
	t.Cleanup(func() { _ = other.Close() })
	n1 := testnode.Start(t, rdb, testnode.Options{CreatePerMin: 3})
	n2 := testnode.Start(t, other, testnode.Options{CreatePerMin: 3})
	var statuses []int
	var retry string
	for i, n := range []*testnode.Node{n1, n2, n1, n2} {
		resp, err := http.Post(n.URL+"/api/rooms", "application/json", strings.NewReader(`{"template":"checkin","mode":"self"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses = append(statuses, resp.StatusCode)
		if i == 3 {
			retry = resp.Header.Get("Retry-After")
		}
	}
	if want := []int{201, 201, 201, 429}; !equalInts(statuses, want) {
		t.Fatalf("statuses %v, want %v: each node counted on its own", statuses, want)
	}
	if retry == "" {
		t.Error("429 without Retry-After")
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Responses that carry tokens are never stored by a cache, and the page's
// CSP lets it connect only to its own origin.
func TestTokenResponsesAreNoStore(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{})
	resp, err := http.Post(n.URL+"/api/rooms", "application/json", strings.NewReader(`{"template":"checkin","mode":"self"}`))
	if err != nil {
		t.Fatal(err)
	}
	var room struct {
		ID    string
		Links []struct{ URL string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&room)
	resp.Body.Close()
	_, tok, _ := strings.Cut(room.Links[0].URL, "#t=")
	req, _ := http.NewRequest(http.MethodPost, n.URL+"/api/rooms/"+room.ID+"/rotate", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rot, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rot.Body.Close()
	page, err := http.Get(n.URL + "/r/" + room.ID)
	if err != nil {
		t.Fatal(err)
	}
	page.Body.Close()
	for name, r := range map[string]*http.Response{"create": resp, "rotate": rot, "page": page} {
		if r.StatusCode >= 300 {
			t.Errorf("%s: status %d", name, r.StatusCode)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", name, got)
		}
	}
	csp := page.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self';") || strings.Contains(csp, "ws:") {
		t.Errorf("CSP %q: want connect-src 'self' only", csp)
	}
}

// The access log writes the status that was sent, also when a handler
// returned an error the error handler turned into a response.
func TestAccessLogHasTheRealStatus(t *testing.T) {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{})
	for _, c := range []struct {
		path   string
		status int
	}{{"/no/such/page", 404}, {"/assets/nope.js", 404}, {"/healthz", 200}} {
		if got, err := n.HTTPGet(c.path); err != nil || got != c.status {
			t.Fatalf("GET %s: %d %v", c.path, got, err)
		}
	}
	logs := n.Log.String()
	if !strings.Contains(logs, "path=/no/such/page status=404") {
		t.Errorf("404 not logged as 404:\n%s", logs)
	}
	if !strings.Contains(logs, "path=/healthz status=200") {
		t.Errorf("200 not logged:\n%s", logs)
	}
}

// The welcome tells the client the limits the node runs with, so no client
// copies a number.
func TestWelcomeCarriesLimits(t *testing.T) {
	rdb := redistest.Client(t)
	l := limits.Default()
	l.MaxFieldUnits = 40000
	n := testnode.Start(t, rdb, testnode.Options{Realtime: realtime.Config{Limits: l}})
	r := n.CreateRoom(t, "checkin", "self")
	_, welcome := dial(t, n, r.ID, r.Tokens["partner_a"])
	var got struct {
		Limits limits.Client `json:"limits"`
	}
	if err := json.Unmarshal(welcome.raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Limits != l.ForClient() {
		t.Fatalf("welcome limits %+v, want %+v", got.Limits, l.ForClient())
	}
}
