package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/redis/go-redis/v9"

	"repairroom/internal/auth"
	"repairroom/internal/checkpoint"
	"repairroom/internal/httpapi"
	"repairroom/internal/practice"
	"repairroom/internal/realtime"
	"repairroom/internal/redistest"
	"repairroom/internal/store"
	"repairroom/internal/templates"
	"repairroom/internal/testnode"
)

// practiceNode is a server node with the practice routes wired, on a
// real Redis.
type practiceNode struct {
	URL   string
	rdb   redis.UniversalClient
	prs   *practice.Store
	store *store.Store
}

func startPracticeNode(t *testing.T, trustedProxies ...string) *practiceNode {
	t.Helper()
	rdb := redistest.Client(t)
	tpls, err := templates.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := auth.NewSigner(testnode.Secret)
	if err != nil {
		t.Fatal(err)
	}
	cps, err := checkpoint.New(testnode.Secret)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := store.New(rdb, store.DefaultOptions())
	hub := realtime.New(st, log, realtime.Config{Checkpoints: cps}, nil)
	prs := practice.New(rdb, practice.Options{})
	app := httpapi.New(httpapi.Deps{
		Store: st, Hub: hub, Templates: tpls, Signer: signer, Log: log,
		Web:      fstest.MapFS{"index.html": {Data: []byte("<!doctype html><title>test</title>")}},
		TokenTTL: 24 * time.Hour, CreatePerMin: 1000, Practice: prs, TrustedProxies: trustedProxies,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = httpapi.Shutdown(ctx, app, hub)
	})
	return &practiceNode{URL: "http://" + ln.Addr().String(), rdb: rdb, prs: prs, store: st}
}

// newPractice creates a practice directly in the store (the passkey
// ceremony is the browser's part, tested in e2e/practice.test.mjs) and
// returns its id, a session cookie and its recovery code.
func (n *practiceNode) newPractice(t *testing.T, name string) (id, cookie, code string) {
	t.Helper()
	ctx := t.Context()
	id = practice.NewID(16)
	code = practice.NewRecoveryCode()
	p := &practice.Practice{ID: id, Name: name, Handle: []byte(id), Created: time.Now()}
	if err := n.prs.Create(ctx, p, webauthn.Credential{ID: []byte("cred-" + id)}, code); err != nil {
		t.Fatal(err)
	}
	cookie, err := n.prs.NewLogin(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return id, cookie, code
}

// call sends a request with the node's own Origin and the cookie (if
// any), and decodes a JSON answer into out (if given).
func (n *practiceNode) call(t *testing.T, method, path, cookie, body string, out any) int {
	t.Helper()
	return n.callOrigin(t, method, path, cookie, n.URL, body, out)
}

func (n *practiceNode) callOrigin(t *testing.T, method, path, cookie, origin, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, n.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "rr_practice", Value: cookie})
	}
	return doJSON(t, req, out)
}

// doJSON sends req and decodes a JSON answer into out (if given); returns
// the status.
func doJSON(t *testing.T, req *http.Request, out any) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", req.Method, req.URL.Path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

type caseloadResp struct {
	Couples []struct {
		ID       string
		Label    string
		Sessions []struct{ ID, Status string }
	}
}

// addCoupleAndSession makes a couple and one guided session; returns
// their ids and the session's links.
func (n *practiceNode) addCoupleAndSession(t *testing.T, cookie, label string) (couple, roomID string, links map[string]string) {
	t.Helper()
	var cp struct{ ID string }
	if st := n.call(t, "POST", "/api/practice/couples", cookie, `{"label":"`+label+`"}`, &cp); st != http.StatusCreated {
		t.Fatalf("add couple: %d", st)
	}
	var s struct {
		Session struct{ ID, Status string }
		Links   []struct{ Role, URL string }
	}
	if st := n.call(t, "POST", "/api/practice/couples/"+cp.ID+"/sessions", cookie, `{"template":"checkin","mode":"guided"}`, &s); st != http.StatusCreated {
		t.Fatalf("new session: %d", st)
	}
	links = map[string]string{}
	for _, l := range s.Links {
		_, tok, _ := strings.Cut(l.URL, "#t=")
		links[l.Role] = tok
	}
	if s.Session.Status != "not_started" || len(links) != 3 {
		t.Fatalf("new session %+v with links %v", s.Session, links)
	}
	return cp.ID, s.Session.ID, links
}

