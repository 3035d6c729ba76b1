// Package store keeps rooms in Redis: room metadata and state, the canonical
// text, version and epoch of every collaborative field, each field's update
// log, the session timeline, presence, and the pub/sub channel that carries
// a room's messages between server nodes.
//
// Every key of a room carries the {roomID} hash tag, so a room lives in one
// Redis Cluster slot and every multi-key script runs on one shard. Every
// write refreshes the room's retention TTL on the keys it touches, and
// Touch refreshes all of them.
package store

import "fmt"

// keys names every Redis key of one room.
type keys struct{ room string }

func (k keys) meta() string          { return fmt.Sprintf("rr:{%s}:meta", k.room) }
func (k keys) events() string        { return fmt.Sprintf("rr:{%s}:events", k.room) }
func (k keys) presence() string      { return fmt.Sprintf("rr:{%s}:presence", k.room) }
func (k keys) field(f string) string { return fmt.Sprintf("rr:{%s}:f:%s", k.room, f) }
func (k keys) log(f string) string   { return fmt.Sprintf("rr:{%s}:log:%s", k.room, f) }
func (k keys) channel() string       { return fmt.Sprintf("rr:{%s}", k.room) }
func (k keys) all(fields []string) []string {
	out := []string{k.meta(), k.events(), k.presence()}
	for _, f := range fields {
		out = append(out, k.field(f), k.log(f))
	}
	return out
}
