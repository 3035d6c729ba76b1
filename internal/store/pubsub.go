package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Publish sends payload to every node subscribed to the room.
func (s *Store) Publish(ctx context.Context, id string, payload []byte) error {
	ch := keys{id}.channel()
	var err error
	if s.opt.Sharded {
		err = s.rdb.SPublish(ctx, ch, payload).Err()
	} else {
		err = s.rdb.Publish(ctx, ch, payload).Err()
	}
	if err != nil {
		return fmt.Errorf("store: publish: %w", err)
	}
	return nil
}

// Subscription receives one room's channel. Pub/sub is fire-and-forget: a
// message published while the connection to Redis is re-established is
// lost, so Resubscribed tells the caller to have its clients catch up from
// the logs.
type Subscription struct {
	ps *redis.PubSub
	ch <-chan any
}

// Subscribe subscribes to the room's channel and waits until Redis has
// confirmed it, so nothing committed after Subscribe returns is missed.
func (s *Store) Subscribe(ctx context.Context, id string) (*Subscription, error) {
	ch := keys{id}.channel()
	var ps *redis.PubSub
	if s.opt.Sharded {
		ps = s.rdb.SSubscribe(ctx, ch)
	} else {
		ps = s.rdb.Subscribe(ctx, ch)
	}
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("store: subscribe to room: %w", err)
	}
	// A deep buffer: the reader only hands payloads to send queues, and
	// go-redis drops a message it cannot deliver within the timeout.
	return &Subscription{ps: ps, ch: ps.ChannelWithSubscriptions(
		redis.WithChannelSize(4096), redis.WithChannelSendTimeout(10*time.Second))}, nil
}

// Next blocks until the next message. It returns the payload, or
// resubscribed=true after the subscription was re-established, or ok=false
// once the subscription is closed.
func (s *Subscription) Next() (payload []byte, resubscribed, ok bool) {
	for m := range s.ch {
		switch m := m.(type) {
		case *redis.Message:
			return []byte(m.Payload), false, true
		case *redis.Subscription:
			if m.Kind == "subscribe" || m.Kind == "ssubscribe" {
				return nil, true, true
			}
		}
	}
	return nil, false, false
}

// Close ends the subscription.
func (s *Subscription) Close() error { return s.ps.Close() }

// Presence: ephemeral, one hash entry per connection.

// JoinPresence stores member's presence record and returns every record
// of the room, this one included, in one round trip (a joining socket's
// welcome needs both).
func (s *Store) JoinPresence(ctx context.Context, id, member string, rec []byte) (map[string]string, error) {
	k := keys{id}.presence()
	var all *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, member, rec)
		p.PExpire(ctx, k, s.opt.TTL)
		all = p.HGetAll(ctx, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: join presence: %w", err)
	}
	return all.Val(), nil
}

// RefreshPresence renews the records of members that are still present,
// in one round trip. A member removed meanwhile stays removed.
func (s *Store) RefreshPresence(ctx context.Context, id string, recs map[string][]byte) error {
	args := make([]any, 0, 1+2*len(recs))
	args = append(args, s.ttlms())
	for m, r := range recs {
		args = append(args, m, r)
	}
	if err := refreshPresenceScript.Run(ctx, s.rdb, []string{keys{id}.presence()}, args...).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("store: refresh presence: %w", err)
	}
	return nil
}

// PublishPresenceBatch stores several members' records and publishes
// payload, in one round trip: a room's coalesced cursor moves.
func (s *Store) PublishPresenceBatch(ctx context.Context, id string, recs map[string][]byte, payload []byte) error {
	k := keys{id}
	args := make([]any, 0, 2*len(recs))
	for m, r := range recs {
		args = append(args, m, r)
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		if len(args) > 0 {
			p.HSet(ctx, k.presence(), args...)
			p.PExpire(ctx, k.presence(), s.opt.TTL)
		}
		if s.opt.Sharded {
			p.SPublish(ctx, k.channel(), payload)
		} else {
			p.Publish(ctx, k.channel(), payload)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: publish presence: %w", err)
	}
	return nil
}

// RemovePresence drops a member.
func (s *Store) RemovePresence(ctx context.Context, id, member string) error {
	if err := s.rdb.HDel(ctx, keys{id}.presence(), member).Err(); err != nil {
		return fmt.Errorf("store: remove presence: %w", err)
	}
	return nil
}

// Presence returns all presence records of the room.
func (s *Store) Presence(ctx context.Context, id string) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, keys{id}.presence()).Result()
	if err != nil {
		return nil, fmt.Errorf("store: read presence: %w", err)
	}
	return m, nil
}
