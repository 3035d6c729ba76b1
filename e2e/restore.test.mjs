// End-to-end: a wiped Redis mid-session, with real browsers. The server runs
// its own redis-server (zero-config start); the test wipes it with
// FLUSHALL while two partners have the room open. The partner who types
// next is told room_lost, presents the room state and the texts the server
// signed, and the room comes back: both pages show every word, and a page
// opened afterwards loads the restored room. The second test emulates a
// power loss: it copies the child's AOF directory, keeps typing (acknowledged
// after the copy), kills Redis with SIGKILL and restarts it from the copy on the
// same socket; every page must converge on what Redis then holds, with every word
// a page saw acknowledged. Waits are liveness bounds only.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as pathJoin } from "node:path";
import { WAIT, connected, createRoom, join, launchBrowser, requireWebDist, settled, startServer, stateOf, textOf, typeInto, waitText } from "./harness.mjs";

requireWebDist();

let server;
let browser;

/** The unix socket of the server's own redis-server, from its start-up log line. */
function redisSocket() {
  const m = /started a redis-server[^\n]*\bdir=("?)([^"\s]+)\1/.exec(server.log());
  return m ? pathJoin(m[2], "redis.sock") : null;
}

// One server and one browser for both kinds of loss below.
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

describe("a wiped Redis comes back from the browsers' checkpoints", () => {
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

/** The server's own redis-server: its data dir and pid, from its start-up log line. */
function redisChild() {
  const line = /started a redis-server[^\n]*/.exec(server.log())?.[0];
  const dir = line && /\bdir=("?)([^"\s]+)\1/.exec(line)?.[2];
  const pid = line && /\bpid=(\d+)/.exec(line)?.[1];
  return dir && pid ? { dir, pid: Number(pid) } : null;
}

/**
 * Starts a redis-server on the child's data dir and socket with the
 * child's arguments (server/redischild.go): the server does not restart
 * its child, its client just dials the same socket again.
 */
async function startRedisLike(dir) {
  const sock = pathJoin(dir, "redis.sock");
  const proc = spawn("redis-server", [
    "--dir", dir, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
    "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no",
    "--logfile", pathJoin(dir, "redis-restarted.log"),
  ], { cwd: dir, stdio: "ignore" });
  const killIt = () => proc.kill("SIGKILL");
  process.on("exit", killIt);
  for (let deadline = Date.now() + WAIT; ; ) {
    const ping = spawnSync("redis-cli", ["-s", sock, "PING"], { encoding: "utf8" });
    if (ping.stdout.trim() === "PONG") break;
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`the restarted redis-server did not answer on ${sock}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    stop: async () => {
      process.off("exit", killIt);
      if (proc.exitCode !== null) return;
      const gone = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await gone;
    },
  };
}

describe("a Redis that comes back older than what it acknowledged (power loss)", () => {
  it("keeps every word the pages saw acknowledged after kill -9 and a restart from an older AOF", { timeout: 120_000 }, async (t) => {
    const child = redisChild();
    if (!child) {
      t.skip("the server runs the embedded store (no redis-server installed): no AOF to copy");
      return;
    }
    const room = await createRoom(server.base, { template: "checkin", mode: "self" });
    const a = await join(browser, room.links.partner_a);
    const b = await join(browser, room.links.partner_b);
    const copy = mkdtempSync(pathJoin(tmpdir(), "rr-aof-copy-"));
    let restarted = null;
    const saved = []; // words a page saw acknowledged (unsent() === 0 after typing them)
    try {
      // Both partners type into the shared field: a at its end, b at its start.
      await typeInto(a.page, "wins", "alpha");
      await settled(a.page);
      saved.push("alpha");
      await typeInto(b.page, "wins", "zulu ", { where: "start" });
      await settled(b.page);
      saved.push("zulu");

      // The "disk" as it was a moment before the power went.
      const aof = pathJoin(child.dir, "appendonlydir");
      assert.ok(existsSync(aof), `no AOF directory at ${aof}`);
      cpSync(aof, pathJoin(copy, "appendonlydir"), { recursive: true });

      // Typing goes on, and is acknowledged, after the copy: with appendfsync
      // always these words are in Redis's AOF but not in the copy.
      for (const [p, word, where] of [[a, "bravo", "end"], [b, "yankee", "start"], [a, "charlie", "end"], [b, "xray", "start"]]) {
        await typeInto(p.page, "wins", where === "end" ? ` ${word}` : `${word} `, { where });
        await settled(p.page);
        saved.push(word);
      }

      // Power loss: Redis dies at once and comes back from the older disk.
      process.kill(child.pid, "SIGKILL");
      for (let deadline = Date.now() + WAIT; existsSync(pathJoin(child.dir, "redis.sock")) && spawnSync("redis-cli", ["-s", pathJoin(child.dir, "redis.sock"), "PING"], { encoding: "utf8" }).stdout.trim() === "PONG"; ) {
        if (Date.now() > deadline) throw new Error("the killed redis-server still answers");
        await new Promise((r) => setTimeout(r, 50));
      }
      rmSync(aof, { recursive: true, force: true });
      cpSync(pathJoin(copy, "appendonlydir"), aof, { recursive: true });
      restarted = await startRedisLike(child.dir);

      // A keeps typing; b stays idle and must be told too.
      await typeInto(a.page, "wins", " delta");
      await settled(a.page, WAIT * 2);
      saved.push("delta");

      // Everyone converges on what Redis holds, and nothing acknowledged is gone.
      const fresh = await join(browser, room.links.partner_b);
      try {
        const deadline = Date.now() + WAIT * 2;
        let texts;
        for (;;) {
          texts = [await textOf(a.page, "wins"), await textOf(b.page, "wins"), await textOf(fresh.page, "wins")];
          if (texts.every((x) => x === texts[0]) && saved.every((w) => texts[0].includes(w))) break;
          if (Date.now() > deadline) {
            assert.fail(`pages did not converge on every acknowledged word (${saved.join(", ")}): ${JSON.stringify(texts)}`);
          }
          await new Promise((r) => setTimeout(r, 200));
        }
        t.diagnostic(`converged on ${JSON.stringify(texts[0])}`);
        // The server saw Redis go back and restored what the pages held.
        assert.match(server.log(), /moved to a new epoch/);
        assert.match(server.log(), /restored a field from a checkpoint/);
        // The fresh page loaded from Redis: a reload shows the same text again.
        await fresh.page.reload();
        await connected(fresh.page);
        assert.equal(await textOf(fresh.page, "wins"), texts[0]);
      } finally {
        await fresh.context.close();
      }
    } catch (err) {
      err.message += `\n--- server log ---\n${server.log(40)}`;
      throw err;
    } finally {
      await a.context.close();
      await b.context.close();
      await restarted?.stop(); // before server.stop removes its data dir
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
