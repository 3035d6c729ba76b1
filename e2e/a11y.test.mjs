// Accessibility, measured: axe-core (WCAG 2 A and AA rules) on the start
// page and on the room as each role, in the states this work added (the
// safety screen answered, a private line open, a break request, a paused
// self-guided room, the break dialog), at desktop and phone width. No
// serious or critical violation is allowed. Keyboard: scales are radio
// groups (one tab stop, arrow keys), the break dialog holds focus.

import { after, afterEach, before, describe, it as nodeIt } from "node:test";
import assert from "node:assert/strict";
import { AxeBuilder } from "@axe-core/playwright";
import { WAIT, createRoom, join, launchBrowser, requireWebDist, startServer } from "./harness.mjs";

requireWebDist();

let server;
let browser;
let open = [];

function it(name, fn) {
  nodeIt(name, { timeout: 600_000 }, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      if (e && typeof e === "object" && server) e.message = `${e.message}\n--- server log (last 20 lines) ---\n${server.log(20)}`;
      throw e;
    }
  });
}

async function person(url, opts = {}) {
  const p = await join(browser, url, opts);
  open.push(p.context);
  p.page.on("dialog", (d) => void d.accept().catch(() => {}));
  return p;
}

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 2 };

const t0 = Date.now();
/** With RR_E2E_TRACE=1, says how long each step took (the machine can be slow). */
const trace = (what) => process.env.RR_E2E_TRACE && console.error(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);

/** Runs axe and fails on any serious or critical violation, listing each with its nodes. */
async function noSeriousFaults(page, where) {
  trace(`axe: ${where}`);
  const r = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
  const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const report = bad.map((v) => `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `   ${n.target.join(" ")} — ${n.failureSummary?.split("\n").slice(1, 3).join(" ")}`).join("\n")}`).join("\n");
  assert.equal(bad.length, 0, `${where}: ${bad.length} serious/critical axe violations\n${report}`);
  // The faults this page had, whatever axe rates them: headings out of
  // order, two regions with one name, a name that differs from the text.
  const named = await new AxeBuilder({ page }).withRules(["heading-order", "landmark-unique", "label-content-name-mismatch"]).analyze();
  const more = named.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  assert.deepEqual(more, [], `${where}: heading order, region names, label/name`);
}

const stateOf = (page) => page.evaluate(() => window.__rr.state());

/** Picks an option of a choice field, as a person does. */
async function choose(page, field, option) {
  await page.getByTestId(`choice-${field}`).getByRole("radio", { name: option, exact: true }).click();
  await page.waitForFunction(([f, o]) => window.__rr.state().values?.[f] === o, [field, option], { timeout: WAIT });
}

