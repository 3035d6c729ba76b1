// Wire types shared with the server (docs/protocol.md). Every name the
// client reads from or writes to the server lives in this file, so a rename
// on the server is a change here only.

/** A seat in the room. */
export type Role = "partner_a" | "partner_b" | "moderator";
export type PartnerRole = "partner_a" | "partner_b";
export const PARTNERS: readonly PartnerRole[] = ["partner_a", "partner_b"];

/** Who may write a field: a seat, both partners, or a template role id (e.g. "hurt"). */
export type Owner = string;

export type FieldKind = "text" | "scale" | "choice" | "agreement" | "mirror" | "reveal" | "questions" | "checkins" | "milestones";

export interface Hint {
  phrases: string[];
  message: string;
}

export interface FieldDef {
  id: string;
  label: string;
  prompt?: string;
  owner: Owner;
  kind: FieldKind;
  min?: number;
  max?: number;
  options?: string[];
  multi?: boolean;
  /** mirror: the role whose words are mirrored and who confirms; questions: unused. */
  speaker?: Owner;
  /** questions: the role that answers (the owner asks). */
  answerer?: Owner;
  hints?: Hint[];
  /** "owner": only its owner and the therapist read it; the other partner sees that it was answered. */
  visibility?: "owner";
  /** Writable from every stage (a private line to the therapist); shown outside the stage. */
  anytime?: boolean;
  /** Exists only in rooms with a therapist. */
  guidedOnly?: boolean;
  /** choice: options that alert the therapist. */
  alert?: string[];
  /** choice: options that pause a self-guided conversation. */
  pause?: string[];
  /** A mirror field its speaker must confirm before this one opens. */
  after?: string;
}

export interface StageDef {
  id: string;
  title: string;
  guidance?: string;
  turnTaking?: boolean;
  fields: FieldDef[];
}

export interface TemplateRole {
  id: string;
  label: string;
  question?: string;
}

export interface Template {
  id: string;
  title: string;
  summary: string;
  roles?: TemplateRole[];
  stages: StageDef[];
}

/** GET /api/templates items (stages without fields). */
export interface TemplateSummary {
  id: string;
  title: string;
  summary: string;
  roles?: TemplateRole[];
  stages?: { id: string; title: string }[];
}

export interface BreakInfo {
  /** Who started it. */
  by: string;
  /** The partner who asked for it, if someone did. */
  askedBy?: string;
  started: string;
  until: string;
  /** Sent to the therapist and the asker; to the other partner only when shared. */
  reason?: string;
  shared?: boolean;
  /** Self-guided: partners ready to come back. */
  back?: Partial<Record<PartnerRole, boolean>>;
  endedHow?: "undone" | "both_back" | "moderator";
}

export interface BreakRequest {
  by: string;
  at: string;
  minutes?: number;
  reason?: string;
  shared?: boolean;
}

/** A safety-screen answer that asks for the therapist's attention (therapist only). */
export interface SafetyAlert {
  by: PartnerRole;
  value: string;
  at: string;
}

export interface Mark {
  by: string;
  at: string;
  version: number;
}

export interface MirrorMark extends Mark {
  status: "yes" | "again";
}

export interface Question {
  id: string;
  text: string;
  answer?: string;
  status: "open" | "answered" | "notnow";
  askedAt?: string;
}

export type Value = number | string | string[];

export interface RoomState {
  rev: number;
  template: string;
  mode: "guided" | "self";
  stage: string;
  locked: Record<string, boolean>;
  floor: "" | PartnerRole;
  break: BreakInfo | null;
  breakRequest: BreakRequest | null;
  roles: Record<string, PartnerRole>;
  ready: Partial<Record<PartnerRole, boolean>>;
  values: Record<string, Value>;
  signs: Record<string, Partial<Record<PartnerRole, Mark>>>;
  mirrors: Record<string, MirrorMark>;
  /** Keys "fieldId.partner_a" → true once that partner revealed their draft. */
  revealed: Record<string, boolean>;
  questions: Record<string, Question[]>;
  /** Optional display names per seat, if the server sends them. */
  names?: Partial<Record<Role, string>>;
  started?: string;
  ended?: string | null;
  /** Fields whose value this seat may not read but which were answered. */
  answered?: Record<string, boolean>;
  /** Therapist only: safety answers to look at, by field. */
  alerts?: Record<string, SafetyAlert>;
  /** Self-guided: paused by a safety answer; `by` only for the one who answered. */
  hold?: { since: string; by?: PartnerRole; field?: string } | null;
}

export interface Me {
  id: string;
  role: Role;
  name?: string;
}

export interface Member {
  id: string;
  role: Role;
  name?: string;
  field?: string | null;
  sel?: [number, number] | null;
}

export interface FieldSnapshot {
  epoch: string;
  version: number;
  text: string;
  /** The server's signature of this text at this version (a checkpoint; docs/protocol.md). */
  sig?: string;
  /**
   * Earlier epochs whose text this one holds, newest first, each up to a
   * version (the field moved to a new epoch, or was restored from one):
   * our acknowledged updates under one of them up to there are in `text`.
   */
  lineage?: Lineage[];
}

/** An earlier epoch of a field, held by the current one up to `version`. */
export interface Lineage {
  epoch: string;
  version: number;
}

/** An update as it travels: `changes` is ChangeSet.toJSON(). */
export interface WireUpdate {
  clientID: string;
  changes: unknown;
}

// ---- server → client ----

