// Reference oracle for internal/changeset: answers, with the real
// @codemirror/state, the questions the Go differential test asks.
//
// Input, one JSON object per line on stdin:
//   {"doc": "...", "changes": [...], "other": [...], "next": [...]}
// "other" (same start document as "changes") and "next" (starting from the
// document "changes" produces) are optional.
// Output, one JSON object per line on stdout, in input order:
//   {"json": changes.toJSON(),
//    "apply": changes.apply(Text.of(doc.split("\n"))).toString(),
//    "wellFormed": whether "apply" has no unpaired surrogate,
//    "map": changes.map(other), "mapBefore": changes.map(other, true),
//    "compose": changes.compose(next)}
// or {"error": "..."} when CodeMirror throws.
//
// Run it with `node scripts/changeset-oracle.mjs` after `npm ci`.
import {ChangeSet, Text} from "@codemirror/state"
import {createInterface} from "node:readline"

// With the u flag a surrogate pair is one code point, so this matches only
// unpaired halves.
const loneSurrogate = /\p{Surrogate}/u

function answer(input) {
  const changes = ChangeSet.fromJSON(input.changes)
  const out = {json: changes.toJSON()}
  if (typeof input.doc == "string") {
    const doc = changes.apply(Text.of(input.doc.split("\n"))).toString()
    out.apply = doc
    out.wellFormed = !loneSurrogate.test(doc)
  }
  if (input.other) {
    const other = ChangeSet.fromJSON(input.other)
    out.map = changes.map(other).toJSON()
    out.mapBefore = changes.map(other, true).toJSON()
  }
  if (input.next) out.compose = changes.compose(ChangeSet.fromJSON(input.next)).toJSON()
  return out
}

const lines = createInterface({input: process.stdin, crlfDelay: Infinity})
for await (const line of lines) {
  if (!line.trim()) continue
  let out
  try {
    out = answer(JSON.parse(line))
  } catch (e) {
    out = {error: String(e && e.message || e)}
  }
  process.stdout.write(JSON.stringify(out) + "\n")
}
