// The room page's controller: owns the connection, the room state, one
// FieldSync per readable text key, and the view. Messages come in here,
// state goes out to the view through RoomCtx.

import { Compartment } from "@codemirror/state";
import { EditorView, ViewUpdate } from "@codemirror/view";
import { Connection, ConnStatus } from "../net/connection";
import { FieldSync, type Checkpoint } from "../sync/fieldsync";
import { accessExtension, editorExtensions } from "../editor/setup";
import { RemoteCursor, setRemoteCursors } from "../editor/cursors";
import type { ErrorMsg, FieldDef, FieldSnapshot, Me, Member, Role, RoomState, ServerMsg, StageDef, Template } from "../types";
import { LIMITS, PARTNERS, textKeys, useServerLimits } from "../types";
import { canWrite, DEFAULT_NAMES, fieldOfKey, keyWriters, seatName, Verdict } from "../perm";
import { RoomView } from "./view";
import { applyMembers, movedMembers } from "./members";
import { forgetToken } from "../token";
import { DEVICES_CHANGED, noticeText } from "./devices";

export interface EditorHandle {
  view: EditorView;
  destroy(): void;
}

export interface ActResult {
  ok: boolean;
  code?: string;
  message?: string;
}

/** What the view may read and do. */
export interface RoomCtx {
  readonly roomID: string;
  readonly me: Me;
  readonly template: Template;
  readonly room: RoomState;
  readonly members: Member[];
  readonly status: ConnStatus;
  readonly stopReason: string;
  now(): number;
  name(role: Role): string;
  sync(key: string): FieldSync | undefined;
  canWriteKey(key: string, field: FieldDef, stage: StageDef): Verdict;
  mountEditor(key: string, field: FieldDef, parent: HTMLElement): EditorHandle | null;
  act(act: string, args?: Record<string, unknown>): Promise<ActResult>;
  unsent(): number;
  retryNow(): void;
  refreshAccess(): void;
  deleteRoom(): Promise<ActResult>;
  /** A request to the room's HTTP API with this seat's token. */
  authed(path: string, init?: RequestInit): Promise<Response>;
  toast(text: string): void;
}

/** No answer for this long to a push or an act: the socket is treated as dead. */
const STALL_MS = 8000;

/** Presence messages: at most one every PRESENCE_MS (the server drops more than 10/s). */
const PRESENCE_MS = 150;

