import { test } from "node:test";
import assert from "node:assert/strict";
import { ChangeSet, Text } from "@codemirror/state";
import { appendInserted, diffChange, rebaseOnto } from "../src/sync/rebase";

const T = (s: string) => Text.of(s.split("\n"));

test("diffChange turns one text into the other", () => {
  for (const [a, b] of [
    ["", ""],
    ["", "abc"],
    ["abc", ""],
    ["hello world", "hello brave world"],
    ["same", "same"],
    ["line1\nline2", "line1\nline 2\nline3"],
    ["a😀b", "a😃b"],
  ]) {
    assert.equal(diffChange(T(a), T(b)).apply(T(a)).toString(), b, `${a} → ${b}`);
  }
});

test("diffChange never splits a surrogate pair", () => {
  const cs = diffChange(T("x😀"), T("x😃"));
  let from = -1;
  cs.iterChanges((fa) => (from = fa));
  assert.equal(from, 1);
});

test("rebaseOnto maps local edits over the server's replacement", () => {
  const base = T("I am sorry.");
  const local = [ChangeSet.of({ from: 10, insert: " for what I did" }, base.length)];
  const target = T("Honestly, I am sorry.");
  const cs = rebaseOnto(base, local, target)!;
  assert.equal(cs.apply(target).toString(), "Honestly, I am sorry for what I did.");
});

test("rebaseOnto composes several unsent updates in order", () => {
  const base = T("ab");
  const u1 = ChangeSet.of({ from: 1, insert: "X" }, 2); // aXb
  const u2 = ChangeSet.of({ from: 3, insert: "Y" }, 3); // aXbY
  const cs = rebaseOnto(base, [u1, u2], T("ab"))!;
  assert.equal(cs.apply(T("ab")).toString(), "aXbY");
});

test("rebaseOnto keeps inserted words even when their surroundings are gone", () => {
  const base = T("the old paragraph that was lost");
  const local = [ChangeSet.of({ from: 8, insert: "KEEP ME " }, base.length)];
  const target = T("");
  const cs = rebaseOnto(base, local, target)!;
  assert.equal(cs.apply(target).toString(), "KEEP ME ");
});

test("rebaseOnto with nothing unsent is null", () => {
  assert.equal(rebaseOnto(T("a"), [], T("b")), null);
});

test("appendInserted puts the inserted text at the end", () => {
  const cs = ChangeSet.of([{ from: 0, insert: "one" }, { from: 2, insert: "two" }], 5);
  const target = T("server text");
  assert.equal(appendInserted(cs, target)!.apply(target).toString(), "server text\none two");
});
