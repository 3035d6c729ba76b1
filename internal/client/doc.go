package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"repairroom/internal/changeset"
)

// localUpdate is an edit the server has not confirmed yet: @codemirror/
// collab's LocalUpdate without the transaction.
type localUpdate struct {
	clientID string
	changes  changeset.ChangeSet
	raw      []byte // canonical JSON of changes, as the server will echo it
}

// doc is one collaborative text as this client holds it.
//
// Invariants (checked by the tests after every step): pending[0] applies to
// confirmed, each pending update applies to the result of the one before,
// and text is confirmed with every pending update applied. confirmed is the
// server's text at version under epoch.
type doc struct {
	key       string
	epoch     string
	version   int64
	confirmed string
	text      string
	// lineage is epoch's (FieldSnapshot.Lineage): the earlier epochs its
	// text holds, so a late reset to one of them is known to be old.
	lineage  []Lineage
	pending  []localUpdate
	readable bool // the last welcome listed it

	// Push bookkeeping: at most one push in flight.
	inFlight      string // id of the push in flight, "" when none
	inFlightN     int    // how many pending updates it carries
	inFlightBase  int64  // the version it was made at
	inFlightEpoch string // and the epoch
	inFlightAt    time.Time
	// After an ack, the acknowledged updates stay pending until their echo
	// confirms them; ackedN of them, pushed at ackedBase.
	ackedBase int64
	ackedN    int
	// waitFor gates the next push: after an ack or behind, the updates up
	// to the version the server reported must arrive first (our echo, or
	// what we missed); pushing before would only be answered behind.
	waitFor int64
	// expect is a version the server reported (ack, behind, welcome): the
	// updates up to it are on their way. If none arrives for stallAfter,
	// the field is pulled.
	expect     int64
	progressAt time.Time // last time version moved or a wait began
	// dropped is the highest version of an update dropped because it came
	// after a gap: it will not come again unless pulled.
	dropped    int64
	pulling    string // id of the pull in flight
	pullAt     time.Time
	pullSince  int64        // the version the pull in flight asked from
	pullEpoch  string       // and under which epoch
	refused    *ServerError // the last push was refused; cleared by Sync and by room changes
	retryAfter time.Time    // storage was unavailable: push again after this

	// unsure is set while a push of ours may be stored without our
	// knowing (its reply was lost, the socket closed, storage failed):
	// its echo would confirm pending updates by clientID, empty ones
	// included, so none is dropped until the answer to a pull sent after
	// it (unsurePull, its id) has come.
	unsure     bool
	unsurePull string
	// reloading is the id of the snapshot pull sent after a push was
	// refused bad_changes: its reset is taken even when it is not newer,
	// so the pending edits are rebuilt on the server's text.
	reloading string

	// ck is the latest signed checkpoint: the confirmed text at a version
	// the server signed. After Redis went back or was wiped, it is
	// presented in a restore (see session.startRestore).
	ck *Checkpoint
	// ackCk is the signature an ack carried, adopted as ck once the
	// confirmed version reaches it (when our echo arrives).
	ackCk *Checkpoint
	// A restore in flight (its id), and the snapshot the server showed
	// that made us present it: taken if the restore is refused. No push
	// while restoreFrom is set.
	restoring   string
	restoreAt   time.Time
	restoreFrom *FieldSnapshot
}

// Checkpoint is a field's text at a version, signed by the server.
type Checkpoint struct {
	Epoch   string
	Version int64
	Text    string
	Sig     string
}

// noteSig adopts sig as the checkpoint when it signs exactly what d has
// confirmed (epoch and version), and an ack's signature once reached.
func (d *doc) noteSig(epoch string, version int64, sig string) {
	if sig != "" && epoch == d.epoch && version == d.version {
		d.ck = &Checkpoint{Epoch: epoch, Version: version, Text: d.confirmed, Sig: sig}
	}
	if a := d.ackCk; a != nil && a.Epoch == d.epoch && a.Version == d.version {
		d.ck = &Checkpoint{Epoch: a.Epoch, Version: a.Version, Text: d.confirmed, Sig: a.Sig}
		d.ackCk = nil
	} else if a != nil && (a.Epoch != d.epoch || a.Version < d.version) {
		d.ackCk = nil
	}
}

