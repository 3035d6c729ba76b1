import { test } from "node:test";
import assert from "node:assert/strict";
import { ChangeSet, Text } from "@codemirror/state";
import { Authority, Client, FakeClock, settle, tick } from "./harness";
import { ECHO_WAIT_MS, PULL_RETRY_MS } from "../src/sync/fieldsync";
import type { PullMsg, PushMsg, UpdatesMsg } from "../src/types";

function insertJSON(docLen: number, at: number, text: string): unknown {
  return ChangeSet.of({ from: at, insert: text }, docLen).toJSON();
}


/** One client A on field "f", welcomed by a server holding text. */
function alone(text: string): { clock: FakeClock; server: Authority; a: Client } {
  const clock = new FakeClock();
  const server = new Authority(text);
  const a = new Client("A", "f", server.snapshot(), clock);
  a.sync.welcome(server.snapshot());
  return { clock, server, a };
}

test("a local edit is pushed at the synced version and saved only after the echo", async () => {
  const { clock, server, a } = alone("");
  a.type(0, "hello");
  await tick();
  assert.equal(a.out.length, 1);
  const push = a.out[0] as PushMsg;
  assert.equal(push.t, "push");
  assert.equal(push.version, 0);
  assert.equal(push.epoch, "e1");
  assert.equal(a.sync.saved, false);
  // Ack first, echo later: not saved yet, and no second push meanwhile.
  const { reply, broadcast } = server.handle(a.out.shift()!, "f");
  a.receive(reply[0]);
  assert.equal(reply[0].t, "ack");
  assert.equal(a.sync.saved, false);
  a.type(5, "!");
  await tick();
  assert.equal(a.out.length, 0, "waits for the echo before pushing again");
  a.receive(broadcast[0]);
  assert.equal(a.sync.version, 1);
  await tick();
  assert.equal(a.out.length, 1, "then pushes the next edit");
  assert.equal((a.out[0] as PushMsg).version, 1);
  await settle(server, [a]);
  assert.equal(a.sync.saved, true);
  assert.equal(a.sync.unsent, 0);
  assert.equal(server.text, "hello!");
});

test("updates already seen are ignored; a partly new message applies only its tail", async () => {
  const clock = new FakeClock();
  const server = new Authority("");
  const a = new Client("A", "f", server.snapshot(), clock);
  const b = new Client("B", "f", server.snapshot(), clock);
  a.sync.welcome(server.snapshot());
  b.sync.welcome(server.snapshot());
  a.type(0, "one");
  await settle(server, [a, b]);
  a.type(3, " two");
  await settle(server, [a, b]);
  assert.equal(b.sync.text, "one two");
  assert.equal(b.sync.version, 2);
  // The same updates again (a duplicate pub/sub delivery): nothing changes.
  const all: UpdatesMsg = { t: "updates", field: "f", epoch: "e1", from: 0, updates: server.f.log.slice() };
  b.receive(all);
  b.receive(all);
  assert.equal(b.sync.text, "one two");
  assert.equal(b.sync.version, 2);
  // Versions 0..3 where we have 2: only the third applies.
  server.f.log.push({ clientID: "X", changes: insertJSON(7, 7, " three") });
  b.receive({ t: "updates", field: "f", epoch: "e1", from: 0, updates: server.f.log.slice() });
  assert.equal(b.sync.text, "one two three");
  assert.equal(b.sync.version, 3);
});

test("a gap is pulled, never applied out of order", async () => {
  const clock = new FakeClock();
  const server = new Authority("");
  const b = new Client("B", "f", server.snapshot(), clock);
  b.sync.welcome(server.snapshot());
  server.f.log.push({ clientID: "X", changes: insertJSON(0, 0, "a") });
  server.f.log.push({ clientID: "X", changes: insertJSON(1, 1, "b") });
  server.f.doc = Text.of(["ab"]);
  // Only the second update reaches us (the first was lost).
  b.receive({ t: "updates", field: "f", epoch: "e1", from: 1, updates: server.f.log.slice(1) });
  assert.equal(b.sync.text, "");
  assert.equal(b.sync.version, 0);
  const pull = b.out.shift() as PullMsg;
  assert.deepEqual({ t: pull.t, since: pull.since, epoch: pull.epoch }, { t: "pull", since: 0, epoch: "e1" });
  // A second gap message right after does not send a second pull.
  b.receive({ t: "updates", field: "f", epoch: "e1", from: 1, updates: server.f.log.slice(1) });
  assert.equal(b.out.length, 0);
  b.receive({ t: "updates", field: "f", epoch: "e1", from: 0, updates: server.f.log.slice(0) });
  assert.equal(b.sync.text, "ab");
  assert.equal(b.sync.version, 2);
});

