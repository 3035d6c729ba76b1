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

// FuzzApplyMembers: a members frame from the server, whatever it holds,
// never panics the client and always leaves a JSON list.
func FuzzApplyMembers(f *testing.F) {
	f.Add([]byte(`[{"id":"a"}]`), []byte(`{"t":"members","joined":[{"id":"b"}],"left":["a"]}`))
	f.Add([]byte(`null`), []byte(`{"t":"members","members":[]}`))
	f.Add([]byte(`[1,"x",null]`), []byte(`{"t":"members","changed":[{"id":7}],"left":[]}`))
	f.Fuzz(func(t *testing.T, cur, raw []byte) {
		fr, err := decodeFrame(raw)
		if err != nil {
			return
		}
		out := applyMembers(cur, fr)
		if fr.Members == nil {
			var list []json.RawMessage
			if err := json.Unmarshal(out, &list); err != nil && string(out) != string(cur) {
				t.Fatalf("not a list: %s", out)
			}
		}
	})
}
