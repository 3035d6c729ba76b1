// FieldSync keeps one text key in step with the server: the client side of
// the @codemirror/collab protocol over our WebSocket (docs/protocol.md).
//
// Invariants, the ones the rest of the client relies on:
//  - Updates are applied exactly once and in order: an `updates` message is
//    cut to the versions we do not have yet; a message that starts beyond
//    our version is a gap, which we fill with a `pull` instead of applying.
//  - We push only when we are caught up with every version we know exists
//    (`known`), and at most one push is in flight. A `behind` answer means
//    "the missing updates follow": we wait for them, then push again (the
//    collab plugin has rebased the unsent edits meanwhile).
//  - Nothing local is dropped: unsent edits stay in the editor as collab's
//    unconfirmed updates across disconnects, and across a `reset` / epoch
//    change they are rebased onto the new document (see rebase.ts).
//  - An unsent update that became empty by mapping (both partners deleted
//    the same text at once) is never pushed on its own (the server refuses
//    a push that changes nothing): before a push, the state is rebuilt from
//    the server-confirmed text and version with only the non-empty local
//    changes, so collab's count of our updates matches the server's. Not
//    while a push of ours may be stored unechoed (`unsure`): then we pull
//    first, so its echo confirms what it should.
//  - A push refused `bad_changes` is never sent again as it was: the field
//    is reloaded from the server (`reset`) with the unsent edits rebased on
//    it; a second refusal after a reload holds the edits until the next
//    local edit.
//  - `saved` is true only when the server has echoed every local edit back
//    (sendableUpdates is empty) and no push is pending.
//  - `checkpoint` is the latest server-confirmed text at a version the server
//    signed (never the editor's doc, which holds unsent edits). When the
//    server shows less than it (Redis went back or was wiped), we present it
//    (`restore`) and push nothing until the answer (docs/protocol.md,
//    "Checkpoints and restore"). The room app keeps it in sessionStorage
//    (this tab only) so a reload can still present it.
//
// No DOM and no socket here: the state lives in a StateHost (an EditorView
// when the field is on screen, a bare holder otherwise), messages go out
// through `send`, and time comes from a Clock, so the machine is unit-tested.

import { ChangeSet, EditorState, Extension, Text, Transaction, TransactionSpec } from "@codemirror/state";
import { collab, getSyncedVersion, receiveUpdates, sendableUpdates } from "@codemirror/collab";
import type { ClientMsg, FieldSnapshot, Lineage, UpdatesMsg, WireUpdate } from "../types";
import { LIMITS } from "../types";
import { rebaseOnto } from "./rebase";