/** Asks for (guided) or starts (self-guided) a break through the form. */
async function askBreak(page, { reason = "", minutes = 20, share = false } = {}) {
  await page.getByTestId("break-request").click();
  if (reason) await page.getByTestId("break-reason").fill(reason);
  await page.getByTestId("break-minutes").selectOption(String(minutes));
  if (share) await page.getByTestId("break-share").check();
  await page.getByTestId("break-send").click();
}

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
afterEach(async () => {
  for (const c of open) await c.close().catch(() => {});
  open = [];
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

describe("accessibility (axe-core, WCAG 2 A/AA)", () => {
  it("the start page", async () => {
    for (const opts of [{}, PHONE]) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...opts });
      open.push(context);
      const page = await context.newPage();
      await page.goto(server.base + "/");
      await page.locator("h1").first().waitFor({ timeout: WAIT });
      await noSeriousFaults(page, `start page ${opts.isMobile ? "(phone)" : ""}`);
    }
  });

  it("a guided room as each role: safety screen, private line, break request", async () => {
    const room = await createRoom(server.base, { template: "betrayal", mode: "guided", names: { partner_a: "Alex", partner_b: "Sam", moderator: "Dr. Rivera" } });
    const a = await person(room.links.partner_a);
    const b = await person(room.links.partner_b, PHONE);
    const m = await person(room.links.moderator);
    await choose(a.page, "screen_safe_a", "No");
    await a.page.getByTestId("scale-safety_start_a-3").click();
    await a.page.getByTestId("private-line-toggle").click();
    await a.page.getByTestId("private-line").locator(".cm-content").waitFor({ timeout: WAIT });
    await askBreak(b.page, { reason: "I need air", minutes: 30 });
    await m.page.getByTestId("mod-break-request").waitFor({ timeout: WAIT });
    await b.page.waitForFunction(() => window.__rr.state().answered?.safety_start_a === true, null, { timeout: WAIT });
    await noSeriousFaults(a.page, "partner_a");
    await noSeriousFaults(b.page, "partner_b (phone)");
    await noSeriousFaults(m.page, "moderator");

    // The break, as the partners and the therapist see it.
    await m.page.getByTestId("mod-break-accept").click();
    await a.page.getByTestId("break-overlay").waitFor({ timeout: WAIT });
    await noSeriousFaults(a.page, "partner_a on a break");
    await noSeriousFaults(m.page, "moderator during a break");
    // The private line, opened inside the break dialog (phone width).
    await b.page.getByTestId("break-private-toggle").click();
    await b.page.getByTestId("break-overlay").locator(".cm-content").waitFor({ timeout: WAIT });
    await noSeriousFaults(b.page, "partner_b (phone), private line in the break dialog");

    // A later stage with a turn-taking floor and a mirror.
    await m.page.getByTestId("mod-break-end-overlay").click();
    await a.page.getByTestId("break-overlay").waitFor({ state: "hidden", timeout: WAIT });
    await m.page.getByTestId("mod-roles-hurt-partner_b").click();
    await m.page.waitForFunction(() => window.__rr.state().roles?.hurt === "partner_b", null, { timeout: WAIT });
    await m.page.getByTestId("mod-stage-next").click();
    await a.page.waitForFunction(() => window.__rr.state().stage === "acknowledge", null, { timeout: WAIT });
    await noSeriousFaults(a.page, "partner_a in a turn-taking stage");
    await noSeriousFaults(m.page, "moderator in a turn-taking stage");
  });

  it("a self-guided room: paused by the safety screen, then the break dialog", async () => {
    const room = await createRoom(server.base, { template: "betrayal", mode: "self", names: { partner_a: "Alex", partner_b: "Sam" } });
    const a = await person(room.links.partner_a);
    const b = await person(room.links.partner_b, PHONE);
    await choose(b.page, "screen_safe_b", "No");
    await b.page.getByTestId("hold-help").waitFor({ timeout: WAIT });
    await a.page.getByTestId("hold-banner").waitFor({ timeout: WAIT });
    await noSeriousFaults(a.page, "partner_a, paused");
    await noSeriousFaults(b.page, "partner_b (phone), paused with help");
    await choose(b.page, "screen_safe_b", "Yes");
    await a.page.getByTestId("hold-banner").waitFor({ state: "hidden", timeout: WAIT });
    await askBreak(a.page);
    await a.page.getByTestId("break-undo").waitFor({ timeout: WAIT });
    await noSeriousFaults(a.page, "partner_a, break dialog");
    await noSeriousFaults(b.page, "partner_b (phone), break dialog");
  });
});

describe("keyboard", () => {
  it("a 0–10 scale is one tab stop and arrow keys choose", async () => {
    const room = await createRoom(server.base, { template: "betrayal", mode: "guided" });
    const a = await person(room.links.partner_a);
    const group = a.page.getByTestId("scale-safety_start_a");
    assert.equal(await group.getAttribute("role"), "radiogroup");
    await a.page.getByTestId("scale-safety_start_a-0").focus();
    await a.page.keyboard.press("ArrowRight");
    await a.page.keyboard.press("ArrowRight");
    await a.page.waitForFunction(() => window.__rr.state().values?.safety_start_a === 2, null, { timeout: WAIT });
    await a.page.waitForFunction(() => document.querySelector('[data-testid="scale-safety_start_a-2"]').getAttribute("aria-checked") === "true", null, { timeout: WAIT });
    assert.equal(await a.page.evaluate(() => document.activeElement?.dataset.testid), "scale-safety_start_a-2");
    // One tab stop: Tab leaves the group at once.
    const stops = await group.locator('[role="radio"][tabindex="0"]').count();
    assert.equal(stops, 1);
    await a.page.keyboard.press("Tab");
    assert.notEqual(await a.page.evaluate(() => document.activeElement?.getAttribute("role")), "radio", "Tab leaves the scale");
    assert.equal((await stateOf(a.page)).values.safety_start_a, 2);
  });

  it("the break dialog holds focus, at phone width too", async () => {
    for (const opts of [{}, PHONE]) {
      const room = await createRoom(server.base, { template: "checkin", mode: "self" });
      const a = await person(room.links.partner_a, opts);
      await person(room.links.partner_b);
      await askBreak(a.page, { minutes: 30 });
      await a.page.getByTestId("break-undo").waitFor({ timeout: WAIT });
      for (let i = 0; i < 6; i++) {
        await a.page.keyboard.press(i % 2 ? "Shift+Tab" : "Tab");
        await a.page.keyboard.press("Tab");
        const inside = await a.page.evaluate(() => document.querySelector('[data-testid="break-overlay"]').contains(document.activeElement));
        assert.ok(inside, `focus left the break dialog after ${i + 1} rounds`);
      }
      // The undo is reachable by keyboard and ends the break.
      await a.page.getByTestId("break-undo").focus();
      await a.page.keyboard.press("Enter");
      await a.page.getByTestId("break-overlay").waitFor({ state: "hidden", timeout: WAIT });
      for (const c of open) await c.close().catch(() => {});
      open = [];
    }
  });
});
