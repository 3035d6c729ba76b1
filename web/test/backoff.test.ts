import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay } from "../src/net/backoff";

test("backoff grows exponentially and is capped at 10 s", () => {
  const max = (n: number) => backoffDelay(n, () => 1);
  const min = (n: number) => backoffDelay(n, () => 0);
  assert.equal(max(0), 500);
  assert.equal(max(1), 1000);
  assert.equal(max(2), 2000);
  assert.equal(max(3), 4000);
  assert.equal(max(4), 8000);
  assert.equal(max(5), 10000);
  assert.equal(max(50), 10000);
  assert.equal(min(5), 5000);
});

test("backoff jitter stays within [half, full] of the step", () => {
  for (let attempt = 0; attempt < 10; attempt++) {
    for (let i = 0; i < 50; i++) {
      const d = backoffDelay(attempt);
      const step = Math.min(10000, 500 * 2 ** attempt);
      assert.ok(d >= step / 2 && d <= step, `${attempt}: ${d}`);
    }
  }
});

test("backoff jitter spreads clients out", () => {
  const seen = new Set<number>();
  for (let i = 0; i < 40; i++) seen.add(backoffDelay(6));
  assert.ok(seen.size > 10);
});

test("negative attempts behave like the first", () => {
  assert.equal(backoffDelay(-3, () => 1), 500);
});
