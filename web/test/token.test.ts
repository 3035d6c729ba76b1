import { test } from "node:test";
import assert from "node:assert/strict";
import { forgetToken, KV, resolveToken, roomFromPath, storageKey, tokenFromHash } from "../src/token";

class Mem implements KV {
  m = new Map<string, string>();
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
}

test("token from the fragment", () => {
  assert.equal(tokenFromHash("#t=abc.def"), "abc.def");
  assert.equal(tokenFromHash("#x=1&t=a%2Bb"), "a+b");
  assert.equal(tokenFromHash("#t=%E0"), null); // a mangled link gives no token, not a crash
  assert.equal(roomFromPath("/r/%E0"), null);
  assert.equal(tokenFromHash(""), null);
  assert.equal(tokenFromHash("#t="), null);
});

test("room id from the path", () => {
  assert.equal(roomFromPath("/r/abc123"), "abc123");
  assert.equal(roomFromPath("/r/abc123/"), "abc123");
  assert.equal(roomFromPath("/"), null);
  assert.equal(roomFromPath("/r/"), null);
});

test("the token is stored per room and survives a reload without the fragment", () => {
  const s = new Mem();
  assert.deepEqual(resolveToken("r1", "#t=tok", s), { token: "tok", hashHadToken: true });
  assert.equal(s.getItem(storageKey("r1")), "tok");
  assert.deepEqual(resolveToken("r1", "", s), { token: "tok", hashHadToken: false });
  assert.deepEqual(resolveToken("r2", "", s), { token: null, hashHadToken: false });
  forgetToken("r1", s);
  assert.equal(resolveToken("r1", "", s).token, null);
});
