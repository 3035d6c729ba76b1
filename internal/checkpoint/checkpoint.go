// Package checkpoint signs and verifies what the server acknowledged, so
// that a client can later prove it: a text field at (epoch, version) with a
// given text, and a room's state at a rev as one role saw it, with what is
// needed to recreate the room.
//
// A checkpoint is an HMAC-SHA256 under a key derived from the shared SECRET
// (the one invite tokens use; derived, so a checkpoint MAC can never be
// replayed as a token MAC or the other way round). Only hashes of the texts
// and of the state go into the MAC: the client keeps the text itself and
// presents it, and the server hashes what it is shown. So no one can have
// the server restore text it never acknowledged, and a signature alone
// reveals nothing.
//
// Each field of a MAC input is length-prefixed: no two different tuples
// encode to the same bytes.
package checkpoint

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrBadSignature is returned for a checkpoint whose signature does not
// match what it claims (forged, altered, or signed by another SECRET).
var ErrBadSignature = errors.New("checkpoint: signature does not match")

// ErrMalformed is returned for a signature that is not even the right shape.
var ErrMalformed = errors.New("checkpoint: malformed signature")

// sigLen is the length of an encoded signature: base64url of 32 bytes.
var sigLen = b64.EncodedLen(sha256.Size)

var b64 = base64.RawURLEncoding

// Signer signs and verifies checkpoints with one key. It is safe for
// concurrent use.
type Signer struct {
	key []byte
}

// New returns a Signer for the shared secret, which must be at least 32
// bytes (as for invite tokens).
func New(secret []byte) (*Signer, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("checkpoint: secret has %d bytes, need at least 32", len(secret))
	}
	// Domain separation from the token MACs made with the same secret.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("repairroom checkpoint key v1"))
	return &Signer{key: m.Sum(nil)}, nil
}

// Hash is the SHA-256 of a text or of a state's JSON.
type Hash [sha256.Size]byte

// HashOf hashes b.
func HashOf(b []byte) Hash { return sha256.Sum256(b) }

// HashText hashes a text.
func HashText(s string) Hash { return sha256.Sum256([]byte(s)) }

// Field is what a field checkpoint covers.
type Field struct {
	Room    string
	Field   string
	Epoch   string
	Version int64
	Text    Hash
}

// Room is what a room-state checkpoint covers: the state as Role sees it
// at Rev. The state names the template, the mode, the seats' names and
// when the session started, which is all a lost room needs besides its
// link generation; that one the restoring socket's own token carries.
type Room struct {
	Room  string
	Role  string // the role whose view State is
	Rev   int64
	State Hash // hash of the view's canonical JSON
}

// mac builds the MAC of a tagged, length-prefixed tuple.
type mac struct{ b []byte }

func (m *mac) str(s string) {
	m.b = binary.AppendUvarint(m.b, uint64(len(s)))
	m.b = append(m.b, s...)
}

func (m *mac) num(n int64) { m.b = binary.AppendVarint(m.b, n) }

func (s *Signer) sum(b []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write(b)
	return h.Sum(nil)
}

func (f Field) bytes() []byte {
	var m mac
	m.str("field")
	m.str(f.Room)
	m.str(f.Field)
	m.str(f.Epoch)
	m.num(f.Version)
	m.str(string(f.Text[:]))
	return m.b
}

func (r Room) bytes() []byte {
	var m mac
	m.str("room")
	m.str(r.Room)
	m.str(r.Role)
	m.num(r.Rev)
	m.str(string(r.State[:]))
	return m.b
}

// SignField returns the signature of a field checkpoint.
func (s *Signer) SignField(f Field) string { return b64.EncodeToString(s.sum(f.bytes())) }

// SignRoom returns the signature of a room checkpoint.
func (s *Signer) SignRoom(r Room) string { return b64.EncodeToString(s.sum(r.bytes())) }

// VerifyField checks sig against f in constant time.
func (s *Signer) VerifyField(f Field, sig string) error { return s.verify(f.bytes(), sig) }

// VerifyRoom checks sig against r in constant time.
func (s *Signer) VerifyRoom(r Room, sig string) error { return s.verify(r.bytes(), sig) }

func (s *Signer) verify(msg []byte, sig string) error {
	got, err := DecodeSig(sig)
	if err != nil {
		return err
	}
	if !hmac.Equal(got, s.sum(msg)) {
		return ErrBadSignature
	}
	return nil
}

// DecodeSig decodes a presented signature: exactly 32 bytes in unpadded
// base64url. It is the only decoder of untrusted checkpoint input here.
func DecodeSig(sig string) ([]byte, error) {
	if len(sig) != sigLen {
		return nil, ErrMalformed
	}
	b, err := b64.DecodeString(sig)
	if err != nil || len(b) != sha256.Size {
		return nil, ErrMalformed
	}
	return b, nil
}
