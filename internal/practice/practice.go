// Package practice keeps a therapist's practice in Redis: its display name,
// its passkeys, the couples of its caseload (labels the therapist chooses)
// and the rooms it opened for them (ids, template, mode, dates), its
// sign-in sessions and the hash of its one recovery code.
//
// Invariants:
//   - every key of practice P is named pr:{P}:…, so a practice lives in one
//     Redis Cluster slot and Delete can name all of them; the only keys
//     outside it are the recovery-code index (prrc:{hash}) and the passkey
//     sign-in ceremonies (prl:{id}, minutes long), both deleted when used;
//   - practice keys carry no TTL: a practice lives until it is deleted.
//     Sign-in sessions and ceremonies are the exceptions, short-lived;
//   - nothing here holds field text, invite tokens or secrets in the clear:
//     sessions and the recovery code are stored as SHA-256 hashes, and links
//     are minted again from the room id, the seat and the room's current
//     generation whenever the therapist asks for them.
//
// The package does storage only; who may do what is decided in httpapi.
package practice

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/redis/go-redis/v9"
)

// ErrNotFound is returned for a practice, couple, room or sign-in session
// that does not exist (or belongs to another practice: the two are never
// told apart).
var ErrNotFound = errors.New("practice: not found")

// Options tune a Store. The zero value is usable.
type Options struct {
	// LoginTTL is how long a sign-in session lives without being used;
	// every use renews it. Default 30 minutes.
	LoginTTL time.Duration
	// CeremonyTTL bounds a passkey ceremony (options sent → answer back).
	// Default 5 minutes.
	CeremonyTTL time.Duration
	Now         func() time.Time
}

// Store is the practice data on one Redis deployment. Safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	opt Options
}

