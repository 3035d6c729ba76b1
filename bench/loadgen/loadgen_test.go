package main

import (
	"io"
	"net"
	"strings"
	"testing"
)

// These tests check the load generator's bookkeeping; none of them times
// anything (measurements belong in bench/RESULTS.md).

func TestParseClientID(t *testing.T) {
	for _, tc := range []struct {
		in       string
		idx, seq int
		ok       bool
	}{
		{"lg12.34", 12, 34, true},
		{"lg0.0", 0, 0, true},
		{"browser-1", 0, 0, false},
		{"lg12", 0, 0, false},
		{"lgx.1", 0, 0, false},
	} {
		idx, seq, ok := parseClientID(tc.in)
		if ok != tc.ok || (ok && (idx != tc.idx || seq != tc.seq)) {
			t.Errorf("parseClientID(%q) = %d, %d, %v; want %d, %d, %v", tc.in, idx, seq, ok, tc.idx, tc.seq, tc.ok)
		}
	}
	c := &client{idx: 7}
	if idx, seq, ok := parseClientID(c.clientID(9)); !ok || idx != 7 || seq != 9 {
		t.Errorf("clientID does not round-trip: %d %d %v", idx, seq, ok)
	}
}

func FuzzParseClientID(f *testing.F) {
	f.Add("lg1.2")
	f.Add("lg.")
	f.Fuzz(func(t *testing.T, s string) {
		idx, seq, ok := parseClientID(s)
		if ok && !strings.HasPrefix(s, "lg") {
			t.Fatalf("accepted %q as %d.%d", s, idx, seq)
		}
	})
}

func TestSplitNums(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []float64
	}{
		{"0.036+0.5/1.1/0+0.006", []float64{0.036, 0.5, 1.1, 0, 0.006}},
		{"0.018+1.2+0.003", []float64{0.018, 1.2, 0.003}},
		{"x+1", nil},
	} {
		got := splitNums(tc.in)
		if len(got) != len(tc.want) {
			t.Errorf("splitNums(%q) = %v, want %v", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("splitNums(%q) = %v, want %v", tc.in, got, tc.want)
			}
		}
	}
}

func TestCommandLineDropsMachinePaths(t *testing.T) {
	t.Setenv("LOADGEN_CMD_PREFIX", "bench/snapshot.sh abc123 --")
	got := commandLine([]string{"-server-bin", "/tmp/x/server", "-source", "commit abc", "-preset", "n1-300", "-out", "/home/me/repo/bench/results/i13/a.json"})
	want := "bench/snapshot.sh abc123 -- -preset n1-300 -out bench/results/i13/a.json"
	if got != want {
		t.Errorf("commandLine = %q, want %q", got, want)
	}
}

func TestSummarise(t *testing.T) {
	var xs []int64
	for i := int64(1); i <= 100; i++ {
		xs = append(xs, i*1e6)
	}
	d := summarise(xs)
	if d.N != 100 || d.P50 != 50 || d.P95 != 95 || d.P99 != 99 || d.Max != 100 {
		t.Errorf("summarise 1..100 ms = %+v", d)
	}
	if d := summarise(nil); d.N != 0 {
		t.Errorf("summarise(nil) = %+v", d)
	}
}

func TestTopCommandsOrdersByTimeAndSkipsIdle(t *testing.T) {
	a := redisCounters{perCmd: map[string][2]int64{"evalsha": {10, 100}, "ping": {5, 5}}}
	b := redisCounters{perCmd: map[string][2]int64{"evalsha": {30, 500}, "ping": {5, 5}, "publish": {20, 40}}}
	got := topCommands(a, b, 10)
	if len(got) != 2 || got[0].Command != "evalsha" || got[0].CallsPerKey != 2 || got[0].UsecPerKey != 40 || got[1].Command != "publish" {
		t.Errorf("topCommands = %+v", got)
	}
}

// The delay proxy must pass every byte, in order, both ways.
func TestDelayProxyPassesBytesInOrder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // echo server
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	p, err := startDelayProxy(ln.Addr().String(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	c, err := net.Dial("tcp", p.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var sent strings.Builder
	for i := 0; i < 2000; i++ {
		sent.WriteString("chunk ")
		sent.WriteByte(byte('a' + i%26))
	}
	go func() {
		_, _ = io.WriteString(c, sent.String())
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != sent.String() {
		t.Fatalf("proxy changed the stream: got %d bytes, sent %d", len(got), sent.Len())
	}
}
