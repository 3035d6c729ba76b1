package main

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"repairroom/internal/limits"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// The whole process as a user starts it (embedded store, no SECRET), then
// SIGTERM: open sockets are closed with 1001 and run returns cleanly.
func TestEmbeddedServerDrainsOnSIGTERM(t *testing.T) {
	port := freePort(t)
	env := map[string]string{"PORT": port, "REDIS_SERVER": "none"}
	logs := &strings.Builder{}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil))
	done := make(chan error, 1)
	go func() { done <- run(log, func(k string) string { return env[k] }) }()

	base := "http://127.0.0.1:" + port
	var resp *http.Response
	var err error
	for i := 0; i < 200; i++ {
		if resp, err = http.Get(base + "/readyz"); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", err, resp)
	}
	resp, err = http.Post(base+"/api/rooms", "application/json", strings.NewReader(`{"template":"checkin","mode":"self"}`))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create room: %v %v", err, resp)
	}
	var room struct {
		ID    string
		Links []struct{ URL string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&room)
	_, tok, _ := strings.Cut(room.Links[0].URL, "#t=")
	ws, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+port+"/ws/rooms/"+room.ID+"?token="+tok, http.Header{"Origin": {base}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, b, err := ws.ReadMessage(); err != nil || !strings.Contains(string(b), `"welcome"`) {
		t.Fatalf("welcome: %s %v", b, err)
	}

	// A push the server refuses, to be counted.
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"t":"push","id":"p1","field":"nope","epoch":"e","version":0,"updates":[{"clientID":"c","changes":[0]}]}`)); err != nil {
		t.Fatal(err)
	}
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for the refusal: %v", err)
		}
		if strings.Contains(string(b), `"re":"p1"`) {
			break
		}
	}

	// The node's metrics, as Prometheus scrapes them.
	mresp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(mresp.Body)
	mresp.Body.Close()
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	if f := fams["repairroom_rooms_created_total"]; f == nil || f.GetMetric()[0].GetCounter().GetValue() != 1 {
		t.Errorf("rooms created: %v", f)
	}
	if f := fams["repairroom_sockets"]; f == nil || f.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Errorf("sockets: %v", f)
	}
	refused := 0.0
	for _, m := range fams["repairroom_push_ack_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "outcome" && l.GetValue() == "refused" {
				refused = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	if refused != 1 {
		t.Errorf("refused pushes timed: %v", refused)
	}
	for _, name := range []string{"repairroom_redis_seconds", "repairroom_pushes_total", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// Profiles are never on the public listener (DEBUG_ADDR is their own).
	if presp, err := http.Get(base + "/debug/pprof/heap?debug=1"); err == nil {
		b, _ := io.ReadAll(presp.Body)
		presp.Body.Close()
		if strings.Contains(string(b), "heap profile") {
			t.Error("the public listener serves Go's profiles")
		}
	}

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 1001 {
			t.Fatalf("want close 1001, got %v", err)
		}
		break
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop after SIGTERM")
	}
	out := logs.String()
	for _, want := range []string{"EMBEDDED IN-MEMORY", "SECRET is not set"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks the warning %q", want)
		}
	}
	if strings.Contains(out, tok) {
		t.Error("the token appears in the log")
	}
}

func TestConfigRefusesBadValues(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		says string // the message names what is wrong
	}{
		{"port", map[string]string{"PORT": "eighty"}, "PORT"},
		{"secret", map[string]string{"SECRET": "short"}, "SECRET"},
		{"ttl", map[string]string{"ROOM_TTL": "5m"}, "ROOM_TTL"},
		{"proxies", map[string]string{"TRUSTED_PROXIES": "bogus"}, `TRUSTED_PROXIES: "bogus"`},
		{"origin not a url", map[string]string{"ALLOWED_ORIGINS": "notaurl"}, `ALLOWED_ORIGINS: "notaurl"`},
		{"origin with a path", map[string]string{"ALLOWED_ORIGINS": "https://a.example/app"}, "without a path"},
		{"origin with user-info", map[string]string{"ALLOWED_ORIGINS": "https://me@a.example"}, "user name"},
		{"log format", map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"limit not a number", map[string]string{"LIMIT_SOCKETS_PER_SEAT": "four"}, "LIMIT_SOCKETS_PER_SEAT"},
		{"limit negative", map[string]string{"LIMIT_RATE_PER_SECOND": "-1"}, "LIMIT_RATE_PER_SECOND"},
		{"limit duration", map[string]string{"LIMIT_PRESENCE_EVERY": "fast"}, "LIMIT_PRESENCE_EVERY"},
		{"limits contradict", map[string]string{"LIMIT_SOCKETS_PER_SEAT": "100"}, "SocketsPerSeat"},
		{"shutdown wait", map[string]string{"SHUTDOWN_WAIT": "soon"}, "SHUTDOWN_WAIT"},
		{"debug address not loopback", map[string]string{"DEBUG_ADDR": "0.0.0.0:6060"}, "DEBUG_ADDR"},
		{"debug address without a port", map[string]string{"DEBUG_ADDR": "127.0.0.1"}, "DEBUG_ADDR"},
	}
	for _, c := range cases {
		_, err := loadConfig(func(k string) string { return c.env[k] })
		if err == nil {
			t.Errorf("%s: accepted %v", c.name, c.env)
			continue
		}
		if !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: error %q does not say %q", c.name, err, c.says)
		}
	}
	c, err := loadConfig(func(k string) string {
		return map[string]string{
			"ALLOWED_ORIGINS": "https://A.example, https://b.example:8443/", "SECRET": strings.Repeat("ab", 32),
			"TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1", "LIMIT_SOCKETS_PER_SEAT": "2", "LIMIT_RATE_PER_SECOND": "12.5",
			"LIMIT_MEMBERS_EVERY": "1s", "ROOM_TTL": "48h", "LOG_FORMAT": "json", "HOST": "127.0.0.1", "PORT": "9000",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Secret) != 32 || c.Addr != "127.0.0.1:9000" || c.LogFormat != "json" || c.DataDir != "data" {
		t.Errorf("config %+v", c)
	}
	if want := []string{"https://a.example", "https://b.example:8443"}; strings.Join(c.AllowedOrigins, " ") != strings.Join(want, " ") {
		t.Errorf("origins %v, want %v", c.AllowedOrigins, want)
	}
	if len(c.TrustedProxies) != 2 {
		t.Errorf("proxies %v", c.TrustedProxies)
	}
	l := c.Limits
	if l.SocketsPerSeat != 2 || l.RatePerSecond != 12.5 || l.MembersEvery != time.Second || l.RoomTTL != 48*time.Hour {
		t.Errorf("limits from the environment not read: %+v", l)
	}
	if l.SocketsPerRoom != limits.Default().SocketsPerRoom {
		t.Errorf("an unset limit lost its default: %+v", l)
	}
	d, err := loadConfig(func(string) string { return "" })
	if err != nil || d.Addr != ":8080" || d.Limits != limits.Default() {
		t.Fatalf("zero configuration: %+v %v", d, err)
	}
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{
		"MaxMessageBytes":       "MAX_MESSAGE_BYTES",
		"RoomsPerAddrPerMinute": "ROOMS_PER_ADDR_PER_MINUTE",
		"RoomTTL":               "ROOM_TTL",
		"MaxRoomTTL":            "MAX_ROOM_TTL",
		"LogBytes":              "LOG_BYTES",
		"HTTPLimit":             "HTTP_LIMIT",
	} {
		if got := envName(in); got != want {
			t.Errorf("envName(%s) = %s, want %s", in, got, want)
		}
	}
}

// Every limit has a variable, and docs/operations.md names each one.
func TestEveryLimitIsConfigurableAndDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	envs := limitEnvs()
	if n := reflect.TypeOf(limits.Limits{}).NumField(); len(envs) != n {
		t.Fatalf("%d variables for %d limits", len(envs), n)
	}
	for _, e := range envs {
		if !strings.Contains(string(doc), "`"+e.Name+"`") {
			t.Errorf("docs/operations.md does not document %s", e.Name)
		}
		v := "7"
		if f, _ := reflect.TypeOf(limits.Limits{}).FieldByName(e.Field); f.Type == reflect.TypeOf(time.Duration(0)) {
			v = "2h"
		}
		l, errs := loadLimits(func(k string) string {
			if k == e.Name {
				return v
			}
			return ""
		})
		if len(errs) > 0 || reflect.ValueOf(l).FieldByName(e.Field).IsZero() {
			t.Errorf("%s=%s was not read: %v", e.Name, v, errs)
		}
	}
}

func TestStartURL(t *testing.T) {
	bound := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	for _, c := range []struct{ addr, want string }{
		{":8080", "http://localhost:8080/"},
		{"127.0.0.1:8080", "http://127.0.0.1:8080/"},
		{"0.0.0.0:8080", "http://localhost:8080/"},
		{"[::]:8080", "http://localhost:8080/"},
		{"[::1]:8080", "http://[::1]:8080/"},
		{"rooms.local:8080", "http://rooms.local:8080/"},
	} {
		if got := startURL(c.addr, bound); got != c.want {
			t.Errorf("startURL(%q) = %q, want %q", c.addr, got, c.want)
		}
	}
}

// A port already taken is an error, and nothing claims to be listening.
func TestListenFailureIsNotAnnounced(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	logs := &strings.Builder{}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil))
	env := map[string]string{"HOST": "127.0.0.1", "PORT": port, "REDIS_SERVER": "none"}
	err = run(log, func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "listening on 127.0.0.1:"+port) {
		t.Fatalf("run on a taken port: %v", err)
	}
	if strings.Contains(logs.String(), "is listening") {
		t.Fatalf("announced listening on a port it could not bind:\n%s", logs)
	}
}

func TestLogFormat(t *testing.T) {
	var b strings.Builder
	log, err := newLogger(&b, "json")
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello", "k", 1)
	var m map[string]any
	if err := json.Unmarshal([]byte(b.String()), &m); err != nil || m["msg"] != "hello" {
		t.Fatalf("json log line %q: %v", b.String(), err)
	}
	if _, err := newLogger(&b, "xml"); err == nil {
		t.Fatal("LOG_FORMAT=xml accepted")
	}
}

// DEBUG_ADDR serves Go's profiles on its own loopback listener (the
// public one never does: TestEmbeddedServerDrainsOnSIGTERM).
func TestDebugAddrServesProfilesOnlyThere(t *testing.T) {
	addr := "127.0.0.1:" + freePort(t)
	c, err := loadConfig(func(k string) string { return map[string]string{"DEBUG_ADDR": addr}[k] })
	if err != nil || c.DebugAddr != addr {
		t.Fatalf("config %+v %v", c, err)
	}
	stop, err := serveDebug(addr, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "heap profile") {
		t.Fatalf("heap profile: %d %.200s", resp.StatusCode, b)
	}
	if _, err := serveDebug(addr, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Error("a second listener on a busy DEBUG_ADDR did not fail")
	}
}
