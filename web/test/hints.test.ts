import { test } from "node:test";
import assert from "node:assert/strict";
import { containsPhrase, matchHints, normalizeForHints } from "../src/hints";

const hints = [
  { phrases: ["but you", "if you hadn't", "because you"], message: "This part may sound like a reason for what you did. Try leaving it out: the apology is stronger without it." },
  { phrases: ["sorry if"], message: "“Sorry if” can sound conditional. Try “I'm sorry that…”." },
  { phrases: ["you always", "you never"], message: "Words like “always” and “never” can feel like blame." },
];

test("matches phrases case-insensitively as whole words", () => {
  assert.equal(matchHints("I'm sorry, BUT YOU were late.", hints).length, 1);
  assert.equal(matchHints("I'm sorry, but your mother…", hints).length, 0, "'but your' is not 'but you'");
  assert.equal(matchHints("butyou", hints).length, 0);
  assert.equal(matchHints("I am sorry.", hints).length, 0);
});

test("curly apostrophes and line breaks match straight ones and spaces", () => {
  assert.equal(matchHints("It wouldn't happen if you hadn’t left", hints).length, 1);
  assert.equal(matchHints("sorry\nif it hurt", hints).length, 1);
});

test("each message once, in template order", () => {
  const m = matchHints("You never listen, but you also… sorry if", hints);
  assert.deepEqual(
    m.map((x) => x.phrase),
    ["but you", "sorry if", "you never"],
  );
});

test("no hints or empty text: nothing", () => {
  assert.deepEqual(matchHints("", hints), []);
  assert.deepEqual(matchHints("but you", undefined), []);
  assert.deepEqual(matchHints("but you", [{ phrases: [], message: "x" }]), []);
});

test("helpers", () => {
  assert.equal(normalizeForHints("  A\u2019B \t C "), "a'b c");
  assert.ok(containsPhrase("well, because you said so", "because you"));
  assert.ok(!containsPhrase("because your", "because you"));
});
