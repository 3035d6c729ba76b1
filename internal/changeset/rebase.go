package changeset

import "fmt"

// Update is one @codemirror/collab update as the server sees it: the
// changes and the id of the client that made them.
type Update struct {
	ClientID string
	Changes  ChangeSet
}

// Rebase is @codemirror/collab's rebaseUpdates: updates were made on top of
// some version v, and over are the updates accepted since v, in order. It
// drops the leading updates already accepted (matched by clientID against
// over, in order, as collab does: an update is taken as accepted when its
// client's next accepted update appears in over), and maps the rest over
// everything else accepted since v, so they apply to the current document.
//
// It follows collab's algorithm step by step (ChangeDesc operations are the
// same as ChangeSet ones on the section lengths), so the rebased updates are
// exactly those a browser rebasing the same input would produce; a
// differential test runs both. Effects are not carried: the server has none.
//
// Where collab would throw (updates whose clientIDs claim accepted updates
// of other lengths, as only a forged push can), Rebase returns an error
// wrapping ErrLengthMismatch instead of panicking: its input is untrusted.
func Rebase(updates, over []Update) ([]Update, error) {
	if len(over) == 0 || len(updates) == 0 {
		return updates, nil
	}
	var changes ChangeSet
	have, skip := false, 0
	for i, u := range over {
		switch {
		case skip < len(updates) && updates[skip].ClientID == u.ClientID:
			if have {
				if err := sameStart(changes, updates[skip].Changes); err != nil {
					return nil, fmt.Errorf("update %d claims accepted update %d: %w", skip, i, err)
				}
				changes = changes.Map(updates[skip].Changes, true)
			}
			skip++
		case have:
			if a, b := changes.LenAfter(), u.Changes.LenBefore(); a != b {
				return nil, fmt.Errorf("accepted update %d starts at length %d, not %d: %w", i, b, a, ErrLengthMismatch)
			}
			changes = changes.Compose(u.Changes)
		default:
			changes, have = u.Changes, true
		}
	}
	updates = updates[skip:]
	if !have {
		return updates, nil
	}
	out := make([]Update, len(updates))
	for i, u := range updates {
		if err := sameStart(changes, u.Changes); err != nil {
			return nil, fmt.Errorf("update %d does not follow the accepted ones: %w", skip+i, err)
		}
		out[i] = Update{ClientID: u.ClientID, Changes: u.Changes.Map(changes, false)}
		changes = changes.Map(u.Changes, true)
	}
	return out, nil
}

func sameStart(a, b ChangeSet) error {
	if x, y := a.LenBefore(), b.LenBefore(); x != y {
		return fmt.Errorf("lengths %d and %d: %w", x, y, ErrLengthMismatch)
	}
	return nil
}

// InsertedUnits returns the UTF-16 units c inserts, counted as inserted: a
// replacement counts its whole insert, not the net growth.
func (c ChangeSet) InsertedUnits() int {
	n := 0
	for i := 1; i < len(c.sections); i += 2 {
		if c.sections[i] > 0 {
			n += c.sections[i]
		}
	}
	return n
}

// RebaseEach rebases updates over the accepted updates one at a time:
// Rebase(updates, over[0:1]), then over[1:2], and so on. This is the rule
// the server uses, because mapping over a composition of changes and
// mapping over them one by one can give different results (CodeMirror's
// mapping is not path-independent when changes touch the same places), and
// a client confirms its own updates by clientID without comparing them: it
// keeps its own mapped version. Clients apply received updates one at a
// time (receiveUpdates with one update per call), so their mapping path is
// exactly this one, whatever frames the updates arrived in, and the text
// they keep is the text the server stores.
func RebaseEach(updates, over []Update) ([]Update, error) {
	for i := range over {
		var err error
		if updates, err = Rebase(updates, over[i:i+1]); err != nil {
			return nil, fmt.Errorf("accepted update %d: %w", i, err)
		}
		if len(updates) == 0 {
			break
		}
	}
	return updates, nil
}