test("behind: wait for the missing updates, then push the rebased edit", async () => {
  const clock = new FakeClock();
  const server = new Authority("base");
  const a = new Client("A", "f", server.snapshot(), clock);
  const b = new Client("B", "f", server.snapshot(), clock);
  a.sync.welcome(server.snapshot());
  b.sync.welcome(server.snapshot());
  a.type(0, "A:");
  b.type(4, ":B");
  await tick();
  // B's push lands first.
  const bPush = b.out.shift()!;
  const r1 = server.handle(bPush, "f");
  // A's push is now at an old version.
  const aPush = a.out.shift()! as PushMsg;
  const r2 = server.handle(aPush, "f");
  assert.equal(r2.reply[0].t, "behind");
  a.receive(r2.reply[0]); // behind (the updates have not arrived yet)
  await tick();
  assert.equal(a.out.length, 0, "no push before the missing updates arrive");
  a.receive(r2.reply[1]); // the missing updates
  await tick();
  const again = a.out[0] as PushMsg;
  assert.equal(again.t, "push");
  assert.equal(again.version, 1);
  for (const m of r1.broadcast) {
    a.receive(m);
    b.receive(m);
  }
  b.receive(r1.reply[0]);
  await settle(server, [a, b]);
  assert.equal(server.text, "A:base:B");
  assert.equal(a.sync.text, server.text);
  assert.equal(b.sync.text, server.text);
  assert.ok(a.sync.saved && b.sync.saved);
});

test("behind without the promised updates: pull after a short wait", async () => {
  const { clock, server, a } = alone("");
  server.f.log.push({ clientID: "X", changes: insertJSON(0, 0, "x") });
  server.f.doc = Text.of(["x"]);
  a.type(0, "y");
  await tick();
  const push = a.out.shift() as PushMsg;
  a.receive({ t: "behind", re: push.id, field: "f", version: 1 });
  await tick();
  assert.equal(a.out.length, 0);
  clock.advance(ECHO_WAIT_MS + 1);
  const pull = a.out[0] as PullMsg;
  assert.equal(pull.t, "pull");
  assert.equal(pull.since, 0);
  await settle(server, [a]);
  // The unanswered pull was not repeated too early, and the edit got through.
  assert.equal(server.text.length, 2);
  assert.equal(a.sync.text, server.text);
  assert.ok(a.sync.saved);
  void PULL_RETRY_MS;
});

test("offline edits stay and are pushed after reconnect (same epoch)", async () => {
  const { clock, server, a } = alone("hi");
  a.connected = false;
  a.sync.disconnected();
  a.type(2, " there");
  a.type(8, ", friend");
  await tick();
  assert.equal(a.out.length, 0);
  assert.equal(a.sync.text, "hi there, friend");
  assert.equal(a.sync.unsent, 2);
  assert.equal(a.sync.saved, false);
  a.connected = true;
  a.sync.welcome(server.snapshot());
  await settle(server, [a]);
  assert.equal(server.text, "hi there, friend");
  assert.ok(a.sync.saved);
});

test("a push stored before the connection dropped is found again, not duplicated", async () => {
  const { clock, server, a } = alone("");
  a.type(0, "once");
  await tick();
  server.handle(a.out.shift()!, "f"); // stored; ack and echo are lost
  a.connected = false;
  a.sync.disconnected();
  a.connected = true;
  a.sync.welcome(server.snapshot()); // server is at version 1
  assert.equal((a.out[0] as PullMsg).t, "pull");
  await settle(server, [a]);
  assert.equal(server.text, "once");
  assert.equal(a.sync.text, "once");
  assert.equal(a.sync.version, 1);
  assert.equal(a.sync.unsent, 0);
});

test("epoch change on reconnect: the document is replaced and unsent edits rebased", async () => {
  const { clock, server, a } = alone("We agree to talk every Sunday.");
  a.connected = false;
  a.sync.disconnected();
  // While offline: append a sentence.
  a.type(a.sync.text.length, " And to call if late.");
  // The server lost the field and rebuilt it with slightly different text.
  server.rebuild("We agree to talk every Sunday evening.", "e2");
  a.connected = true;
  a.sync.welcome(server.snapshot());
  assert.equal(a.sync.epoch, "e2");
  assert.equal(a.sync.text, "We agree to talk every Sunday evening. And to call if late.");
  await settle(server, [a]);
  assert.equal(server.text, "We agree to talk every Sunday evening. And to call if late.");
  assert.ok(a.sync.saved);
});

test("reset while connected keeps unsent words (mapped into the new text)", async () => {
  const { clock, server, a } = alone("abc");
  a.connected = false;
  a.sync.disconnected();
  a.type(1, "XY"); // aXYbc
  a.connected = true;
  a.sync.reset({ epoch: "e9", version: 7, text: "zzabc" });
  assert.equal(a.sync.text, "zzaXYbc");
  assert.equal(a.sync.version, 7);
  assert.equal(a.sync.unsent, 1);
});

