// Member list bookkeeping for the "members" and "presence" frames
// (docs/protocol.md). The server coalesces member changes: a socket's first
// "members" after its welcome carries the whole list, later ones a diff
// (joined, changed, left); a "presence" frame carries one member or
// several. Pure functions, so the rules have unit tests.
import type { Member, MembersMsg, PresenceMsg } from "../types";

/** The list after a "members" frame: replaced by a whole list, else the diff applied. */
export function applyMembers(cur: Member[], msg: MembersMsg): Member[] {
  if (msg.members) return msg.members;
  const left = new Set(msg.left ?? []);
  const out = cur.filter((m) => !left.has(m.id));
  for (const m of [...(msg.joined ?? []), ...(msg.changed ?? [])]) {
    const i = out.findIndex((x) => x.id === m.id);
    if (i >= 0) out[i] = { ...out[i], ...m };
    else out.push(m);
  }
  return out;
}

/** The members a "presence" frame moves. */
export function movedMembers(msg: PresenceMsg): Member[] {
  return msg.members ?? (msg.member ? [msg.member] : []);
}
