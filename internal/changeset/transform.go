package changeset

import (
	"fmt"
	"slices"
)

// Map returns these changes rewritten to apply to the document produced by
// other, where both start from the same document (CodeMirror's
// changes.map(other, before)). When both insert at the same position, the
// insertion of other goes first unless before is true.
//
// For any A and B on the same document, A.Compose(B.Map(A, false)) and
// B.Compose(A.Map(B, true)) produce the same document; this is how
// @codemirror/collab rebases unconfirmed local changes over remote ones.
//
// Map panics if the two sets do not start from documents of the same
// length, as CodeMirror throws: callers must check LenBefore first (Apply
// already ties every accepted set to its document).
func (c ChangeSet) Map(other ChangeSet, before bool) ChangeSet {
	if a, b := c.LenBefore(), other.LenBefore(); a != b {
		panic(fmt.Sprintf("changeset: Map over changes of another document (length %d, not %d)", b, a))
	}
	if other.Empty() {
		return c
	}
	return mapSet(c, other, before)
}

// Compose returns one change set with the effect of these changes followed
// by other, which must start from the document these changes produce
// (CodeMirror's changes.compose(other)).
//
// Compose panics unless c.LenAfter() == other.LenBefore(), as CodeMirror
// throws.
func (c ChangeSet) Compose(other ChangeSet) ChangeSet {
	if a, b := c.LenAfter(), other.LenBefore(); a != b {
		panic(fmt.Sprintf("changeset: Compose with changes of length %d after changes producing length %d", b, a))
	}
	if c.Empty() {
		return other
	}
	if other.Empty() {
		return c
	}
	return composeSets(c, other)
}

// mapSet is CodeMirror's mapSet (change.ts), kept step for step so that
// results match to the section: it walks a and b in parallel and produces a
// copy of a that applies after b.
func mapSet(setA, setB ChangeSet, before bool) ChangeSet {
	var out builder
	a, b := newSectionIter(setA), newSectionIter(setB)
	// inserted is the section index (iterator position) of the last change
	// in A whose text has been emitted: a change in A may be processed in
	// several pieces but its insertion happens once.
	for inserted := -1; ; {
		switch {
		case a.done() && b.n != 0 || b.done() && a.n != 0:
			panic("changeset: mismatched change set lengths")
		case a.ins == kept && b.ins == kept:
			// Move across ranges both sets keep.
			n := min(a.n, b.n)
			out.add(n, kept, false)
			a.forward(n)
			b.forward(n)
		case b.ins >= 0 && (a.ins < 0 || inserted == a.i || a.off == 0 && (b.n < a.n || b.n == a.n && !before)):
			// A change in B comes before the next change in A (by start,
			// then length, then the before flag): keep its result, and
			// drop what of A it covers, keeping A's insertions.
			n := b.n
			out.add(b.ins, kept, false)
			for n != 0 {
				piece := min(a.n, n)
				if a.ins >= 0 && inserted < a.i && a.n <= piece {
					out.add(0, a.ins, false)
					out.addInsert(a.text())
					inserted = a.i
				}
				a.forward(piece)
				n -= piece
			}
			b.next()
		case a.ins >= 0:
			// Emit the part of a change in A up to the next change in B
			// that is not a deletion inside it.
			n, left := 0, a.n
			for left != 0 {
				if b.ins == kept {
					piece := min(left, b.n)
					n += piece
					left -= piece
					b.forward(piece)
				} else if b.ins == 0 && b.n < left {
					left -= b.n
					b.next()
				} else {
					break
				}
			}
			if inserted < a.i {
				out.add(n, a.ins, false)
				out.addInsert(a.text())
			} else {
				out.add(n, 0, false)
			}
			inserted = a.i
			a.forward(a.n - left)
		case a.done() && b.done():
			return out.set()
		default:
			panic("changeset: mismatched change set lengths")
		}
	}
}

