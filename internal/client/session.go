package client

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"repairroom/internal/changeset"
	"repairroom/internal/limits"
	"repairroom/internal/protocol"
)

// Protocol limits the client keeps to (docs/protocol.md). The server's
// limits arrive in the welcome (session.limits); these are the protocol's
// own, and the frame budget's share of a message.
const (
	maxUpdatesPerPush = protocol.MaxUpdates
	maxPushBytes      = 200 << 10 // under the default 256 KiB frame limit
)

// Timings of the safety nets: replies that never come are presumed lost.
const (
	stallAfter   = time.Second      // a reported version that does not arrive is pulled
	replyTimeout = 10 * time.Second // a push or pull with no reply is sent again
	retryPause   = 500 * time.Millisecond
	limitedPause = time.Second
)

// Ack is a push the server acknowledged: the field reached Version, and
// the Count updates before it (versions Version-Count+1 .. Version) are
// ours, stored in Redis.
type Ack struct {
	Field    string
	Epoch    string
	Version  int64
	Count    int
	ClientID string
}

// Confirmation is one of our updates that came back from the server in an
// "updates" message: it is the update that produced Version.
type Confirmation struct {
	Field    string
	Epoch    string
	Version  int64
	ClientID string
	Changes  json.RawMessage
}

// session is a client's protocol state across connections, without any
// I/O: frames go in (handle, tick), messages to send come out (take). The
// Client serialises every call.
type session struct {
	clientID string
	record   bool // keep acks and confirmations
	online   bool
	fields   map[string]*doc
	welcome  *Welcome
	limits   limits.Client // from the latest welcome
	room     json.RawMessage
	roomRev  int64
	members  json.RawMessage
	ids      uint64
	out      [][]byte

	acks          []Ack
	confirmations []Confirmation
	refusals      int   // pushes refused so far
	lastRefusal   error // the latest refusal
	anomalies     int   // frames that did not fit what the client holds
	// emptied counts, per field, our updates dropped unsent because
	// mapping emptied them (see doc.dropEmpty).
	emptied      map[string]int
	limitedUntil time.Time

	// roomCk is the latest signed room state (our view), presented after
	// the room was lost; lostAt rate-limits presenting everything.
	roomCk        *roomCheckpoint
	roomRestoring string
	lostAt        time.Time
	// seen records, with record, the hash of every confirmed text per
	// (field, epoch, version) reached; reused counts versions seen with
	// two different texts.
	seen   map[VersionKey][32]byte
	reused []string

	// Texts this client may read but does not hold yet (a draft revealed to
	// it, an update for an unknown key): fetched with a snapshot pull.
	wanted    map[string]bool
	snapPulls map[string]snapPull
}

type snapPull struct {
	id string
	at time.Time
}

func newSession(clientID string, record bool) *session {
	return &session{clientID: clientID, record: record, fields: map[string]*doc{},
		wanted: map[string]bool{}, snapPulls: map[string]snapPull{}, seen: map[VersionKey][32]byte{}, emptied: map[string]int{}}
}

func (s *session) newID(prefix string) string {
	s.ids++
	return prefix + strconv.FormatUint(s.ids, 36)
}

// send queues a message; nothing is queued while offline.
func (s *session) send(v any) {
	if !s.online {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		return // our own message types always encode
	}
	s.out = append(s.out, b)
}

// take returns the queued messages and empties the queue.
func (s *session) take() [][]byte {
	out := s.out
	s.out = nil
	return out
}

// disconnected forgets everything that belonged to the lost connection:
// replies to what was in flight will never come.
func (s *session) disconnected() {
	s.online = false
	s.out = nil
	for _, d := range s.fields {
		if d.inFlight != "" {
			d.unsure = true // it may have been stored
		}
		d.inFlight, d.pulling, d.reloading = "", "", ""
		// The next welcome decides again whether to restore.
		d.restoring, d.restoreFrom = "", nil
	}
	clear(s.snapPulls)
}

