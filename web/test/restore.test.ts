// Checkpoints in the browser's FieldSync: the server-confirmed text at a
// signed version is kept apart from the editor's document, and presented
// (restore) when the server shows less; pushes wait for the answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client, FakeClock, tick } from "./harness";
import type { PushMsg, RestoreMsg } from "../src/types";

function signed(text: string, version: number): Client {
  const clock = new FakeClock();
  const snap = { epoch: "e1", version, text, sig: "S" + version };
  const a = new Client("A", "f", snap, clock);
  a.sync.welcome(snap);
  return a;
}

test("the checkpoint follows signed updates and acks, never the unsent edits", async () => {
  const a = signed("ab", 4);
  assert.deepEqual(a.sync.checkpoint, { epoch: "e1", version: 4, text: "ab", sig: "S4" });
  a.receive({ t: "updates", field: "f", epoch: "e1", from: 4, updates: [{ clientID: "B", changes: [2, [0, "c"]] }], sig: "S5" });
  assert.deepEqual(a.sync.checkpoint, { epoch: "e1", version: 5, text: "abc", sig: "S5" });
  a.type(3, "d");
  await tick();
  const push = a.out.shift() as PushMsg;
  assert.equal(a.sync.checkpoint?.text, "abc", "unsent edits are not in the checkpoint");
  a.receive({ t: "ack", re: push.id, field: "f", version: 6, sig: "S6" });
  assert.equal(a.sync.checkpoint?.version, 5, "not before the echo brings the text to version 6");
  a.receive({ t: "updates", field: "f", epoch: "e1", from: 5, updates: [{ clientID: "A", changes: [3, [0, "d"]] }] });
  assert.deepEqual(a.sync.checkpoint, { epoch: "e1", version: 6, text: "abcd", sig: "S6" });
});

test("a reset below the checkpoint presents it, holds pushes, and takes the restored field", async () => {
  const a = signed("hello", 9);
  a.type(5, "!");
  await tick();
  const push = a.out.shift() as PushMsg;
  // Redis went back to version 6 (the field moved to e2).
  a.receive({ t: "reset", re: push.id, field: "f", epoch: "e2", version: 6, text: "hel", sig: "X" });
  const restore = a.out.shift() as Extract<RestoreMsg, { field: string }>;
  assert.equal(restore.t, "restore");
  assert.deepEqual([restore.epoch, restore.version, restore.text, restore.sig], ["e1", 9, "hello", "S9"]);
  assert.equal(a.sync.text, "hello!", "the editor keeps its text meanwhile");
  a.type(6, "?");
  await tick();
  assert.equal(a.out.length, 0, "no push while restoring");
  a.receive({ t: "reset", field: "f", epoch: "e3", version: 9, text: "hello", sig: "S9b", restoredFrom: "e1" });
  a.sync.restoreReply(restore.id, null);
  await tick();
  assert.equal(a.sync.epoch, "e3");
  assert.equal(a.sync.text, "hello!?");
  const again = a.out.shift() as PushMsg;
  assert.equal(again.t, "push");
  assert.equal(again.epoch, "e3");
  assert.equal(again.version, 9);
});

test("a refused checkpoint is dropped and the server's snapshot taken", async () => {
  for (const code of ["stale_checkpoint", "bad_checkpoint"]) {
    const a = signed("hello", 9);
    a.receive({ t: "reset", field: "f", epoch: "e2", version: 3, text: "he" });
    const restore = a.out.shift() as Extract<RestoreMsg, { field: string }>;
    assert.equal(restore.t, "restore");
    assert.equal(a.sync.restoreReply(restore.id, code), true);
    assert.equal(a.sync.checkpoint, null, code);
    assert.equal(a.sync.epoch, "e2", code);
    assert.equal(a.sync.text, "he", code);
  }
});

test("an acked update a restored checkpoint holds is confirmed, not pushed twice", async () => {
  const a = signed("ab", 2);
  a.type(2, "c");
  await tick();
  const push = a.out.shift() as PushMsg;
  a.receive({ t: "ack", re: push.id, field: "f", version: 3 });
  // The echo never came: Redis went back, and another client restored
  // version 3 of our epoch (with our "c").
  a.receive({ t: "reset", field: "f", epoch: "e9", version: 3, text: "abc", restoredFrom: "e1" });
  await tick();
  assert.equal(a.sync.text, "abc");
  assert.equal(a.sync.unsent, 0);
  assert.equal(a.out.length, 0);
});

