// End-to-end: the devices of a seat (issue 8). A partner's way back from
// the bare room address in the same browser, the whole room told when the
// same link is opened in another browser, and the moderator removing that
// browser, which is closed at once and kept out.
// Run with `node --test e2e/devices.test.mjs` (web/dist must be built).

import { after, before, describe } from "node:test";
import assert from "node:assert/strict";
import { AxeBuilder } from "@axe-core/playwright";
import { WAIT, connected, createRoom, join, launchBrowser, liveIt, requireWebDist, startServer } from "./harness.mjs";

requireWebDist();

let server;
let browser;
let base;
const pageErrors = [];

const it = liveIt({ timeout: 120_000, logLines: 30, server: () => server, pageErrors });

before(async () => {
  server = await startServer();
  base = server.base;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** This page's device id in the room: the hex sha256 of its device secret, as the server lists it. */
function deviceIdOf(page, roomID) {
  return page.evaluate(async (id) => {
    const secret = JSON.parse(localStorage.getItem("rr.rooms") || "{}")[id]?.secret;
    const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
    return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
  }, roomID);
}

describe("devices of a seat", () => {
  it("the same browser comes back from the bare address; another browser with the link is announced and the moderator removes it", async () => {
    const room = await createRoom(base, { template: "checkin", mode: "guided", names: { partner_a: "Alex", partner_b: "Sam" } });
    const watch = (page) => {
      page.on("pageerror", (e) => pageErrors.push(String(e)));
      page.on("dialog", (d) => d.accept());
    };
    const mod = await join(browser, room.links.moderator, { onPage: watch });
    const alex = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    let other;
    try {
      // The link once, then the page closed, then the bare address in a new tab.
      const first = await alex.newPage();
      watch(first);
      await first.goto(room.links.partner_a);
      await connected(first);
      await first.waitForFunction((id) => JSON.parse(localStorage.getItem("rr.rooms") || "{}")[id]?.title, room.id, { timeout: WAIT });
      await first.close();
      const back = await alex.newPage();
      watch(back);
      await back.goto(`${base}/r/${room.id}`);
      await connected(back);
      assert.equal((await back.evaluate(() => window.__rr.me())).role, "partner_a");

      // The same link in another browser: everyone is told.
      const o = await join(browser, room.links.partner_a, { onPage: watch });
      other = o.context;
      await mod.page.getByText("Alex joined from a new device.").waitFor({ timeout: WAIT });
      await back.getByText("Your link was just opened on another device").waitFor({ timeout: WAIT });

      // The moderator's list has both of Alex's browsers; the new one goes.
      const newID = await deviceIdOf(o.page, room.id);
      const backID = await deviceIdOf(back, room.id);
      const list = mod.page.getByTestId("devices-list");
      await list.locator(`li[data-device="${backID}"]`).waitFor({ timeout: WAIT });
      const row = list.locator(`li[data-device="${newID}"]`);
      await row.waitFor({ timeout: WAIT });
      const axe = await new AxeBuilder({ page: mod.page }).include('[data-testid="devices"]').withTags(["wcag2a", "wcag2aa"]).analyze();
      const bad = axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
      assert.deepEqual(bad.map((v) => v.id), [], "the devices list has no serious or critical axe violation");
      await row.getByRole("button", { name: /^Remove Alex/ }).click();

      // Closed at once, with our words, and kept out after a reload.
      await o.page.getByText("This device was removed from the room.").first().waitFor({ timeout: WAIT });
      await row.waitFor({ state: "detached", timeout: WAIT });
      await o.page.reload();
      await o.page.getByText("This device was removed from the room.").first().waitFor({ timeout: WAIT });
      assert.equal(await back.evaluate(() => window.__rr.status()), "connected", "Alex's own browser stays in the room");
    } finally {
      await other?.close();
      await alex.close();
      await mod.context.close();
    }
  });
});