test("push refused (locked): kept, retried when the room changes", async () => {
  const { clock, server, a } = alone("");
  a.type(0, "words");
  await tick();
  const push = a.out.shift() as PushMsg;
  a.receive({ t: "error", re: push.id, code: "locked", message: "locked" });
  assert.equal(a.sync.error?.code, "locked");
  await tick();
  assert.equal(a.out.length, 0, "no hot retry");
  assert.equal(a.sync.text, "words");
  a.sync.retry();
  await settle(server, [a]);
  assert.equal(server.text, "words");
  assert.ok(a.sync.saved);
});

test("a push with no answer is retried through a pull", async () => {
  const { clock, server, a } = alone("");
  a.type(0, "x");
  await tick();
  a.out.shift(); // lost on the way
  clock.advance(11_000);
  assert.equal(a.out[0]?.t, "pull");
  await settle(server, [a]);
  assert.equal(server.text, "x");
  assert.ok(a.sync.saved);
});

test("a key that becomes readable is fetched from scratch", async () => {
  const clock = new FakeClock();
  const server = new Authority("my private draft", "e5");
  const a = new Client("A", "f", null, clock);
  assert.equal(a.sync.readable, false);
  a.sync.becameReadable();
  const pull = a.out[0] as PullMsg;
  assert.equal(pull.since, 0);
  await settle(server, [a]);
  assert.equal(a.sync.text, "my private draft");
  assert.equal(a.sync.epoch, "e5");
});

test("updates of another epoch are not applied", async () => {
  const { clock, server, a } = alone("abc");
  a.receive({ t: "updates", field: "f", epoch: "old", from: 0, updates: [{ clientID: "X", changes: insertJSON(3, 0, "!") }] });
  assert.equal(a.sync.text, "abc");
  assert.equal(a.out[0]?.t, "pull");
});

test("two editors converge under interleaved typing", async () => {
  const clock = new FakeClock();
  const server = new Authority("");
  const a = new Client("A", "f", server.snapshot(), clock);
  const b = new Client("B", "f", server.snapshot(), clock);
  a.sync.welcome(server.snapshot());
  b.sync.welcome(server.snapshot());
  for (let i = 0; i < 20; i++) {
    a.type(0, `a${i} `);
    b.type(b.sync.text.length, ` b${i}`);
    if (i % 3 === 0) await settle(server, [a, b]);
  }
  await settle(server, [a, b]);
  assert.equal(a.sync.text, server.text);
  assert.equal(b.sync.text, server.text);
  assert.equal(a.sync.version, server.version);
  assert.ok(server.text.includes("a19") && server.text.includes("b19"));
});

test("heads below our version (Redis lost writes, same epoch): resync instead of ignoring what follows", async () => {
  const clock = new FakeClock();
  const server = new Authority("");
  const a = new Client("A", "f", server.snapshot(), clock);
  const b = new Client("B", "f", server.snapshot(), clock);
  a.sync.welcome(server.snapshot());
  b.sync.welcome(server.snapshot());
  a.type(0, "one");
  await settle(server, [a, b]);
  a.type(3, " two");
  await settle(server, [a, b]);
  assert.equal(b.sync.version, 2);
  // Redis comes back without the last write, under the same epoch.
  server.f.log.pop();
  server.f.doc = Text.of(["one"]);
  b.sync.heads({ epoch: "e1", version: 1 });
  const pull = b.out.shift() as PullMsg;
  assert.equal(pull?.t, "pull", "asks the server where it really is");
  b.receive(server.handle(pull, "f").reply[0]);
  assert.equal(b.sync.text, "one");
  assert.equal(b.sync.version, 1);
  // So the next write is applied, not skipped as "version 2, seen before".
  server.f.log.push({ clientID: "X", changes: insertJSON(3, 3, " three") });
  server.f.doc = Text.of(["one three"]);
  b.receive({ t: "updates", field: "f", epoch: "e1", from: 1, updates: server.f.log.slice(1) });
  assert.equal(b.sync.text, "one three");
});

/** Two clients A and B on field "f", welcomed by a server holding text. */
function pair(text: string): { clock: FakeClock; server: Authority; a: Client; b: Client } {
  const clock = new FakeClock();
  const server = new Authority(text);
  const a = new Client("A", "f", server.snapshot(), clock);
  const b = new Client("B", "f", server.snapshot(), clock);
  a.sync.welcome(server.snapshot());
  b.sync.welcome(server.snapshot());
  return { clock, server, a, b };
}

