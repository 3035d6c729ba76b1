package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	ics "github.com/arran4/golang-ical"

	"repairroom/internal/redistest"
	"repairroom/internal/store"
	"repairroom/internal/testnode"
)

// stepClock is a clock the test moves: log entries and events carry its
// time, so the timeline has distinct moments.
//
// A real clock (real: true) is the wall clock, and step only waits long
// enough for the next moment to have another millisecond: the store
// stamps snapshots with the wall clock, so a test of compacted history
// needs one clock for both.
type stepClock struct {
	mu   sync.Mutex
	now  time.Time
	real bool
}

func (c *stepClock) Now() time.Time {
	if c.real {
		return time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) step(d time.Duration) time.Time {
	if c.real {
		time.Sleep(3 * time.Millisecond)
		return time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// get fetches path with tok as a Bearer token (none when empty).
func get(t *testing.T, n *testnode.Node, path, tok string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, n.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func actOK(t *testing.T, ws *websocket.Conn, id string, a map[string]any) {
	t.Helper()
	a["t"], a["id"] = "act", id
	send(t, ws, a)
	if f := next(t, ws, reply(id)); f.t() != "ok" {
		t.Fatalf("act %s: %s", id, f.raw)
	}
}

// planSession is a guided betrayal room at its plan stage with the
// therapist's notes, a plan both signed, and two check-ins.
type planSession struct {
	n          *testnode.Node
	clock      *stepClock
	room       testnode.Room
	mod, a, b  *websocket.Conn
	epoch      string
	version    int64
	planPushes []time.Time // when each push to plan_steps was made
}

const therapistSecret = "therapist-only-9931"

func newPlanSession(t *testing.T, pushes int) *planSession {
	return newPlanSessionWith(t, pushes, &stepClock{now: time.Date(2026, 5, 4, 18, 0, 0, 0, time.UTC)}, nil)
}

// newPlanSessionWith is newPlanSession on clock, with store options.
func newPlanSessionWith(t *testing.T, pushes int, clock *stepClock, sopt *store.Options) *planSession {
	rdb := redistest.Client(t)
	n := testnode.Start(t, rdb, testnode.Options{Now: clock.Now, StoreOptions: sopt})
	s := &planSession{n: n, clock: clock, room: n.CreateRoom(t, "betrayal", "guided")}
	var w frame
	s.mod, w = dial(t, n, s.room.ID, s.room.Tokens["moderator"])
	s.a, _ = dial(t, n, s.room.ID, s.room.Tokens["partner_a"])
	s.b, _ = dial(t, n, s.room.ID, s.room.Tokens["partner_b"])
	ep, v, _ := fieldOf(t, w, "notes")
	send(t, s.mod, push("n1", "notes", ep, v, fmt.Sprintf(`[[0,%q]]`, therapistSecret)))
	next(t, s.mod, reply("n1"))
	clock.step(time.Second)
	actOK(t, s.mod, "r", map[string]any{"act": "roles.set", "roles": map[string]string{"hurt": "partner_b", "involved": "partner_a"}})
	clock.step(time.Second)
	actOK(t, s.mod, "s", map[string]any{"act": "stage.set", "stage": "plan"})
	s.epoch, s.version, _ = fieldOf(t, w, "plan_steps")
	for i := range pushes {
		at := clock.step(time.Second)
		id := fmt.Sprintf("p%d", i)
		changes := fmt.Sprintf(`[%d,[0,%q]]`, i, string(rune('a'+i%26)))
		if i == 0 {
			changes = `[[0,"a"]]`
		}
		send(t, s.a, push(id, "plan_steps", s.epoch, s.version, changes))
		if f := next(t, s.a, reply(id)); f.t() != "ack" && f.t() != "ok" {
			t.Fatalf("push %d: %s", i, f.raw)
		}
		s.version++
		if clock.real {
			at = time.Now() // after the ack: the entry is stamped before
		}
		s.planPushes = append(s.planPushes, at)
	}
	clock.step(time.Second)
	for _, ws := range []*websocket.Conn{s.a, s.b} {
		actOK(t, ws, "sign", map[string]any{"act": "sign", "field": "plan_steps", "version": s.version})
	}
	actOK(t, s.a, "ci", map[string]any{"act": "value.set", "field": "checkins", "value": []map[string]string{
		{"at": "2026-05-10T20:00:00+02:00", "title": "Sunday talk"}, {"at": "2026-05-17T19:30:00-04:00"},
	}})
	return s
}

func TestSummaryFilteredByTheTokensRole(t *testing.T) {
	s := newPlanSession(t, 3)
	path := "/api/rooms/" + s.room.ID + "/summary"
	for _, tc := range []struct {
		role   string
		secret bool
	}{{"moderator", true}, {"partner_a", false}, {"partner_b", false}} {
		code, body := get(t, s.n, path, s.room.Tokens[tc.role])
		if code != 200 || !strings.Contains(body, `"signedByBoth":true`) || !strings.Contains(body, "Sunday talk") {
			t.Fatalf("%s: %d %s", tc.role, code, body)
		}
		if strings.Contains(body, therapistSecret) != tc.secret {
			t.Errorf("%s: the therapist's notes present: %v", tc.role, !tc.secret)
		}
		code, md := get(t, s.n, path+".md", s.room.Tokens[tc.role])
		if code != 200 || strings.Contains(md, therapistSecret) != tc.secret || !strings.Contains(md, "**Signed by both.**") {
			t.Errorf("%s: Markdown %d:\n%s", tc.role, code, md)
		}
	}
	if code, _ := get(t, s.n, path, ""); code != http.StatusUnauthorized {
		t.Errorf("without a token: %d", code)
	}
	// A token in the query string is not how this API is asked.
	if code, _ := get(t, s.n, path+"?token="+s.room.Tokens["moderator"], ""); code != http.StatusUnauthorized {
		t.Errorf("token in the query: %d", code)
	}
	if code, _ := get(t, s.n, "/r/"+s.room.ID+"/summary", ""); code != 200 {
		t.Errorf("the summary page: %d", code)
	}
}

func TestCalendarDownloadParsesBackWithStableUIDs(t *testing.T) {
	s := newPlanSession(t, 2)
	path := "/api/rooms/" + s.room.ID + "/calendar.ics"
	var uids [2][]string
	for i := range uids {
		s.clock.step(time.Hour) // DTSTAMP moves; UIDs must not
		code, body := get(t, s.n, path, s.room.Tokens["partner_b"])
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		cal, err := ics.ParseCalendar(strings.NewReader(body))
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, body)
		}
		want := []time.Time{time.Date(2026, 5, 10, 18, 0, 0, 0, time.UTC), time.Date(2026, 5, 17, 23, 30, 0, 0, time.UTC)}
		evs := cal.Events()
		if len(evs) != len(want) {
			t.Fatalf("%d events", len(evs))
		}
		for j, ev := range evs {
			at, err := ev.GetStartAt()
			if err != nil || !at.Equal(want[j]) {
				t.Fatalf("event %d starts %v (%v), want %v", j, at, err, want[j])
			}
			uids[i] = append(uids[i], ev.Id())
		}
	}
	if strings.Join(uids[0], " ") != strings.Join(uids[1], " ") {
		t.Fatalf("UIDs changed between downloads: %v, %v", uids[0], uids[1])
	}
}

// TestTimelineMidSessionEqualsTheLogReplayed: the text the timeline gives
// at the moment of the k-th push is the log replayed to that version; a
// partner sees no timeline before the end.
func TestTimelineMidSessionEqualsTheLogReplayed(t *testing.T) {
	const pushes = 12
	s := newPlanSession(t, pushes)
	p, err := s.n.Store.Pull(context.Background(), s.room.ID, "plan_steps", s.epoch, 0)
	if err != nil || p.Reset || len(p.Entries) != pushes {
		t.Fatalf("pull: %v %+v", err, p)
	}
	path := "/api/rooms/" + s.room.ID + "/timeline"
	if code, _ := get(t, s.n, path, s.room.Tokens["partner_a"]); code != http.StatusForbidden {
		t.Fatalf("a partner before the end: %d", code)
	}
	for _, k := range []int{1, pushes / 2, pushes} {
		want, err := store.Replay("", p.Entries[:k])
		if err != nil {
			t.Fatal(err)
		}
		at := s.planPushes[k-1].Add(500 * time.Millisecond) // between two pushes
		code, body := get(t, s.n, fmt.Sprintf("%s?at=%d", path, at.UnixMilli()), s.room.Tokens["moderator"])
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		var fr struct {
			Moments []int64
			Scene   struct{ Stage string }
			Texts   map[string]struct {
				Version int64
				Text    string
				Authors map[string]int
			}
		}
		if err := json.Unmarshal([]byte(body), &fr); err != nil {
			t.Fatal(err)
		}
		got := fr.Texts["plan_steps"]
		if got.Version != int64(k) || got.Text != want || got.Authors["partner_a"] != k {
			t.Fatalf("at push %d: %+v, want %q", k, got, want)
		}
		if fr.Scene.Stage != "plan" || len(fr.Moments) < pushes {
			t.Fatalf("scene %+v with %d moments", fr.Scene, len(fr.Moments))
		}
		if !strings.Contains(fr.Texts["notes"].Text, therapistSecret) {
			t.Fatalf("the moderator's timeline lacks the notes")
		}
	}
	actOK(t, s.mod, "end", map[string]any{"act": "session.end"})
	code, body := get(t, s.n, path, s.room.Tokens["partner_a"])
	if code != 200 || strings.Contains(body, therapistSecret) || strings.Contains(body, `"notes"`) {
		t.Fatalf("a partner after the end: %d %s", code, body)
	}
}

func post(t *testing.T, n *testnode.Node, path, tok, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, n.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRetentionIsSeenByAllAndChangedByTheModerator(t *testing.T) {
	s := newPlanSession(t, 1)
	path := "/api/rooms/" + s.room.ID + "/retention"
	var r struct {
		KeptUntil time.Time
		MayChange bool
		MaxDays   int
	}
	code, body := get(t, s.n, path, s.room.Tokens["partner_a"])
	if err := json.Unmarshal([]byte(body), &r); code != 200 || err != nil || r.MayChange || r.MaxDays != 90 {
		t.Fatalf("a partner reads %d %s", code, body)
	}
	if d := r.KeptUntil.Sub(s.clock.Now()); d < 29*24*time.Hour || d > 30*24*time.Hour {
		t.Fatalf("kept for %s by default", d)
	}
	for _, tc := range []struct {
		role, body string
		code       int
		days       int
	}{
		{"partner_a", `{"days":3}`, http.StatusForbidden, 0},
		{"moderator", `{"days":0}`, http.StatusBadRequest, 0},
		{"moderator", `{"days":91}`, http.StatusBadRequest, 0},
		{"moderator", `days=3`, http.StatusBadRequest, 0},
		{"moderator", `{"days":3}`, 200, 3},
		{"moderator", `{"days":90}`, 200, 90},
	} {
		code, body := post(t, s.n, path, s.room.Tokens[tc.role], tc.body)
		if code != tc.code {
			t.Fatalf("%s %s: %d %s", tc.role, tc.body, code, body)
		}
		if tc.days == 0 {
			continue
		}
		_, body = get(t, s.n, path, s.room.Tokens["partner_b"])
		_ = json.Unmarshal([]byte(body), &r)
		want := time.Duration(tc.days) * 24 * time.Hour
		if d := r.KeptUntil.Sub(s.clock.Now()); d > want || d < want-time.Hour {
			t.Fatalf("after %d days: kept for %s", tc.days, d)
		}
	}
}

// TestTimelineReachesPastTheLogThroughSnapshots: with a log of 8 entries
// and a snapshot every 4 versions, 30 pushes leave only the last 8 in the
// log; a moment inside the log gives the exact text, an older one the
// nearest snapshot at or before it — never a text that did not exist then.
func TestTimelineReachesPastTheLogThroughSnapshots(t *testing.T) {
	opt := store.DefaultOptions()
	opt.Limits.LogEntries, opt.Limits.SnapshotEvery = 8, 4
	const pushes = 30
	s := newPlanSessionWith(t, pushes, &stepClock{real: true}, &opt)
	if p, err := s.n.Store.Pull(context.Background(), s.room.ID, "plan_steps", s.epoch, 0); err != nil || !p.Reset {
		t.Fatalf("the log still reaches version 0: %v %+v", err, p)
	}
	letters := func(v int64) string {
		var b strings.Builder
		for i := range v {
			b.WriteRune(rune('a' + i%26))
		}
		return b.String()
	}
	for _, tc := range []struct {
		k, want int64
		approx  bool
	}{{10, 8, true}, {4, 4, true}, {3, 0, true}, {27, 27, false}, {30, 30, false}} {
		at := s.planPushes[tc.k-1]
		code, body := get(t, s.n, fmt.Sprintf("/api/rooms/%s/timeline?at=%d", s.room.ID, at.UnixMilli()), s.room.Tokens["moderator"])
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		var fr struct {
			Texts map[string]struct {
				Version int64
				Text    string
				Approx  bool
			}
		}
		if err := json.Unmarshal([]byte(body), &fr); err != nil {
			t.Fatal(err)
		}
		got := fr.Texts["plan_steps"]
		if got.Version != tc.want || got.Text != letters(tc.want) || got.Approx != tc.approx {
			t.Fatalf("after push %d: version %d %q, want %d %q", tc.k, got.Version, got.Text, tc.want, letters(tc.want))
		}
	}
}
