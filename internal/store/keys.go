// Package store keeps rooms in Redis: room metadata and state, each
// collaborative field's update log with a periodic text snapshot and a
// history of older snapshots, the session timeline, presence, the per-seat
// insert budget, and the pub/sub channel that carries a room's messages
// between server nodes.
//
// Layout of one field (the invariants every script keeps):
//   - the field hash holds epoch, version, base (the version of the
//     snapshot), text (the text at base, not at version), sat (when the
//     snapshot was taken), sb (log bytes after base) and lb (log bytes in
//     the list);
//   - the log list holds the entries of versions first+1 .. version, where
//     first = version - LLEN, and always first <= base: the text at the head
//     is the snapshot plus the replay of the entries after base, done in Go;
//   - the history list holds older snapshots ("epoch base sat text"), oldest
//     first, bounded in bytes.
//
// A keystroke therefore costs Redis the bytes of its log entry; the whole
// text is written only when a snapshot is due (every SnapshotEvery versions
// or SnapshotBytes of log). The meta hash counts the bytes a room stores in
// texts, logs and histories ("bytes"), and a write past limits.RoomBytes is
// refused before anything is written.
//
// Every key of a room carries the {roomID} hash tag, so a room lives in one
// Redis Cluster slot and every multi-key script runs on one shard. Every
// write refreshes the room's retention TTL on the keys it touches, and
// Touch refreshes all of them. DeleteRoom leaves a tombstone key so that a
// deleted room (ErrNoRoom) and a room whose data Redis lost (ErrRoomLost)
// can be told apart.
package store

// keys names every Redis key of one room.
type keys struct{ room string }

func (k keys) meta() string          { return "rr:{" + k.room + "}:meta" }
func (k keys) events() string        { return "rr:{" + k.room + "}:events" }
func (k keys) presence() string      { return "rr:{" + k.room + "}:presence" }
func (k keys) field(f string) string { return "rr:{" + k.room + "}:f:" + f }
func (k keys) log(f string) string   { return "rr:{" + k.room + "}:log:" + f }
func (k keys) hist(f string) string  { return "rr:{" + k.room + "}:hist:" + f }

// inserts is the per-seat insert budget: seat -> "minute used".
func (k keys) inserts() string { return "rr:{" + k.room + "}:ins" }

// devices is the browsers bound to a seat: sha256(device secret) -> record.
func (k keys) devices() string { return "rr:{" + k.room + "}:dev" }

// tomb marks a deliberate delete, so a room without keys and without a
// tombstone is known to be lost rather than deleted.
func (k keys) tomb() string    { return "rr:{" + k.room + "}:deleted" }
func (k keys) channel() string { return "rr:{" + k.room + "}" }

// kept is the retention marker: written wherever the room's retention TTL
// is set or refreshed, holding that TTL (ms) and living twice as long, so
// it outlives the room's keys by one retention period. A room without keys
// whose marker shows its deadline passed expired (ErrNoRoom: never
// restored); one without keys and without a marker was lost (ErrRoomLost).
func (k keys) kept() string { return "rr:{" + k.room + "}:kept" }

// all is every key a room may have (not the tombstone).
func (k keys) all(fields []string) []string {
	out := []string{k.meta(), k.events(), k.presence(), k.inserts(), k.devices()}
	for _, f := range fields {
		out = append(out, k.field(f), k.log(f), k.hist(f))
	}
	return out
}
