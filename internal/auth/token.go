// Package auth signs and verifies the capability tokens carried by invite
// links. A token names a room, a role and a seat, expires, and belongs to a
// generation of the room's links: bumping the generation revokes every token
// issued before.
package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors returned by Verify. They say why a token was refused without
// echoing the token itself.
var (
	ErrMalformed = errors.New("token is malformed")
	ErrForged    = errors.New("token signature does not match")
	ErrExpired   = errors.New("token has expired")
	ErrRevoked   = errors.New("token was revoked by a link rotation")
)

// MaxTokenLen bounds what Verify will even look at.
const MaxTokenLen = 1024

// Claims is what a token grants.
type Claims struct {
	Room    string `json:"r"`
	Role    string `json:"o"`
	Seat    string `json:"s"`
	Expires int64  `json:"e"` // unix seconds
	Gen     int64  `json:"g"`
}

// Signer signs and verifies tokens with one HMAC-SHA256 key.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer for key, which must be at least 32 bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("auth: signing key has %d bytes, need at least 32", len(key))
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// RandomKey returns a fresh 32-byte key, for servers started without SECRET.
func RandomKey() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("auth: reading random key: %w", err)
	}
	return k, nil
}

var b64 = base64.RawURLEncoding

// Sign returns the token for c.
func (s *Signer) Sign(c Claims) string {
	payload, _ := json.Marshal(c) // Claims has only strings and ints: cannot fail
	p := b64.EncodeToString(payload)
	return p + "." + b64.EncodeToString(s.mac(p))
}

func (s *Signer) mac(p string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(p))
	return m.Sum(nil)
}

// Verify checks the signature and expiry of tok and returns its claims. The
// generation is checked by the caller (it lives in the room's storage) with
// CheckGen.
func (s *Signer) Verify(tok string, now time.Time) (Claims, error) {
	var c Claims
	if len(tok) == 0 || len(tok) > MaxTokenLen {
		return c, ErrMalformed
	}
	p, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return c, ErrMalformed
	}
	got, err := b64.DecodeString(sig)
	if err != nil {
		return c, ErrMalformed
	}
	// Compare MACs before parsing so a forged payload is never decoded.
	if !hmac.Equal(got, s.mac(p)) {
		return c, ErrForged
	}
	raw, err := b64.DecodeString(p)
	if err != nil {
		return c, ErrMalformed
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.Room == "" || c.Role == "" {
		return Claims{}, ErrMalformed
	}
	if now.Unix() >= c.Expires {
		return c, ErrExpired
	}
	return c, nil
}

// CheckGen refuses claims issued before the room's current generation.
func CheckGen(c Claims, current int64) error {
	if c.Gen != current {
		return ErrRevoked
	}
	return nil
}