func TestPracticeSessionCookies(t *testing.T) {
	n := startPracticeNode(t)
	ctx := t.Context()
	id, cookie, _ := n.newPractice(t, "Dr One")
	other, otherCookie, _ := n.newPractice(t, "Dr Two")
	_, secret, _ := strings.Cut(cookie, ".")
	_, otherSecret, _ := strings.Cut(otherCookie, ".")

	expired, err := n.prs.NewLogin(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// Expire it the way Redis does when the session is idle too long.
	for _, k := range n.rdb.Keys(ctx, "pr:{"+id+"}:login:*").Val() {
		if strings.HasSuffix(k, sha(expired)) {
			n.rdb.PExpire(ctx, k, time.Millisecond)
		}
	}
	signedOut, err := n.prs.NewLogin(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st := n.call(t, "POST", "/api/practice/signout", signedOut, "", nil); st != http.StatusNoContent {
		t.Fatalf("sign out: %d", st)
	}
	waitGone(t, n.rdb, "pr:{"+id+"}:login:"+sha(expired))

	cases := []struct {
		name, cookie string
		status       int
	}{
		{"valid", cookie, http.StatusOK},
		{"none", "", http.StatusUnauthorized},
		{"forged", id + "." + practice.NewID(32), http.StatusUnauthorized},
		{"expired", expired, http.StatusUnauthorized},
		{"signed out", signedOut, http.StatusUnauthorized},
		{"other practice's secret", id + "." + otherSecret, http.StatusUnauthorized},
		{"secret moved to another practice", other + "." + secret, http.StatusUnauthorized},
		{"malformed", "not-a-cookie", http.StatusUnauthorized},
		{"other practice, its own cookie", otherCookie, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var me struct{ Name string }
			if st := n.call(t, "GET", "/api/practice/me", tc.cookie, "", &me); st != tc.status {
				t.Fatalf("status %d, want %d", st, tc.status)
			}
		})
	}
}

func TestPracticeCookieAttributes(t *testing.T) {
	n := startPracticeNode(t)
	_, cookie, _ := n.newPractice(t, "Dr One")
	req, _ := http.NewRequest("GET", n.URL+"/api/practice/me", nil)
	req.AddCookie(&http.Cookie{Name: "rr_practice", Value: cookie})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	set := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"rr_practice=" + cookie, "HttpOnly", "SameSite=Strict", "max-age=1800"} {
		if !strings.Contains(strings.ToLower(set), strings.ToLower(want)) {
			t.Fatalf("renewed cookie %q lacks %q", set, want)
		}
	}
	if strings.Contains(strings.ToLower(set), "secure") {
		t.Fatalf("cookie %q is Secure on plain HTTP (the browser would drop it)", set)
	}
}

func TestPracticeCrossOriginRefused(t *testing.T) {
	n := startPracticeNode(t)
	_, cookie, code := n.newPractice(t, "Dr One")
	cases := []struct {
		name, method, path, origin, body string
		status                           int
	}{
		{"add couple from elsewhere", "POST", "/api/practice/couples", "http://evil.example", `{"label":"x"}`, http.StatusForbidden},
		{"add couple without Origin", "POST", "/api/practice/couples", "", `{"label":"x"}`, http.StatusForbidden},
		{"delete practice from elsewhere", "DELETE", "/api/practice", "http://evil.example", "", http.StatusForbidden},
		{"recover from elsewhere", "POST", "/api/practice/recover", "http://evil.example", `{"code":"` + code + `"}`, http.StatusForbidden},
		{"sign-up from elsewhere", "POST", "/api/practice/signup/begin", "http://evil.example", `{"name":"x"}`, http.StatusForbidden},
		{"sign out from elsewhere", "POST", "/api/practice/signout", "http://evil.example", "", http.StatusForbidden},
		{"same origin", "POST", "/api/practice/couples", n.URL, `{"label":"x"}`, http.StatusCreated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if st := n.callOrigin(t, tc.method, tc.path, cookie, tc.origin, tc.body, nil); st != tc.status {
				t.Fatalf("status %d, want %d", st, tc.status)
			}
		})
	}
	var me struct{ Name string }
	if st := n.call(t, "GET", "/api/practice/me", cookie, "", &me); st != http.StatusOK {
		t.Fatalf("the refused requests changed the practice: %d", st)
	}
}

