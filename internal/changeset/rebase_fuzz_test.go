package changeset

import (
	"encoding/json"
	"testing"
)

// FuzzRebase feeds arbitrary pushes (untrusted: clientIDs may claim
// accepted updates that are not theirs, lengths may not chain) over
// arbitrary accepted histories: Rebase and RebaseEach must return updates
// or an error, never panic.
func FuzzRebase(f *testing.F) {
	f.Add(`[{"clientID":"me","changes":[[0,"abc"],3]},{"clientID":"me","changes":[6,[0,"d"]]}]`,
		`[{"clientID":"p","changes":[[0,"q"],3]},{"clientID":"me","changes":[4,[0,"z"]]},{"clientID":"p","changes":[[5]]}]`)
	f.Add(`[{"clientID":"a","changes":[1,[0,"x"],2]}]`, `[{"clientID":"b","changes":[1,[0,"y"],2]}]`)
	f.Fuzz(func(t *testing.T, ups, over string) {
		parse := func(s string) ([]Update, bool) {
			var ws []struct {
				ClientID string          `json:"clientID"`
				Changes  json.RawMessage `json:"changes"`
			}
			if json.Unmarshal([]byte(s), &ws) != nil {
				return nil, false
			}
			out := make([]Update, len(ws))
			for i, w := range ws {
				cs, err := Parse(w.Changes)
				if err != nil {
					return nil, false
				}
				out[i] = Update{ClientID: w.ClientID, Changes: cs}
			}
			return out, true
		}
		u, ok1 := parse(ups)
		o, ok2 := parse(over)
		if !ok1 || !ok2 {
			return
		}
		_, _ = Rebase(u, o)
		_, _ = RebaseEach(u, o)
	})
}
