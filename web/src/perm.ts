// Who may do what, as the client shows it. The server decides (and says
// why with an error code); these rules only keep the page honest: read-only
// editors, disabled buttons, and a kind sentence saying why.

import type { FieldDef, Member, PartnerRole, Role, RoomState, StageDef, Template } from "./types";
import { PARTNERS } from "./types";

export const DEFAULT_NAMES: Record<Role, string> = {
  partner_a: "Partner A",
  partner_b: "Partner B",
  moderator: "Therapist",
};

/** The seats that may write a field owned by `owner`, given the room's role assignment. */
export function writers(owner: string, room: RoomState): Role[] {
  switch (owner) {
    case "partner_a":
    case "partner_b":
    case "moderator":
      return [owner];
    case "both":
      return ["partner_a", "partner_b", "moderator"];
    default: {
      const seat = room.roles?.[owner];
      return seat ? [seat] : [];
    }
  }
}

/** The writer of a text key: a reveal draft belongs to its partner, other keys to the field's owner. */
export function keyWriters(key: string, field: FieldDef, room: RoomState): Role[] {
  if (field.kind === "reveal") {
    const p = key.slice(field.id.length + 1) as PartnerRole;
    return PARTNERS.includes(p) ? [p] : [];
  }
  return writers(field.owner, room);
}

export function rolesUnset(owner: string, room: RoomState): boolean {
  return !["partner_a", "partner_b", "moderator", "both"].includes(owner) && !room.roles?.[owner];
}

/** True while a break is running (the server's `until` is in the future). */
export function onBreak(room: RoomState, now: number): boolean {
  if (!room.break) return false;
  const until = Date.parse(room.break.until);
  return isNaN(until) ? true : now < until;
}

export function isPartner(role: Role): role is PartnerRole {
  return role === "partner_a" || role === "partner_b";
}

export function otherPartner(p: PartnerRole): PartnerRole {
  return p === "partner_a" ? "partner_b" : "partner_a";
}

export interface Verdict {
  ok: boolean;
  /** Why not, in words for the person (empty when ok). */
  why: string;
}

const YES: Verdict = { ok: true, why: "" };
const no = (why: string): Verdict => ({ ok: false, why });

/**
 * Whether `me` may write now in a field of `stage` (for a text key, pass
 * the key's writers). Order matters: the first reason is the one shown.
 */
export function canWrite(
  who: Role[],
  owner: string,
  stage: StageDef,
  me: Role,
  room: RoomState,
  now: number,
  name: (r: Role) => string,
  field?: FieldDef,
): Verdict {
  // The therapist's notes stay writable after the end, as on the server.
  if (owner === "moderator") return me === "moderator" ? YES : no("");
  if (room.ended) return no("The conversation has ended.");
  if (rolesUnset(owner, room)) return no("This opens once the roles are chosen.");
  if (!who.includes(me)) return no("");
  if (field?.anytime) return YES;
  if (room.hold && isPartner(me) && !field?.pause?.length) return no("The conversation is paused.");
  if (stage.id !== room.stage) return no("This stage is not the current one.");
  if (onBreak(room, now)) return no(me === "moderator" ? "The conversation is paused for a break." : "You are on a break.");
  if (field?.after && room.mirrors?.[field.after]?.status !== "yes") return no("This opens once the words above are confirmed.");
  if (me === "moderator") return YES;
  if (room.locked?.[stage.id]) return no("The therapist has paused writing in this stage.");
  if (stage.turnTaking && room.floor && room.floor !== me) return no(`${name(room.floor)} has the floor.`);
  return YES;
}

/** Display name of a seat: the room's names, then a present member's name, then a default. */
export function seatName(role: Role, room: RoomState | null, members: readonly Member[], me?: { role: Role; name?: string }): string {
  const fromRoom = room?.names?.[role];
  if (fromRoom) return fromRoom;
  if (me && me.role === role && me.name) return me.name;
  const m = members.find((x) => x.role === role && x.name);
  if (m?.name) return m.name;
  return DEFAULT_NAMES[role];
}

/** Finds a field definition and its stage in the template. */
export function findField(t: Template, fieldId: string): { field: FieldDef; stage: StageDef } | null {
  for (const stage of t.stages) {
    for (const field of stage.fields) if (field.id === fieldId) return { field, stage };
  }
  return null;
}

/** The field a text key belongs to ("F" or "F.partner_a" → F). */
export function fieldOfKey(t: Template, key: string): { field: FieldDef; stage: StageDef } | null {
  const direct = findField(t, key);
  if (direct) return direct;
  const dot = key.lastIndexOf(".");
  return dot > 0 ? findField(t, key.slice(0, dot)) : null;
}

/** Who may act on the room now (acts that the server restricts by mode). */
export function canSteer(me: Role, room: RoomState): boolean {
  return room.mode === "guided" ? me === "moderator" : isPartner(me);
}

/**
 * Role assignment from one choice: `first` goes to `p`; with two template
 * roles the other goes to the other partner.
 */
export function assignRoles(roleIds: string[], first: string, p: PartnerRole): Record<string, PartnerRole> {
  const out: Record<string, PartnerRole> = { [first]: p };
  const rest = roleIds.filter((r) => r !== first);
  if (rest.length === 1) out[rest[0]] = otherPartner(p);
  return out;
}

/**
 * Whether a sign-off or mirror confirmation still counts: it was made at
 * the text's current version, and the text has one. This is room.Signed and
 * room.MirrorStatus on the server; both are checked against the same table
 * (internal/room/testdata/marks.json).
 */
export function markCounts(mark: { version: number } | undefined | null, textVersion: number): boolean {
  return !!mark && textVersion > 0 && mark.version === textVersion;
}

/** Whether `me` may read field `f`'s value or text (room.CanRead for whole fields). */
export function canReadField(f: FieldDef, me: Role, room: RoomState): boolean {
  if (f.owner === "moderator") return me === "moderator";
  if (f.guidedOnly && room.mode === "self") return false;
  if (f.visibility === "owner") return me === "moderator" || writers(f.owner, room).includes(me);
  return true;
}

/** The fields a stage shows as cards: not the therapist's notes, not the lines shown outside the stage. */
export function stageCards(stage: StageDef, room: RoomState): FieldDef[] {
  return stage.fields.filter((f) => f.owner !== "moderator" && !f.anytime && !(f.guidedOnly && room.mode === "self"));
}

/** A partner's private line to the therapist (guided rooms), wherever the template puts it. */
export function privateLine(t: Template, p: PartnerRole, room: RoomState): { field: FieldDef; stage: StageDef } | null {
  if (room.mode !== "guided") return null;
  for (const stage of t.stages) {
    for (const field of stage.fields) if (field.anytime && writers(field.owner, room).includes(p)) return { field, stage };
  }
  return null;
}

/** "Your" or "Sam's": whose a field is, for naming its region. */
export function whose(owner: string, room: RoomState, me: Role, name: (r: Role) => string): string {
  const w = writers(owner, room).filter(isPartner);
  if (w.length !== 1) return "";
  return w[0] === me ? "Your" : `${name(w[0])}'s`;
}