test("both partners delete the same text at once: both converge and report saved, no push that changes nothing", async () => {
  const cases = [
    { name: "the same deletion", a: [[5, "", 11]], b: [[5, "", 11]], want: "hello" },
    { name: "then A types on", a: [[5, "", 11], [5, "!"]], b: [[5, "", 11]], want: "hello!" },
    { name: "A deletes twice, B once over both", a: [[5, "", 11], [0, "", 1]], b: [[0, "", 11]], want: "" },
  ] as const;
  for (const c of cases) {
    const { clock, server, a, b } = pair("hello world");
    for (const [from, ins, to] of c.a) a.type(from, ins, to);
    for (const [from, ins, to] of c.b) b.type(from, ins, to);
    await settle(server, [a, b]);
    clock.advance(30_000);
    await settle(server, [a, b]);
    assert.equal(server.refused, 0, `${c.name}: no push was refused`);
    assert.equal(server.text, c.want, c.name);
    for (const x of [a, b]) {
      assert.equal(x.sync.text, c.want, `${c.name}: ${x.name}'s text`);
      assert.equal(x.sync.version, server.version, `${c.name}: ${x.name}'s version`);
      assert.equal(x.sync.unsent, 0, `${c.name}: ${x.name} has nothing unsent`);
      assert.ok(x.sync.saved, `${c.name}: ${x.name} reports saved`);
      assert.equal(x.sync.error, null, c.name);
    }
    // Typing afterwards still goes through and is counted right.
    a.type(0, ">");
    await settle(server, [a, b]);
    assert.equal(b.sync.text, ">" + c.want, c.name);
    assert.ok(a.sync.saved && b.sync.saved, c.name);
  }
});

test("the same deletion made offline: after reconnect the emptied edit is dropped and the field is saved", async () => {
  const { clock, server, a, b } = pair("We talk on Sunday evening.");
  a.connected = false;
  a.sync.disconnected();
  a.type(17, "", 25); // " evening" deleted offline
  b.type(17, "", 25); // the partner deletes it too, online
  await settle(server, [b]);
  a.connected = true;
  a.sync.welcome(server.snapshot());
  await settle(server, [a, b]);
  assert.equal(server.refused, 0);
  assert.equal(a.sync.text, "We talk on Sunday.");
  assert.equal(a.sync.version, server.version);
  assert.ok(a.sync.saved);
});

test("an emptied edit after a push that got no answer: pull first, then drop it", async () => {
  const { clock, server, a, b } = pair("hello world");
  a.type(5, "", 11);
  await tick();
  assert.equal(a.out.shift()?.t, "push"); // lost on the way
  b.type(5, "", 11);
  await settle(server, [a, b]); // B's update reaches A: A's edit maps to nothing
  assert.equal(a.sync.text, "hello");
  clock.advance(11_000); // the push is given up: it may have been stored
  assert.equal(a.out[0]?.t, "pull", "asks the server before dropping anything");
  assert.equal(a.out.filter((m) => m.t === "push").length, 0);
  await settle(server, [a, b]);
  assert.equal(server.refused, 0);
  assert.equal(a.sync.version, server.version);
  assert.ok(a.sync.saved);
});

test("a push refused bad_changes: reloaded from the server once, never resent forever, the words kept", async () => {
  const { clock, server, a, b } = pair("abc");
  b.type(3, "d"); // the server moves on; A has not heard yet
  await settle(server, [b]);
  server.refuse = true;
  a.type(0, "X");
  await settle(server, [a]);
  // Refused, reloaded (reset), the rebased edit pushed once more, refused again: held.
  assert.equal(server.refused, 2);
  assert.equal(a.sync.error?.code, "bad_changes");
  assert.equal(a.sync.text, "Xabcd", "the unsent word is kept on the server's text");
  assert.equal(a.sync.version, server.version);
  assert.equal(a.sync.saved, false);
  clock.advance(120_000);
  await settle(server, [a]);
  assert.equal(server.refused, 2, "no retry loop");
  // The next edit tries again, and once the server takes it the field is saved.
  server.refuse = false;
  a.type(1, "Y");
  await settle(server, [a, b]);
  assert.equal(server.text, "XYabcd");
  assert.equal(b.sync.text, "XYabcd");
  assert.ok(a.sync.saved);
  assert.equal(a.sync.error, null);
});

test("a single bad_changes is settled by the reload: the page is told, then saved", async () => {
  const { clock, server, a } = alone("abc");
  a.type(3, "!");
  await tick();
  const push = a.out.shift() as PushMsg;
  const seen: (string | null)[] = [];
  a.receive({ t: "error", re: push.id, code: "bad_changes", message: "update 0: does not fit" });
  seen.push(a.sync.error?.code ?? null);
  assert.equal(a.out[0]?.t, "pull", "asks for the server's snapshot");
  assert.notEqual((a.out[0] as PullMsg).epoch, "e1");
  await settle(server, [a]);
  assert.deepEqual(seen, ["bad_changes"]);
  assert.equal(server.text, "abc!");
  assert.ok(a.sync.saved);
  assert.equal(a.sync.error, null);
});
