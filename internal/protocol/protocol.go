// Package protocol defines the WebSocket messages between the browser (or
// the Go client) and the server, their validation, and the error and close
// codes. docs/protocol.md is the human description of the same contract.
package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Version is sent in the welcome; a client that does not speak it stops.
const Version = 1

// Limits of one message.
const (
	MaxMessage       = 256 << 10 // bytes in one frame
	MaxUpdates       = 100       // updates in one push
	maxIDLen         = 64
	maxKeyLen        = 100
	maxClientIDLen   = 64
	maxVersionNumber = 1 << 40
)

// Error codes, stable for clients. See docs/protocol.md.
const (
	CodeBadJSON      = "bad_json"
	CodeUnknownType  = "unknown_type"
	CodeBadMessage   = "bad_message"
	CodeBadChanges   = "bad_changes"
	CodeTooLarge     = "too_large"
	CodeForbidden    = "forbidden"
	CodeRateLimited  = "rate_limited"
	CodeUnavailable  = "unavailable"
	CodeUnknownField = "unknown_field"

	// CodeBadCheckpoint: a presented checkpoint's signature does not match
	// its room, field, epoch, version and text (forged or altered): nothing
	// was restored.
	CodeBadCheckpoint = "bad_checkpoint"
	// CodeStaleCheckpoint: the store already holds the checkpoint's version
	// or a newer one: nothing was restored; take the server's snapshot.
	CodeStaleCheckpoint = "stale_checkpoint"
	// CodeRoomLost: the room's data is gone from the store without a
	// deliberate delete (a wiped Redis): it is being restored from the
	// clients' checkpoints. Present yours (a "restore" with the room state,
	// then one per field); the room is not deleted.
	CodeRoomLost = "room_lost"
)

// Close codes the server sends. Each is a documented value in Closes that
// says whether a client should reconnect; clients ask Reconnect (Go) or the
// generated web/src/net/closecodes.ts (browser), never a list of their own.
const (
	CloseNormal       = 1000
	CloseGoingAway    = 1001
	CloseTooBig       = 1009
	CloseInternal     = 1011
	CloseBadToken     = 4001
	CloseRevoked      = 4003
	CloseRoomDeleted  = 4004
	CloseSlowConsumer = 4008
	CloseFlood        = 4029
)

// CloseInfo describes one close code.
type CloseInfo struct {
	Code int
	// Name is stable and short; metrics label closes with it.
	Name string
	// Reconnect: whether a client should reconnect (with backoff) and
	// resume. False means the link or room is over: stop and say why.
	Reconnect bool
	// Pause: a reconnect should wait at least this many milliseconds
	// (a flood close), on top of the usual backoff.
	PauseMs int
	// Meaning, in words for docs/protocol.md.
	Meaning string
}

// Closes is the table of every close code, the one home of the reconnect
// decision (docs/protocol.md shows the same table).
var Closes = []CloseInfo{
	{CloseNormal, "normal", true, 0, "closed normally (by a proxy, or by the client itself); reconnect if still wanted"},
	{CloseGoingAway, "going_away", true, 0, "the server is shutting down; reconnect (to another node) and resume"},
	{CloseTooBig, "too_big", true, 0, "a message was larger than the limit (maxMessageBytes in welcome)"},
	{CloseInternal, "internal", true, 0, "the server could not serve the room (storage unreachable or an internal error); reconnect with backoff"},
	{CloseBadToken, "bad_token", false, 0, "the link is not valid"},
	{CloseRevoked, "revoked", false, 0, "the links were rotated; this one is revoked"},
	{CloseRoomDeleted, "room_deleted", false, 0, "the room was deleted"},
	{CloseSlowConsumer, "slow_consumer", true, 0, "the client read too slowly and its queue filled; reconnect and resume"},
	{CloseFlood, "flood", true, 15000, "too many messages in a row over the rate limit; reconnect after a pause"},
}

// CloseFor returns the table entry of code. Codes not in the table (the
// network's 1006, a proxy's own codes) are reconnectable: only the server
// can say a link is over.
func CloseFor(code int) CloseInfo {
	for _, c := range Closes {
		if c.Code == code {
			return c
		}
	}
	return CloseInfo{Code: code, Name: "other", Reconnect: true}
}

// Reconnect reports whether a client should reconnect after code.
func Reconnect(code int) bool { return CloseFor(code).Reconnect }

// CloseName is the stable name of code ("other" when not in the table).
func CloseName(code int) string { return CloseFor(code).Name }

// Error is a protocol error: a stable code and a human message.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf builds an *Error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Update is one CodeMirror update: the changes one client made.
type Update struct {
	ClientID string          `json:"clientID"`
	Changes  json.RawMessage `json:"changes"`
}

