// Reference oracle for changeset.Rebase: answers, with the real
// @codemirror/collab rebaseUpdates, the questions the Go differential test
// (internal/changeset/rebase_differential_test.go) asks.
//
// Input, one JSON object per line on stdin:
//   {"updates": [{"clientID": "...", "changes": [...]}, ...],
//    "over":    [{"clientID": "...", "changes": [...]}, ...],
//    "each":    true to rebase over one accepted update at a time}
// Output, one JSON object per line on stdout, in input order:
//   {"updates": [{"clientID": "...", "changes": [...]}, ...]}
// or {"error": "..."} when CodeMirror throws.
//
// Run it with `node scripts/rebase-oracle.mjs` after `npm ci`.
import {ChangeSet} from "@codemirror/state"
import {rebaseUpdates} from "@codemirror/collab"
import {createInterface} from "node:readline"

const parse = us => us.map(u => ({clientID: u.clientID, changes: ChangeSet.fromJSON(u.changes)}))

const lines = createInterface({input: process.stdin, crlfDelay: Infinity})
for await (const line of lines) {
  if (!line.trim()) continue
  let out
  try {
    const input = JSON.parse(line)
    let rebased = parse(input.updates)
    const over = parse(input.over)
    if (input.each) for (const o of over) rebased = rebaseUpdates(rebased, [o])
    else rebased = rebaseUpdates(rebased, over)
    out = {updates: rebased.map(u => ({clientID: u.clientID, changes: u.changes.toJSON()}))}
  } catch (e) {
    out = {error: String(e && e.message || e)}
  }
  process.stdout.write(JSON.stringify(out) + "\n")
}
