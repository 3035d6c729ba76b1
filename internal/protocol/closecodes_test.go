package protocol

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite web/src/net/closecodes.ts from the Go table")

// closeCodesTS is where the browser client reads the close table.
var closeCodesTS = filepath.Join("..", "..", "web", "src", "net", "closecodes.ts")

// renderCloseCodesTS is the TypeScript module made from Closes.
func renderCloseCodesTS() string {
	var b strings.Builder
	b.WriteString(`// Code generated from internal/protocol's Closes by
// "go test ./internal/protocol -run TestCloseCodesTS -update". DO NOT EDIT.
// The close codes of docs/protocol.md and whether a client reconnects after each.

/** One close code: its stable name, whether to reconnect, the least pause before it. */
export interface CloseInfo {
  name: string;
  reconnect: boolean;
  pauseMs: number;
  meaning: string;
}

export const CLOSES: Readonly<Record<number, CloseInfo>> = {
`)
	for _, c := range Closes {
		fmt.Fprintf(&b, "  %d: { name: %q, reconnect: %t, pauseMs: %d, meaning: %q },\n", c.Code, c.Name, c.Reconnect, c.PauseMs, c.Meaning)
	}
	b.WriteString(`};

/** The entry of code; codes not listed (the network's 1006, a proxy's own) are reconnectable. */
export function closeInfo(code: number): CloseInfo {
  return CLOSES[code] ?? { name: "other", reconnect: true, pauseMs: 0, meaning: "" };
}
`)
	return b.String()
}

// The browser's close table is the Go table: a change to Closes without
// regenerating closecodes.ts fails here.
func TestCloseCodesTS(t *testing.T) {
	want := renderCloseCodesTS()
	if *update {
		if err := os.WriteFile(closeCodesTS, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(closeCodesTS)
	if err != nil {
		t.Fatalf("reading %s: %v (run with -update to create it)", closeCodesTS, err)
	}
	if string(got) != want {
		t.Fatalf("%s differs from protocol.Closes; run: go test ./internal/protocol -run TestCloseCodesTS -update", closeCodesTS)
	}
}

// docs/protocol.md lists every close code of the table.
func TestCloseCodesDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Closes {
		if !strings.Contains(string(doc), fmt.Sprintf("| %d | `%s` |", c.Code, c.Name)) {
			t.Errorf("docs/protocol.md has no row for close %d (%s)", c.Code, c.Name)
		}
	}
}

func TestCloseFor(t *testing.T) {
	cases := []struct {
		code      int
		reconnect bool
		name      string
	}{
		{CloseGoingAway, true, "going_away"},
		{CloseInternal, true, "internal"},
		{CloseBadToken, false, "bad_token"},
		{CloseRevoked, false, "revoked"},
		{CloseRoomDeleted, false, "room_deleted"},
		{CloseSlowConsumer, true, "slow_consumer"},
		{CloseFlood, true, "flood"},
		{1006, true, "other"},
	}
	for _, c := range cases {
		if got := CloseFor(c.code); got.Reconnect != c.reconnect || got.Name != c.name {
			t.Errorf("CloseFor(%d) = %+v, want reconnect %t name %s", c.code, got, c.reconnect, c.name)
		}
	}
	seen := map[int]bool{}
	for _, c := range Closes {
		if seen[c.Code] || c.Name == "" || c.Meaning == "" {
			t.Errorf("close %d: duplicate or undocumented", c.Code)
		}
		seen[c.Code] = true
	}
}