/** Where the field's EditorState lives. EditorView satisfies it. */
export interface StateHost {
  readonly state: EditorState;
  dispatch(tr: Transaction): void;
  setState(state: EditorState): void;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface FieldSyncOptions {
  key: string;
  /** The server's snapshot; null when the key is not readable yet (a hidden reveal draft). */
  snapshot: FieldSnapshot | null;
  /** Sends a message; returns false when there is no open connection. */
  send: (msg: ClientMsg) => boolean;
  nextId: () => string;
  clock?: Clock;
  clientID?: string;
  /** Extra extensions for every state this field creates (editor look, listeners). */
  extensions?: (sync: FieldSync) => Extension;
  /** Called after anything visible changed: text, version, saved state, error. */
  onChange?: (sync: FieldSync) => void;
  /** A checkpoint kept from before (a reload): presented if the server shows less. */
  checkpoint?: Checkpoint | null;
  /** Called when the checkpoint changes (to keep it across a reload). */
  onCheckpoint?: (ck: Checkpoint | null) => void;
}

/** How long we wait for updates the server promised (ack echo, `behind`) before pulling. */
export const ECHO_WAIT_MS = 1500;
/** A pull with no answer is repeated after this long. */
export const PULL_RETRY_MS = 4000;
/** A push with no answer is considered lost after this long. */
export const PUSH_TIMEOUT_MS = 10000;

/** A text at a version, as the server signed it. */
export interface Checkpoint {
  epoch: string;
  version: number;
  text: string;
  sig: string;
}

/** Errors after which we wait, then try the push again. */
const RETRY_AFTER: Record<string, number> = {
  rate_limited: 2000,
  unavailable: 2000,
  room_lost: 1000,
  locked: 8000,
  on_break: 8000,
  not_your_turn: 8000,
  forbidden: 15000,
  roles_unset: 8000,
  stale: 3000,
};

function randomID(): string {
  return Math.random().toString(36).slice(2, 10) + Date.now().toString(36).slice(-4);
}

class DetachedHost implements StateHost {
  constructor(public state: EditorState) {}
  dispatch(tr: Transaction): void {
    this.state = tr.state;
  }
  setState(state: EditorState): void {
    this.state = state;
  }
}

function insertedLength(cs: ChangeSet): number {
  let n = 0;
  cs.iterChanges((_a, _b, _c, _d, ins) => (n += ins.length));
  return n;
}

export class FieldSync {
  readonly key: string;
  readonly clientID: string;
  /** The field's epoch; "" while unknown (a key that just became readable). */
  epoch: string;
  /** The highest version we know the server has. */
  known: number;
  /** The server's document at our synced version. */
  private synced: Text;
  private host: StateHost;
  private detached: DetachedHost;
  private connected = false;
  private inflight: { id: string; version: number; remaining: number; at: number } | null = null;
  private pullSentAt: number | null = null;
  /** When behind `known`, pull only after this time (updates may be on their way). */
  private expectBy = 0;
  private blockedUntil = 0;
  /** Send a pull before the next push: we may have missed something (lost push, bad_changes). */
  private mustPull = false;
  private timer: unknown = null;
  private timerAt = Infinity;
  private flushQueued = false;
  private readonly clock: Clock;
  private readonly opts: FieldSyncOptions;
  /** Last push error still relevant to the user, or null. */
  error: { code: string; message: string } | null = null;
  /** False once the key is no longer readable (the server stopped sending it). */
  readable: boolean;
  /** The latest signed checkpoint, or null. */
  checkpoint: Checkpoint | null = null;
  /** An ack's signature, adopted once our echo brings the synced version to it. */
  private ackSig: { epoch: string; version: number; sig: string } | null = null;
  /** Our updates the server acknowledged whose echo has not come: pushed at `base`. */
  private acked: { base: number; count: number } | null = null;
  /** The current epoch's lineage: earlier epochs its text holds, each up to a version. */
  private lineage: Lineage[] = [];
  /** A restore in flight, with the server's snapshot to take if it is refused. */
  private restoring: { id: string; snap: FieldSnapshot; at: number; epoch: string; version: number } | null = null;
  /** A restore to present (again) once possible. */
  private pendingRestore: FieldSnapshot | null = null;
  private restoreAfter = 0;
  /**
   * A push of ours may be stored without our knowing (no answer, socket
   * closed, `unavailable`): until a pull answered after it, empty unsent
   * updates are not dropped (the server may hold them and echo them).
   */
  private unsure = false;
  /** A pull was sent while `unsure`; its answer settles it. */
  private unsurePulled = false;
  /** A `bad_changes` led to a reload; another one before a save blocks the push. */
  private reloadedForBadChanges = false;
  /** When we asked for a snapshot to reload from (no push until it comes), or null. */
  private reloading: number | null = null;

  constructor(opts: FieldSyncOptions) {
    this.opts = opts;
    this.key = opts.key;
    this.clock = opts.clock ?? realClock;
    this.clientID = opts.clientID ?? randomID();
    const stored = opts.checkpoint ?? null;
    let snap: FieldSnapshot = opts.snapshot ?? { epoch: "", version: 0, text: "" };
    // The server shows less than it once signed to this tab (Redis went back
    // while the page reloaded): start from the checkpoint, so the welcome
    // that follows presents it.
    if (stored && opts.snapshot && opts.snapshot.version < stored.version) snap = stored;
    this.checkpoint = stored;
    this.readable = opts.snapshot !== null;
    this.epoch = snap.epoch;
    this.lineage = snap.lineage ?? [];
    this.known = snap.version;
    this.synced = Text.of(snap.text.split("\n"));
    this.detached = new DetachedHost(this.makeState(this.synced, snap.version));
    this.host = this.detached;
    this.noteSig(snap.epoch, snap.version, snap.sig);
  }