// New returns a Store on rdb.
func New(rdb redis.UniversalClient, opt Options) *Store {
	if opt.LoginTTL <= 0 {
		opt.LoginTTL = 30 * time.Minute
	}
	if opt.CeremonyTTL <= 0 {
		opt.CeremonyTTL = 5 * time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Store{rdb: rdb, opt: opt}
}

// LoginTTL is the idle lifetime of a sign-in session.
func (s *Store) LoginTTL() time.Duration { return s.opt.LoginTTL }

// keys names the keys of one practice.
type keys struct{ p string }

func (k keys) prefix() string  { return fmt.Sprintf("pr:{%s}:", k.p) }
func (k keys) meta() string    { return k.prefix() + "meta" }
func (k keys) creds() string   { return k.prefix() + "creds" }
func (k keys) couples() string { return k.prefix() + "couples" }
func (k keys) rooms() string   { return k.prefix() + "rooms" }

// logins is the set of session hashes, so Delete can find every session
// key without a SCAN across the cluster.
func (k keys) logins() string           { return k.prefix() + "logins" }
func (k keys) login(hash string) string { return k.prefix() + "login:" + hash }
func (k keys) signup(id string) string  { return k.prefix() + "signup:" + id }
func recoveryKey(hash string) string    { return "prrc:{" + hash + "}" }
func signinKey(id string) string        { return "prl:{" + id + "}" }
func hashHex(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
func (k keys) all(logins []string) []string {
	out := []string{k.meta(), k.creds(), k.couples(), k.rooms(), k.logins()}
	for _, h := range logins {
		out = append(out, k.login(h))
	}
	return out
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID is n random bytes in lower-case base32: practice, couple and
// ceremony ids.
func NewID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return strings.ToLower(b32.EncodeToString(b))
}

// ValidID reports whether id looks like one NewID made: ids arrive in
// cookies and paths and become parts of key names.
func ValidID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

// Practice is one therapist's account.
type Practice struct {
	ID      string
	Name    string // display name, chosen by the therapist
	Created time.Time
	// Handle is the WebAuthn user handle: the practice id's bytes, so a
	// discoverable sign-in finds the practice without any index.
	Handle []byte
	Creds  []webauthn.Credential
}

// WebAuthnID implements webauthn.User.
func (p *Practice) WebAuthnID() []byte { return p.Handle }

// WebAuthnName implements webauthn.User.
func (p *Practice) WebAuthnName() string { return p.Name }

// WebAuthnDisplayName implements webauthn.User.
func (p *Practice) WebAuthnDisplayName() string { return p.Name }

// WebAuthnCredentials implements webauthn.User.
func (p *Practice) WebAuthnCredentials() []webauthn.Credential { return p.Creds }

// Create stores a new practice with its first passkey and the hash of its
// recovery code. It fails if the id is taken.
func (s *Store) Create(ctx context.Context, p *Practice, cred webauthn.Credential, recoveryCode string) error {
	k := keys{p.ID}
	cj, err := json.Marshal(cred)
	if err != nil {
		return fmt.Errorf("practice: encode passkey: %w", err)
	}
	ok, err := s.rdb.HSetNX(ctx, k.meta(), "name", p.Name).Result()
	if err != nil {
		return fmt.Errorf("practice: create: %w", err)
	}
	if !ok {
		return fmt.Errorf("practice: create %s: id taken", p.ID)
	}
	rh := hashHex(normalizeCode(recoveryCode))
	_, err = s.rdb.TxPipelined(ctx, func(pp redis.Pipeliner) error {
		pp.HSet(ctx, k.meta(), "created", p.Created.UTC().Format(time.RFC3339), "rc", rh)
		pp.HSet(ctx, k.creds(), credKey(cred.ID), cj)
		return nil
	})
	if err != nil {
		return fmt.Errorf("practice: create: %w", err)
	}
	if err := s.rdb.Set(ctx, recoveryKey(rh), p.ID, 0).Err(); err != nil {
		return fmt.Errorf("practice: store recovery code: %w", err)
	}
	return nil
}

func credKey(id []byte) string { return hex.EncodeToString(id) }

// Get loads a practice with its passkeys.
func (s *Store) Get(ctx context.Context, id string) (*Practice, error) {
	if !ValidID(id) {
		return nil, ErrNotFound
	}
	k := keys{id}
	var meta *redis.MapStringStringCmd
	var creds *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(pp redis.Pipeliner) error {
		meta = pp.HGetAll(ctx, k.meta())
		creds = pp.HGetAll(ctx, k.creds())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("practice: load %s: %w", id, err)
	}
	m := meta.Val()
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	p := &Practice{ID: id, Name: m["name"], Handle: []byte(id)}
	p.Created, _ = time.Parse(time.RFC3339, m["created"])
	for _, v := range creds.Val() {
		var c webauthn.Credential
		if err := json.Unmarshal([]byte(v), &c); err != nil {
			return nil, fmt.Errorf("practice: %s has a bad passkey record: %w", id, err)
		}
		p.Creds = append(p.Creds, c)
	}
	return p, nil
}

// PutCredential adds a passkey or stores its updated sign count.
func (s *Store) PutCredential(ctx context.Context, id string, cred webauthn.Credential) error {
	cj, err := json.Marshal(cred)
	if err != nil {
		return fmt.Errorf("practice: encode passkey: %w", err)
	}
	if err := s.rdb.HSet(ctx, keys{id}.creds(), credKey(cred.ID), cj).Err(); err != nil {
		return fmt.Errorf("practice: store passkey: %w", err)
	}
	return nil
}

// PutSignup keeps a sign-up ceremony's data until Finish; the practice id
// is chosen before the practice exists (it is the passkey's user handle).
func (s *Store) PutSignup(ctx context.Context, practiceID, ceremony string, data []byte) error {
	if err := s.rdb.Set(ctx, keys{practiceID}.signup(ceremony), data, s.opt.CeremonyTTL).Err(); err != nil {
		return fmt.Errorf("practice: store sign-up ceremony: %w", err)
	}
	return nil
}

// TakeSignup returns and forgets a sign-up ceremony (usable once).
func (s *Store) TakeSignup(ctx context.Context, practiceID, ceremony string) ([]byte, error) {
	if !ValidID(practiceID) || !ValidID(ceremony) {
		return nil, ErrNotFound
	}
	return s.take(ctx, keys{practiceID}.signup(ceremony))
}

// PutSignin keeps a sign-in ceremony's data until Finish.
func (s *Store) PutSignin(ctx context.Context, ceremony string, data []byte) error {
	if err := s.rdb.Set(ctx, signinKey(ceremony), data, s.opt.CeremonyTTL).Err(); err != nil {
		return fmt.Errorf("practice: store sign-in ceremony: %w", err)
	}
	return nil
}

// TakeSignin returns and forgets a sign-in ceremony (usable once).
func (s *Store) TakeSignin(ctx context.Context, ceremony string) ([]byte, error) {
	if !ValidID(ceremony) {
		return nil, ErrNotFound
	}
	return s.take(ctx, signinKey(ceremony))
}

func (s *Store) take(ctx context.Context, key string) ([]byte, error) {
	b, err := s.rdb.GetDel(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("practice: read ceremony: %w", err)
	}
	return b, nil
}