func (s *session) sortedKeys() []string {
	keys := make([]string, 0, len(s.fields))
	for k := range s.fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// handle processes one server frame and returns it decoded (ok false for
// a frame that is not a JSON object with a type).
func (s *session) handle(raw []byte, now time.Time) (serverFrame, bool) {
	f, err := decodeFrame(raw)
	if err != nil {
		s.anomalies++
		return f, false
	}
	switch f.T {
	case "welcome":
		s.onWelcome(f, now)
	case "updates":
		s.onUpdates(f, now)
	case "ack", "behind":
		s.onPushReply(f, now)
	case "reset":
		s.onReset(f, now)
	case "heads":
		s.onHeads(f, now)
	case "room":
		s.onRoom(f.Room, f.Sig, false, now)
	case "members":
		s.members = applyMembers(s.members, f)
	case "error":
		s.onError(f, now)
	case "ok":
		s.onOK(f)
	}
	s.pump(now)
	if s.record {
		s.noteVersions()
	}
	return f, true
}

func (s *session) onWelcome(f serverFrame, now time.Time) {
	s.welcome = &Welcome{V: f.V, Me: f.Me, Room: f.Room, Template: f.Template, Fields: f.Fields, Members: f.Members, Limits: f.Limits}
	s.limits = f.Limits
	s.members = f.Members
	for _, key := range sortedSnapKeys(f.Fields) {
		snap := f.Fields[key]
		if snap.Version < 0 || snap.Epoch == "" {
			s.anomalies++
			continue
		}
		d, ok := s.fields[key]
		if !ok {
			s.fields[key] = newDoc(key, snap)
			delete(s.wanted, key)
			continue
		}
		d.readable, d.refused, d.waitFor = true, nil, 0
		switch {
		case restoreNeeded(d, snap):
			// Redis holds less than the server once signed to us: present
			// the checkpoint before anything else.
			s.startRestore(d, snap, now)
		case snap.Epoch != d.epoch || snap.Version < d.version:
			// The field was rebuilt (or lost updates): start over from the
			// snapshot with the pending edits rebased onto it.
			s.resetDoc(d, snap)
			d.noteSig(snap.Epoch, snap.Version, snap.Sig)
		case len(d.pending) > 0 && d.ackedN > 0 && d.ackedBase == d.version && snap.Version >= d.version+int64(d.ackedN):
			// Acknowledged before the drop, echo not here: the snapshot
			// holds them. Fetch the echo rather than push them again (a
			// second ack for the same updates); the rest follow it.
			d.waitFor = d.version + int64(d.ackedN)
			d.expect = max(d.expect, snap.Version)
			s.pull(d, now)
		case len(d.pending) > 0:
			// pump pushes at our version: the server acks, or answers
			// behind and sends what we missed (our own lost-ack updates
			// included, confirmed by clientID).
			d.expect = max(d.expect, snap.Version)
			d.progressAt = now
		case snap.Version > d.version:
			d.expect = max(d.expect, snap.Version)
			s.pull(d, now)
		}
	}
	for key, d := range s.fields {
		if _, ok := f.Fields[key]; !ok {
			d.readable = false
		}
	}
	s.onRoom(f.Room, "", true, now)
	if f.RoomSig != "" && f.Me.Role != "" {
		s.roomCk = &roomCheckpoint{Role: f.Me.Role, State: f.Room, Sig: f.RoomSig}
	}
}

func sortedSnapKeys(m map[string]FieldSnapshot) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (s *session) onUpdates(f serverFrame, now time.Time) {
	d, ok := s.fields[f.Field]
	if !ok {
		// A text that just became readable (a revealed draft): fetch it.
		if f.Field != "" {
			s.wanted[f.Field] = true
			s.fetch(f.Field, now)
		}
		return
	}
	if f.Re != "" && f.Re == d.pulling {
		d.pulling = ""
	}
	if f.Re != "" && f.Re == d.unsurePull && f.Epoch == d.epoch {
		// The answer to a pull sent after the push whose fate we did not
		// know: whatever of it the server stored is in this answer.
		d.unsure, d.unsurePull = false, ""
	}
	n := int64(len(f.Updates))
	switch {
	case f.Epoch != d.epoch:
		// Updates under another epoch: the field was rebuilt. A pull at our
		// epoch is answered with a reset snapshot.
		d.dropped = max(d.dropped, d.version+1)
		s.pull(d, now)
		return
	case f.From < 0 || n == 0:
		return
	case f.From > d.version:
		// A gap: the missing updates are pulled; these come again with them.
		d.dropped = max(d.dropped, f.From+n)
		s.pull(d, now)
		return
	}
	before := d.version
	mine, err := d.receive(f.From, f.Updates)
	if err != nil {
		s.anomalies++
		s.resync(d, now)
		return
	}
	if d.version > before {
		d.progressAt = now
		d.ackedN = 0
	}
	d.noteSig(f.Epoch, f.From+n, f.Sig)
	if s.record {
		for _, c := range mine {
			s.confirmations = append(s.confirmations, Confirmation{Field: d.key, Epoch: d.epoch, Version: c.version,
				ClientID: c.update.clientID, Changes: json.RawMessage(c.update.raw)})
		}
	}
	if d.version < d.dropped {
		s.pull(d, now)
	}
}

// onPushReply handles ack and behind. A reply to anything but the push in
// flight (one sent on a connection since lost, or one already given up on)
// is stale and ignored: the updates it is about arrive anyway.
func (s *session) onPushReply(f serverFrame, now time.Time) {
	d, ok := s.fields[f.Field]
	if !ok || f.Re == "" || f.Re != d.inFlight {
		return
	}
	d.inFlight = ""
	// Do not push again before the updates up to the reported version are
	// here: after an ack our own echo, after behind what we missed.
	d.waitFor = max(d.waitFor, f.Version)
	d.progressAt = now
	if f.T == "ack" {
		if f.Sig != "" {
			d.ackCk = &Checkpoint{Epoch: d.epoch, Version: f.Version, Sig: f.Sig}
			d.noteSig(d.epoch, d.version, "")
		}
		d.ackedBase, d.ackedN = d.inFlightBase, d.inFlightN
		if s.record {
			s.acks = append(s.acks, Ack{Field: d.key, Epoch: d.epoch, Version: f.Version, Count: d.inFlightN, ClientID: s.clientID})
		}
	}
}

func (s *session) onReset(f serverFrame, now time.Time) {
	snap := FieldSnapshot{Epoch: f.Epoch, Version: f.Version, Text: f.Text, Sig: f.Sig, Lineage: f.Lineage}
	if _, ok := snap.holds(f.RestoredFrom); f.RestoredFrom != "" && !ok {
		// A server that names the restored epoch only in restoredFrom.
		snap.Lineage = append([]Lineage{{Epoch: f.RestoredFrom, Version: f.Version}}, snap.Lineage...)
	}
	if snap.Version < 0 || snap.Epoch == "" || f.Field == "" {
		s.anomalies++
		return
	}
	d, ok := s.fields[f.Field]
	if !ok {
		if p, asked := s.snapPulls[f.Field]; asked && p.id == f.Re {
			delete(s.snapPulls, f.Field)
			delete(s.wanted, f.Field)
			s.fields[f.Field] = newDoc(f.Field, snap)
		}
		return
	}
	// A reset below the version we asked from, under the same epoch, is
	// proof that Redis went back: it must be taken (or a checkpoint
	// presented), never ignored as old news.
	rollback := false
	reload := f.Re != "" && f.Re == d.reloading
	if reload {
		d.reloading = ""
	}
	if f.Re != "" {
		if f.Re == d.inFlight {
			rollback = snap.Epoch == d.epoch && snap.Epoch == d.inFlightEpoch && snap.Version < d.inFlightBase
			d.inFlight = ""
		}
		if f.Re == d.pulling {
			rollback = rollback || snap.Epoch == d.epoch && snap.Epoch == d.pullEpoch && snap.Version < d.pullSince
			d.pulling = ""
		}
	}
	if snap.Epoch == d.epoch && snap.Version <= d.version && !rollback && !(reload && snap.Version == d.version) {
		// Not newer than what we hold (a reply overtaken by updates).
		if snap.Version == d.version {
			d.noteSig(snap.Epoch, snap.Version, snap.Sig)
		}
		return
	}
	if v, ok := d.holds(snap.Epoch); ok && snap.Epoch != d.epoch && snap.Version <= v && !reload {
		// An epoch our own epoch was moved on from, at no more than our
		// text holds of it (a restore's reset that reached us after the
		// next move's): nothing to take, and taking it would go back.
		return
	}
	if restoreNeeded(d, snap) {
		s.startRestore(d, snap, now)
		return
	}
	s.resetDoc(d, snap)
	d.noteSig(snap.Epoch, snap.Version, snap.Sig)
	d.progressAt = now
}

// restoreNeeded reports whether the server shows less of d than a
// checkpoint it signed to us: a lower version, under any epoch (a
// restored field keeps its version, so versions only grow across epochs).
//
// A snapshot whose lineage holds the checkpoint's epoch at version V holds
// every checkpoint of that epoch at or below V: V is never above the
// snapshot's own version (a move keeps the version; FieldSnapshot.holds
// clamps it), so this comparison never presents one.
func restoreNeeded(d *doc, snap FieldSnapshot) bool {
	return d.ck != nil && snap.Version < d.ck.Version
}

// startRestore presents d's checkpoint; snap is what the server showed,
// taken if the checkpoint is refused. Pushes wait meanwhile.
func (s *session) startRestore(d *doc, snap FieldSnapshot, now time.Time) {
	d.restoreFrom = &snap
	if d.restoring != "" || !s.online {
		return
	}
	id := s.newID("k")
	ck := d.ck
	s.send(restoreMsg{T: "restore", ID: id, Field: d.key, Epoch: ck.Epoch, Version: ck.Version, Text: ck.Text, Sig: ck.Sig})
	d.restoring, d.restoreAt = id, now
	d.progressAt = now
}

// onOK ends a restore: the reset that every reader gets follows (or came
// first); a push before it is answered with it.
func (s *session) onOK(f serverFrame) {
	if f.Re == "" {
		return
	}
	for _, d := range s.fields {
		if d.restoring == f.Re {
			d.restoring, d.restoreFrom = "", nil
		}
	}
}

// restoreRefused handles an error about d's restore.
func (s *session) restoreRefused(d *doc, code string, now time.Time) {
	d.restoring = ""
	switch code {
	case "room_lost":
		s.lostAt = time.Time{}
		s.onLost(now)
	case "unavailable", "rate_limited":
		d.retryAfter = now.Add(retryPause) // tick presents it again
	default:
		// Stale (the store holds as much or more), or refused: the
		// checkpoint is of no use; take what the server has.
		d.ck = nil
		snap := d.restoreFrom
		d.restoreFrom = nil
		if snap != nil && (snap.Epoch != d.epoch || snap.Version != d.version) {
			s.resetDoc(d, *snap)
			d.noteSig(snap.Epoch, snap.Version, snap.Sig)
		}
		s.resync(d, now)
	}
}

// onLost presents everything we hold after the server said the room's
// data is gone: the room state first (the server handles a socket's
// messages in order), then every field checkpoint.
func (s *session) onLost(now time.Time) {
	if !s.online || now.Sub(s.lostAt) < retryPause {
		return
	}
	s.lostAt = now
	if s.roomCk != nil {
		s.roomRestoring = s.newID("k")
		s.send(restoreRoomMsg{T: "restore", ID: s.roomRestoring, Room: *s.roomCk})
	}
	for _, key := range s.sortedKeys() {
		d := s.fields[key]
		if d.ck == nil || d.restoring != "" {
			continue
		}
		own := FieldSnapshot{Epoch: d.epoch, Version: d.version, Text: d.confirmed}
		if d.restoreFrom != nil {
			own = *d.restoreFrom
		}
		s.startRestore(d, own, now)
	}
}

// VersionKey names one version of a field.
type VersionKey struct {
	Field, Epoch string
	Version      int64
}

// noteVersions records the confirmed text of every field at its version.
func (s *session) noteVersions() {
	for _, d := range s.fields {
		k := VersionKey{Field: d.key, Epoch: d.epoch, Version: d.version}
		h := sha256.Sum256([]byte(d.confirmed))
		if old, ok := s.seen[k]; ok && old != h {
			s.reused = append(s.reused, fmt.Sprintf("%s epoch %s version %d held two texts", d.key, d.epoch, d.version))
		}
		s.seen[k] = h
	}
}

// resetDoc moves d to a snapshot. Under the same epoch, or one whose
// lineage holds ours far enough, our updates the server acknowledged
// whose echo has not come yet are in the snapshot: they are confirmed
// first, so that only what the server cannot have is rebased onto it.
func (s *session) resetDoc(d *doc, snap FieldSnapshot) {
	if v, ok := snap.holds(d.epoch); ok {
		// Our epoch's text up to v is in the snapshot (the same epoch, or
		// one it moved to or was restored into): what the server
		// acknowledged to us up to there is not pushed again.
		s.confirmAcked(d, v)
	}
	d.ackedN, d.waitFor = 0, 0
	// The snapshot holds whatever the server stored of ours (resetTo says
	// what that means for a push whose fate was unknown).
	d.unsure, d.unsurePull = false, ""
	if err := d.resetTo(snap); err != nil {
		s.anomalies++
	}
}

// confirmAcked confirms our acknowledged updates whose echo has not come
// yet, when a snapshot of d's epoch at version (or one restored from it)
// holds them.
func (s *session) confirmAcked(d *doc, version int64) {
	if d.ackedN > 0 && d.ackedBase == d.version && d.ackedN <= len(d.pending) &&
		version >= d.version+int64(d.ackedN) {
		for i := 0; i < d.ackedN; i++ {
			p := d.pending[0] // each one confirmed leaves the pending list
			t, err := p.changes.Apply(d.confirmed)
			if err != nil {
				break
			}
			d.confirmed = t
			d.version++
			d.pending = d.pending[1:]
			if s.record {
				s.confirmations = append(s.confirmations, Confirmation{Field: d.key, Epoch: d.epoch, Version: d.version,
					ClientID: p.clientID, Changes: json.RawMessage(p.raw)})
			}
		}
	}
	d.ackedN = 0
}

func (s *session) onHeads(f serverFrame, now time.Time) {
	for _, key := range sortedSnapKeys(f.Fields) {
		h := f.Fields[key]
		d, ok := s.fields[key]
		if !ok {
			continue
		}
		switch {
		case h.Epoch != d.epoch:
			d.dropped = max(d.dropped, d.version+1)
			s.pull(d, now)
		case h.Version > d.version:
			// This node may have missed them: they will not come unasked.
			d.dropped = max(d.dropped, h.Version)
			s.pull(d, now)
		case h.Version < d.version:
			// Redis may have gone back: a pull from our version proves it
			// (the server answers with a reset under a new epoch) or finds
			// the heads were merely old.
			s.pull(d, now)
		}
	}
}

// onRoom keeps the latest room state: the welcome's always, a room
// message's only when its rev is above the one held (the server may
// deliver, right after a welcome, state changes the welcome already
// contains). A state change may have lifted what refused a push (a break
// ended, the floor moved), so refused pushes are tried again; and drafts
// revealed to us are fetched.
func (s *session) onRoom(room json.RawMessage, sig string, welcome bool, now time.Time) {
	if len(room) == 0 || string(room) == "null" {
		return
	}
	var st struct {
		Rev      int64           `json:"rev"`
		Revealed map[string]bool `json:"revealed"`
	}
	if json.Unmarshal(room, &st) != nil {
		s.anomalies++
		return
	}
	if !welcome && s.room != nil && st.Rev <= s.roomRev {
		return
	}
	s.room, s.roomRev = room, st.Rev
	if !welcome && sig != "" && s.welcome != nil {
		s.roomCk = &roomCheckpoint{Role: s.welcome.Me.Role, State: room, Sig: sig}
	}
	for _, d := range s.fields {
		d.refused = nil
	}
	for key, ok := range st.Revealed {
		if _, have := s.fields[key]; ok && !have && validKey(key) {
			s.wanted[key] = true
			s.fetch(key, now)
		}
	}
}

func validKey(k string) bool {
	if k == "" || len(k) > 100 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (s *session) onError(f serverFrame, now time.Time) {
	err := &ServerError{Code: f.Code, Message: f.Message}
	if f.Code == "room_lost" {
		s.onLost(now)
	}
	if f.Re == "" {
		if f.Code == "rate_limited" {
			// Some message of ours was dropped, and we cannot tell which:
			// forget what is in flight and send it again after a pause (a
			// push the server did store is then answered behind).
			s.limitedUntil = now.Add(limitedPause)
			for _, d := range s.fields {
				if d.inFlight != "" {
					d.unsure = true // it may have been the pull, not the push, that was dropped
				}
				d.inFlight, d.pulling = "", ""
			}
			clear(s.snapPulls)
		}
		return
	}
	for key, p := range s.snapPulls {
		if p.id == f.Re {
			delete(s.snapPulls, key)
			delete(s.wanted, key) // not readable after all
		}
	}
	if f.Re == s.roomRestoring {
		s.roomRestoring = ""
		if f.Code == "bad_checkpoint" {
			s.roomCk = nil
		}
	}
	for _, d := range s.fields {
		if f.Re == d.pulling {
			d.pulling = ""
		}
		if f.Re == d.restoring {
			s.restoreRefused(d, f.Code, now)
		}
		if f.Re != d.inFlight {
			continue
		}
		d.inFlight = ""
		switch f.Code {
		case "unavailable", "rate_limited", "room_lost":
			d.retryAfter = now.Add(retryPause)
			if f.Code == "unavailable" {
				d.unsure = true // storage may have failed after the commit
			}
		default:
			d.refused = err
			s.refusals++
			s.lastRefusal = fmt.Errorf("push to %s: %w", d.key, err)
			if f.Code == "bad_changes" {
				// Nothing was stored and the same push would be refused
				// again: our view of the text is off. Rebuild the pending
				// edits on the server's text, so the next push (after Sync
				// or a room change) is not this one again.
				s.reload(d, now)
			}
		}
	}
}

// pull asks for the updates of d after its version (one pull at a time).
func (s *session) pull(d *doc, now time.Time) {
	if d.pulling != "" || !s.online {
		return
	}
	id := s.newID("l")
	s.send(pullMsg{T: "pull", ID: id, Field: d.key, Epoch: d.epoch, Since: d.version})
	d.pulling, d.pullAt, d.pullSince, d.pullEpoch = id, now, d.version, d.epoch
}

// resync asks for a snapshot of d (a pull at no epoch is answered with a
// reset), for when an update did not fit what the client holds.
func (s *session) resync(d *doc, now time.Time) {
	if d.pulling != "" || !s.online {
		return
	}
	id := s.newID("l")
	s.send(pullMsg{T: "pull", ID: id, Field: d.key, Epoch: "", Since: 0})
	d.pulling, d.pullAt, d.pullSince, d.pullEpoch = id, now, 0, ""
}

// reload asks for a snapshot of d that is taken even at our own version
// (see doc.reloading), whatever pull is in flight.
func (s *session) reload(d *doc, now time.Time) {
	if !s.online {
		return
	}
	id := s.newID("l")
	s.send(pullMsg{T: "pull", ID: id, Field: d.key, Epoch: "", Since: 0})
	d.pulling, d.pullAt, d.pullSince, d.pullEpoch = id, now, 0, ""
	d.reloading = id
}

// fetch asks for a snapshot of a text the client does not hold yet.
func (s *session) fetch(key string, now time.Time) {
	if _, busy := s.snapPulls[key]; busy || !s.online || !validKey(key) {
		return
	}
	id := s.newID("l")
	s.send(pullMsg{T: "pull", ID: id, Field: key, Epoch: "", Since: 0})
	s.snapPulls[key] = snapPull{id: id, at: now}
}

// pump sends a push for every field that has pending updates and may push.
func (s *session) pump(now time.Time) {
	if !s.online || now.Before(s.limitedUntil) {
		return
	}
	for _, key := range s.sortedKeys() {
		d := s.fields[key]
		if !d.readable || d.inFlight != "" || len(d.pending) == 0 || d.refused != nil || d.restoreFrom != nil ||
			now.Before(d.retryAfter) || d.version < d.waitFor || d.reloading != "" {
			continue
		}
		if d.hasEmpty() {
			// An update mapping emptied (both partners deleted the same
			// text) must not be pushed: a push that changes nothing is
			// refused. Drop it once no update of ours can be stored
			// unechoed; until then, ask the server what it holds.
			if !d.mayDropEmpty() {
				// One pull at a time, and not in a loop: tick comes back.
				if d.pulling == "" && (d.unsure && d.unsurePull == "" || now.Sub(d.pullAt) >= stallAfter) {
					s.pull(d, now)
					if d.unsure {
						d.unsurePull = d.pulling
					}
				}
				continue
			}
			s.emptied[d.key] += d.dropEmpty()
			if len(d.pending) == 0 {
				continue
			}
		}
		ups := make([]wireUpdate, 0, min(len(d.pending), maxUpdatesPerPush))
		grown, size := 0, 0
		for _, p := range d.pending {
			// The server counts inserted units, not net growth.
			g := p.changes.InsertedUnits()
			if len(ups) > 0 && (len(ups) == maxUpdatesPerPush || grown+g > s.maxInsert() || size+len(p.raw) > s.maxPushBytes()) {
				break
			}
			ups = append(ups, wireUpdate{ClientID: p.clientID, Changes: p.raw})
			grown += g
			size += len(p.raw) + len(p.clientID) + 32
		}
		id := s.newID("p")
		s.send(pushMsg{T: "push", ID: id, Field: d.key, Epoch: d.epoch, Version: d.version, Updates: ups})
		d.inFlight, d.inFlightN, d.inFlightBase, d.inFlightAt, d.inFlightEpoch = id, len(ups), d.version, now, d.epoch
	}
}

// tick runs the safety nets: replies that never came, versions reported
// but never delivered, drafts still to fetch.
func (s *session) tick(now time.Time) {
	for _, key := range s.sortedKeys() {
		d := s.fields[key]
		if d.inFlight != "" && now.Sub(d.inFlightAt) > replyTimeout {
			d.inFlight = ""
			d.unsure = true // no reply: it may have been stored
		}
		if d.pulling != "" && now.Sub(d.pullAt) > replyTimeout {
			d.pulling, d.reloading = "", ""
		}
		if d.restoring != "" && now.Sub(d.restoreAt) > replyTimeout {
			d.restoring = ""
		}
		if d.restoreFrom != nil && d.restoring == "" && !now.Before(d.retryAfter) {
			if d.ck != nil {
				s.startRestore(d, *d.restoreFrom, now)
			} else {
				d.restoreFrom = nil
			}
		}
		target := max(d.expect, d.waitFor, d.dropped)
		if d.version < target && d.pulling == "" && now.Sub(d.progressAt) > stallAfter {
			d.progressAt = now
			s.pull(d, now)
		}
	}
	for key, p := range s.snapPulls {
		if now.Sub(p.at) > replyTimeout {
			delete(s.snapPulls, key)
		}
	}
	for key := range s.wanted {
		if _, have := s.fields[key]; have {
			delete(s.wanted, key)
			continue
		}
		s.fetch(key, now)
	}
	s.pump(now)
}

// edit records a local edit of key.
func (s *session) edit(key string, pos, del int, insert string) error {
	d, ok := s.fields[key]
	if !ok {
		return fmt.Errorf("%w: no text %q", ErrUnknownField, key)
	}
	if n := changeset.UTF16Len(insert); n > s.maxInsert() {
		return fmt.Errorf("%w: %d units inserted at once, at most %d", ErrBadEdit, n, s.maxInsert())
	}
	return d.edit(s.clientID, pos, del, insert)
}

// settled reports whether nothing is pending or in flight, or the error
// that stops it from getting there (a refusal after mark).
func (s *session) settled(refusalsBefore int) (bool, error) {
	if s.refusals > refusalsBefore {
		return false, s.lastRefusal
	}
	for _, d := range s.fields {
		if len(d.pending) > 0 && !d.readable {
			return false, fmt.Errorf("%w: %s has unsent edits and is no longer readable", ErrUnknownField, d.key)
		}
		if len(d.pending) > 0 || d.inFlight != "" {
			return false, nil
		}
	}
	return true, nil
}

func (s *session) pendingCount() int {
	n := 0
	for _, d := range s.fields {
		n += len(d.pending)
	}
	return n
}

// maxInsert is the server's limit of units one push inserts (the default
// until a welcome says otherwise).
func (s *session) maxInsert() int {
	if s.limits.MaxInsertUnits > 0 {
		return s.limits.MaxInsertUnits
	}
	return limits.Default().MaxInsertUnits
}

// maxPushBytes keeps a push well under the server's message limit.
func (s *session) maxPushBytes() int {
	if m := s.limits.MaxMessageBytes; m > 0 {
		return min(maxPushBytes, m*3/4)
	}
	return maxPushBytes
}