  // ---- reading ----

  get state(): EditorState {
    return this.host.state;
  }
  get text(): string {
    return this.state.doc.toString();
  }
  /** The version up to which the server confirmed our document. */
  get version(): number {
    return getSyncedVersion(this.state);
  }
  /** Local updates the server has not confirmed yet. */
  get unsent(): number {
    return sendableUpdates(this.state).length;
  }
  get saved(): boolean {
    return this.connected && this.unsent === 0 && this.inflight === null && this.version >= this.known;
  }
  get pending(): boolean {
    return this.inflight !== null;
  }
  /** How long the push in flight has waited for an answer (0 when none). */
  pendingFor(now: number): number {
    return this.inflight ? now - this.inflight.at : 0;
  }

  /** A fresh state for this field at `version`, with the host's extensions. */
  makeState(doc: Text, version: number): EditorState {
    return EditorState.create({
      doc,
      extensions: [collab({ startVersion: version, clientID: this.clientID }), this.opts.extensions?.(this) ?? []],
    });
  }

  // ---- hosting ----

  /**
   * Before the state is replaced: an EditorView reads what the browser typed
   * into its DOM a moment later (a mutation observer), and replacing the
   * state first would drop that keystroke. Reading it now makes it a local
   * update like any other, so it is counted among the unsent edits. A host
   * without a DOM has nothing pending.
   */
  private takePendingInput(): void {
    (this.host as { observer?: { flush?: () => unknown } }).observer?.flush?.();
  }

  /** Moves the state into `host` (an EditorView created from `this.state`). */
  attach(host: StateHost): void {
    this.host = host;
  }
  /** Takes the state back from the view that is going away. */
  detach(host: StateHost): void {
    if (this.host !== host) return;
    this.detached.state = host.state;
    this.host = this.detached;
  }

  /** Applies a transaction (effects such as read-only or remote cursors) wherever the state lives. */
  apply(spec: TransactionSpec): void {
    this.host.dispatch(this.state.update(spec));
  }

  // ---- local side ----

  /** Call after a local edit (the editor's update listener does). */
  localChanged(): void {
    if (this.error?.code === "too_large") this.error = null;
    if (this.blockedUntil === Infinity) this.reloadedForBadChanges = false;
    if (this.blockedUntil === Infinity) this.blockedUntil = 0;
    this.queueFlush();
    this.changed();
  }

