package realtime

// Local delivery. A commit reaches this node's sockets straight from the
// push that made it, not after a second trip through Redis's pub/sub: the
// other sockets see a keystroke one hop sooner, and the pusher gets its
// ack and its own update in one write. Every commit is still published,
// for the other nodes.
//
// Order is kept per field. While a push of this node is in flight for a
// field, what the channel brings for that field is held back: this node's
// own copy of the commit (Redis often sends it before the script's reply)
// and anything after it. When the push returns, the held messages go out
// in channel order, then the commit itself unless a held copy already
// carried it; copies already delivered are recognised by their place in
// the field's history (epoch, versions) and dropped. A push whose outcome
// is unknown releases what it held: if it was committed, its copy on the
// channel is delivered like any other.

// fieldPos is how far the updates of a field were delivered here.
type fieldPos struct {
	epoch   string
	version int64
}

// flow is one field's delivery state on this node (guarded by rh.dmu).
type flow struct {
	pos      fieldPos
	known    bool
	inflight int       // pushes of this node being committed
	held     []heldMsg // channel messages waiting for them, in order
}

type heldMsg struct {
	hd   busHeader
	body []byte
}

// maxHeld bounds a field's held messages; past it they go out at once (a
// push stuck that long has bigger problems than order).
const maxHeld = 1024

func (rh *roomHub) flowOf(field string) *flow {
	if rh.flows == nil {
		rh.flows = make(map[string]*flow)
	}
	f := rh.flows[field]
	if f == nil {
		f = &flow{}
		rh.flows[field] = f
	}
	return f
}

// beginCommit notes a push of this node to field about to be committed.
func (rh *roomHub) beginCommit(field string) {
	rh.dmu.Lock()
	rh.flowOf(field).inflight++
	rh.dmu.Unlock()
}

// endCommit ends what beginCommit started. When ok (Redis committed it),
// ack goes to the pusher and the commit (hd, body) to every local reader,
// the pusher's own copy right behind its ack.
func (rh *roomHub) endCommit(field string, ok bool, hd busHeader, body []byte, self *conn, ack []byte) {
	rh.dmu.Lock()
	defer rh.dmu.Unlock()
	f := rh.flowOf(field)
	f.inflight--
	held := f.held
	f.held = nil
	for _, m := range held {
		if ok && ack != nil && m.hd.Node == hd.Node && m.hd.Epoch == hd.Epoch && m.hd.From == hd.From && m.hd.N == hd.N {
			// Our commit's copy from the channel: it leaves with the ack.
			if !rh.deliverLocked(f, m.hd, m.body, false, self, ack) {
				self.enqueue(ack)
			}
			ack = nil
			continue
		}
		rh.deliverLocked(f, m.hd, m.body, false, nil, nil)
	}
	if ok && ack != nil && !rh.deliverLocked(f, hd, body, true, self, ack) {
		self.enqueue(ack)
	}
}

// fromChannel delivers an updates message the room's channel brought.
func (rh *roomHub) fromChannel(hd busHeader, body []byte) {
	rh.dmu.Lock()
	defer rh.dmu.Unlock()
	if hd.Field == "" || hd.N == 0 {
		// Not from the push path (a restore's broadcast): no place in the
		// history to order it by.
		rh.heads.observe(body)
		rh.fanOut(hd, body, nil, nil)
		return
	}
	f := rh.flowOf(hd.Field)
	if f.inflight > 0 && hd.Node == rh.h.node || len(f.held) > 0 && len(f.held) < maxHeld {
		f.held = append(f.held, heldMsg{hd: hd, body: body})
		return
	}
	for _, m := range f.held {
		rh.deliverLocked(f, m.hd, m.body, false, nil, nil)
	}
	f.held = nil
	rh.deliverLocked(f, hd, body, false, nil, nil)
}

// deliverLocked delivers one commit to the local readers unless it was
// delivered before, and reports whether it did. The pusher's own commit
// (own) goes out only when it follows what was delivered: otherwise its
// channel copy, which comes after the missing ones, delivers it. With
// self and ack, self gets ack and the frame in one queueing.
func (rh *roomHub) deliverLocked(f *flow, hd busHeader, body []byte, own bool, self *conn, ack []byte) bool {
	end := hd.From + hd.N
	if f.known && f.pos.epoch == hd.Epoch && (end <= f.pos.version || own && hd.From > f.pos.version) {
		return false
	}
	f.known, f.pos = true, fieldPos{epoch: hd.Epoch, version: end}
	if self == nil {
		// Another node's commit: before any socket can push on it. (With
		// self it is this node's, which heads.committed already recorded.)
		rh.heads.observe(body)
	}
	rh.fanOut(hd, body, self, ack)
	return true
}

// fanOut hands body to every local socket whose role is in hd.Aud; self
// gets ack first, in the same queueing, whether it may read body or not.
func (rh *roomHub) fanOut(hd busHeader, body []byte, self *conn, ack []byte) {
	conns, _ := rh.snapshot()
	for _, c := range conns {
		switch {
		case c == self && ack != nil && hasRole(hd.Aud, c.p.Role):
			c.enqueuePair(ack, body)
		case c == self && ack != nil:
			c.enqueue(ack)
		case hasRole(hd.Aud, c.p.Role):
			c.deliver(body)
		}
	}
}
