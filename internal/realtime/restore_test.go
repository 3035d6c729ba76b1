package realtime

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"repairroom/internal/protocol"
	"repairroom/internal/room"
	"repairroom/internal/store"
)

// TestFieldSnapshotCarriesTheLineage: what welcome and reset send of a
// field names the epochs its text holds (newest first), and nothing for
// a field never moved.
func TestFieldSnapshotCarriesTheLineage(t *testing.T) {
	h := &Hub{}
	cases := []struct {
		from string
		want []protocol.Lineage
	}{
		{"", nil},
		{"e3:7", []protocol.Lineage{{Epoch: "e3", Version: 7}}},
		{"e3:7 e1:5", []protocol.Lineage{{Epoch: "e3", Version: 7}, {Epoch: "e1", Version: 5}}},
	}
	for _, tc := range cases {
		got := h.fieldSnapshot("r", "wins", store.Field{Epoch: "e4", Version: 7, Text: "t", From: tc.from})
		if got.Epoch != "e4" || got.Version != 7 || got.Text != "t" || !reflect.DeepEqual(got.Lineage, tc.want) {
			t.Errorf("from %q: %+v, want lineage %v", tc.from, got, tc.want)
		}
		b, _ := json.Marshal(got)
		var back protocol.FieldSnapshot
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("from %q: %s does not decode back (%v)", tc.from, b, err)
		}
	}
}

// A browser parses the room state and serialises it again before
// presenting it: key order, escapes and spacing may change. The server
// re-encodes what it is shown, so the hash it signed still matches.
func TestCanonicalStateSurvivesAReserialisation(t *testing.T) {
	at := time.Date(2026, 11, 30, 3, 4, 5, 678000000, time.UTC)
	s := room.State{
		Rev: 7, Template: "checkin", Mode: "guided", Stage: "hard",
		Locked:  map[string]bool{"wins": true},
		Floor:   room.PartnerA,
		Ready:   map[room.Role]bool{room.PartnerB: true},
		Values:  map[string]json.RawMessage{"safety": json.RawMessage(`7`), "feel": json.RawMessage(`["sad","<tired>"]`)},
		Signs:   map[string]map[room.Role]room.Mark{"agree": {room.PartnerA: {By: room.PartnerA, At: at, Version: 3}}},
		Names:   map[room.Role]string{room.PartnerA: "Ana & <Bo>", room.PartnerB: "Émile 👍🏽"},
		Started: at,
	}
	sent := mustJSON(s)
	variants := map[string][]byte{"as sent": sent}
	var generic map[string]any
	if err := json.Unmarshal(sent, &generic); err != nil {
		t.Fatal(err)
	}
	reordered, _ := json.Marshal(generic) // sorted keys, other escapes
	variants["reordered"] = reordered
	indented, _ := json.MarshalIndent(generic, "", "  ")
	variants["indented"] = indented
	variants["unescaped"] = []byte(`{"rev":7,"template":"checkin","mode":"guided","stage":"hard","locked":{"wins":true},"floor":"partner_a","ready":{"partner_b":true},"values":{"feel":["sad","<tired>"],"safety":7},"signs":{"agree":{"partner_a":{"by":"partner_a","at":"2026-11-30T03:04:05.678Z","version":3}}},"names":{"partner_a":"Ana & <Bo>","partner_b":"Émile 👍🏽"},"started":"2026-11-30T03:04:05.678Z"}`)
	for name, b := range variants {
		t.Run(name, func(t *testing.T) {
			_, canon, err := canonicalState(b)
			if err != nil {
				t.Fatal(err)
			}
			if string(canon) != string(sent) {
				t.Fatalf("canonical form differs:\n got %s\nwant %s", canon, sent)
			}
		})
	}
}