// composeSets is CodeMirror's composeSets (change.ts), kept step for step.
// open means the last emitted section belongs to a change that continues,
// so the next piece must be joined into it rather than become a new one.
func composeSets(setA, setB ChangeSet) ChangeSet {
	var out builder
	a, b := newSectionIter(setA), newSectionIter(setB)
	for open := false; ; {
		switch {
		case a.done() && b.done():
			return out.set()
		case a.ins == 0: // deletion in A: B never sees it
			out.add(a.n, 0, open)
			a.next()
		case b.n == 0 && !b.done(): // insertion in B
			out.add(0, b.ins, open)
			out.addInsert(b.text())
			b.next()
		case a.done() || b.done():
			panic("changeset: mismatched change set lengths")
		default:
			n, sectionsBefore := min(a.len2(), b.n), len(out.sections)
			lenA := a.n // A's old length, counted once at the start of its change
			if a.off != 0 {
				lenA = 0
			}
			switch {
			case a.ins == kept:
				insB := b.ins // B's insertion, emitted once at the start of its change
				if b.ins != kept && b.off != 0 {
					insB = 0
				}
				out.add(n, insB, open)
				// CodeMirror tests insB for truth, so this runs for -1 too,
				// appending B's (empty) text for a kept section.
				if insB != 0 {
					out.addInsert(b.text())
				}
			case b.ins == kept:
				out.add(lenA, n, open)
				out.addInsert(a.textBit(n))
			default:
				insB := b.ins
				if b.off != 0 {
					insB = 0
				}
				out.add(lenA, insB, open)
				if b.off == 0 {
					out.addInsert(b.text())
				}
			}
			open = (a.ins > n || b.ins >= 0 && b.n > n) && (open || len(out.sections) > sectionsBefore)
			a.forward2(n)
			b.forward(n)
		}
	}
}

// builder accumulates sections and texts with CodeMirror's joining rules
// (addSection and addInsert in change.ts), which decide how adjacent pieces
// merge and therefore what the JSON looks like.
type builder struct {
	sections []int
	inserted [][]uint16
}

func (b *builder) set() ChangeSet {
	return ChangeSet{sections: b.sections, inserted: b.inserted}
}

func (b *builder) add(n, ins int, forceJoin bool) {
	if n == 0 && ins <= 0 {
		return
	}
	last := len(b.sections) - 2
	switch {
	case last >= 0 && ins <= 0 && ins == b.sections[last+1]:
		b.sections[last] += n
	case last >= 0 && n == 0 && b.sections[last] == 0:
		b.sections[last+1] += ins
	case forceJoin:
		b.sections[last] += n
		b.sections[last+1] += ins
	default:
		b.sections = append(b.sections, n, ins)
	}
}

func (b *builder) addInsert(text []uint16) {
	if len(text) == 0 {
		return
	}
	index := (len(b.sections) - 2) >> 1
	if index < len(b.inserted) {
		last := len(b.inserted) - 1
		b.inserted[last] = append(b.inserted[last], text...)
		return
	}
	for len(b.inserted) < index {
		b.inserted = append(b.inserted, nil)
	}
	// Clipped, so a later append copies instead of writing into memory
	// that another ChangeSet shares.
	b.inserted = append(b.inserted, slices.Clip(text))
}

// sectionIter walks the sections of a set, possibly part of one at a time
// (CodeMirror's SectionIter). n and ins are what remains of the current
// section, off how much of it has been consumed; ins is -2 when done.
type sectionIter struct {
	set         ChangeSet
	i           int // index in set.sections just past the current pair
	n, ins, off int
}

func newSectionIter(set ChangeSet) *sectionIter {
	it := &sectionIter{set: set}
	it.next()
	return it
}

func (it *sectionIter) next() {
	if s := it.set.sections; it.i < len(s) {
		it.n, it.ins = s[it.i], s[it.i+1]
		it.i += 2
	} else {
		it.n, it.ins = 0, -2
	}
	it.off = 0
}

func (it *sectionIter) done() bool { return it.ins == -2 }

// len2 is the remaining length on the new-document side.
func (it *sectionIter) len2() int {
	if it.ins < 0 {
		return it.n
	}
	return it.ins
}

func (it *sectionIter) text() []uint16 { return it.set.text((it.i - 2) >> 1) }

func (it *sectionIter) textBit(n int) []uint16 {
	if n == 0 {
		return nil
	}
	return it.text()[it.off : it.off+n]
}

func (it *sectionIter) forward(n int) {
	if n == it.n {
		it.next()
	} else {
		it.n -= n
		it.off += n
	}
}

func (it *sectionIter) forward2(n int) {
	switch {
	case it.ins == kept:
		it.forward(n)
	case n == it.ins:
		it.next()
	default:
		it.ins -= n
		it.off += n
	}
}