// holds returns the version up to which d's confirmed text holds epoch's
// text: its own version under its own epoch, the lineage's otherwise.
func (d *doc) holds(epoch string) (int64, bool) {
	return FieldSnapshot{Epoch: d.epoch, Version: d.version, Lineage: d.lineage}.holds(epoch)
}

func newDoc(key string, snap FieldSnapshot) *doc {
	d := &doc{key: key, epoch: snap.Epoch, version: snap.Version, confirmed: snap.Text, text: snap.Text, lineage: snap.Lineage, readable: true}
	d.noteSig(snap.Epoch, snap.Version, snap.Sig)
	return d
}

// replaceSet builds the change set that replaces del units at pos with
// insert in a document of docLen UTF-16 units, and its canonical JSON.
func replaceSet(docLen, pos, del int, insert string) (changeset.ChangeSet, []byte, error) {
	var b bytes.Buffer
	b.WriteByte('[')
	sep := func() {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
	}
	if pos > 0 {
		fmt.Fprintf(&b, "%d", pos)
	}
	if del > 0 || insert != "" {
		sep()
		fmt.Fprintf(&b, "[%d", del)
		if insert != "" {
			for _, line := range strings.Split(insert, "\n") {
				s, err := json.Marshal(line)
				if err != nil {
					return changeset.ChangeSet{}, nil, err
				}
				b.WriteByte(',')
				b.Write(s)
			}
		}
		b.WriteByte(']')
	}
	if rest := docLen - pos - del; rest > 0 {
		sep()
		fmt.Fprintf(&b, "%d", rest)
	}
	b.WriteByte(']')
	cs, err := changeset.Parse(b.Bytes())
	if err != nil {
		return changeset.ChangeSet{}, nil, err
	}
	raw, err := cs.MarshalJSON()
	return cs, raw, err
}

// ErrBadEdit is returned by Edit for a range outside the text or one that
// splits a character.
var ErrBadEdit = errors.New("client: edit out of range")

// edit records a local change (UTF-16 positions on the local text).
func (d *doc) edit(clientID string, pos, del int, insert string) error {
	insert = changeset.NormalizeLineBreaks(insert)
	if !utf8.ValidString(insert) {
		return fmt.Errorf("%w: the inserted text is not valid UTF-8", ErrBadEdit)
	}
	units := utf16.Encode([]rune(d.text))
	n := len(units)
	if pos < 0 || del < 0 || pos > n || del > n-pos {
		return fmt.Errorf("%w: %d+%d on a text of %d units", ErrBadEdit, pos, del, n)
	}
	if splitsPair(units, pos) || splitsPair(units, pos+del) {
		return fmt.Errorf("%w: %d+%d splits a surrogate pair", ErrBadEdit, pos, del)
	}
	if del == 0 && insert == "" {
		return nil
	}
	cs, raw, err := replaceSet(n, pos, del, insert)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadEdit, err)
	}
	text, err := cs.Apply(d.text)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadEdit, err)
	}
	d.text = text
	d.pending = append(d.pending, localUpdate{clientID: clientID, changes: cs, raw: raw})
	return nil
}

func splitsPair(units []uint16, i int) bool {
	return i > 0 && i < len(units) && isHigh(units[i-1]) && isLow(units[i])
}

// received is a decoded remote update in a batch.
type received struct {
	clientID string
	changes  changeset.ChangeSet
	raw      []byte
}

// ownConfirmation is one of our updates the server echoed back.
type ownConfirmation struct {
	version int64 // the version it produced
	update  localUpdate
}

// errMismatch means an update does not fit the confirmed text: the client
// and the server disagree, and only a snapshot can mend it.
var errMismatch = errors.New("client: update does not fit the confirmed text")

// receive applies updates ups, of which the first took the field from
// version from, following @codemirror/collab's receiveUpdates. The caller
// has checked the epoch and that from <= d.version. Updates the client
// already has are skipped. It returns our own updates it confirmed.
//
// As in collab, an update confirms the head of the pending list when it
// carries our clientID, wherever it is in the batch: the server rebases a
// push made at an older version over what was accepted since, so our echo
// may follow foreign updates and carry changes mapped over them. The
// foreign changes seen so far are then mapped over our original update
// (changes.map(ours, true)). Every other update is applied to the
// confirmed text and composed into changes, which are then mapped over
// the remaining pending updates (changes.map(unconfirmed, true)) while each
// pending update is mapped over them (unconfirmed.map(changes)).
//
// Updates are taken one at a time, whatever frame they came in: mapping
// the pending updates over a composition of remote changes can differ from
// mapping them over each change in turn, and the server rebases a push that
// is behind over each accepted update in turn (changeset.RebaseEach). Our
// own updates are confirmed by clientID without comparing their changes,
// so only the same path keeps our text equal to the server's.
func (d *doc) receive(from int64, ups []wireUpdate) ([]ownConfirmation, error) {
	var mine []ownConfirmation
	for i := range ups {
		m, err := d.receiveBatch(from+int64(i), ups[i:i+1])
		mine = append(mine, m...)
		if err != nil {
			return mine, err
		}
	}
	return mine, nil
}

