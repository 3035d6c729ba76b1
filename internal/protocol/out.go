package protocol

import (
	"encoding/json"
	"time"

	"repairroom/internal/limits"
)

// Server message types.
const (
	TWelcome = "welcome"
	TUpdates = "updates"
	TAck     = "ack"
	TBehind  = "behind"
	TReset   = "reset"
	THeads   = "heads"
	TRoom    = "room"
	TOK      = "ok"
	TMembers = "members"
	TError   = "error"
	TPresOut = "presence"
	TNotice  = "notice"
)

// Notice tells everyone in the room something that changes no state:
// today only "device_new", a seat opened from a browser not seen before
// (Seat and Name say whose; Device is the new device's id).
type Notice struct {
	T      string    `json:"t"`
	Kind   string    `json:"kind"`
	Seat   string    `json:"seat,omitempty"`
	Name   string    `json:"name,omitempty"`
	Device string    `json:"device,omitempty"`
	At     time.Time `json:"at"`
}

// FieldHead is where a field is: enough for a client to decide to pull.
type FieldHead struct {
	Epoch   string `json:"epoch"`
	Version int64  `json:"version"`
}

// FieldSnapshot is a field's whole text at a version.
type FieldSnapshot struct {
	Epoch   string `json:"epoch"`
	Version int64  `json:"version"`
	Text    string `json:"text"`
	// Sig signs (room, field, epoch, version, sha256(text)): a client keeps
	// it with the text as its checkpoint (see "restore").
	Sig string `json:"sig,omitempty"`
	// Lineage lists, newest first, earlier epochs whose text this one
	// holds up to a version. A client under one of them confirms its
	// acknowledged updates up to that version instead of pushing them
	// again, and needs no restore of a checkpoint at or below it. (Not
	// "from": a reset carries these fields at its top level, where
	// "updates" has its numeric "from".)
	Lineage []Lineage `json:"lineage,omitempty"`
}

// Lineage is one earlier epoch of a field and the version up to which the
// field's current text holds it.
type Lineage struct {
	Epoch   string `json:"epoch"`
	Version int64  `json:"version"`
}

// Member is one connected participant, as others see them.
type Member struct {
	ID    string  `json:"id"`
	Role  string  `json:"role"`
	Name  string  `json:"name"`
	Field *string `json:"field"`
	Sel   []int64 `json:"sel"`
	Seen  int64   `json:"seen,omitempty"` // unix ms; stale records are ignored
}

// Me is the receiving participant.
type Me struct {
	ID   string `json:"id"`
	Role string `json:"role"`
	Name string `json:"name"`
}

// Welcome is the first message on a connection.
type Welcome struct {
	T        string                   `json:"t"`
	V        int                      `json:"v"`
	Me       Me                       `json:"me"`
	Room     json.RawMessage          `json:"room"`
	Template json.RawMessage          `json:"template"`
	Fields   map[string]FieldSnapshot `json:"fields"`
	Members  []Member                 `json:"members"`
	// RoomSig signs Room as this role sees it (a room-state checkpoint).
	RoomSig string `json:"roomSig,omitempty"`
	// Limits are the server's limits a client must stay within; clients
	// read them here instead of copying numbers.
	Limits limits.Client `json:"limits"`
}

// Updates carries accepted updates; update i moved the field from version
// From+i to From+i+1.
type Updates struct {
	T       string            `json:"t"`
	Re      string            `json:"re,omitempty"`
	Field   string            `json:"field"`
	Epoch   string            `json:"epoch"`
	From    int64             `json:"from"`
	Updates []json.RawMessage `json:"updates"`
	// Sig, when present, is the field checkpoint signature of the version
	// the frame ends at (From+len(Updates)) and the text there.
	Sig string `json:"sig,omitempty"`
}

// FieldReply is ack and behind.
type FieldReply struct {
	T       string `json:"t"`
	Re      string `json:"re,omitempty"`
	Field   string `json:"field"`
	Version int64  `json:"version"`
	// Sig (ack only, when present) signs the text at Version.
	Sig string `json:"sig,omitempty"`
}

// Reset tells the client to start the field over from a snapshot.
type Reset struct {
	T     string `json:"t"`
	Re    string `json:"re,omitempty"`
	Field string `json:"field"`
	FieldSnapshot
	// RestoredFrom is set when a client's checkpoint taken under that
	// epoch was restored: everything it held up to Version is in Text. The
	// same pair heads From; kept for clients that predate From.
	RestoredFrom string `json:"restoredFrom,omitempty"`
}

// Heads lists where fields are after the node may have missed messages.
type Heads struct {
	T      string               `json:"t"`
	Fields map[string]FieldHead `json:"fields"`
}

// Room carries room state (as the receiver may see it) after an act.
type Room struct {
	T     string          `json:"t"`
	Room  json.RawMessage `json:"room"`
	Event json.RawMessage `json:"event,omitempty"`
	// Sig signs Room as this role sees it (a room-state checkpoint).
	Sig string `json:"sig,omitempty"`
}

// Members is the full member list after a join or leave.
type Members struct {
	T       string   `json:"t"`
	Members []Member `json:"members"`
}

// Presence is one member's moved cursor.
type Presence struct {
	T      string `json:"t"`
	Member Member `json:"member"`
}

// Reply is ok and error.
type Reply struct {
	T       string `json:"t"`
	Re      string `json:"re,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// Encode marshals a server message. Only a corrupt raw part (say, a log
// entry damaged in storage) can make that fail; the client then gets an
// "unavailable" error rather than a broken frame.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return ErrorFrame("", Errorf(CodeUnavailable, "the server could not encode a message"))
	}
	return b
}

// ErrorFrame encodes an error reply about message re.
func ErrorFrame(re string, e *Error) []byte {
	b, _ := json.Marshal(Reply{T: TError, Re: re, Code: e.Code, Message: e.Message}) // strings only: cannot fail
	return b
}
