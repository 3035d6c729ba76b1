import { ChangeSet, Text } from "@codemirror/state";

/**
 * The single replacement that turns `from` into `to`: the part between
 * their common prefix and common suffix. Cheap (linear), and good enough to
 * map positions: text that both documents share at their start and end keeps
 * its place.
 */
export function diffChange(from: Text, to: Text): ChangeSet {
  const a = from.toString();
  const b = to.toString();
  let start = 0;
  const max = Math.min(a.length, b.length);
  while (start < max && a.charCodeAt(start) === b.charCodeAt(start)) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a.charCodeAt(endA - 1) === b.charCodeAt(endB - 1)) {
    endA--;
    endB--;
  }
  // Never split a surrogate pair: widen the replaced span instead.
  if (start > 0 && isHighSurrogate(a.charCodeAt(start - 1))) start--;
  if (endA < a.length && isLowSurrogate(a.charCodeAt(endA)) && endB < b.length) {
    endA++;
    endB++;
  }
  if (start === endA && start === endB) return ChangeSet.empty(a.length);
  return ChangeSet.of({ from: start, to: endA, insert: b.slice(start, endB) }, a.length);
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c < 0xdc00;
}
function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c < 0xe000;
}

/**
 * Rebase unsent local edits onto a replacement document.
 *
 * `unsent` are the editor's unconfirmed changes, in order, starting from
 * `base` (the last document the server confirmed to us). `target` is the
 * document the server now says is current (a `reset` or a new epoch in
 * `welcome`). We compute the change base→target as one replacement (common
 * prefix/suffix kept) and map the composed local edits over it — the same
 * operational transform collab uses for concurrent edits. So an edit in a
 * part of the text that both versions share lands in the same place; an
 * edit inside text that the server no longer has is kept, at the nearest
 * surviving position (its inserted words are never dropped; deletions of
 * text that is gone are dropped). Returns null when there is nothing to
 * apply.
 */
export function rebaseOnto(base: Text, unsent: readonly ChangeSet[], target: Text): ChangeSet | null {
  if (!unsent.length) return null;
  let local = unsent[0];
  for (let i = 1; i < unsent.length; i++) local = local.compose(unsent[i]);
  if (local.length !== base.length) {
    // Should not happen; fall back to appending the inserted text.
    return appendInserted(local, target);
  }
  const server = diffChange(base, target);
  const mapped = local.map(server);
  return mapped.empty ? null : mapped;
}

/** Fallback: the text the local edits inserted, appended at the end of `target`. */
export function appendInserted(local: ChangeSet, target: Text): ChangeSet | null {
  const parts: string[] = [];
  local.iterChanges((_fa, _ta, _fb, _tb, inserted) => {
    if (inserted.length) parts.push(inserted.toString());
  });
  const text = parts.join(" ");
  if (!text) return null;
  const sep = target.length && !target.sliceString(target.length - 1).match(/\s/) ? "\n" : "";
  return ChangeSet.of({ from: target.length, insert: sep + text }, target.length);
}
