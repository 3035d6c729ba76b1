// Test doubles for the sync machine: a manual clock and a small authority
// that follows docs/protocol.md (accept a push only at the current version).

import { ChangeSet, Text } from "@codemirror/state";
import type { ClientMsg, ServerMsg, WireUpdate } from "../src/types";
import { Clock, FieldSync } from "../src/sync/fieldsync";

export class FakeClock implements Clock {
  t = 1_000_000;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.timers.delete(h as number);
  }
  /** Moves time forward, running due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }
}

export interface Stored {
  epoch: string;
  doc: Text;
  log: WireUpdate[];
}

/** One text key on the server side. */
export class Authority {
  f: Stored;
  /** Refuse every push with bad_changes (a server that cannot take them). */
  refuse = false;
  /** How many pushes were refused bad_changes. */
  refused = 0;
  constructor(text = "", epoch = "e1") {
    this.f = { epoch, doc: Text.of(text.split("\n")), log: [] };
  }
  get version(): number {
    return this.f.log.length;
  }
  get text(): string {
    return this.f.doc.toString();
  }
  snapshot() {
    return { epoch: this.f.epoch, version: this.version, text: this.text };
  }
  /** Answers one client message; returns [reply to sender, broadcast to all]. */
  handle(msg: ClientMsg, key: string): { reply: ServerMsg[]; broadcast: ServerMsg[] } {
    const reply: ServerMsg[] = [];
    const broadcast: ServerMsg[] = [];
    if (msg.t === "pull") {
      if (msg.epoch !== this.f.epoch || msg.since > this.version) {
        reply.push({ t: "reset", field: key, ...this.snapshot() });
      } else {
        reply.push({ t: "updates", field: key, epoch: this.f.epoch, from: msg.since, updates: this.f.log.slice(msg.since) });
      }
    } else if (msg.t === "push") {
      if (msg.epoch !== this.f.epoch) {
        reply.push({ t: "reset", re: msg.id, field: key, ...this.snapshot() });
      } else if (this.refuse || msg.updates.every((u) => ChangeSet.fromJSON(u.changes).empty)) {
        // docs/protocol.md: a push that changes nothing is refused.
        this.refused++;
        reply.push({ t: "error", re: msg.id, code: "bad_changes", message: "the push changes nothing" });
      } else if (msg.version !== this.version) {
        reply.push({ t: "behind", re: msg.id, field: key, version: this.version });
        reply.push({ t: "updates", field: key, epoch: this.f.epoch, from: msg.version, updates: this.f.log.slice(msg.version) });
      } else {
        const from = this.version;
        for (const u of msg.updates) {
          this.f.doc = ChangeSet.fromJSON(u.changes).apply(this.f.doc);
          this.f.log.push(u);
        }
        reply.push({ t: "ack", re: msg.id, field: key, version: this.version });
        broadcast.push({ t: "updates", field: key, epoch: this.f.epoch, from, updates: msg.updates });
      }
    }
    return { reply, broadcast };
  }
  /** Data loss: a new epoch with the given text. */
  rebuild(text: string, epoch: string): void {
    this.f = { epoch, doc: Text.of(text.split("\n")), log: [] };
  }
}

/** A client: a FieldSync whose outgoing messages are queued until delivered. */
export class Client {
  sync: FieldSync;
  out: ClientMsg[] = [];
  connected = true;
  private n = 0;
  constructor(
    readonly name: string,
    readonly key: string,
    snapshot: { epoch: string; version: number; text: string } | null,
    readonly clock: FakeClock,
  ) {
    this.sync = new FieldSync({
      key,
      snapshot,
      clientID: name,
      clock,
      send: (m) => {
        if (!this.connected) return false;
        this.out.push(m);
        return true;
      },
      nextId: () => `${name}-${++this.n}`,
    });
  }
  /** A local edit, as if typed in the editor. */
  type(from: number, insert: string, to = from): void {
    this.sync.apply({ changes: { from, to, insert } });
    this.sync.localChanged();
  }
  receive(msg: ServerMsg): void {
    switch (msg.t) {
      case "updates":
        return this.sync.updates(msg);
      case "ack":
        return this.sync.ack(msg);
      case "behind":
        return this.sync.behind(msg);
      case "reset":
        return this.sync.reset(msg);
      case "error":
        this.sync.pushError(msg.re ?? "", msg.code, msg.message);
        return;
    }
  }
}

/** Lets queued microtasks (FieldSync's flush after a local edit) run. */
export const tick = () => new Promise<void>((r) => setTimeout(r, 0));

/** Delivers every queued client message to the authority, and the answers back, until quiet. */
export async function settle(server: Authority, clients: Client[], key = "f"): Promise<void> {
  for (let round = 0; round < 100; round++) {
    await tick();
    let moved = false;
    for (const c of clients) {
      const msgs = c.out.splice(0);
      for (const m of msgs) {
        moved = true;
        const { reply, broadcast } = server.handle(m, key);
        for (const b of broadcast) for (const o of clients) if (o.connected) o.receive(b);
        for (const r of reply) if (c.connected) c.receive(r);
      }
    }
    if (!moved) return;
  }
  throw new Error("did not settle");
}
