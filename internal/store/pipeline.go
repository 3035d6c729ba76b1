package store

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pushes are committed in pipelines. Every socket's push used to be its
// own round trip on its own pooled connection: one write and one read on
// the node and in Redis per keystroke, and when Redis paused for a few
// milliseconds (an fsync, a descheduled process on a busy machine) the
// pushes that piled up each took a connection, then waited for one.
// Here a push joins a queue; up to maxFlushers flushers (the pushing
// goroutine itself when a place is free) each take what is queued (at
// most maxPipeline) and send it as one pipeline. When the node is quiet a
// push still goes out at once, alone, from its own goroutine; under load
// the batches grow by themselves, which is when the saved system calls
// count.
// Each push is still its own script call, so each commits or not on its
// own, atomically, exactly as before.

const (
	maxFlushers = 4   // pipelines in flight at once
	maxPipeline = 128 // pushes per pipeline
	// flushTimeout bounds one pipeline. A caller whose context ends first
	// stops waiting (and never acks: the commit may still happen).
	flushTimeout = 10 * time.Second
)

type pushCall struct {
	keys []string
	args []any
	res  []any
	err  error
	done chan struct{}
}

type pushBatcher struct {
	mu       sync.Mutex
	queue    []*pushCall
	flushers int
}

// runPush runs the push script for keys and args in the next pipeline.
func (s *Store) runPush(ctx context.Context, keys []string, args []any) ([]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("before the commit: %w", err)
	}
	call := &pushCall{keys: keys, args: args, done: make(chan struct{})}
	b := &s.pushes
	b.mu.Lock()
	b.queue = append(b.queue, call)
	start := b.flushers < maxFlushers
	if start {
		b.flushers++
	}
	b.mu.Unlock()
	if start {
		// The caller sends its own push (and whatever joined it), so a
		// quiet node pays no hand-off to another goroutine.
		s.flushPushes(call)
	}
	select {
	case <-call.done:
		return call.res, call.err
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the commit: %w", ctx.Err())
	}
}

// flushPushes sends pipelines until the queue is empty. A caller flushing
// for its own push (own) stops once that is sent and hands what is left
// to a goroutine.
func (s *Store) flushPushes(own *pushCall) {
	b := &s.pushes
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxPipeline)
		if n == 0 {
			b.flushers--
			b.mu.Unlock()
			return
		}
		if own != nil && isClosed(own.done) {
			b.mu.Unlock()
			go s.flushPushes(nil) // keeps this flusher's place
			return
		}
		batch := make([]*pushCall, n)
		copy(batch, b.queue)
		clear(b.queue[:n])
		b.queue = b.queue[n:]
		if len(b.queue) == 0 {
			b.queue = nil // let the backing array go
		}
		b.mu.Unlock()
		s.sendPushes(batch)
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func (s *Store) sendPushes(batch []*pushCall) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	if len(batch) == 1 {
		c := batch[0]
		c.res, c.err = pushScript.Run(ctx, s.rdb, c.keys, c.args...).Slice()
		close(c.done)
		return
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	for i, c := range batch {
		cmds[i] = pushScript.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for i, c := range batch {
		c.res, c.err = cmds[i].Slice()
		if c.err != nil && redis.HasErrorPrefix(c.err, "NOSCRIPT") {
			// Redis lost its script cache (a restart): Run loads it.
			c.res, c.err = pushScript.Run(ctx, s.rdb, c.keys, c.args...).Slice()
		}
		close(c.done)
	}
}