test("a checkpoint kept across a reload is presented when the server shows less", async () => {
  const { FieldSync } = await import("../src/sync/fieldsync");
  const clock = new FakeClock();
  const out: unknown[] = [];
  const saved: unknown[] = [];
  const snap = { epoch: "e2", version: 6, text: "hel" };
  const s = new FieldSync({
    key: "f",
    snapshot: snap,
    send: (m) => (out.push(m), true),
    nextId: () => "r1",
    clock,
    checkpoint: { epoch: "e1", version: 9, text: "hello", sig: "S9" },
    onCheckpoint: (ck) => saved.push(ck),
  });
  assert.equal(s.text, "hello", "starts from what the server signed, not the older snapshot");
  s.welcome(snap);
  const restore = out[0] as Extract<RestoreMsg, { field: string }>;
  assert.equal(restore?.t, "restore");
  assert.deepEqual([restore.version, restore.text, restore.sig], [9, "hello", "S9"]);
  s.reset({ epoch: "e3", version: 9, text: "hello", sig: "S9b", restoredFrom: "e1" });
  assert.deepEqual(saved.at(-1), { epoch: "e3", version: 9, text: "hello", sig: "S9b" }, "the new checkpoint is handed over to be kept");
});

test("a stale answer after another seat's restore keeps what arrived since, never the older text", async () => {
  // An idle page presents its checkpoint after room_lost; meanwhile the
  // partner's restore (a reset to a new epoch) and a new word reach it, and
  // only then is its own checkpoint answered stale.
  const a = signed("We cooked", 9);
  a.sync.lost();
  const restore = a.out.shift() as Extract<RestoreMsg, { field: string }>;
  assert.equal(restore.t, "restore");
  a.receive({ t: "reset", field: "f", epoch: "e2", version: 9, text: "We cooked", sig: "T9", restoredFrom: "e1" });
  a.receive({ t: "updates", field: "f", epoch: "e2", from: 9, updates: [{ clientID: "B", changes: [9, [0, " on Sunday"]] }], sig: "T10" });
  assert.equal(a.sync.text, "We cooked on Sunday");
  assert.equal(a.sync.restoreReply(restore.id, "stale_checkpoint"), true);
  assert.equal(a.sync.text, "We cooked on Sunday", "the page does not go back to the text it presented");
  assert.equal(a.sync.epoch, "e2");
  assert.equal(a.sync.version, 10);
});

test("a second reset to the restored field does not merge a push in flight with newer keystrokes", async () => {
  // The e2e FLUSHALL race: the restore's "ok" comes straight back, its
  // broadcast reset through Redis, so a push under the old epoch may go out
  // first; it is answered with a reset to the restored field too. Whichever
  // reset comes second finds a push of ours under the new epoch in flight
  // or acked, and newer keystrokes. Rebuilding the state then folded them
  // into one update, which the push's echo (confirmed by clientID) confirmed
  // whole: the newer keystrokes were never sent, and a later reload dropped
  // them from the page.
  const base = "We cooked together";
  const broadcast = { t: "reset" as const, field: "f", epoch: "e2", version: 18, text: base, sig: "T18", restoredFrom: "e1" };
  const answer = (re: string) => ({ t: "reset" as const, re, field: "f", epoch: "e2", version: 18, text: base, sig: "T18" });
  for (const { name, second, acked } of [
    { name: "broadcast second, push acked", second: "broadcast", acked: true },
    { name: "broadcast second, push unanswered", second: "broadcast", acked: false },
    { name: "answer second, push acked", second: "answer", acked: true },
    { name: "answer second, push unanswered", second: "answer", acked: false },
  ]) {
    const a = signed(base, 18);
    a.type(18, " ");
    await tick();
    const first = a.out.shift() as PushMsg;
    a.receive({ t: "error", re: first.id, code: "room_lost", message: "lost" });
    a.sync.lost();
    const restore = a.out.shift() as Extract<RestoreMsg, { field: string }>;
    assert.equal(restore.t, "restore", name);
    a.type(19, "on");
    await tick();
    a.clock.advance(1500); // past the room_lost pause
    assert.equal(a.sync.restoreReply(restore.id, null), true, name);
    await tick();
    const old = a.out.shift() as PushMsg;
    assert.equal(old.epoch, "e1", name);
    a.receive(second === "broadcast" ? answer(old.id) : broadcast);
    await tick();
    const p2 = a.out.shift() as PushMsg;
    assert.deepEqual([p2.t, p2.epoch, p2.version], ["push", "e2", 18], name);
    a.type(21, " S");
    await tick();
    if (acked) a.receive({ t: "ack", re: p2.id, field: "f", version: 19, sig: "T19" });
    a.receive(second === "broadcast" ? broadcast : answer(old.id));
    await tick();
    a.out.length = 0;
    a.receive({ t: "updates", field: "f", epoch: "e2", from: 18, updates: p2.updates });
    await tick();
    assert.equal(a.sync.text, base + " on S", name);
    assert.equal(a.sync.version, 19, name);
    assert.equal(a.sync.unsent, 1, `${name}: the keystroke typed after the push is still unsent`);
    const p3 = a.out.shift() as PushMsg;
    assert.deepEqual([p3?.t, p3?.epoch, p3?.version], ["push", "e2", 19], name);
    assert.deepEqual(p3.updates.map((u) => u.changes), [[21, [0, " S"]]], name);
  }
});

