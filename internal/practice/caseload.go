package practice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"
)

// Couple is one couple of the caseload: a label the therapist chooses (no
// real names required) and, optionally, how each partner is called in
// their rooms.
type Couple struct {
	ID      string            `json:"id"`
	Label   string            `json:"label"`
	Names   map[string]string `json:"names,omitempty"` // seat -> display name
	Created time.Time         `json:"created"`
}

// Room is one session the practice opened for a couple: what is needed to
// list it and to mint its links again, never what was written in it.
type Room struct {
	ID       string    `json:"id"`
	Couple   string    `json:"couple"`
	Template string    `json:"template"`
	Mode     string    `json:"mode"`
	Created  time.Time `json:"created"`
	// From is the earlier room this one carried agreements from, if any.
	From string `json:"from,omitempty"`
	// Seen: someone has been in the room (so "nobody here" reads as
	// "open", not "not started").
	Seen bool `json:"seen,omitempty"`
}

// AddCouple adds a couple to the caseload.
func (s *Store) AddCouple(ctx context.Context, p string, c Couple) error {
	b, _ := json.Marshal(c) // plain strings and a time: cannot fail
	if err := s.rdb.HSet(ctx, keys{p}.couples(), c.ID, b).Err(); err != nil {
		return fmt.Errorf("practice: add couple: %w", err)
	}
	return nil
}

// Couple loads one couple of practice p.
func (s *Store) Couple(ctx context.Context, p, id string) (Couple, error) {
	var c Couple
	if !ValidID(id) {
		return c, ErrNotFound
	}
	b, err := s.rdb.HGet(ctx, keys{p}.couples(), id).Bytes()
	if errors.Is(err, redis.Nil) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("practice: load couple: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("practice: couple %s: %w", id, err)
	}
	return c, nil
}

// Couples lists the caseload, oldest couple first.
func (s *Store) Couples(ctx context.Context, p string) ([]Couple, error) {
	m, err := s.rdb.HGetAll(ctx, keys{p}.couples()).Result()
	if err != nil {
		return nil, fmt.Errorf("practice: list couples: %w", err)
	}
	out := make([]Couple, 0, len(m))
	for id, v := range m {
		var c Couple
		if err := json.Unmarshal([]byte(v), &c); err != nil {
			return nil, fmt.Errorf("practice: couple %s: %w", id, err)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// DeleteCouple forgets a couple and its rooms' records. The rooms
// themselves are deleted by the caller first (through the room store), so
// a failure here leaves records of deleted rooms, never rooms without a
// record.
func (s *Store) DeleteCouple(ctx context.Context, p, id string) error {
	rooms, err := s.Rooms(ctx, p)
	if err != nil {
		return err
	}
	k := keys{p}
	_, err = s.rdb.TxPipelined(ctx, func(pp redis.Pipeliner) error {
		pp.HDel(ctx, k.couples(), id)
		for _, r := range rooms {
			if r.Couple == id {
				pp.HDel(ctx, k.rooms(), r.ID)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("practice: delete couple: %w", err)
	}
	return nil
}

// AddRoom records a room opened for a couple.
func (s *Store) AddRoom(ctx context.Context, p string, r Room) error {
	b, _ := json.Marshal(r) // plain strings and a time: cannot fail
	if err := s.rdb.HSet(ctx, keys{p}.rooms(), r.ID, b).Err(); err != nil {
		return fmt.Errorf("practice: record room: %w", err)
	}
	return nil
}

// Room loads the record of one room of practice p; ErrNotFound when the
// room is not the practice's.
func (s *Store) Room(ctx context.Context, p, id string) (Room, error) {
	var r Room
	if !ValidID(id) {
		return r, ErrNotFound
	}
	b, err := s.rdb.HGet(ctx, keys{p}.rooms(), id).Bytes()
	if errors.Is(err, redis.Nil) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("practice: load room record: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("practice: room record %s: %w", id, err)
	}
	return r, nil
}

// Rooms lists every room of the practice, oldest first.
func (s *Store) Rooms(ctx context.Context, p string) ([]Room, error) {
	m, err := s.rdb.HGetAll(ctx, keys{p}.rooms()).Result()
	if err != nil {
		return nil, fmt.Errorf("practice: list rooms: %w", err)
	}
	out := make([]Room, 0, len(m))
	for id, v := range m {
		var r Room
		if err := json.Unmarshal([]byte(v), &r); err != nil {
			return nil, fmt.Errorf("practice: room record %s: %w", id, err)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// RemoveRoom forgets the record of a deleted room.
func (s *Store) RemoveRoom(ctx context.Context, p, id string) error {
	if err := s.rdb.HDel(ctx, keys{p}.rooms(), id).Err(); err != nil {
		return fmt.Errorf("practice: forget room: %w", err)
	}
	return nil
}
