// End-to-end: a wiped Redis mid-session, with real browsers. The server runs
// its own redis-server (zero-config start); the test wipes it with
// FLUSHALL while two partners have the room open. The partner who types
// next is told room_lost, presents the room state and the texts the server
// signed, and the room comes back: both pages show every word, and a page
// opened afterwards loads the restored room. Waits are liveness bounds only.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join as pathJoin } from "node:path";
import { WAIT, createRoom, join, launchBrowser, requireWebDist, settled, startServer, stateOf, textOf, typeInto, waitText } from "./harness.mjs";

requireWebDist();

let server;
let browser;

/** The unix socket of the server's own redis-server, from its start-up log line. */
function redisSocket() {
  const m = /started a redis-server[^\n]*\bdir=("?)([^"\s]+)\1/.exec(server.log());
  return m ? pathJoin(m[2], "redis.sock") : null;
}

describe("a wiped Redis comes back from the browsers' checkpoints", () => {
  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("restores the room and every acknowledged word after FLUSHALL", { timeout: 90_000 }, async (t) => {
    const sock = redisSocket();
    if (!sock) {
      t.skip("the server runs the embedded store (no redis-server installed): nothing to wipe from outside");
      return;
    }
    const room = await createRoom(server.base, { template: "checkin", mode: "self" });
    const a = await join(browser, room.links.partner_a);
    const b = await join(browser, room.links.partner_b);
    try {
      await typeInto(a.page, "wins", "We cooked together");
      await settled(a.page);
      await waitText(b.page, "wins", "We cooked together");
      const before = await stateOf(a.page);

      const wipe = spawnSync("redis-cli", ["-s", sock, "FLUSHALL"], { encoding: "utf8" });
      assert.equal(wipe.status, 0, `redis-cli FLUSHALL: ${wipe.stderr}`);

      // The next word finds the room gone: room_lost, then the checkpoints.
      await typeInto(a.page, "wins", " on Sunday");
      const want = "We cooked together on Sunday";
      await settled(a.page, WAIT);
      await waitText(a.page, "wins", want);
      await waitText(b.page, "wins", want); // the idle page follows the restore
      assert.match(server.log(), /restored a lost room/);
      assert.match(server.log(), /restored a field from a checkpoint/);

      // A page opened now loads the room from Redis: it is really back.
      const c = await join(browser, room.links.partner_b);
      try {
        await waitText(c.page, "wins", want);
        const after = await stateOf(c.page);
        assert.equal(after.stage, before.stage);
        assert.equal(after.template, before.template);
        assert.equal(await textOf(c.page, "wins"), want);
      } finally {
        await c.context.close();
      }
    } catch (err) {
      err.message += `\n--- server log ---\n${server.log(40)}`;
      throw err;
    } finally {
      await a.context.close();
      await b.context.close();
    }
  });
});