func TestPracticeRecoveryCodeWorksOnce(t *testing.T) {
	n := startPracticeNode(t)
	_, _, code := n.newPractice(t, "Dr One")
	var first struct{ RecoveryCode string }
	// Typed in lower case without dashes: still the code.
	typed := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	if st := n.call(t, "POST", "/api/practice/recover", "", `{"code":"`+typed+`"}`, &first); st != http.StatusOK {
		t.Fatalf("first use: %d", st)
	}
	if first.RecoveryCode == "" || first.RecoveryCode == code {
		t.Fatalf("recovery must hand out a new code, got %q", first.RecoveryCode)
	}
	if st := n.call(t, "POST", "/api/practice/recover", "", `{"code":"`+code+`"}`, nil); st != http.StatusUnauthorized {
		t.Fatalf("second use of the same code: %d, want 401", st)
	}
	if st := n.call(t, "POST", "/api/practice/recover", "", `{"code":"`+first.RecoveryCode+`"}`, nil); st != http.StatusOK {
		t.Fatalf("the new code: %d", st)
	}
	if st := n.call(t, "POST", "/api/practice/recover", "", `{"code":"AAAA-BBBB-CCCC-DDDD-EEEE"}`, nil); st != http.StatusUnauthorized {
		t.Fatalf("a made-up code: %d", st)
	}
	// Only hashes are stored.
	for _, k := range n.rdb.Keys(t.Context(), "*").Val() {
		if strings.Contains(k, normalized(first.RecoveryCode)) {
			t.Fatalf("key %q holds the code in the clear", k)
		}
	}
}

func TestPracticeSeesOnlyItsOwn(t *testing.T) {
	n := startPracticeNode(t)
	_, one, _ := n.newPractice(t, "Dr One")
	_, two, _ := n.newPractice(t, "Dr Two")
	coupleOne, roomOne, _ := n.addCoupleAndSession(t, one, "Couple of one")
	coupleTwo, _, _ := n.addCoupleAndSession(t, two, "Couple of two")

	var cl caseloadResp
	if st := n.call(t, "GET", "/api/practice/caseload", two, "", &cl); st != http.StatusOK {
		t.Fatal(st)
	}
	if len(cl.Couples) != 1 || cl.Couples[0].Label != "Couple of two" || len(cl.Couples[0].Sessions) != 1 {
		t.Fatalf("practice two sees %+v", cl.Couples)
	}
	var status struct{ Rooms map[string]any }
	n.call(t, "GET", "/api/practice/status", two, "", &status)
	if _, ok := status.Rooms[roomOne]; ok || len(status.Rooms) != 1 {
		t.Fatalf("practice two's status lists %v", status.Rooms)
	}
	cases := []struct{ method, path, body string }{
		{"GET", "/api/practice/sessions/" + roomOne + "/links", ""},
		{"POST", "/api/practice/sessions/" + roomOne + "/rotate", ""},
		{"DELETE", "/api/practice/sessions/" + roomOne, ""},
		{"DELETE", "/api/practice/couples/" + coupleOne, ""},
		{"POST", "/api/practice/couples/" + coupleOne + "/sessions", `{"template":"checkin","mode":"guided"}`},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			if st := n.call(t, tc.method, tc.path, two, tc.body, nil); st != http.StatusNotFound {
				t.Fatalf("practice two on practice one's data: %d, want 404", st)
			}
		})
	}
	// Nor can practice two carry practice one's agreements into its room.
	if st := n.call(t, "POST", "/api/practice/couples/"+coupleTwo+"/sessions", two, `{"template":"checkin","mode":"guided","from":"`+roomOne+`"}`, nil); st != http.StatusBadRequest {
		t.Fatalf("carrying from another practice's room: %d, want 400", st)
	}
	if _, err := n.store.Meta(t.Context(), roomOne); err != nil {
		t.Fatalf("practice one's room after practice two's attempts: %v", err)
	}
	var links struct{ Links []struct{ Role, URL string } }
	if st := n.call(t, "GET", "/api/practice/sessions/"+roomOne+"/links", one, "", &links); st != http.StatusOK || len(links.Links) != 3 {
		t.Fatalf("practice one's own links: %d %v", st, links)
	}
}

