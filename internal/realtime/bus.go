package realtime

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Messages between server nodes travel on the room's pub/sub channel as a
// one-line JSON header, a newline, and a body. The header says what the
// body is and who may receive it, so a node routes a message with one small
// decode and hands the body, unchanged, to every connection allowed to see
// it: no re-encoding per recipient.
type busHeader struct {
	Kind string   `json:"k"`
	Aud  []string `json:"aud,omitempty"` // roles that may receive it; empty = decided per role by kind
	// Where an updates body from the push path sits in its field's
	// history (versions From+1 … From+N under Epoch), so a node delivers
	// each commit once, from its own push or from the channel (deliver.go).
	Field string `json:"f,omitempty"`
	Epoch string `json:"e,omitempty"`
	From  int64  `json:"v,omitempty"`
	N     int64  `json:"n,omitempty"`
	Node  string `json:"o,omitempty"` // the node whose push made it
}

// Kinds of bus messages.
const (
	kindUpdates  = "u" // body: an "updates" frame for the roles in Aud
	kindState    = "s" // body: busState; each node sends each role its view
	kindMembers  = "m" // body: []protocol.Member; filtered per role
	kindPresence = "p" // body: protocol.Member; filtered per role
	kindDeleted  = "d" // the room was deleted: close every socket
	kindRotated  = "g" // body: the new link generation; close sockets of older ones
	kindDevice   = "v" // body: a removed device's id; close its sockets (4003)
	kindNotice   = "n" // body: a "notice" frame for every socket of the room
	kindHeads    = "h" // body: a "heads" frame for the roles in Aud; drops the cached heads
)

// busState is the body of a state change: the whole state, unfiltered,
// and the event that produced it. It never leaves the servers as is.
type busState struct {
	State json.RawMessage `json:"state"`
	Event json.RawMessage `json:"event"`
}

func encodeBus(h busHeader, body []byte) []byte {
	hb, _ := json.Marshal(h) // strings and ints only: cannot fail
	out := make([]byte, 0, len(hb)+1+len(body))
	out = append(out, hb...)
	out = append(out, '\n')
	return append(out, body...)
}

func decodeBus(p []byte) (busHeader, []byte, error) {
	var h busHeader
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		return h, nil, fmt.Errorf("bus message without header line")
	}
	if err := json.Unmarshal(p[:i], &h); err != nil {
		return h, nil, fmt.Errorf("bus header: %w", err)
	}
	return h, p[i+1:], nil
}

func hasRole(aud []string, role string) bool {
	for _, r := range aud {
		if r == role {
			return true
		}
	}
	return false
}