test("a restore's broadcast reset that arrives after newer updates of the restored epoch is ignored", async () => {
  // The answer to a pull overtook the broadcast (it goes through Redis):
  // going back to its version would drop our own confirmed word (unsigned
  // here, so the checkpoint is still at that version: no restore either).
  const a = signed("We cooked", 9);
  a.receive({ t: "reset", field: "f", epoch: "e2", version: 9, text: "We cooked", sig: "T9" });
  a.receive({ t: "updates", field: "f", epoch: "e2", from: 9, updates: [{ clientID: "A", changes: [9, [0, " on"]] }] });
  a.type(12, " Sunday");
  await tick();
  a.out.length = 0;
  a.receive({ t: "reset", field: "f", epoch: "e2", version: 9, text: "We cooked", sig: "T9", restoredFrom: "e1" });
  await tick();
  assert.equal(a.sync.text, "We cooked on Sunday");
  assert.equal(a.sync.version, 10);
  assert.equal(a.sync.unsent, 1);
});

test("an acked update is confirmed when the new epoch's lineage holds our epoch up to it, pushed again otherwise", async () => {
  // Issue 11's duplicates: a restore moved the field from e1 to e3, then a
  // Redis identity check moved e3 to e4 (same text). A page still under e1
  // with an acked, unechoed update learns only of e4: its lineage names e1.
  const lin = (...ls: [string, number][]) => ls.map(([epoch, version]) => ({ epoch, version }));
  const inserted = (changes: unknown[]): string =>
    JSON.stringify(changes).match(/"(?:[^"\\]|\\.)*"/g)?.map((q) => JSON.parse(q) as string).join("") ?? "";
  for (const { name, via, snap, sends, text } of [
    { name: "reset, e1 held up to the ack", via: "reset", snap: { epoch: "e4", version: 3, text: "abc", lineage: lin(["e3", 3], ["e1", 3]) }, sends: "!", text: "abc!" },
    { name: "reset, e1 held below the ack", via: "reset", snap: { epoch: "e4", version: 2, text: "ab", lineage: lin(["e1", 2]) }, sends: "c!", text: "abc!" },
    { name: "reset, e1 not in the lineage", via: "reset", snap: { epoch: "e4", version: 3, text: "abx", lineage: lin(["e0", 3]) }, sends: "c!", text: "abxc!" },
    { name: "welcome after a reconnect", via: "welcome", snap: { epoch: "e4", version: 3, text: "abc", lineage: lin(["e3", 3], ["e1", 3]) }, sends: "!", text: "abc!" },
    { name: "welcome without lineage", via: "welcome", snap: { epoch: "e4", version: 3, text: "abc" }, sends: "c!", text: "abcc!" },
  ]) {
    const a = signed("ab", 2);
    a.type(2, "c");
    await tick();
    const push = a.out.shift() as PushMsg;
    a.receive({ t: "ack", re: push.id, field: "f", version: 3 });
    a.type(3, "!");
    await tick();
    assert.equal(a.out.length, 0, `${name}: waits for the echo`);
    if (via === "welcome") {
      a.sync.disconnected();
      a.sync.welcome(snap);
    } else {
      a.receive({ t: "reset", field: "f", ...snap });
    }
    await tick();
    assert.equal(a.sync.epoch, "e4", name);
    assert.equal(a.sync.text, text, name);
    const next = a.out.shift() as PushMsg;
    assert.deepEqual([next?.t, next?.epoch, next?.version], ["push", "e4", snap.version], name);
    assert.equal(inserted(next.updates.map((u) => u.changes)), sends, name);
  }
});

test("a late reset to an epoch our lineage already holds is ignored", async () => {
  // The restore's broadcast (e3) came through Redis after the reset of the
  // move that followed it (e4): going back to e3 would drop the ack we got
  // under e4, and our next push there would only be reset to e4 again.
  const a = signed("ab", 2);
  a.receive({ t: "reset", field: "f", epoch: "e4", version: 3, text: "abc", lineage: [{ epoch: "e3", version: 3 }, { epoch: "e1", version: 3 }] });
  a.type(3, "!");
  await tick();
  const push = a.out.shift() as PushMsg;
  assert.deepEqual([push.epoch, push.version], ["e4", 3]);
  a.receive({ t: "ack", re: push.id, field: "f", version: 4 });
  a.receive({ t: "reset", field: "f", epoch: "e3", version: 3, text: "abc", restoredFrom: "e1" });
  await tick();
  assert.equal(a.sync.epoch, "e4");
  assert.equal(a.sync.text, "abc!");
  assert.equal(a.out.length, 0, "nothing pushed again");
  // Above what e4 holds of e3 it is news, and taken.
  a.receive({ t: "reset", field: "f", epoch: "e3", version: 9, text: "abc!later" });
  assert.equal(a.sync.epoch, "e3");
});
