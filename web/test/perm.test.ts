import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { assignRoles, canReadField, canWrite, keyWriters, markCounts, onBreak, writers } from "../src/perm";
import type { RoomState, StageDef } from "../src/types";

function room(over: Partial<RoomState> = {}): RoomState {
  return {
    rev: 1,
    template: "t",
    mode: "guided",
    stage: "s1",
    locked: {},
    floor: "",
    break: null,
    breakRequest: null,
    roles: {},
    ready: {},
    values: {},
    signs: {},
    mirrors: {},
    revealed: {},
    questions: {},
    ...over,
  };
}
const s1: StageDef = { id: "s1", title: "One", fields: [], turnTaking: true };
const s2: StageDef = { id: "s2", title: "Two", fields: [] };
const name = (r: string) => (r === "partner_a" ? "Alex" : "Sam");

test("owners resolve to seats, template roles through the room", () => {
  assert.deepEqual(writers("partner_a", room()), ["partner_a"]);
  assert.deepEqual(writers("both", room()), ["partner_a", "partner_b", "moderator"]);
  assert.deepEqual(writers("hurt", room()), []);
  assert.deepEqual(writers("hurt", room({ roles: { hurt: "partner_b" } })), ["partner_b"]);
  assert.deepEqual(keyWriters("r.partner_b", { id: "r", label: "", owner: "both", kind: "reveal" }, room()), ["partner_b"]);
});

test("canWrite: owner, stage, lock, break, floor, end", () => {
  const now = Date.parse("2030-01-01T10:00:00Z");
  const ok = (r: RoomState, who = ["partner_a"] as never, owner = "partner_a", stage = s1, me = "partner_a" as const) => canWrite(who, owner, stage, me, r, now, name as never);
  assert.equal(ok(room()).ok, true);
  assert.equal(ok(room(), undefined, undefined, s2).ok, false, "not the current stage");
  assert.equal(ok(room({ locked: { s1: true } })).ok, false);
  assert.equal(ok(room({ floor: "partner_b" })).why, "Sam has the floor.");
  assert.equal(ok(room({ floor: "partner_a" })).ok, true);
  const brk = { by: "partner_b", started: "2030-01-01T09:50:00Z", until: "2030-01-01T10:10:00Z" };
  assert.equal(ok(room({ break: brk })).ok, false);
  assert.equal(ok(room({ break: { ...brk, until: "2030-01-01T09:59:00Z" } })).ok, true, "a break whose time is over");
  assert.equal(ok(room({ ended: "2030-01-01T09:00:00Z" })).ok, false);
  assert.equal(canWrite(["partner_b"], "partner_b", s1, "partner_a", room(), now, name as never).ok, false);
  assert.equal(canWrite(["moderator"], "moderator", s2, "moderator", room(), now, name as never).ok, true, "notes work in any stage");
  assert.equal(canWrite([], "hurt", s1, "partner_a", room(), now, name as never).ok, false);
});

test("onBreak follows the clock", () => {
  const r = room({ break: { by: "moderator", started: "", until: "2030-01-01T10:00:00Z" } });
  assert.equal(onBreak(r, Date.parse("2030-01-01T09:59:59Z")), true);
  assert.equal(onBreak(r, Date.parse("2030-01-01T10:00:00Z")), false);
  assert.equal(onBreak(room(), 0), false);
});

test("assignRoles gives the other role to the other partner", () => {
  assert.deepEqual(assignRoles(["hurt", "involved"], "hurt", "partner_b"), { hurt: "partner_b", involved: "partner_a" });
  assert.deepEqual(assignRoles(["speaker"], "speaker", "partner_a"), { speaker: "partner_a" });
});

// One rule for sign-offs and mirror confirmations, one table: the same
// cases room.Signed and room.MirrorStatus are tested against in Go.
test("markCounts follows the server's table (internal/room/testdata/marks.json)", () => {
  const path = join(process.env.RR_WEB_ROOT ?? "web", "..", "internal", "room", "testdata", "marks.json");
  const cases = JSON.parse(readFileSync(path, "utf8")) as { why: string; mark: number | null; text: number; counts: boolean }[];
  assert.ok(cases.length >= 4);
  for (const c of cases) {
    assert.equal(markCounts(c.mark === null ? undefined : { version: c.mark }, c.text), c.counts, c.why);
  }
});

test("private fields: owner and therapist read them; the notes stay writable after the end", () => {
  const priv = { id: "rate_a", label: "", owner: "partner_a", kind: "scale", visibility: "owner" } as const;
  assert.equal(canReadField(priv, "partner_a", room()), true);
  assert.equal(canReadField(priv, "moderator", room()), true);
  assert.equal(canReadField(priv, "partner_b", room()), false);
  const line = { id: "line_a", label: "", owner: "partner_a", kind: "text", visibility: "owner", anytime: true, guidedOnly: true } as const;
  assert.equal(canReadField(line, "partner_a", room({ mode: "self" })), false);
  const now = Date.parse("2030-01-01T10:00:00Z");
  const ended = room({ ended: "2030-01-01T09:00:00Z" });
  assert.equal(canWrite(["moderator"], "moderator", s2, "moderator", ended, now, name as never).ok, true);
  // The private line: any stage, a break, a lock; not after the end.
  const busy = room({ stage: "s2", locked: { s1: true }, break: { by: "moderator", started: "2030-01-01T09:55:00Z", until: "2030-01-01T10:20:00Z" } });
  assert.equal(canWrite(["partner_a"], "partner_a", s1, "partner_a", busy, now, name as never, line).ok, true);
  assert.equal(canWrite(["partner_a"], "partner_a", s1, "partner_a", ended, now, name as never, line).ok, false);
  // Validation opens once the mirror is confirmed.
  const after = { id: "val", label: "", owner: "partner_a", kind: "mirror", speaker: "partner_b", after: "mir" } as const;
  assert.equal(canWrite(["partner_a"], "partner_a", s2, "partner_a", room({ stage: "s2" }), now, name as never, after).ok, false);
  const confirmed = room({ stage: "s2", mirrors: { mir: { by: "partner_b", at: "", version: 2, status: "yes" } } });
  assert.equal(canWrite(["partner_a"], "partner_a", s2, "partner_a", confirmed, now, name as never, after).ok, true);
});