export interface WelcomeMsg {
  t: "welcome";
  v: number;
  me: Me;
  room: RoomState;
  template: Template;
  fields: Record<string, FieldSnapshot>;
  members: Member[];
  limits?: ClientLimits;
  /** Signs `room` as this role sees it (a room checkpoint). */
  roomSig?: string;
}
export interface UpdatesMsg {
  t: "updates";
  re?: string;
  field: string;
  epoch: string;
  from: number;
  updates: WireUpdate[];
  /** Signs the text at from + updates.length. */
  sig?: string;
}
export interface AckMsg {
  t: "ack";
  re?: string;
  field: string;
  version: number;
  /** Signs the text at version. */
  sig?: string;
}
export interface BehindMsg {
  t: "behind";
  re?: string;
  field: string;
  version: number;
}
export interface ResetMsg {
  t: "reset";
  re?: string;
  field: string;
  epoch: string;
  version: number;
  text: string;
  sig?: string;
  /** Set when a client's checkpoint taken under that epoch was restored (also the first pair of `lineage`). */
  restoredFrom?: string;
  lineage?: Lineage[];
}
export interface HeadsMsg {
  t: "heads";
  fields: Record<string, { epoch: string; version: number }>;
}
export interface RoomMsg {
  t: "room";
  room: RoomState;
  event?: { act?: string; by?: string; [k: string]: unknown };
  /** If the server sends new readable fields with the room (e.g. after a reveal). */
  fields?: Record<string, FieldSnapshot>;
  /** Signs `room` as this role sees it (a room checkpoint). */
  sig?: string;
}
export interface OkMsg {
  t: "ok";
  re: string;
}
/** The whole list (members), or a diff of the list last sent (room/members.ts). */
export interface MembersMsg {
  t: "members";
  members?: Member[];
  joined?: Member[];
  changed?: Member[];
  left?: string[];
}
/** One member's move (member), or several coalesced (members). */
export interface PresenceMsg {
  t: "presence";
  member?: Member;
  members?: Member[];
}
export interface ErrorMsg {
  t: "error";
  re?: string;
  code: string;
  message: string;
}

export type ServerMsg =
  | WelcomeMsg
  | UpdatesMsg
  | AckMsg
  | BehindMsg
  | ResetMsg
  | HeadsMsg
  | RoomMsg
  | OkMsg
  | MembersMsg
  | PresenceMsg
  | NoticeMsg
  | ErrorMsg;

/** Something everyone in the room is told (today: a seat opened on a new device; room/devices.ts). */
export interface NoticeMsg {
  t: "notice";
  kind: string;
  seat?: Role;
  name?: string;
  device?: string;
  at?: string;
}

// ---- client → server ----

export interface PushMsg {
  t: "push";
  id: string;
  field: string;
  epoch: string;
  version: number;
  updates: WireUpdate[];
}
export interface PullMsg {
  t: "pull";
  id?: string;
  field: string;
  epoch: string;
  since: number;
}
export interface PresenceOut {
  t: "presence";
  field: string | null;
  sel: [number, number] | null;
}
export interface ActMsg {
  t: "act";
  id: string;
  act: string;
  [arg: string]: unknown;
}
/** Presents a checkpoint after the store lost what it acknowledged. */
export type RestoreMsg =
  | { t: "restore"; id: string; field: string; epoch: string; version: number; text: string; sig: string }
  | { t: "restore"; id: string; room: { role: string; state: unknown; sig: string } };
export type ClientMsg = PushMsg | PullMsg | PresenceOut | ActMsg | RestoreMsg;

/** Close codes after which the client stops reconnecting (protocol.md). */
export const FATAL_CLOSE: Record<number, string> = {
  4001: "This link no longer works.",
  4003: "This link was replaced by a new one.",
  4004: "This room was deleted.",
};

/** The server's limits, sent in welcome (internal/limits, ForClient). */
export interface ClientLimits {
  maxMessageBytes: number;
  maxFieldUnits: number;
  maxInsertUnits: number;
  seatInsertPerMinute: number;
  ratePerSecond: number;
  presenceEveryMs: number;
  /** How long a self-guided break lasts before both may end it (20 minutes unless the server is set for tests). */
  breakReturnAfterMs?: number;
}

/**
 * Limits the client respects before sending. updatesPerPush is the
 * protocol's own; fieldChars and insertChars are the server's, replaced by
 * what each welcome says (useServerLimits): the numbers here only stand
 * until the first welcome, before which no editor exists.
 */
export const LIMITS = {
  updatesPerPush: 100,
  fieldChars: 65536,
  insertChars: 32768,
  breakReturnAfterMs: 20 * 60_000,
};

/** Takes the limits a welcome carries (an older server sends none). */
export function useServerLimits(l: ClientLimits | undefined): void {
  if (!l) return;
  if (l.maxFieldUnits > 0) LIMITS.fieldChars = l.maxFieldUnits;
  if (l.maxInsertUnits > 0) LIMITS.insertChars = l.maxInsertUnits;
  if (l.breakReturnAfterMs && l.breakReturnAfterMs > 0) LIMITS.breakReturnAfterMs = l.breakReturnAfterMs;
}

/** The text keys of a field: reveal fields have one per partner. */
export function textKeys(f: FieldDef): string[] {
  switch (f.kind) {
    case "text":
    case "agreement":
    case "mirror":
      return [f.id];
    case "reveal":
      return [`${f.id}.partner_a`, `${f.id}.partner_b`];
    default:
      return [];
  }
}

/** Key of room.revealed for a reveal field's partner draft (same as its text key). */
export function revealKey(fieldId: string, p: PartnerRole): string {
  return `${fieldId}.${p}`;
}

// ---- HTTP API ----

export interface CreateRoomReq {
  template: string;
  mode: "guided" | "self";
  names?: Partial<Record<Role, string>>;
}
export interface InviteLink {
  role: Role;
  label: string;
  url: string;
}
export interface CreateRoomResp {
  id: string;
  expires: string;
  links: InviteLink[];
}
export interface ApiError {
  code: string;
  message: string;
}