// A replaced link stops working; the links the caseload mints afterwards
// work (the practice keeps no token, only the ingredients).
func TestPracticeRotateAndRemint(t *testing.T) {
	n := startPracticeNode(t)
	_, cookie, _ := n.newPractice(t, "Dr One")
	_, roomID, links := n.addCoupleAndSession(t, cookie, "C")
	var rot struct{ Links []struct{ Role, URL string } }
	if st := n.call(t, "POST", "/api/practice/sessions/"+roomID+"/rotate", cookie, "", &rot); st != http.StatusOK {
		t.Fatal(st)
	}
	var again struct{ Links []struct{ Role, URL string } }
	n.call(t, "GET", "/api/practice/sessions/"+roomID+"/links", cookie, "", &again)
	cases := []struct {
		name, url string
		status    int
	}{
		{"old link", "/r/" + roomID + "#t=" + links["partner_a"], http.StatusUnauthorized},
		{"link from rotate", rot.Links[0].URL, http.StatusUpgradeRequired},
		{"link minted again", again.Links[0].URL, http.StatusUpgradeRequired},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, tok, _ := strings.Cut(tc.url, "#t=")
			resp, err := http.Get(n.URL + "/ws/rooms/" + roomID + "?token=" + tok)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestPracticeExportAndDeleteLeaveNoKey(t *testing.T) {
	n := startPracticeNode(t)
	ctx := t.Context()
	id, cookie, _ := n.newPractice(t, "Dr One")
	if _, err := n.prs.NewLogin(ctx, id); err != nil { // a second device's session
		t.Fatal(err)
	}
	coupleA, roomA, _ := n.addCoupleAndSession(t, cookie, "Couple A")
	_, roomB, _ := n.addCoupleAndSession(t, cookie, "Couple B")

	var exp struct {
		Practice struct{ ID, Name string }
		Couples  []struct{ Label string }
		Rooms    []struct{ ID, Couple string }
	}
	if st := n.call(t, "GET", "/api/practice/export", cookie, "", &exp); st != http.StatusOK {
		t.Fatal(st)
	}
	if exp.Practice.Name != "Dr One" || len(exp.Couples) != 2 || len(exp.Rooms) != 2 {
		t.Fatalf("export %+v", exp)
	}

	// Deleting a couple deletes its rooms and every key of them.
	if st := n.call(t, "DELETE", "/api/practice/couples/"+coupleA, cookie, "", nil); st != http.StatusNoContent {
		t.Fatal(st)
	}
	if left := roomKeys(t, n.rdb, roomA); len(left) != 0 {
		t.Fatalf("keys of the deleted couple's room: %v", left)
	}
	if len(roomKeys(t, n.rdb, roomB)) == 0 {
		t.Fatal("the other couple's room went too")
	}

	if st := n.call(t, "DELETE", "/api/practice", cookie, "", nil); st != http.StatusNoContent {
		t.Fatal(st)
	}
	var all []string
	iter := n.rdb.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		all = append(all, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	for _, k := range all {
		// The store's tombstones (rr:{room}:deleted) stay, by design, so
		// a deleted room reads as deleted rather than lost; they hold
		// nothing and expire with the room TTL. The rate limiter's
		// per-address counters are not the practice's either.
		if strings.HasSuffix(k, ":deleted") || strings.Contains(k, "rl:") || strings.HasPrefix(k, "rate") {
			continue
		}
		t.Errorf("key left after deleting the practice: %s", k)
	}
	if st := n.call(t, "GET", "/api/practice/me", cookie, "", nil); st != http.StatusUnauthorized {
		t.Fatalf("the deleted practice's cookie still works: %d", st)
	}
}

// roomKeys are a room's keys other than its tombstone.
func roomKeys(t *testing.T, rdb redis.UniversalClient, id string) []string {
	var out []string
	for _, k := range rdb.Keys(t.Context(), "rr:{"+id+"}*").Val() {
		if !strings.HasSuffix(k, ":deleted") {
			out = append(out, k)
		}
	}
	return out
}

// sha is the hash a session cookie's key is named by.
func sha(cookie string) string {
	_, secret, _ := strings.Cut(cookie, ".")
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// normalized is a recovery code as stored before hashing.
func normalized(code string) string { return strings.ReplaceAll(code, "-", "") }

// waitGone waits until Redis has expired key (a liveness bound).
func waitGone(t *testing.T, rdb redis.UniversalClient, key string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if rdb.Exists(t.Context(), key).Val() == 0 {
			return
		}
	}
	t.Fatalf("%s did not expire", key)
}

func TestPracticeEndSession(t *testing.T) {
	n := startPracticeNode(t)
	_, cookie, _ := n.newPractice(t, "Dr One")
	_, roomID, _ := n.addCoupleAndSession(t, cookie, "C")
	steps := []struct {
		name   string
		status int
		shown  string
	}{
		{"end", http.StatusNoContent, "ended"},
		{"end again", http.StatusConflict, "ended"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if st := n.call(t, "POST", "/api/practice/sessions/"+roomID+"/end", cookie, "", nil); st != s.status {
				t.Fatalf("status %d, want %d", st, s.status)
			}
			var cl caseloadResp
			n.call(t, "GET", "/api/practice/caseload", cookie, "", &cl)
			if got := cl.Couples[0].Sessions[0].Status; got != s.shown {
				t.Fatalf("caseload shows %q, want %q", got, s.shown)
			}
		})
	}
}

// The way back: a seat bound to a browser's device secret enters again
// without its link, until the links are replaced or the room is deleted.
func TestPracticeWayBackForPartners(t *testing.T) {
	n := startPracticeNode(t)
	ctx := t.Context()
	_, cookie, _ := n.newPractice(t, "Dr One")
	_, roomID, links := n.addCoupleAndSession(t, cookie, "C")
	secret := strings.Repeat("s", 20) + practice.NewID(16)
	bind := func(tok, origin, body string) int {
		req, _ := http.NewRequest("POST", n.URL+"/api/rooms/"+roomID+"/device", strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	enter := func(s string) (int, string, string) {
		var out struct{ Token, Role, Code string }
		st := n.call(t, "POST", "/api/rooms/"+roomID+"/enter", "", `{"secret":"`+s+`"}`, &out)
		return st, out.Token, out.Role + out.Code
	}
	binds := []struct {
		name, tok, origin, body string
		status                  int
	}{
		{"from another origin", links["partner_a"], "http://evil.example", `{"secret":"` + secret + `"}`, http.StatusForbidden},
		{"without a token", "", n.URL, `{"secret":"` + secret + `"}`, http.StatusUnauthorized},
		{"a short secret", links["partner_a"], n.URL, `{"secret":"short"}`, http.StatusBadRequest},
		{"partner A's browser", links["partner_a"], n.URL, `{"secret":"` + secret + `"}`, http.StatusOK},
	}
	for _, tc := range binds {
		t.Run("bind "+tc.name, func(t *testing.T) {
			if st := bind(tc.tok, tc.origin, tc.body); st != tc.status {
				t.Fatalf("status %d, want %d", st, tc.status)
			}
		})
	}
	st, tok, role := enter(secret)
	if st != http.StatusOK || role != "partner_a" {
		t.Fatalf("enter: %d %q", st, role)
	}
	resp, err := http.Get(n.URL + "/ws/rooms/" + roomID + "?token=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("the token from enter does not open the room: %d", resp.StatusCode)
	}
	if st, _, code := enter(strings.Repeat("x", 40)); st != http.StatusUnauthorized || code != "unknown_device" {
		t.Fatalf("an unknown browser: %d %s", st, code)
	}
	key := "rr:{" + roomID + "}:dev"
	if ttl := n.rdb.PTTL(ctx, key).Val(); ttl <= 0 {
		t.Fatalf("the binding must expire with the room; TTL %v", ttl)
	}
	if st := n.call(t, "POST", "/api/practice/sessions/"+roomID+"/rotate", cookie, "", nil); st != http.StatusOK {
		t.Fatal(st)
	}
	if st, _, code := enter(secret); st != http.StatusUnauthorized || code != "revoked" {
		t.Fatalf("after the links were replaced: %d %s", st, code)
	}
	if st := n.call(t, "DELETE", "/api/practice/sessions/"+roomID, cookie, "", nil); st != http.StatusNoContent {
		t.Fatal(st)
	}
	if n.rdb.Exists(ctx, key).Val() != 0 {
		t.Fatal("the device bindings outlived the room")
	}
}

// Behind a trusted proxy that says the request came over HTTPS the cookie
// is Secure; the same header from anyone else changes nothing.
func TestPracticeCookieSecureBehindTrustedProxy(t *testing.T) {
	cases := []struct {
		name    string
		trusted []string
		secure  bool
	}{
		{"trusted proxy says https", []string{"127.0.0.1"}, true},
		{"untrusted client says https", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := startPracticeNode(t, tc.trusted...)
			_, cookie, _ := n.newPractice(t, "Dr One")
			req, _ := http.NewRequest("GET", n.URL+"/api/practice/me", nil)
			req.Header.Set("X-Forwarded-Proto", "https")
			req.AddCookie(&http.Cookie{Name: "rr_practice", Value: cookie})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			set := strings.ToLower(resp.Header.Get("Set-Cookie"))
			if got := strings.Contains(set, "; secure"); got != tc.secure {
				t.Fatalf("Set-Cookie %q: secure %v, want %v", set, got, tc.secure)
			}
		})
	}
}

// dialPractice opens a room's WebSocket on the practice node with its own
// Origin and returns the socket and its welcome.
func (n *practiceNode) dial(t *testing.T, roomID, tok string) (*websocket.Conn, frame) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	h := http.Header{}
	h.Set("Origin", n.URL)
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(n.URL, "http")+"/ws/rooms/"+roomID+"?token="+tok, h)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws, next(t, ws, ofType("welcome"))
}

// Carrying over keeps exactly what both partners agreed on: an agreement
// both signed (with the signs), never one signed by one partner only, and
// never a partner's private line to the therapist.
func TestPracticeCarriesOnlyWhatBothSigned(t *testing.T) {
	n := startPracticeNode(t)
	_, cookie, _ := n.newPractice(t, "Dr One")
	var cp struct{ ID string }
	n.call(t, "POST", "/api/practice/couples", cookie, `{"label":"C","names":{"partner_a":"Sam","partner_b":"Jo"}}`, &cp)
	session := func(from string) (string, map[string]string) {
		var s struct {
			Session struct{ ID string }
			Links   []struct{ Role, URL string }
		}
		if st := n.call(t, "POST", "/api/practice/couples/"+cp.ID+"/sessions", cookie, `{"template":"betrayal","mode":"guided","from":"`+from+`"}`, &s); st != http.StatusCreated {
			t.Fatalf("new session: %d", st)
		}
		toks := map[string]string{}
		for _, l := range s.Links {
			_, tok, _ := strings.Cut(l.URL, "#t=")
			toks[l.Role] = tok
		}
		return s.Session.ID, toks
	}
	first, toks := session("")
	a, wa := n.dial(t, first, toks["partner_a"])
	b, _ := n.dial(t, first, toks["partner_b"])
	write := func(id, field, text string) int64 {
		ep, v, _ := fieldOf(t, wa, field)
		send(t, a, push(id, field, ep, v, fmt.Sprintf(`[[0,%q]]`, text)))
		next(t, a, reply(id))
		return v + 1
	}
	signedWords, halfWords, privateWords := "We speak one at a time.", "We never raise our voices.", "only-for-the-therapist-5521"
	sign := func(ws *websocket.Conn, id, field string, version int64) {
		send(t, ws, map[string]any{"t": "act", "id": id, "act": "sign", "field": field, "version": version})
		if r := next(t, ws, reply(id)); r.t() != "ok" {
			t.Fatalf("sign %s: %s", field, r.raw)
		}
	}
	vSigned := write("p1", "ground_rules", signedWords)
	sign(a, "s1", "ground_rules", vSigned)
	sign(b, "s2", "ground_rules", vSigned)
	write("p3", "private_a", privateWords)
	m, _ := n.dial(t, first, toks["moderator"])
	for i, act := range []map[string]any{
		{"act": "roles.set", "roles": map[string]any{"hurt": "partner_b", "involved": "partner_a"}},
		{"act": "stage.set", "stage": "openness"},
	} {
		id := fmt.Sprintf("m%d", i)
		act["t"], act["id"] = "act", id
		send(t, m, act)
		if r := next(t, m, reply(id)); r.t() != "ok" {
			t.Fatalf("%s: %s", act["act"], r.raw)
		}
	}
	sign(a, "s3", "transparency", write("p2", "transparency", halfWords)) // B never signs it
	second, toks2 := session(first)
	_, w := n.dial(t, second, toks2["partner_b"])
	var st struct {
		Carried struct {
			From   string
			Fields []struct {
				ID    string
				Text  *string
				Signs []struct{ By string }
			}
		}
	}
	roomJSON, _ := json.Marshal(w.m["room"])
	if err := json.Unmarshal(roomJSON, &st); err != nil {
		t.Fatal(err)
	}
	raw := string(w.raw)
	if st.Carried.From != first || len(st.Carried.Fields) != 1 || st.Carried.Fields[0].ID != "ground_rules" ||
		st.Carried.Fields[0].Text == nil || *st.Carried.Fields[0].Text != signedWords || len(st.Carried.Fields[0].Signs) != 2 {
		t.Fatalf("carried: %+v", st.Carried)
	}
	for _, never := range []string{halfWords, privateWords} {
		if strings.Contains(raw, never) {
			t.Fatalf("the new room's welcome carries %q", never)
		}
	}
}

// TestPracticeFinishRefusals covers the start both passkey finishes share:
// a body that is not JSON, an answer that is not a passkey (which still
// spends the ceremony) and a ceremony finished a second time.
func TestPracticeFinishRefusals(t *testing.T) {
	// A passkey's relying party needs a host name, not an IP address.
	n := *startPracticeNode(t)
	n.URL = strings.Replace(n.URL, "127.0.0.1", "localhost", 1)
	for _, kind := range []string{"signup", "signin"} {
		t.Run(kind, func(t *testing.T) {
			var e struct{ Code string }
			if st := n.call(t, "POST", "/api/practice/"+kind+"/finish", "", `{`, &e); st != http.StatusBadRequest || e.Code != "bad_json" {
				t.Fatalf("bad body: %d %q, want 400 bad_json", st, e.Code)
			}
			var begun struct{ Ceremony string }
			if st := n.call(t, "POST", "/api/practice/"+kind+"/begin", "", `{"name":"Test practice"}`, &begun); st != http.StatusOK || begun.Ceremony == "" {
				t.Fatalf("begin: %d %+v", st, begun)
			}
			body := fmt.Sprintf(`{"ceremony":%q,"credential":{"id":"x"}}`, begun.Ceremony)
			for _, want := range []string{"passkey", "expired"} {
				e.Code = ""
				if st := n.call(t, "POST", "/api/practice/"+kind+"/finish", "", body, &e); st != http.StatusBadRequest || e.Code != want {
					t.Fatalf("finish: %d %q, want 400 %s", st, e.Code, want)
				}
			}
		})
	}
}