// receiveBatch applies a batch of updates as one step, as collab's
// receiveUpdates does with the updates it is given.
func (d *doc) receiveBatch(from int64, ups []wireUpdate) ([]ownConfirmation, error) {
	skip := d.version - from
	if skip < 0 || skip >= int64(len(ups)) {
		return nil, nil
	}
	ups = ups[skip:]
	// Decode and check everything before changing anything.
	batch := make([]received, len(ups))
	confirmed := d.confirmed
	for i, u := range ups {
		cs, err := changeset.Parse(u.Changes)
		if err != nil {
			return nil, fmt.Errorf("%w: update %d: %v", errMismatch, d.version+int64(i), err)
		}
		if confirmed, err = cs.Apply(confirmed); err != nil {
			return nil, fmt.Errorf("%w: update %d: %v", errMismatch, d.version+int64(i), err)
		}
		raw, _ := cs.MarshalJSON()
		batch[i] = received{clientID: u.ClientID, changes: cs, raw: raw}
	}

	var changes changeset.ChangeSet
	foreign := false
	own := 0
	var mine []ownConfirmation
	for i, u := range batch {
		if own < len(d.pending) && d.pending[own].clientID == u.clientID {
			if p := d.pending[own].changes; !foreign && (p.LenBefore() != u.changes.LenBefore() || p.LenAfter() != u.changes.LenAfter()) {
				// With nothing foreign before it, the server stores our
				// update as we sent it: one that does not even have its
				// lengths is not ours, and taking it would break confirmed
				// + pending = text.
				return nil, fmt.Errorf("%w: our update %d came back changed", errMismatch, own)
			}
			if foreign {
				if d.pending[own].changes.LenBefore() != changes.LenBefore() {
					return nil, fmt.Errorf("%w: our update %d does not fit", errMismatch, own)
				}
				changes = changes.Map(d.pending[own].changes, true)
			}
			// The confirmation records the update as the server stored it.
			mine = append(mine, ownConfirmation{version: d.version + int64(i) + 1,
				update: localUpdate{clientID: u.clientID, changes: u.changes, raw: u.raw}})
			own++
			continue
		}
		if !foreign {
			changes, foreign = u.changes, true
		} else {
			changes = changes.Compose(u.changes)
		}
	}
	pending := d.pending[own:]
	text := d.text
	if foreign {
		rebased := make([]localUpdate, len(pending))
		for i, p := range pending {
			if p.changes.LenBefore() != changes.LenBefore() {
				return nil, fmt.Errorf("%w: pending update %d does not fit", errMismatch, i)
			}
			pc := p.changes.Map(changes, false)
			changes = changes.Map(p.changes, true)
			raw, _ := pc.MarshalJSON()
			rebased[i] = localUpdate{clientID: p.clientID, changes: pc, raw: raw}
		}
		pending = rebased
		var err error
		if text, err = changes.Apply(d.text); err != nil {
			return nil, fmt.Errorf("%w: remote changes do not fit the local text: %v", errMismatch, err)
		}
	}
	d.pending = pending
	d.confirmed = confirmed
	d.text = text
	d.version += int64(len(batch))
	return mine, nil
}

// hasEmpty reports whether a pending update changes nothing (mapping
// emptied it: both partners deleted the same text at once).
func (d *doc) hasEmpty() bool {
	for _, p := range d.pending {
		if p.changes.Empty() {
			return true
		}
	}
	return false
}

