import { test } from "node:test";
import assert from "node:assert/strict";
import { applyMembers, movedMembers } from "../src/room/members";
import type { Member } from "../src/types";

const a: Member = { id: "a", role: "partner_a", name: "Ann" };
const b: Member = { id: "b", role: "partner_b", name: "Bo" };
const c: Member = { id: "c", role: "moderator", name: "Cy" };

test("members: a whole list replaces, a diff applies", () => {
  const cases: { name: string; cur: Member[]; msg: Parameters<typeof applyMembers>[1]; want: string[] }[] = [
    { name: "whole list", cur: [a], msg: { t: "members", members: [b, c] }, want: ["b", "c"] },
    { name: "empty whole list", cur: [a], msg: { t: "members", members: [] }, want: [] },
    { name: "joined", cur: [a], msg: { t: "members", joined: [b] }, want: ["a", "b"] },
    { name: "left", cur: [a, b], msg: { t: "members", left: ["a"] }, want: ["b"] },
    { name: "joined twice is one", cur: [a, b], msg: { t: "members", joined: [b] }, want: ["a", "b"] },
    { name: "left unknown is ignored", cur: [a], msg: { t: "members", left: ["zz"] }, want: ["a"] },
    { name: "all at once", cur: [a, b], msg: { t: "members", joined: [c], left: ["a"], changed: [{ ...b, name: "Bob" }] }, want: ["b", "c"] },
  ];
  for (const tc of cases) assert.deepEqual(applyMembers(tc.cur, tc.msg).map((m) => m.id), tc.want, tc.name);
  assert.equal(applyMembers([a, b], { t: "members", changed: [{ ...b, name: "Bob" }] })[1].name, "Bob");
});

test("presence: one member or several", () => {
  assert.deepEqual(movedMembers({ t: "presence", member: a }), [a]);
  assert.deepEqual(movedMembers({ t: "presence", members: [a, b] }), [a, b]);
  assert.deepEqual(movedMembers({ t: "presence" }), []);
});
