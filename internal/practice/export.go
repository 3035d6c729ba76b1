package practice

import (
	"context"
	"fmt"
	"time"
)

// Export is everything a practice holds, as its therapist downloads it:
// names, labels, ids and dates. Passkeys appear as a count; hashes are
// left out (they are useless to the therapist and only help a guesser).
type Export struct {
	Practice struct {
		ID       string    `json:"id"`
		Name     string    `json:"name"`
		Created  time.Time `json:"created"`
		Passkeys int       `json:"passkeys"`
	} `json:"practice"`
	Couples []Couple `json:"couples"`
	Rooms   []Room   `json:"rooms"`
}

// Export gathers the practice's data.
func (s *Store) Export(ctx context.Context, p string) (Export, error) {
	var e Export
	pr, err := s.Get(ctx, p)
	if err != nil {
		return e, err
	}
	e.Practice.ID, e.Practice.Name, e.Practice.Created, e.Practice.Passkeys = pr.ID, pr.Name, pr.Created, len(pr.Creds)
	if e.Couples, err = s.Couples(ctx, p); err != nil {
		return e, err
	}
	if e.Rooms, err = s.Rooms(ctx, p); err != nil {
		return e, err
	}
	return e, nil
}

// Delete removes every key of the practice: its data, its passkeys, every
// sign-in session and the recovery-code index. The rooms are deleted by
// the caller first, through the room store.
func (s *Store) Delete(ctx context.Context, p string) error {
	k := keys{p}
	logins, err := s.rdb.SMembers(ctx, k.logins()).Result()
	if err != nil {
		return fmt.Errorf("practice: list sessions: %w", err)
	}
	rc, err := s.rdb.HGet(ctx, k.meta(), "rc").Result()
	if err == nil && rc != "" {
		if err := s.rdb.Del(ctx, recoveryKey(rc)).Err(); err != nil {
			return fmt.Errorf("practice: delete recovery code: %w", err)
		}
	}
	if err := s.rdb.Del(ctx, k.all(logins)...).Err(); err != nil {
		return fmt.Errorf("practice: delete: %w", err)
	}
	return nil
}