  /** Room state changed (a lock, the floor, a break): retry a push an error held back. */
  retry(): void {
    if (this.blockedUntil && this.blockedUntil !== Infinity) this.blockedUntil = 0;
    this.queueFlush();
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      this.flush();
    });
  }

  /** Does the next thing the protocol allows: pull a gap, or push unsent edits. */
  flush(): void {
    if (!this.connected || !this.readable) return;
    const now = this.clock.now();
    if (this.restoring) {
      if (now < this.restoring.at + PUSH_TIMEOUT_MS) {
        this.wakeAt(this.restoring.at + PUSH_TIMEOUT_MS);
        return;
      }
      this.pendingRestore = this.restoring.snap; // no answer: present it again
      this.restoring = null;
    }
    if (this.pendingRestore) {
      if (now < this.restoreAfter) {
        this.wakeAt(this.restoreAfter);
        return;
      }
      const snap = this.pendingRestore;
      this.pendingRestore = null;
      if (this.checkpoint && snap.version < this.checkpoint.version) {
        this.startRestore(snap);
        return;
      }
    }
    if (this.reloading !== null) {
      // Waiting for the snapshot; ask again if it does not come.
      if (now < this.reloading + PULL_RETRY_MS) {
        this.wakeAt(this.reloading + PULL_RETRY_MS);
        return;
      }
      this.reload();
      return;
    }
    const v = this.version;
    if (v < this.known) {
      if (now < this.expectBy) {
        this.wakeAt(this.expectBy);
        return;
      }
      this.pull(v);
      return;
    }
    if (this.inflight) {
      this.wakeAt(this.inflight.at + PUSH_TIMEOUT_MS);
      return;
    }
    if (this.mustPull) {
      // Ask for anything we missed; the push below may then be answered
      // `behind`, which is harmless (pushes are idempotent).
      this.mustPull = false;
      this.pullSentAt = null;
      this.pull(v);
      if (this.unsure && this.pullSentAt !== null) this.unsurePulled = true;
    }
    if (now < this.blockedUntil) {
      if (this.blockedUntil !== Infinity) this.wakeAt(this.blockedUntil);
      return;
    }
    let all = sendableUpdates(this.state);
    if (all.some((u) => u.changes.empty)) {
      if (this.unsure) {
        // An earlier push may be stored: its echo must meet the updates it
        // holds, empty ones included. Ask the server first.
        this.pull(v);
        if (this.pullSentAt !== null) this.unsurePulled = true;
        return;
      }
      if (!this.dropEmpty()) return;
      all = sendableUpdates(this.state);
    }
    if (!all.length) {
      this.changed();
      return;
    }
    const batch: WireUpdate[] = [];
    let inserted = 0;
    for (const u of all) {
      const n = insertedLength(u.changes);
      if (batch.length && (batch.length >= LIMITS.updatesPerPush || inserted + n > LIMITS.insertChars)) break;
      inserted += n;
      batch.push({ clientID: u.clientID, changes: u.changes.toJSON() });
    }
    const id = this.opts.nextId();
    const ok = this.opts.send({ t: "push", id, field: this.key, epoch: this.epoch, version: v, updates: batch });
    if (!ok) return;
    this.inflight = { id, version: v, remaining: batch.length, at: now };
    this.wakeAt(now + PUSH_TIMEOUT_MS);
    this.changed();
  }

  private pull(since: number): void {
    const now = this.clock.now();
    if (this.pullSentAt !== null && now - this.pullSentAt < PULL_RETRY_MS) {
      this.wakeAt(this.pullSentAt + PULL_RETRY_MS);
      return;
    }
    if (!this.opts.send({ t: "pull", field: this.key, epoch: this.epoch, since })) return;
    this.pullSentAt = now;
    this.wakeAt(now + PULL_RETRY_MS);
  }

  /** Makes sure flush runs again at `at` (one timer per field, the earliest wins). */
  private wakeAt(at: number): void {
    if (at >= this.timerAt && this.timer !== null) return;
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      if (this.inflight && this.clock.now() >= this.inflight.at + PUSH_TIMEOUT_MS) {
        // No answer: treat the push as lost. If it was stored, the pull below
        // brings it back with our clientID and collab confirms it.
        this.inflight = null;
        this.mustPull = true;
        this.unsure = true;
        this.unsurePulled = false;
      }
      this.flush();
    }, Math.max(0, at - this.clock.now()));
  }

  private changed(): void {
    this.opts.onChange?.(this);
  }

  // ---- connection ----

  /** The socket closed: whatever was in flight is unknown until we resume. */
  disconnected(): void {
    this.connected = false;
    if (this.inflight) {
      this.unsure = true; // it may have been stored
      this.unsurePulled = false;
    }
    this.inflight = null;
    // The next welcome decides again whether to restore.
    this.restoring = null;
    this.pendingRestore = null;
    this.pullSentAt = null;
    if (this.reloading !== null) this.reloading = -Infinity; // ask again once back
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    this.changed();
  }

  /**
   * A `welcome` arrived (first connect or resume) with the server's snapshot
   * of this key, or null when the key is not readable for us now.
   */
  welcome(snap: FieldSnapshot | null): void {
    this.connected = true;
    this.inflight = null;
    this.pullSentAt = null;
    this.blockedUntil = 0;
    this.error = null;
    if (!snap) {
      this.readable = false;
      this.changed();
      return;
    }
    this.readable = true;
    const v = this.version;
    if (this.needsRestore(snap)) {
      this.startRestore(snap);
      this.changed();
      return;
    }
    if (snap.epoch !== this.epoch || snap.version < v || (snap.version === v && snap.text !== this.synced.toString())) {
      // Another epoch whose lineage holds ours: what the server acknowledged
      // to us up to there is in the snapshot, not to be pushed again.
      this.resetTo(snap, snap.epoch !== this.epoch ? this.ackedHeldBy(snap) : 0);
    } else {
      this.known = Math.max(this.known, snap.version);
      this.expectBy = 0;
    }
    this.noteSig(snap.epoch, snap.version, snap.sig);
    this.flush();
    this.changed();
  }

  /** The key became readable while connected (e.g. a partner revealed it). */
  becameReadable(): void {
    if (this.readable) return;
    this.readable = true;
    this.connected = true;
    this.pullSentAt = null;
    this.pull(this.version);
  }

  // ---- server messages ----

  updates(msg: UpdatesMsg): void {
    const v = this.version;
    if (msg.epoch !== this.epoch) {
      if (this.epoch === "" && msg.from === 0 && v === 0 && this.synced.length === 0) {
        this.epoch = msg.epoch; // first pull of a key we could not read before
      } else {
        // One of us is on an old epoch: a pull with ours settles it (the server
        // answers `reset` if ours is the stale one, nothing new otherwise).
        this.pullSentAt = null;
        this.pull(v);
        return;
      }
    }
    const end = msg.from + msg.updates.length;
    this.known = Math.max(this.known, end);
    // Whatever the server held of our unanswered push is in or before
    // this answer to a pull sent after it.
    if (this.unsurePulled && msg.from <= v) {
      this.unsure = false;
      this.unsurePulled = false;
    }
    if (msg.from > v) {
      // A gap: never apply out of order; fetch what is missing.
      this.expectBy = 0;
      this.flush();
      return;
    }
    if (end <= v) {
      this.flush();
      return; // all seen before
    }
    const fresh = msg.updates.slice(v - msg.from);
    let parsed: { clientID: string; changes: ChangeSet }[];
    let synced = this.synced;
    try {
      parsed = fresh.map((u) => ({ clientID: u.clientID, changes: ChangeSet.fromJSON(u.changes) }));
      for (const u of parsed) synced = u.changes.apply(synced);
    } catch {
      this.resync();
      return;
    }
    const own = parsed.filter((u) => u.clientID === this.clientID).length;
    this.synced = synced;
    // One update per receiveUpdates: the server rebases a push that is
    // behind over each accepted update in turn, and mapping our unsent edits
    // over a composition can differ from mapping them over each change, while
    // collab confirms our own updates by clientID alone (docs/protocol.md).
    for (const u of parsed) this.host.dispatch(receiveUpdates(this.state, [u]));
    if (this.inflight) {
      this.inflight.remaining -= own;
      if (this.inflight.remaining <= 0) {
        // Stored (the echo may come before the ack): the error is over.
        this.inflight = null;
        this.error = null;
        this.reloadedForBadChanges = false;
      }
    }
    if (this.version >= this.known) this.pullSentAt = null;
    if (this.acked && this.version > this.acked.base) this.acked = null; // echoed
    this.noteSig(msg.epoch, end, msg.sig);
    this.flush();
    this.changed();
  }

  ack(msg: { re?: string; version: number; sig?: string }): void {
    this.known = Math.max(this.known, msg.version);
    if (this.inflight && (msg.re === undefined || msg.re === this.inflight.id)) {
      if (this.version === this.inflight.version) {
        this.acked = { base: this.inflight.version, count: msg.version - this.inflight.version };
      }
      if (msg.sig) {
        this.ackSig = { epoch: this.epoch, version: msg.version, sig: msg.sig };
        this.noteSig(this.epoch, this.version);
      }
      this.inflight = null;
      this.error = null;
      this.reloadedForBadChanges = false;
      // The echo (our own updates in an `updates` message) confirms them; give it a moment.
      this.expectBy = this.clock.now() + ECHO_WAIT_MS;
    }
    this.flush();
    this.changed();
  }

  behind(msg: { re?: string; version: number }): void {
    this.known = Math.max(this.known, msg.version);
    if (this.inflight && (msg.re === undefined || msg.re === this.inflight.id)) {
      this.inflight = null;
      this.expectBy = this.clock.now() + ECHO_WAIT_MS;
    }
    this.flush();
    this.changed();
  }

  reset(msg: FieldSnapshot & { restoredFrom?: string; re?: string }): void {
    this.readable = true; // a snapshot is only ever sent to a reader, over an open socket
    this.connected = true;
    if (this.needsRestore(msg)) {
      if (this.restoring) this.restoring.snap = msg;
      else this.startRestore(msg);
      this.changed();
      return;
    }
    // A reset to what we already hold as confirmed (the restore's broadcast
    // reset after the reset that answered our push under the old epoch, or
    // the other way round; it comes through Redis, the answer does not), or
    // to less of the restored epoch we are already on: nothing to take.
    // Rebuilding the state would fold a push of ours that is in flight or
    // acked-but-unechoed together with newer keystrokes into one update, and
    // its echo, confirmed by clientID, would then confirm those keystrokes
    // too: they would never be sent. A reload for bad_changes still rebuilds.
    const same = msg.epoch === this.epoch && msg.version === this.version && msg.text === this.synced.toString();
    const olderOfOurs = msg.restoredFrom !== undefined && msg.epoch === this.epoch && msg.version < this.version;
    // An epoch ours was moved on from, at no more than ours holds of it (a
    // restore's reset that reached us after the next move's): taking it
    // would go back, and a push there would only be reset again.
    const ancestor = this.lineage.find((l) => l.epoch === msg.epoch);
    const olderEpoch = msg.epoch !== this.epoch && ancestor !== undefined && msg.version <= ancestor.version;
    if (this.reloading === null && (same || olderOfOurs || olderEpoch)) {
      if (msg.re !== undefined && this.inflight?.id === msg.re) this.inflight = null; // refused, nothing stored
      this.known = Math.max(this.known, msg.version);
      this.noteSig(msg.epoch, msg.version, msg.sig);
      this.flush();
      this.changed();
      return;
    }
    // A restored checkpoint of our epoch, or an epoch whose lineage holds
    // ours, holds what the server acknowledged to us up to that version:
    // confirm those updates rather than push them again.
    this.resetTo(msg, msg.epoch !== this.epoch ? this.ackedHeldBy(msg) : 0);
    this.noteSig(msg.epoch, msg.version, msg.sig);
    this.flush();
    this.changed();
  }

  /**
   * How many of our acknowledged, unechoed updates `snap` (under another
   * epoch) holds: all of them when its lineage (or `restoredFrom`, from
   * older servers) holds our epoch up to their version, else none.
   */
  private ackedHeldBy(snap: FieldSnapshot & { restoredFrom?: string }): number {
    const a = this.acked;
    if (!a || a.base !== this.version) return 0;
    let held = -1;
    if (snap.restoredFrom === this.epoch) held = snap.version;
    for (const l of snap.lineage ?? []) {
      if (l.epoch === this.epoch) held = Math.max(held, Math.min(l.version, snap.version));
    }
    return held >= a.base + a.count ? a.count : 0;
  }

  /** The server shows less than a checkpoint it signed to us (any epoch: a restored field keeps its version). */
  private needsRestore(snap: { version: number }): boolean {
    return this.checkpoint !== null && snap.version < this.checkpoint.version;
  }

  /** Presents our checkpoint; `snap` is what the server showed, taken if it is refused. */
  private startRestore(snap: FieldSnapshot): void {
    const ck = this.checkpoint;
    if (!ck) return;
    const id = this.opts.nextId();
    const msg = { t: "restore" as const, id, field: this.key, epoch: ck.epoch, version: ck.version, text: ck.text, sig: ck.sig };
    if (!this.opts.send(msg)) {
      this.pendingRestore = snap;
      return;
    }
    const now = this.clock.now();
    this.restoring = { id, snap, at: now, epoch: this.epoch, version: this.version };
    this.wakeAt(now + PUSH_TIMEOUT_MS);
  }

  /**
   * The answer to a restore: `code` null for ok (the reset every reader gets
   * follows, or came first). Returns false if `re` was not our restore.
   */
  restoreReply(re: string, code: string | null): boolean {
    if (!this.restoring || this.restoring.id !== re) return false;
    const { snap, epoch: startEpoch, version: startVersion } = this.restoring;
    this.restoring = null;
    if (code === null) {
      this.flush(); // a push under the old epoch is answered with the restored field
      return true;
    }
    if (code === "room_lost" || code === "unavailable" || code === "rate_limited") {
      this.pendingRestore = snap;
      this.restoreAfter = this.clock.now() + 1000;
      this.flush();
      return true;
    }
    // Stale (the server holds as much or more) or refused: take the server's.
    // `snap` is what the server showed when we began; if a restore by another
    // seat (its reset, then new updates) reached us since, going back to
    // `snap` would show older text, so only the resync's answer counts then.
    this.checkpoint = null;
    this.opts.onCheckpoint?.(null);
    const moved = this.epoch !== startEpoch || this.version !== startVersion;
    if (!moved && (snap.epoch !== this.epoch || snap.version !== this.version)) this.resetTo(snap);
    this.resync();
    this.changed();
    return true;
  }

  /** The room's data was lost: present our checkpoint (the room's own first, by the caller). */
  lost(): void {
    if (!this.checkpoint || this.restoring || !this.connected) return;
    this.startRestore({ epoch: this.epoch, version: this.version, text: this.synced.toString() });
  }

  /** Adopts `sig` as the checkpoint when it signs what we hold as confirmed, and an ack's once reached. */
  private noteSig(epoch: string, version: number, sig?: string): void {
    const before = this.checkpoint;
    if (sig && epoch === this.epoch && version === this.version) {
      this.checkpoint = { epoch, version, text: this.synced.toString(), sig };
    }
    const a = this.ackSig;
    if (a && a.epoch === this.epoch && a.version === this.version) {
      this.checkpoint = { epoch: a.epoch, version: a.version, text: this.synced.toString(), sig: a.sig };
      this.ackSig = null;
    } else if (a && (a.epoch !== this.epoch || a.version < this.version)) {
      this.ackSig = null;
    }
    if (this.checkpoint !== before) this.opts.onCheckpoint?.(this.checkpoint);
  }

  heads(head: { epoch: string; version: number }): void {
    // Behind our own version under the same epoch: Redis lost writes we had
    // seen (a restart or failover). Until we resync we would ignore every new
    // update as "seen before"; a pull from our version is answered `reset`.
    if (head.epoch !== this.epoch || head.version < this.version) {
      this.pullSentAt = null;
      this.pull(this.version);
      return;
    }
    this.known = Math.max(this.known, head.version);
    this.expectBy = 0;
    this.flush();
  }

  /** An `error` answered our push `re`. Returns false if `re` was not ours. */
  pushError(re: string, code: string, message: string): boolean {
    if (!this.inflight || this.inflight.id !== re) return false;
    this.inflight = null;
    this.error = { code, message };
    const now = this.clock.now();
    if (code === "too_large") {
      this.blockedUntil = Infinity; // until the next local edit
    } else if (code === "bad_changes") {
      // Nothing was stored, and the same push would be refused again: our
      // view of the document is off. Reload it from the server, rebasing
      // what is unsent; a refusal after that reload waits for a local edit.
      if (this.reloadedForBadChanges) {
        this.blockedUntil = Infinity;
        this.error = { code, message: "This text could not be saved. Please edit it again to retry." };
      } else {
        this.reloadedForBadChanges = true;
        this.error = { code, message: "This text was reloaded from the server; your unsaved words were kept where possible." };
        this.reload();
      }
    } else {
      this.blockedUntil = now + (RETRY_AFTER[code] ?? 5000);
      if (code === "unavailable") {
        this.unsure = true; // the server may have stored it before failing
        this.unsurePulled = false;
        this.mustPull = true;
      }
    }
    this.flush();
    this.changed();
    return true;
  }

  /**
   * Rebuilds the collab state from the server-confirmed text and version
   * with only the non-empty unsent changes, in order, so an update that
   * mapping emptied is never pushed (the server refuses a push that changes
   * nothing) and collab still counts our updates as the server does.
   * Called only with no push in flight and none that may be stored.
   */
  private dropEmpty(): boolean {
    this.takePendingInput();
    const before = this.state;
    const keep = sendableUpdates(before).filter((u) => !u.changes.empty);
    let state = this.makeState(this.synced, this.version);
    try {
      for (const u of keep) state = state.update({ changes: u.changes, filter: false }).state;
    } catch {
      state = before;
    }
    if (state === before || !state.doc.eq(before.doc)) {
      // Our confirmed text does not match the unsent edits: reload.
      this.reload();
      return false;
    }
    state = state.update({ selection: before.selection }).state; // the same doc: the selection fits
    this.host.setState(state);
    return true;
  }

  /** Asks for the server's snapshot; no push until it comes (`reset` rebases the unsent edits on it). */
  private reload(): void {
    this.reloading = this.clock.now();
    this.resync();
    this.wakeAt(this.reloading + PULL_RETRY_MS);
  }

  /** Our document cannot take the server's updates: ask for a snapshot. */
  private resync(): void {
    // A pull with an epoch the server cannot have is answered with `reset`.
    const v = this.version;
    this.opts.send({ t: "pull", field: this.key, epoch: `resync-${this.epoch}`, since: v });
    this.pullSentAt = this.clock.now();
  }

  /** Replaces the document with the server's and rebases the unsent local edits on it. */
  private resetTo(snap: { epoch: string; version: number; text: string; lineage?: Lineage[] }, confirm = 0): void {
    this.takePendingInput();
    let unsent = sendableUpdates(this.state).map((u) => u.changes);
    const target = Text.of(snap.text.split("\n"));
    let base = this.synced;
    let rebased: ChangeSet | null = null;
    try {
      // The first `confirm` unsent updates are already in the snapshot.
      for (const c of unsent.slice(0, confirm)) base = c.apply(base);
      unsent = unsent.slice(confirm);
      rebased = rebaseOnto(base, unsent, target);
    } catch {
      rebased = null;
    }
    this.acked = null;
    if (snap.epoch !== this.epoch) this.lineage = snap.lineage ?? [];
    // The snapshot holds whatever the server stored of ours; the unsent
    // edits are rebased on it as one new update.
    this.unsure = false;
    this.unsurePulled = false;
    this.reloading = null;
    const head = this.state.selection.main.head;
    this.epoch = snap.epoch;
    this.known = snap.version;
    this.synced = target;
    this.inflight = null;
    this.pullSentAt = null;
    this.expectBy = 0;
    this.host.setState(this.makeState(target, snap.version));
    if (rebased) {
      // filter: false — the rebased words must not be refused by an editor filter.
      this.host.dispatch(this.state.update({ changes: rebased, filter: false }));
    }
    const len = this.state.doc.length;
    this.host.dispatch(this.state.update({ selection: { anchor: Math.min(head, len) } }));
  }
}
