import { test } from "node:test";
import assert from "node:assert/strict";
import { describeRemaining, formatCountdown, plural } from "../src/format";

test("countdown formatting", () => {
  assert.equal(formatCountdown(20 * 60 * 1000), "20:00");
  assert.equal(formatCountdown(245_000), "4:05");
  assert.equal(formatCountdown(59_001), "1:00"); // rounds up: 0:00 only when done
  assert.equal(formatCountdown(1), "0:01");
  assert.equal(formatCountdown(0), "0:00");
  assert.equal(formatCountdown(-5000), "0:00");
  assert.equal(formatCountdown(3_723_000), "1:02:03");
  assert.equal(formatCountdown(24 * 3600 * 1000), "24:00:00");
});

test("spoken remaining time", () => {
  assert.equal(describeRemaining(0), "no time");
  assert.equal(describeRemaining(30_000), "about a minute");
  assert.equal(describeRemaining(19 * 60_000 + 1), "about 20 minutes");
  assert.equal(describeRemaining(5 * 3600_000), "about 5 hours");
});

test("plural", () => {
  assert.equal(plural(1, "change", "changes"), "1 change");
  assert.equal(plural(3, "change", "changes"), "3 changes");
  assert.equal(plural(0, "change", "changes"), "0 changes");
});