// mayDropEmpty reports whether empty pending updates can be dropped: only
// when no update of ours can be stored unechoed (nothing acknowledged and
// not yet confirmed, no push whose fate is unknown, every version the
// server reported here). Collab confirms our updates by clientID and in
// order, so dropping one the server holds would confirm the wrong ones.
func (d *doc) mayDropEmpty() bool {
	acked := d.ackedN > 0 && d.ackedBase == d.version // acknowledged, echo not here yet
	return !d.unsure && !acked && d.inFlight == "" && d.version >= max(d.expect, d.waitFor, d.dropped)
}

// dropEmpty removes the pending updates that change nothing. The server
// refuses a push whose every update changes nothing (docs/protocol.md), so
// such an update would block the field; an empty update applies as the
// identity, so confirmed + pending still makes text. It returns how many
// were dropped.
func (d *doc) dropEmpty() int {
	kept := d.pending[:0:0]
	for _, p := range d.pending {
		if !p.changes.Empty() {
			kept = append(kept, p)
		}
	}
	n := len(d.pending) - len(kept)
	d.pending = kept
	return n
}

// resetTo replaces the field with a snapshot and rebases the pending
// updates onto it: the difference between the old confirmed text and the
// snapshot is treated as one foreign change, exactly like a remote update.
//
// The choice: pending edits are never dropped. When the epoch changed the
// server lost the data they were based on, so replaying them (moved to fit
// the new text) is right. When the epoch is the same (the log no longer
// reached back far enough) and a push was unacknowledged, the server may
// already hold it, and then it appears twice: at least once, never lost.
func (d *doc) resetTo(snap FieldSnapshot) error {
	if snap.Epoch != d.epoch {
		d.lineage = snap.Lineage
	}
	diff, err := diffSet(d.confirmed, snap.Text)
	if err != nil {
		// The snapshot cannot be reached by an editor's changes (it holds a
		// "\r"): take it as it is; the pending edits cannot be kept.
		d.pending = nil
		d.epoch, d.version, d.confirmed, d.text = snap.Epoch, snap.Version, snap.Text, snap.Text
		return err
	}
	changes := diff
	rebased := make([]localUpdate, len(d.pending))
	for i, p := range d.pending {
		if p.changes.LenBefore() != changes.LenBefore() {
			d.pending = nil
			d.epoch, d.version, d.confirmed, d.text = snap.Epoch, snap.Version, snap.Text, snap.Text
			return fmt.Errorf("%w: pending update %d does not fit", errMismatch, i)
		}
		pc := p.changes.Map(changes, false)
		changes = changes.Map(p.changes, true)
		raw, _ := pc.MarshalJSON()
		rebased[i] = localUpdate{clientID: p.clientID, changes: pc, raw: raw}
	}
	text, err := changes.Apply(d.text)
	if err != nil {
		d.pending = nil
		d.epoch, d.version, d.confirmed, d.text = snap.Epoch, snap.Version, snap.Text, snap.Text
		return err
	}
	d.pending = rebased
	d.epoch, d.version, d.confirmed, d.text = snap.Epoch, snap.Version, snap.Text, text
	d.expect, d.dropped = 0, 0
	return nil
}

// diffSet returns a change set taking a to b: one replacement between
// their common prefix and suffix, never splitting a surrogate pair.
func diffSet(a, b string) (changeset.ChangeSet, error) {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	p := 0
	for p < len(ua) && p < len(ub) && ua[p] == ub[p] {
		p++
	}
	if p > 0 && isHigh(ua[p-1]) {
		p--
	}
	s := 0
	for s < len(ua)-p && s < len(ub)-p && ua[len(ua)-1-s] == ub[len(ub)-1-s] {
		s++
	}
	if s > 0 && isLow(ua[len(ua)-s]) {
		s--
	}
	insert := string(utf16.Decode(ub[p : len(ub)-s]))
	cs, _, err := replaceSet(len(ua), p, len(ua)-p-s, insert)
	return cs, err
}

func isHigh(u uint16) bool { return u >= 0xd800 && u < 0xdc00 }
func isLow(u uint16) bool  { return u >= 0xdc00 && u < 0xe000 }

// check verifies the invariants; tests call it after every step.
func (d *doc) check() error {
	t := d.confirmed
	for i, p := range d.pending {
		var err error
		if t, err = p.changes.Apply(t); err != nil {
			return fmt.Errorf("%s: pending update %d does not apply: %v", d.key, i, err)
		}
	}
	if t != d.text {
		return fmt.Errorf("%s: confirmed+pending = %q, local text %q", d.key, t, d.text)
	}
	return nil
}
