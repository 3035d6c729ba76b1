package changeset

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
)

// randText returns up to maxAtoms random atoms, with line breaks when lines.
func randText(r *rand.Rand, maxAtoms int, lines bool) string {
	// Each atom is a trap for code that counts bytes or runes instead of
	// UTF-16 units, or escapes JSON differently from JavaScript.
	atoms := [...]string{
		"a", "b", "z", " ", "0",
		"e\u0301", // e + combining acute: 2 units, 2 runes, 1 grapheme
		"\u00e9",  // é precomposed
		"漢", "字",  // CJK: 1 unit, 3 bytes
		"\U0001F44D\U0001F3FD", // 👍🏽 thumbs up + skin tone: two astral runes, 4 units
		"😀", "\U00010348",
		"\t", `"`, `\`, "/", "\u0001", "\u001f", "\u007f",
		"\u2028", "\u2029", "<", ">", "&", "\ufeff", "\ufffd",
	}
	var b strings.Builder
	for range r.IntN(maxAtoms + 1) {
		if lines && r.IntN(6) == 0 {
			// Mostly "\n", as in an editor's document; now and then a raw
			// "\r" that nobody normalised, which still counts 1 unit.
			b.WriteString([]string{"\n", "\n", "\n", "\n", "\r\n", "\r"}[r.IntN(6)])
			continue
		}
		b.WriteString(atoms[r.IntN(len(atoms))])
	}
	return b.String()
}

// randDoc returns a random document; some are empty, some long.
func randDoc(r *rand.Rand) string {
	switch r.IntN(10) {
	case 0:
		return ""
	case 1:
		return randText(r, 200, true)
	default:
		return randText(r, 20, true)
	}
}

// randLines returns the JSON of 1 to 3 random line strings,
// comma-separated, never a lone "" (an empty insertion is not canonical).
func randLines(r *rand.Rand) string {
	parts := make([]string, 1+r.IntN(3))
	for i := range parts {
		text := randText(r, 4, false)
		for len(parts) == 1 && text == "" {
			text = randText(r, 4, false)
		}
		s, _ := json.Marshal(text)
		parts[i] = string(s)
	}
	return strings.Join(parts, ",")
}

// randChangesJSON returns the JSON of a random canonical change set (as
// CodeMirror produces them: no empty entries, no two kept, two deleted or
// two inserting-only entries in a row) over a document of the given length.
// Positions fall anywhere, splitting surrogate pairs too.
func randChangesJSON(r *rand.Rand, length int) []byte {
	const (
		keep = iota
		del
		insert
		replace
	)
	var entries []string
	prev := -1
	for pos := 0; ; {
		kind := r.IntN(4)
		if pos == length {
			if r.IntN(3) > 0 {
				return []byte("[" + strings.Join(entries, ",") + "]")
			}
			kind = insert
		}
		if kind == prev && kind != replace {
			continue
		}
		k := min(length-pos, 1+r.IntN(4))
		if r.IntN(8) == 0 {
			k = min(length-pos, 1+r.IntN(40))
		}
		var e string
		switch kind {
		case keep:
			e = strconv.Itoa(k)
		case del:
			e = "[" + strconv.Itoa(k) + "]"
		case insert:
			e, k = "[0,"+randLines(r)+"]", 0
		case replace:
			e = "[" + strconv.Itoa(k) + "," + randLines(r) + "]"
		}
		entries = append(entries, e)
		pos += k
		prev = kind
	}
}
