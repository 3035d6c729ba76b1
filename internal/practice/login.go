package practice

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// A sign-in session is a cookie value "P.secret": the practice id says
// where the session key lives (pr:{P}:login:sha256(secret)), the secret
// proves it. Redis holds only the hash, so reading Redis does not give
// anyone a usable cookie, and a cookie naming another practice finds no key.

// NewLogin starts a sign-in session for practice p and returns the cookie
// value.
func (s *Store) NewLogin(ctx context.Context, p string) (string, error) {
	secret := NewID(32)
	h := hashHex(secret)
	k := keys{p}
	_, err := s.rdb.TxPipelined(ctx, func(pp redis.Pipeliner) error {
		pp.Set(ctx, k.login(h), "1", s.opt.LoginTTL)
		pp.SAdd(ctx, k.logins(), h)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("practice: start session: %w", err)
	}
	return p + "." + secret, nil
}

func splitCookie(cookie string) (p, secret string, ok bool) {
	p, secret, ok = strings.Cut(cookie, ".")
	return p, secret, ok && ValidID(p) && ValidID(secret)
}

// CheckLogin returns the practice of a live session cookie and renews the
// session (it lives LoginTTL after its last use). Forged, expired and
// signed-out cookies give ErrNotFound.
func (s *Store) CheckLogin(ctx context.Context, cookie string) (string, error) {
	p, secret, ok := splitCookie(cookie)
	if !ok {
		return "", ErrNotFound
	}
	err := s.rdb.GetEx(ctx, keys{p}.login(hashHex(secret)), s.opt.LoginTTL).Err()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("practice: check session: %w", err)
	}
	return p, nil
}

// PeekLogin is CheckLogin without the renewal: for what a page does by
// itself (the caseload's polling), which must not keep an unattended
// session alive.
func (s *Store) PeekLogin(ctx context.Context, cookie string) (string, error) {
	p, secret, ok := splitCookie(cookie)
	if !ok {
		return "", ErrNotFound
	}
	n, err := s.rdb.Exists(ctx, keys{p}.login(hashHex(secret))).Result()
	if err != nil {
		return "", fmt.Errorf("practice: check session: %w", err)
	}
	if n == 0 {
		return "", ErrNotFound
	}
	return p, nil
}

// EndLogin signs a session out.
func (s *Store) EndLogin(ctx context.Context, cookie string) error {
	p, secret, ok := splitCookie(cookie)
	if !ok {
		return nil
	}
	h := hashHex(secret)
	k := keys{p}
	_, err := s.rdb.TxPipelined(ctx, func(pp redis.Pipeliner) error {
		pp.Del(ctx, k.login(h))
		pp.SRem(ctx, k.logins(), h)
		return nil
	})
	if err != nil {
		return fmt.Errorf("practice: end session: %w", err)
	}
	return nil
}

// NewRecoveryCode makes a recovery code: 100 random bits as five groups
// of four letters and digits, easy to write down.
func NewRecoveryCode() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	code := b32.EncodeToString(b)[:20]
	var out []string
	for i := 0; i < len(code); i += 4 {
		out = append(out, code[i:i+4])
	}
	return strings.Join(out, "-")
}

// normalizeCode lets a person type the code with or without dashes and in
// either case.
func normalizeCode(code string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(code) {
		if r >= 'A' && r <= 'Z' || r >= '2' && r <= '7' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// UseRecoveryCode consumes a recovery code and returns its practice. A code
// works once: the index key is taken with GETDEL, so two racing uses cannot
// both succeed.
func (s *Store) UseRecoveryCode(ctx context.Context, code string) (string, error) {
	n := normalizeCode(code)
	if len(n) != 20 {
		return "", ErrNotFound
	}
	h := hashHex(n)
	p, err := s.rdb.GetDel(ctx, recoveryKey(h)).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("practice: use recovery code: %w", err)
	}
	if err := s.rdb.HDel(ctx, keys{p}.meta(), "rc").Err(); err != nil {
		return "", fmt.Errorf("practice: use recovery code: %w", err)
	}
	return p, nil
}

// SetRecoveryCode replaces the practice's recovery code with code (shown
// to the therapist once; only its hash is kept).
func (s *Store) SetRecoveryCode(ctx context.Context, p, code string) error {
	k := keys{p}
	old, err := s.rdb.HGet(ctx, k.meta(), "rc").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("practice: read recovery code: %w", err)
	}
	h := hashHex(normalizeCode(code))
	if err := s.rdb.HSet(ctx, k.meta(), "rc", h).Err(); err != nil {
		return fmt.Errorf("practice: store recovery code: %w", err)
	}
	if err := s.rdb.Set(ctx, recoveryKey(h), p, 0).Err(); err != nil {
		return fmt.Errorf("practice: store recovery code: %w", err)
	}
	if old != "" && old != h {
		if err := s.rdb.Del(ctx, recoveryKey(old)).Err(); err != nil {
			return fmt.Errorf("practice: drop old recovery code: %w", err)
		}
	}
	return nil
}
