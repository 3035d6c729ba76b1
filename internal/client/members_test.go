package client

import (
	"encoding/json"
	"testing"
)

func TestApplyMembers(t *testing.T) {
	raws := func(ss ...string) []json.RawMessage {
		out := make([]json.RawMessage, len(ss))
		for i, s := range ss {
			out[i] = json.RawMessage(s)
		}
		return out
	}
	cur := json.RawMessage(`[{"id":"a","name":"Ann"},{"id":"b","name":"Bo"}]`)
	cases := []struct {
		name string
		f    serverFrame
		want string
	}{
		{"whole list replaces", serverFrame{Members: json.RawMessage(`[{"id":"c"}]`)}, `[{"id":"c"}]`},
		{"empty whole list", serverFrame{Members: json.RawMessage(`[]`)}, `[]`},
		{"joined", serverFrame{Joined: raws(`{"id":"c"}`)}, `[{"id":"a","name":"Ann"},{"id":"b","name":"Bo"},{"id":"c"}]`},
		{"left", serverFrame{Left: []string{"a", "zz"}}, `[{"id":"b","name":"Bo"}]`},
		{"changed", serverFrame{Changed: raws(`{"id":"b","name":"Bob"}`)}, `[{"id":"a","name":"Ann"},{"id":"b","name":"Bob"}]`},
		{"joined again is one", serverFrame{Joined: raws(`{"id":"a","name":"Ann"}`)}, `[{"id":"a","name":"Ann"},{"id":"b","name":"Bo"}]`},
	}
	for _, tc := range cases {
		if got := string(applyMembers(cur, tc.f)); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}
