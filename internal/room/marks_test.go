package room

import (
	"encoding/json"
	"os"
	"testing"
)

// markCase is one line of testdata/marks.json, the table the web page's
// markCounts (web/src/perm.ts) is tested against too: one rule, one table.
type markCase struct {
	Why    string `json:"why"`
	Mark   *int64 `json:"mark"`
	Text   int64  `json:"text"`
	Counts bool   `json:"counts"`
}

func TestMarksCountOnlyAtTheCurrentVersion(t *testing.T) {
	b, err := os.ReadFile("testdata/marks.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []markCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		s := State{}
		if c.Mark != nil {
			s.Signs = map[string]map[Role]Mark{"deal": {PartnerA: {By: PartnerA, Version: *c.Mark}}}
			s.Mirrors = map[string]Mark{"deal": {By: PartnerA, Version: *c.Mark, Status: MirrorYes}}
		}
		versions := map[string]int64{"deal": c.Text}
		if got := Signed(s, "deal", versions)[PartnerA]; got != c.Counts {
			t.Errorf("%s: Signed = %v", c.Why, got)
		}
		if got := MirrorStatus(s, "deal", versions) == MirrorYes; got != c.Counts {
			t.Errorf("%s: MirrorStatus yes = %v", c.Why, got)
		}
	}
}