export class RoomApp implements RoomCtx {
  me!: Me;
  template!: Template;
  room!: RoomState;
  members: Member[] = [];
  status: ConnStatus = "connecting";
  private syncs = new Map<string, FieldSync>();
  private access = new Map<string, Compartment>();
  private editable = new Map<string, boolean>();
  private pendingActs = new Map<string, (r: ActResult) => void>();
  /** push id → text key, to route an `error` about a push to its field. */
  private pushes = new Map<string, string>();
  /** The latest room state as received (serialised: never mutated) with the server's signature of it. */
  private roomCk: { state: string; sig: string } | null = null;
  private lostAt = 0;
  private seq = 0;
  private conn: Connection;
  private view: RoomView | null = null;
  private presenceTimer: ReturnType<typeof setTimeout> | null = null;
  private presenceLast = 0;
  private presenceNext: { field: string | null; sel: [number, number] | null } | null = null;
  private blurTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly roomID: string,
    private readonly token: string,
    private readonly root: HTMLElement,
  ) {
    this.conn = new Connection(roomID, token, {
      message: (m) => this.onMessage(m),
      closed: () => this.onClosed(),
      status: (s) => {
        this.status = s;
        if (s === "stopped") this.refreshAccess();
        this.view?.updateStatus();
        if (!this.view && s === "stopped") this.renderStopped();
        else if (!this.view && (s === "offline" || s === "reconnecting")) this.renderUnreachable(s);
      },
    });
  }

  start(): void {
    this.conn.start();
    // A break's end, and "Saved" after quiet periods, depend on time alone.
    setInterval(() => {
      this.view?.tick();
      this.checkStall();
    }, 1000);
  }

  get stopReason(): string {
    return this.conn.stopReason;
  }

  /**
   * A socket can look open while the network under it is gone (a laptop
   * lid, a lost Wi-Fi): the browser notices only minutes later. When a push
   * or an act has had no answer for STALL_MS, we drop the socket and resume
   * on a new one — resuming is always safe (pushes are idempotent).
   */
  private checkStall(): void {
    if (this.status !== "connected") return;
    const now = Date.now();
    let stalled = now - this.oldestPendingAct() > STALL_MS;
    for (const s of this.syncs.values()) if (s.pendingFor(now) > STALL_MS) stalled = true;
    if (stalled || (typeof navigator !== "undefined" && navigator.onLine === false)) this.conn.restart();
  }

  private actSentAt = new Map<string, number>();

  private oldestPendingAct(): number {
    let oldest = Infinity;
    for (const id of this.pendingActs.keys()) oldest = Math.min(oldest, this.actSentAt.get(id) ?? Infinity);
    return oldest;
  }

  now(): number {
    return Date.now();
  }

  name(role: Role): string {
    const n = seatName(role, this.room ?? null, this.members, this.me);
    if (n !== DEFAULT_NAMES[role]) return n;
    return this.seenNames[role] ?? n;
  }

  /** Names of people seen in this session, so an absent partner keeps their name. */
  private seenNames: Partial<Record<Role, string>> = {};

  private rememberNames(): void {
    if (this.me?.name) this.seenNames[this.me.role] = this.me.name;
    for (const m of this.members) if (m.name) this.seenNames[m.role] = m.name;
  }

  sync(key: string): FieldSync | undefined {
    return this.syncs.get(key);
  }

  unsent(): number {
    let n = 0;
    for (const s of this.syncs.values()) n += s.unsent;
    return n;
  }

  retryNow(): void {
    this.conn.retryNow();
  }

  toast(text: string): void {
    this.view?.toast(text);
  }

  private nextId = (): string => `c${++this.seq}`;

  // ---- messages ----

  private onMessage(msg: ServerMsg): void {
    switch (msg.t) {
      case "welcome":
        this.onWelcome(msg);
        break;
      case "updates":
        this.syncs.get(msg.field)?.updates(msg);
        break;
      case "ack":
        if (msg.re) this.pushes.delete(msg.re);
        this.syncs.get(msg.field)?.ack(msg);
        break;
      case "behind":
        if (msg.re) this.pushes.delete(msg.re);
        this.syncs.get(msg.field)?.behind(msg);
        break;
      case "reset": {
        const s = this.syncs.get(msg.field);
        if (s) {
          s.reset(msg);
          this.view?.fieldChanged(msg.field);
        }
        break;
      }
      case "heads":
        for (const [key, head] of Object.entries(msg.fields ?? {})) this.syncs.get(key)?.heads(head);
        break;
      case "room":
        if (msg.sig && msg.room && !(this.room && msg.room.rev < this.room.rev)) this.roomCk = { state: JSON.stringify(msg.room), sig: msg.sig };
        this.onRoom(msg.room, msg.fields);
        break;
      case "ok": {
        for (const s of this.syncs.values()) if (s.restoreReply(msg.re, null)) break;
        const done = this.pendingActs.get(msg.re);
        this.pendingActs.delete(msg.re);
        this.actSentAt.delete(msg.re);
        done?.({ ok: true });
        break;
      }
      case "members":
        this.members = applyMembers(this.members, msg);
        if (msg.members || msg.joined?.length) window.dispatchEvent(new Event(DEVICES_CHANGED)); // someone came in: maybe a first device
        this.rememberNames();
        this.refreshCursors();
        this.view?.roomChanged(); // names may have become known
        break;
      case "presence": {
        for (const m of movedMembers(msg)) {
          const i = this.members.findIndex((x) => x.id === m.id);
          if (i >= 0) this.members[i] = { ...this.members[i], ...m };
          else this.members.push(m);
          if (m.name) this.seenNames[m.role] = m.name;
        }
        this.refreshCursors();
        this.view?.updatePresence();
        break;
      }
      case "notice": {
        const text = noticeText(this, msg); // devices.ts
        if (text) this.view?.toast(text);
        window.dispatchEvent(new Event(DEVICES_CHANGED));
        break;
      }
      case "error":
        this.onError(msg);
        break;
    }
  }

  private onWelcome(msg: Extract<ServerMsg, { t: "welcome" }>): void {
    const first = !this.view;
    useServerLimits(msg.limits);
    this.me = msg.me;
    this.template = msg.template;
    this.room = msg.room;
    this.roomCk = msg.roomSig ? { state: JSON.stringify(msg.room), sig: msg.roomSig } : null;
    this.members = msg.members ?? [];
    this.rememberNames();
    this.pushes.clear();
    // Acts sent on the old socket are lost: say so rather than leave buttons busy.
    for (const done of this.pendingActs.values()) done({ ok: false, code: "unavailable", message: "The connection dropped. Please try again." });
    this.pendingActs.clear();
    this.actSentAt.clear();
    this.conn.markConnected();
    const fields = msg.fields ?? {};
    for (const key of this.allKeys()) {
      const snap = fields[key] ?? null;
      const s = this.syncs.get(key);
      if (s) s.welcome(snap);
      else this.syncs.set(key, this.newSync(key, snap, true));
    }
    // Keys the template does not list (should not happen) are still kept in step.
    for (const [key, snap] of Object.entries(fields)) {
      if (!this.syncs.has(key)) this.syncs.set(key, this.newSync(key, snap, true));
    }
    if (first) {
      this.view = new RoomView(this, this.root);
    } else {
      this.view!.roomChanged();
    }
    this.refreshAccess();
    this.refreshCursors();
    this.view!.updateStatus();
  }

  private onRoom(room: RoomState, fields?: Record<string, FieldSnapshot>): void {
    if (!room) return;
    if (this.room && typeof room.rev === "number" && typeof this.room.rev === "number" && room.rev < this.room.rev) return; // stale
    this.room = room;
    // Reveal drafts that just became readable: fetch them.
    for (const [key, s] of this.syncs) {
      if (s.readable) continue;
      const snap = fields?.[key];
      if (snap) {
        s.reset(snap);
      } else if (this.revealedKey(key)) {
        s.becameReadable();
      }
    }
    this.refreshAccess();
    for (const s of this.syncs.values()) s.retry();
    this.view?.roomChanged();
  }

  private revealedKey(key: string): boolean {
    return this.room.revealed?.[key] === true;
  }

  private onError(msg: ErrorMsg): void {
    if (msg.re) {
      for (const s of this.syncs.values()) if (s.restoreReply(msg.re, msg.code)) return;
    }
    if (msg.code === "room_lost") {
      // Redis lost the room's data: present what we hold (docs/protocol.md,
      // "Checkpoints and restore"). Pushes are retried by their fields.
      this.presentCheckpoints();
    }
    if (msg.re) {
      const done = this.pendingActs.get(msg.re);
      if (done) {
        this.pendingActs.delete(msg.re);
        this.actSentAt.delete(msg.re);
        done({ ok: false, code: msg.code, message: msg.message });
        return;
      }
      const key = this.pushes.get(msg.re);
      if (key) {
        this.pushes.delete(msg.re);
        this.syncs.get(key)?.pushError(msg.re, msg.code, msg.message);
        this.view?.fieldChanged(key);
        return;
      }
    }
    if (msg.code === "rate_limited") return; // transient; pushes retry by themselves
    this.toast(friendlyError(msg.code, msg.message));
  }

  private onClosed(): void {
    for (const s of this.syncs.values()) s.disconnected();
    for (const done of this.pendingActs.values()) done({ ok: false, code: "unavailable", message: "The connection dropped. Please try again." });
    this.pendingActs.clear();
    this.actSentAt.clear();
    this.pushes.clear();
  }

  /** Before the first welcome: we could not get in yet (bad link, deleted room, or no network). */
  private renderUnreachable(s: ConnStatus): void {
    let card = this.root.querySelector<HTMLElement>(".unreachable");
    if (!card) {
      card = this.centerCard(
        "Opening the room…",
        "",
        "If your link is old, was replaced, or the room was deleted, it will not open: ask the person who set up the room for a fresh link.",
      );
      card.classList.add("unreachable");
      card.setAttribute("role", "status");
    }
    const p = card.querySelector("p")!;
    p.textContent = s === "offline" ? "We can't reach this room right now. We'll keep trying by ourselves." : "Still trying to connect…";
  }

  private renderStopped(): void {
    // The link failed before we ever got in.
    this.centerCard(
      "We could not open this room",
      this.conn.stopReason || "This link no longer works.",
      "If you expected to get in, ask the person who set up the room for a fresh link.",
    );
    forgetToken(this.roomID, sessionStorage);
  }

  /** Replaces the page with one card: a title, a message, a quieter note and a way back. */
  private centerCard(title: string, message: string, note: string): HTMLElement {
    while (this.root.firstChild) this.root.removeChild(this.root.firstChild);
    const card = document.createElement("div");
    card.className = "center-card card";
    const h = document.createElement("h1");
    h.textContent = title;
    const p = document.createElement("p");
    p.textContent = message;
    const p2 = document.createElement("p");
    p2.className = "muted";
    p2.textContent = note;
    const a = document.createElement("a");
    a.href = "/";
    a.className = "btn";
    a.textContent = "Go to the start page";
    card.append(h, p, p2, a);
    this.root.appendChild(card);
    return card;
  }

  // ---- fields ----

  /** After room_lost: our room state first (the server handles our messages in order), then each field's checkpoint. */
  private presentCheckpoints(): void {
    const now = Date.now();
    if (now - this.lostAt < 500) return; // every socket of the room is told, maybe often
    this.lostAt = now;
    if (this.roomCk && this.me) {
      this.conn.send({ t: "restore", id: this.nextId(), room: { role: this.me.role, state: JSON.parse(this.roomCk.state), sig: this.roomCk.sig } });
    }
    for (const s of this.syncs.values()) s.lost();
  }

  /**
   * Checkpoints live in this tab's sessionStorage (gone when the tab
   * closes), so a reload after Redis went back can still present them.
   */
  private storedCheckpoint(key: string): Checkpoint | null {
    try {
      const raw = sessionStorage.getItem(`rr-ck:${this.roomID}:${key}`);
      const ck = raw ? (JSON.parse(raw) as Checkpoint) : null;
      return ck && typeof ck.version === "number" && typeof ck.text === "string" && typeof ck.sig === "string" && typeof ck.epoch === "string" ? ck : null;
    } catch {
      return null;
    }
  }

  private storeCheckpoint(key: string, ck: Checkpoint | null): void {
    try {
      if (ck) sessionStorage.setItem(`rr-ck:${this.roomID}:${key}`, JSON.stringify(ck));
      else sessionStorage.removeItem(`rr-ck:${this.roomID}:${key}`);
    } catch {
      /* storage full or disabled: the checkpoint stays in memory */
    }
  }

  /** Every text key in the template (reveal fields have two). */
  private allKeys(): string[] {
    const keys: string[] = [];
    for (const st of this.template.stages) for (const f of st.fields) keys.push(...textKeys(f));
    return keys;
  }

  private newSync(key: string, snap: FieldSnapshot | null, connected: boolean): FieldSync {
    const s = new FieldSync({
      key,
      snapshot: snap,
      send: (m) => {
        const ok = this.conn.send(m);
        if (ok && m.t === "push") this.pushes.set(m.id, key);
        return ok;
      },
      nextId: this.nextId,
      checkpoint: this.storedCheckpoint(key),
      onCheckpoint: (ck) => this.storeCheckpoint(key, ck),
      extensions: (sync) => this.extensionsFor(sync.key),
      onChange: () => {
        this.view?.fieldChanged(key);
        this.view?.updateStatus();
      },
    });
    if (connected && snap) s.welcome(snap);
    return s;
  }

  private compartment(key: string): Compartment {
    let c = this.access.get(key);
    if (!c) {
      c = new Compartment();
      this.access.set(key, c);
    }
    return c;
  }

  private extensionsFor(key: string) {
    const f = fieldOfKey(this.template, key);
    const label = f ? (f.field.kind === "reveal" ? `${f.field.label} — ${this.name(key.slice(f.field.id.length + 1) as Role)}` : f.field.label) : key;
    const editable = this.keyEditable(key);
    this.editable.set(key, editable);
    return editorExtensions({
      label,
      editable,
      access: this.compartment(key),
      onLocalChange: () => this.syncs.get(key)?.localChanged(),
      onSelection: (u) => this.onSelection(key, u),
      onTooLong: () =>
        this.toast(`This field is full: it holds at most ${LIMITS.fieldChars.toLocaleString("en")} characters, and one paste at most ${LIMITS.insertChars.toLocaleString("en")}.`),
    });
  }

  canWriteKey(key: string, field: FieldDef, stage: StageDef): Verdict {
    return canWrite(keyWriters(key, field, this.room), field.owner, stage, this.me.role, this.room, this.now(), (r) => this.name(r), field);
  }

  private keyEditable(key: string): boolean {
    if (!this.room || !this.template || this.status === "stopped") return false;
    const f = fieldOfKey(this.template, key);
    if (!f) return false;
    const s = this.syncs.get(key);
    if (s && !s.readable) return false;
    return this.canWriteKey(key, f.field, f.stage).ok;
  }

  /** Re-evaluates which editors are editable (after any room change or when a break ends). */
  refreshAccess(): void {
    for (const [key, s] of this.syncs) {
      const want = this.keyEditable(key);
      if (this.editable.get(key) === want) continue;
      this.editable.set(key, want);
      s.apply({ effects: this.compartment(key).reconfigure(accessExtension(want)) });
    }
  }

  mountEditor(key: string, _field: FieldDef, parent: HTMLElement): EditorHandle | null {
    const s = this.syncs.get(key);
    if (!s) return null;
    const view = new EditorView({ state: s.state, parent });
    s.attach(view);
    return {
      view,
      destroy: () => {
        s.detach(view);
        view.destroy();
      },
    };
  }

  // ---- presence ----

  private onSelection(key: string, u: ViewUpdate): void {
    if (u.view.hasFocus) {
      if (this.blurTimer) clearTimeout(this.blurTimer);
      this.blurTimer = null;
      const sel = u.state.selection.main;
      this.sendPresence({ field: key, sel: [sel.anchor, sel.head] });
    } else if (u.focusChanged) {
      // Moving between fields blurs one before focusing the next: wait a moment.
      if (this.blurTimer) clearTimeout(this.blurTimer);
      this.blurTimer = setTimeout(() => this.sendPresence({ field: null, sel: null }), 400);
    }
  }

  private sendPresence(p: { field: string | null; sel: [number, number] | null }): void {
    this.presenceNext = p;
    if (this.presenceTimer) return;
    const wait = Math.max(0, this.presenceLast + PRESENCE_MS - Date.now());
    this.presenceTimer = setTimeout(() => {
      this.presenceTimer = null;
      const next = this.presenceNext;
      this.presenceNext = null;
      if (!next) return;
      this.presenceLast = Date.now();
      this.conn.send({ t: "presence", field: next.field, sel: next.sel });
    }, wait);
  }

  private refreshCursors(): void {
    if (!this.me) return;
    const byKey = new Map<string, RemoteCursor[]>();
    for (const m of this.members) {
      if (m.id === this.me.id || !m.field || !m.sel) continue;
      const list = byKey.get(m.field) ?? [];
      list.push({
        id: m.id,
        name: m.name || this.name(m.role),
        tone: toneOf(m.role),
        anchor: m.sel[0],
        head: m.sel[1],
      });
      byKey.set(m.field, list);
    }
    for (const [key, s] of this.syncs) {
      const want = byKey.get(key) ?? [];
      s.apply({ effects: setRemoteCursors.of(want) });
    }
  }

  // ---- acts ----

  act(act: string, args: Record<string, unknown> = {}): Promise<ActResult> {
    const id = this.nextId();
    return new Promise((resolve) => {
      if (!this.conn.send({ t: "act", id, act, ...args })) {
        resolve({ ok: false, code: "offline", message: "You are offline right now. Please try again once you are connected." });
        return;
      }
      this.pendingActs.set(id, resolve);
      this.actSentAt.set(id, Date.now());
      setTimeout(() => {
        if (this.pendingActs.get(id) === resolve) {
          this.pendingActs.delete(id);
          resolve({ ok: false, code: "timeout", message: "No answer from the server. Please try again." });
        }
      }, 15000);
    });
  }

  authed(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Authorization", `Bearer ${this.token}`);
    return fetch(path, { ...init, headers });
  }

  async deleteRoom(): Promise<ActResult> {
    try {
      const res = await fetch(`/api/rooms/${encodeURIComponent(this.roomID)}`, {
        method: "DELETE",
        headers: { Authorization: `Bearer ${this.token}` },
      });
      if (res.status === 204 || res.ok) {
        forgetToken(this.roomID, sessionStorage);
        this.conn.stop("This room has been deleted: everything in it is gone from the server. What is still on this page disappears when you close it.");
        return { ok: true };
      }
      const body = (await res.json().catch(() => null)) as { code?: string; message?: string } | null;
      return { ok: false, code: body?.code, message: body?.message || `The room could not be deleted (${res.status}).` };
    } catch {
      return { ok: false, code: "offline", message: "The room could not be deleted: no connection." };
    }
  }

  /** Test hooks (window.__rr). */
  hooks() {
    return {
      status: (): "connected" | "reconnecting" | "offline" =>
        this.status === "connected" ? "connected" : this.status === "offline" || this.status === "stopped" ? "offline" : "reconnecting",
      text: (key: string): string => this.syncs.get(key)?.text ?? "",
      version: (key: string): number => this.syncs.get(key)?.version ?? -1,
      unsent: (): number => this.unsent(),
      state: (): RoomState | null => this.room ?? null,
      me: () => (this.me ? { ...this.me, roomID: this.roomID, status: this.status, stopReason: this.stopReason } : null),
      saved: (key: string): boolean => this.syncs.get(key)?.saved ?? false,
      keys: (): string[] => [...this.syncs.keys()],
      members: (): Member[] => this.members,
    };
  }
}

export function toneOf(role: Role): string {
  return role === "partner_a" ? "a" : role === "partner_b" ? "b" : "m";
}

/** Words for the error codes of protocol.md, kinder than the raw message. */
export function friendlyError(code: string | undefined, message?: string): string {
  switch (code) {
    case "forbidden":
      return "That is not open to you in this room.";
    case "locked":
      return "The therapist has paused this stage for now.";
    case "not_your_turn":
      return "Your partner has the floor right now. You'll be able to write when it's your turn.";
    case "on_break":
      return "You are on a break. This can wait until you are back.";
    case "roles_unset":
      return "Please choose the roles first.";
    case "stale":
      return "The text changed just before that. Please look at it again and retry.";
    case "unavailable":
      return "The server could not save that just now. Please try again in a moment.";
    case "rate_limited":
      return "That was a lot at once. Please wait a second and try again.";
    case "too_large":
      return "That is longer than this field allows.";
    case "offline":
    case "timeout":
      return message || "You are offline right now.";
    default:
      return message || "Something went wrong. Please try again.";
  }
}

export { PARTNERS };
