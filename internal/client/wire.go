package client

import (
	"encoding/json"
	"errors"
	"fmt"

	"repairroom/internal/limits"
	"repairroom/internal/protocol"
)

// serverFrame is any server message, decoded loosely: which fields are set
// depends on T (see docs/protocol.md).
type serverFrame struct {
	T       string                   `json:"t"`
	Re      string                   `json:"re"`
	Field   string                   `json:"field"`
	Epoch   string                   `json:"epoch"`
	From    int64                    `json:"from"`
	Version int64                    `json:"version"`
	Text    string                   `json:"text"`
	Updates []wireUpdate             `json:"updates"`
	Fields  map[string]FieldSnapshot `json:"fields"` // welcome (with text), heads (without)
	Room    json.RawMessage          `json:"room"`
	Members json.RawMessage          `json:"members"`
	// A "members" frame without Members is a diff of the list (applyMembers).
	Joined  []json.RawMessage `json:"joined"`
	Changed []json.RawMessage `json:"changed"`
	Left    []string          `json:"left"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	// Sig is a field checkpoint signature (reset, ack, updates) or a room
	// checkpoint signature (room); RoomSig is the welcome's room one.
	Sig     string `json:"sig"`
	RoomSig string `json:"roomSig"`
	// RestoredFrom (reset): the epoch of the checkpoint it restored.
	RestoredFrom string `json:"restoredFrom"`
	// Lineage (reset): the earlier epochs the text holds (FieldSnapshot).
	Lineage []Lineage `json:"lineage"`

	// welcome only
	V        int             `json:"v"`
	Me       Me              `json:"me"`
	Template json.RawMessage `json:"template"`
	Limits   limits.Client   `json:"limits"`
}

// wireUpdate is one update as the server stores and sends it; a log entry
// also carries "by" and "at", which the client does not need.
type wireUpdate struct {
	ClientID string          `json:"clientID"`
	Changes  json.RawMessage `json:"changes"`
}

// errBadFrame marks a frame the client could not make sense of; it is
// ignored, never fatal.
var errBadFrame = errors.New("client: bad server frame")

func decodeFrame(raw []byte) (serverFrame, error) {
	var f serverFrame
	if err := json.Unmarshal(raw, &f); err != nil {
		return serverFrame{}, fmt.Errorf("%w: %v", errBadFrame, err)
	}
	if f.T == "" {
		return serverFrame{}, fmt.Errorf("%w: no type", errBadFrame)
	}
	return f, nil
}

// applyMembers returns the member list after a "members" frame: the whole
// list when it carries one, else cur with the diff applied (joined and
// changed members replace the entry with their id, left ones go).
func applyMembers(cur json.RawMessage, f serverFrame) json.RawMessage {
	if f.Members != nil {
		return f.Members
	}
	var list []json.RawMessage
	_ = json.Unmarshal(cur, &list)
	idOf := func(m json.RawMessage) string {
		var v struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(m, &v)
		return v.ID
	}
	gone := make(map[string]bool, len(f.Left))
	for _, id := range f.Left {
		gone[id] = true
	}
	out := make([]json.RawMessage, 0, len(list)+len(f.Joined))
	at := map[string]int{}
	for _, m := range list {
		if id := idOf(m); !gone[id] {
			at[id] = len(out)
			out = append(out, m)
		}
	}
	for _, m := range append(append([]json.RawMessage(nil), f.Joined...), f.Changed...) {
		if i, ok := at[idOf(m)]; ok {
			out[i] = m
		} else {
			at[idOf(m)] = len(out)
			out = append(out, m)
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return cur
	}
	return b
}

// Me is the receiving participant, as the welcome names it.
type Me struct {
	ID   string `json:"id"`
	Role string `json:"role"`
	Name string `json:"name"`
}

// FieldSnapshot is one text field in a welcome (or, without Text, in heads).
// Sig, when the server signs checkpoints, signs the text at that version.
//
// Lineage lists, newest first, earlier epochs whose text this epoch holds
// and up to which version (the field was moved to a new epoch, or restored
// from a checkpoint): a client under one of them confirms what the server
// acknowledged to it up to there instead of pushing it again.
type FieldSnapshot struct {
	Epoch   string    `json:"epoch"`
	Version int64     `json:"version"`
	Text    string    `json:"text"`
	Sig     string    `json:"sig,omitempty"`
	Lineage []Lineage `json:"lineage,omitempty"`
}

// Lineage is an earlier epoch of a field and the version up to which the
// field's text holds it.
type Lineage struct {
	Epoch   string `json:"epoch"`
	Version int64  `json:"version"`
}

// holds returns the version up to which snap's text holds epoch's: snap's
// own version under its own epoch, the lineage's for an earlier epoch.
func (snap FieldSnapshot) holds(epoch string) (int64, bool) {
	if epoch == "" {
		return 0, false
	}
	if epoch == snap.Epoch {
		return snap.Version, true
	}
	for _, l := range snap.Lineage {
		if l.Epoch == epoch {
			return min(l.Version, snap.Version), true
		}
	}
	return 0, false
}

// Welcome is the first message of a connection.
type Welcome struct {
	V        int                      `json:"v"`
	Me       Me                       `json:"me"`
	Room     json.RawMessage          `json:"room"`
	Template json.RawMessage          `json:"template"`
	Fields   map[string]FieldSnapshot `json:"fields"`
	Members  json.RawMessage          `json:"members"`
	// Limits are the server's limits the client keeps to.
	Limits limits.Client `json:"limits"`
}

// Messages the client sends.

type pushMsg struct {
	T       string       `json:"t"`
	ID      string       `json:"id"`
	Field   string       `json:"field"`
	Epoch   string       `json:"epoch"`
	Version int64        `json:"version"`
	Updates []wireUpdate `json:"updates"`
}

type pullMsg struct {
	T     string `json:"t"`
	ID    string `json:"id"`
	Field string `json:"field"`
	Epoch string `json:"epoch"`
	Since int64  `json:"since"`
}

// restoreMsg presents a field checkpoint.
type restoreMsg struct {
	T       string `json:"t"`
	ID      string `json:"id"`
	Field   string `json:"field"`
	Epoch   string `json:"epoch"`
	Version int64  `json:"version"`
	Text    string `json:"text"`
	Sig     string `json:"sig"`
}

// restoreRoomMsg presents a room-state checkpoint.
type restoreRoomMsg struct {
	T    string         `json:"t"`
	ID   string         `json:"id"`
	Room roomCheckpoint `json:"room"`
}

type roomCheckpoint struct {
	Role  string          `json:"role"`
	State json.RawMessage `json:"state"`
	Sig   string          `json:"sig"`
}

// ServerError is an error frame: a stable code and a human message.
type ServerError struct {
	Code    string
	Message string
}

func (e *ServerError) Error() string { return "server refused: " + e.Code + ": " + e.Message }

// CloseError is a connection the server closed for good (bad or revoked
// token, deleted room): the client does not reconnect after it.
type CloseError struct {
	Code int
	Text string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("client: closed by the server (%d %s)", e.Code, e.Text)
}

// Close codes after which reconnecting is pointless: protocol.Closes decides.
func terminalClose(code int) bool {
	return !protocol.Reconnect(code)
}
