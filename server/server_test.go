package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
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
	env := map[string]string{"PORT": port}
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
	cases := map[string]map[string]string{
		"port":   {"PORT": "eighty"},
		"secret": {"SECRET": "short"},
		"ttl":    {"ROOM_TTL": "5m"},
	}
	for name, env := range cases {
		if _, err := loadConfig(func(k string) string { return env[k] }); err == nil {
			t.Errorf("%s: accepted %v", name, env)
		}
	}
	c, err := loadConfig(func(k string) string {
		return map[string]string{"ALLOWED_ORIGINS": "https://a.example, https://b.example", "SECRET": strings.Repeat("ab", 32)}[k]
	})
	if err != nil || len(c.AllowedOrigins) != 2 || len(c.Secret) != 32 || c.Addr != ":8080" {
		t.Fatalf("config %+v %v", c, err)
	}
}