// In is a decoded client message. Which fields are set depends on T.
type In struct {
	T       string   `json:"t"`
	ID      string   `json:"id,omitempty"`
	Field   *string  `json:"field"`
	Epoch   string   `json:"epoch"`
	Version *int64   `json:"version"`
	Since   *int64   `json:"since"`
	Updates []Update `json:"updates"`
	Sel     []int64  `json:"sel"`
	Act     string   `json:"act"`

	// restore: a field checkpoint (Field, Epoch, Version, Text, Sig) or a
	// room-state checkpoint (Room).
	Text *string         `json:"text"`
	Sig  string          `json:"sig"`
	Room *RoomCheckpoint `json:"room"`

	// Raw is the whole frame; acts decode their arguments from it. It is
	// only valid while the message is handled: the reader reuses the buffer.
	Raw []byte `json:"-"`
}

// Message types a client may send.
const (
	TPush     = "push"
	TPull     = "pull"
	TPresence = "presence"
	TAct      = "act"
	TRestore  = "restore"
)

// RoomCheckpoint is a room's state as one role received it, with the
// signature the server sent beside it ("roomSig" in welcome, "sig" in
// room). State is the room object of that frame.
type RoomCheckpoint struct {
	Role  string          `json:"role"`
	State json.RawMessage `json:"state"`
	Sig   string          `json:"sig"`
}

// Decode parses and validates one client frame. The error is always an
// *Error whose code says what was wrong.
func Decode(data []byte) (In, error) {
	var m In
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return m, Errorf(CodeBadJSON, "a message must be a JSON object")
	}
	if err := json.Unmarshal(trimmed, &m); err != nil {
		return In{}, Errorf(CodeBadJSON, "cannot parse message: %v", err)
	}
	m.Raw = data
	if len(m.ID) > maxIDLen {
		return m, Errorf(CodeBadMessage, "id is longer than %d characters", maxIDLen)
	}
	switch m.T {
	case TPush:
		return m, m.validatePush()
	case TPull:
		if err := m.needField(); err != nil {
			return m, err
		}
		if m.Since == nil || *m.Since < 0 || *m.Since > maxVersionNumber {
			return m, Errorf(CodeBadMessage, "pull needs since, a version number >= 0")
		}
	case TPresence:
		if m.Field != nil && !validKey(*m.Field) {
			return m, Errorf(CodeBadMessage, "presence field is not a field key")
		}
		if m.Sel != nil && (len(m.Sel) != 2 || m.Sel[0] < 0 || m.Sel[1] < 0) {
			return m, Errorf(CodeBadMessage, "sel must be [anchor, head] with both >= 0")
		}
	case TAct:
		if m.Act == "" || len(m.Act) > maxIDLen {
			return m, Errorf(CodeBadMessage, "act needs an act name")
		}
	case TRestore:
		return m, m.validateRestore()
	case "":
		return m, Errorf(CodeUnknownType, "message has no type t")
	default:
		return m, Errorf(CodeUnknownType, "unknown message type %.32q", m.T)
	}
	return m, nil
}

func (m *In) needField() error {
	if m.Field == nil || !validKey(*m.Field) {
		return Errorf(CodeBadMessage, "%s needs field, a field key", m.T)
	}
	return nil
}

func (m *In) validatePush() error {
	if err := m.needField(); err != nil {
		return err
	}
	if m.Version == nil || *m.Version < 0 || *m.Version > maxVersionNumber {
		return Errorf(CodeBadMessage, "push needs version, a number >= 0")
	}
	if len(m.Updates) == 0 {
		return Errorf(CodeBadMessage, "push needs at least one update")
	}
	if len(m.Updates) > MaxUpdates {
		return Errorf(CodeTooLarge, "push has %d updates, at most %d are allowed", len(m.Updates), MaxUpdates)
	}
	for i, u := range m.Updates {
		if u.ClientID == "" || len(u.ClientID) > maxClientIDLen {
			return Errorf(CodeBadMessage, "update %d needs a clientID of 1 to %d characters", i, maxClientIDLen)
		}
		if len(u.Changes) == 0 || u.Changes[0] != '[' {
			return Errorf(CodeBadChanges, "update %d: changes must be a ChangeSet JSON array", i)
		}
	}
	return nil
}

func (m *In) validateRestore() error {
	if m.Room != nil {
		if m.Room.Role == "" || len(m.Room.Role) > maxIDLen || len(m.Room.State) == 0 || m.Room.State[0] != '{' || m.Room.Sig == "" {
			return Errorf(CodeBadMessage, "a room restore needs room.role, room.state (an object) and room.sig")
		}
		return nil
	}
	if err := m.needField(); err != nil {
		return err
	}
	if m.Epoch == "" || len(m.Epoch) > maxIDLen {
		return Errorf(CodeBadMessage, "restore needs the checkpoint's epoch")
	}
	if m.Version == nil || *m.Version < 0 || *m.Version > maxVersionNumber {
		return Errorf(CodeBadMessage, "restore needs version, a number >= 0")
	}
	if m.Text == nil || m.Sig == "" {
		return Errorf(CodeBadMessage, "restore needs the checkpoint's text and sig")
	}
	return nil
}

// validKey reports whether k can name a field: lower-case ids, and reveal
// keys like "one_thing.partner_a".
func validKey(k string) bool {
	if k == "" || len(k) > maxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
