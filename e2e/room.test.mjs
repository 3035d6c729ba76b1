// End-to-end tests of Repair Room in headless Chromium: the real Go server
// (embedded store) and the real web client, one browser context per person.
// Run with `npm run test:e2e` (web/dist must be built; the Go server is
// built here). Waits are liveness bounds only; nothing asserts on timing.

import { after, afterEach, before, describe } from "node:test";
import assert from "node:assert/strict";
import {
  WAIT,
  clickTestId,
  connected,
  createRoom,
  editor,
  focusEditor,
  join,
  launchBrowser,
  liveIt,
  requireWebDist,
  settled,
  shownText,
  startServer,
  stateOf,
  textOf,
  typeInto,
  waitText,
} from "./harness.mjs";

requireWebDist(); // fail the whole file at once, with that message

let server;
let browser;
/** Contexts opened by the running test, closed after it (pass or fail). */
let open = [];
/** Uncaught exceptions on the running test's pages (there must be none). */
const pageErrors = [];

/** A test with a liveness bound; a failure carries the end of the server's log. */
const it = liveIt({ timeout: 90_000, logLines: 30, server: () => server, pageErrors });

async function person(url, opts = {}) {
  const onPage = (page) => {
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    opts.onPage?.(page);
  };
  const p = await join(browser, url, { ...opts, onPage });
  open.push(p.context);
  return p;
}

/** Records every dialog (alert, confirm…) a page opens, and dismisses it. */
function watchDialogs(page) {
  const seen = [];
  page.on("dialog", (d) => {
    seen.push(`${d.type()}: ${d.message()}`);
    void d.dismiss().catch(() => {});
  });
  return seen;
}

/** Records every WebSocket frame a page receives (as text). */
function watchFrames(page) {
  const frames = [];
  page.on("websocket", (ws) => ws.on("framereceived", (f) => frames.push(typeof f.payload === "string" ? f.payload : f.payload.toString("utf8"))));
  return frames;
}

/** A guided "betrayal" room with partner A, partner B and the moderator connected. */
async function guidedRoom({ a: optsA, b: optsB, m: optsM, names = { partner_a: "Alex", partner_b: "Sam", moderator: "Dr. Rivera" } } = {}) {
  const room = await createRoom(server.base, { template: "betrayal", mode: "guided", names });
  const a = await person(room.links.partner_a, optsA);
  const b = await person(room.links.partner_b, optsB);
  const m = await person(room.links.moderator, optsM);
  return { room, a, b, m };
}

/** The stage the sidebar marks as current (aria-current="step"), and whether it looks current. */
async function currentStageShown(page) {
  return page.evaluate(() => {
    const cur = [...document.querySelectorAll('[data-testid^="stage-"][aria-current="step"]')];
    return cur.map((b) => ({ id: b.dataset.testid.slice("stage-".length), highlighted: b.classList.contains("current") }));
  });
}

async function waitStageShown(page, stageId) {
  await page.waitForFunction(
    (id) => {
      const cur = [...document.querySelectorAll('[data-testid^="stage-"][aria-current="step"]')];
      return cur.length === 1 && cur[0].dataset.testid === `stage-${id}` && cur[0].classList.contains("current");
    },
    stageId,
    { timeout: WAIT },
  );
}

/** The moderator chooses who was hurt (needed before leaving the first stage). */
async function chooseRoles(m, ...partners) {
  await clickTestId(m.page, "mod-roles-hurt-partner_b");
  for (const p of [m, ...partners]) await p.page.waitForFunction(() => window.__rr.state().roles?.hurt === "partner_b", null, { timeout: WAIT });
}

describe("Repair Room in the browser", () => {
  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  afterEach(async () => {
    const ctxs = open;
    open = [];
    await Promise.all(ctxs.map((c) => c.close().catch(() => {})));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  it("start page: choose a conversation and guided mode, create the room, get three invite links with copy buttons", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    open.push(context);
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.base });
    const page = await context.newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    await page.goto(server.base + "/");

    // "aftermath" is preselected (first); choose another one and the guided mode.
    await page.getByTestId("template-betrayal").click();
    await page.locator('label[for="mode-self"]').click();
    await page.locator("#name-m").waitFor({ state: "hidden", timeout: WAIT }); // no therapist in a self-guided room
    await page.locator('label[for="mode-guided"]').click();
    await page.locator("#name-m").waitFor({ state: "visible", timeout: WAIT });
    assert.equal(await page.locator("#template-betrayal").isChecked(), true);
    assert.equal(await page.locator("#mode-guided").isChecked(), true);
    await page.locator("#name-a").fill("Alex");
    await page.locator("#name-b").fill("Sam");
    await page.locator("#name-m").fill("Dr. Rivera");
    await page.getByTestId("create-room").click();

    const urls = {};
    for (const [role, who] of [["partner_a", "Alex"], ["partner_b", "Sam"], ["moderator", "Dr. Rivera"]]) {
      const card = page.getByTestId(`invite-${role}`);
      await card.waitFor({ state: "visible", timeout: WAIT });
      assert.match(await card.locator("h3").innerText(), new RegExp(`For ${who}`));
      urls[role] = await card.locator("input.invite-url").inputValue();
      assert.match(urls[role], new RegExp(`^${server.base.replace(/\./g, "\\.")}/r/[a-z0-9]+#t=[\\w.-]+$`), `${role} link`);
      assert.equal(await page.getByTestId(`copy-${role}`).isVisible(), true, `${role} has a copy button`);
      assert.equal(await page.getByTestId(`open-${role}`).getAttribute("href"), urls[role]);
    }
    assert.equal(await page.locator('[data-testid^="invite-"]').count(), 3, "exactly three invites");
    const ids = Object.values(urls).map((u) => new URL(u).pathname);
    assert.equal(new Set(ids).size, 1, "all links lead to one room");
    assert.equal(new Set(Object.values(urls)).size, 3, "each person has their own link");

    // The copy button really copies that person's link.
    await page.getByTestId("copy-partner_b").click();
    await page.getByTestId("invite-partner_b").getByText("Copied").waitFor({ timeout: WAIT });
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), urls.partner_b);

    // The room behind the links is the one chosen on the page.
    const m = await person(urls.moderator);
    const st = await stateOf(m.page);
    assert.equal(st.template, "betrayal");
    assert.equal(st.mode, "guided");
    assert.equal((await m.page.evaluate(() => window.__rr.me())).role, "moderator");
  });

  it("two partners type into one agreement at the same time and every page converges on what the server stored", async () => {
    const { room, a, b, m } = await guidedRoom();
    const key = "ground_rules";
    const seed = " | ";
    await typeInto(a.page, key, seed);
    await settled(a.page);
    await waitText(b.page, key, seed);

    // A writes before the seed, B after it, both at once, key by key.
    const wordsA = "We speak one at a time.";
    const wordsB = "Either of us can ask for a break.";
    await focusEditor(a.page, key, "start");
    await focusEditor(b.page, key, "end");
    await Promise.all([a.page.keyboard.type(wordsA, { delay: 15 }), b.page.keyboard.type(wordsB, { delay: 15 })]);

    const expected = wordsA + seed + wordsB;
    for (const p of [a, b, m]) await waitText(p.page, key, expected);
    await settled(a.page);
    await settled(b.page);
    for (const p of [a, b]) {
      assert.equal(await p.page.evaluate((k) => window.__rr.saved(k), key), true);
      assert.equal(await p.page.evaluate(() => window.__rr.unsent()), 0);
      await p.page.getByTestId(`saved-${key}`).getByText("Saved").waitFor({ timeout: WAIT });
    }
    const versions = await Promise.all([a, b, m].map((p) => p.page.evaluate((k) => window.__rr.version(k), key)));
    assert.equal(new Set(versions).size, 1, `same version everywhere: ${versions}`);
    assert.equal(await shownText(b.page, key), expected, "B's editor shows it");

    // Saved on both sides: both can sign that very text, and everyone sees it.
    await a.page.getByTestId(`sign-${key}`).click();
    await b.page.getByTestId(`sign-${key}`).click();
    for (const p of [a, b, m]) await p.page.waitForFunction((k) => document.querySelectorAll(`[data-testid="signs-${k}"] .sign.signed`).length === 2, key, { timeout: WAIT });

    // A fresh person opening A's link gets exactly this from the server.
    const fresh = await person(room.links.partner_a);
    assert.equal(await textOf(fresh.page, key), expected);
    assert.equal(await fresh.page.evaluate((k) => window.__rr.version(k), key), versions[0]);
    const signs = (await stateOf(fresh.page)).signs[key];
    assert.deepEqual(Object.keys(signs).sort(), ["partner_a", "partner_b"]);
    for (const mark of Object.values(signs)) assert.equal(mark.version, versions[0], "signed the stored version");
  });

  it("the moderator moves to the next stage and both partners see it highlighted", async () => {
    const { a, b, m } = await guidedRoom();
    for (const p of [a, b]) await waitStageShown(p.page, "start");
    await chooseRoles(m, a, b);
    await clickTestId(m.page, "mod-stage-next");
    for (const p of [a, b, m]) {
      await waitStageShown(p.page, "acknowledge");
      assert.deepEqual(await currentStageShown(p.page), [{ id: "acknowledge", highlighted: true }]);
      assert.equal(await p.page.locator(".stage-head h1").innerText(), "Acknowledging the hurt");
      assert.equal((await stateOf(p.page)).stage, "acknowledge");
    }
    // The first stage is no longer marked current.
    for (const p of [a, b]) assert.equal(await p.page.getByTestId("stage-start").getAttribute("aria-current"), null);
  });

  it("a partner who goes offline keeps typing; once back online the words reach the other partner by themselves", async () => {
    const { a, b } = await guidedRoom();
    const key = "ground_rules";
    await typeInto(a.page, key, "We take turns.");
    await settled(a.page);
    await waitText(b.page, key, "We take turns.");

    await a.context.setOffline(true);
    await a.page.waitForFunction(() => window.__rr.status() !== "connected", null, { timeout: WAIT });
    await a.page.waitForFunction(() => document.querySelector('[data-testid="conn-status"]').dataset.status !== "connected", null, { timeout: WAIT });
    await typeInto(a.page, key, " We stay kind, even when it is hard.");
    assert.ok((await a.page.evaluate(() => window.__rr.unsent())) > 0, "A's words wait on A's device");
    assert.equal(await textOf(a.page, key), "We take turns. We stay kind, even when it is hard.");
    assert.equal(await textOf(b.page, key), "We take turns.", "nothing left A's page while offline");

    await a.context.setOffline(false);
    await connected(a.page);
    await settled(a.page);
    await waitText(b.page, key, "We take turns. We stay kind, even when it is hard.");
    assert.equal(await shownText(b.page, key), "We take turns. We stay kind, even when it is hard.");
  });

  it("the moderator's private notes never reach a partner's page, not even after a reload", async () => {
    const frames = { a: [], b: [] };
    const { a, b, m } = await guidedRoom({
      a: { onPage: (p) => (frames.a = watchFrames(p)) },
      b: { onPage: (p) => (frames.b = watchFrames(p)) },
    });
    const marker = `PRIVNOTE-${Math.random().toString(36).slice(2, 10)}`;
    await typeInto(m.page, "notes", `Alex looks tense today. ${marker}`);
    await settled(m.page);
    assert.match(await editor(m.page, "notes").innerText(), new RegExp(marker), "the moderator sees the note");

    // A later write everyone receives: anything sent before it has arrived too.
    await typeInto(m.page, "ground_rules", "We listen first.");
    await settled(m.page);
    for (const p of [a, b]) await waitText(p.page, "ground_rules", "We listen first.");

    const check = async (p, who) => {
      assert.ok(!(await p.page.content()).includes(marker), `${who}: page HTML`);
      assert.ok(!(await p.page.evaluate(() => document.body.innerText)).includes(marker), `${who}: visible text`);
      assert.ok(!JSON.stringify(await stateOf(p.page)).includes(marker), `${who}: room state`);
      assert.ok(!(await p.page.evaluate(() => window.__rr.keys())).includes("notes"), `${who}: no notes key`);
      assert.equal(await p.page.getByTestId("field-notes").count(), 0, `${who}: no notes editor`);
    };
    await check(a, "A");
    await check(b, "B");
    assert.ok(frames.a.length > 0 && frames.b.length > 0, "frames were recorded");
    for (const f of [...frames.a, ...frames.b]) {
      assert.ok(!f.includes(marker), "no WebSocket frame to a partner carries the note");
      assert.ok(!/"notes"/.test(f), "no WebSocket frame to a partner names the notes field");
    }

    for (const [p, who] of [[a, "A"], [b, "B"]]) {
      await p.page.reload();
      await connected(p.page);
      await waitText(p.page, "ground_rules", "We listen first.");
      await check(p, `${who} after reload`);
    }
    for (const f of [...frames.a, ...frames.b]) assert.ok(!f.includes(marker), "no frame after the reload either");

    // The note itself is kept: the moderator still has it after a reload.
    await m.page.reload();
    await connected(m.page);
    assert.match(await textOf(m.page, "notes"), new RegExp(marker));
  });

  it("markup typed by a partner shows as text on the other partner's page: no element, no script", async () => {
    const payload = "<img src=x onerror=alert(1)>";
    const dialogs = { a: [], b: [], m: [] };
    const { a, b, m } = await guidedRoom({
      // A hostile display name too: it shows in presence, sign-offs and labels.
      names: { partner_a: "<img src=y onerror=alert(2)>", partner_b: "Sam", moderator: "Dr. Rivera" },
      a: { onPage: (p) => (dialogs.a = watchDialogs(p)) },
      b: { onPage: (p) => (dialogs.b = watchDialogs(p)) },
      m: { onPage: (p) => (dialogs.m = watchDialogs(p)) },
    });
    await typeInto(a.page, "ground_rules", payload);
    await settled(a.page);
    for (const p of [b, m]) await waitText(p.page, "ground_rules", payload);
    await b.page.getByTestId("field-ground_rules").getByText(payload).waitFor({ timeout: WAIT });
    assert.equal(await shownText(b.page, "ground_rules"), payload, "the markup is visible as text");
    assert.ok((await b.page.evaluate(() => document.body.innerText)).includes("<img src=y onerror=alert(2)>"), "the hostile name is shown as text");
    // Give an injected element every chance to load and fire: reload B too.
    await b.page.reload();
    await connected(b.page);
    await waitText(b.page, "ground_rules", payload);
    await b.page.getByTestId("field-ground_rules").getByText(payload).waitFor({ timeout: WAIT });
    for (const [p, who] of [[a, "a"], [b, "b"], [m, "m"]]) {
      // CodeMirror's own empty <img class="cm-widgetBuffer"> beside widgets is not markup from a person.
      assert.equal(await p.page.locator("img:not(.cm-widgetBuffer)").count(), 0, `${who}: no img element`);
      assert.equal(await p.page.locator("[onerror], img[src]").count(), 0, `${who}: no element with onerror or src`);
      assert.deepEqual(dialogs[who], [], `${who}: no dialog`);
    }
  });

  it("a reload restores the room: the text and the stage", async () => {
    const { a, b, m } = await guidedRoom();
    const words = "We agree to check in on Sunday evenings.";
    await typeInto(a.page, "ground_rules", words);
    await settled(a.page);
    await chooseRoles(m, a, b);
    await clickTestId(m.page, "mod-stage-next");
    await waitStageShown(a.page, "acknowledge");

    await a.page.reload();
    await connected(a.page);
    assert.equal(await a.page.evaluate(() => location.hash), "", "the token stays out of the visible URL");
    assert.equal(await textOf(a.page, "ground_rules"), words);
    assert.equal((await stateOf(a.page)).stage, "acknowledge");
    await waitStageShown(a.page, "acknowledge");
    assert.equal(await a.page.locator(".stage-head h1").innerText(), "Acknowledging the hurt");
    // The earlier stage is still there to read, with the words in it.
    await clickTestId(a.page, "stage-start");
    await a.page.getByTestId("field-ground_rules").getByText(words).waitFor({ timeout: WAIT });
    assert.equal(await editor(a.page, "ground_rules").getAttribute("contenteditable"), "false", "an earlier stage is read-only");
  });

  it("a break started by the moderator covers the partners' pages with a countdown and makes their editors read-only", async () => {
    const { a, b, m } = await guidedRoom();
    const key = "ground_rules";
    await typeInto(a.page, key, "We pause when one of us asks.");
    await settled(a.page);
    for (const p of [a, b]) assert.equal(await editor(p.page, key).getAttribute("contenteditable"), "true");

    await m.page.getByTestId("mod-break-reason").fill("A few minutes to breathe");
    await clickTestId(m.page, "mod-break");
    for (const p of [a, b]) {
      const overlay = p.page.getByTestId("break-overlay");
      await overlay.waitFor({ state: "visible", timeout: WAIT });
      assert.match(await overlay.innerText(), /A few minutes to breathe/);
      const clock = overlay.locator(".break-clock");
      const first = await clock.innerText();
      assert.match(first, /^(19|20):\d\d$/, `a 20-minute countdown, got ${first}`);
      // It counts down.
      await p.page.waitForFunction((t) => document.querySelector('[data-testid="break-overlay"] .break-clock').textContent !== t, first, { timeout: WAIT });
      const secs = (s) => s.split(":").reduce((acc, x) => acc * 60 + Number(x), 0);
      assert.ok(secs(await clock.innerText()) < secs(first), "the countdown goes down");

      await p.page.waitForFunction((k) => document.querySelector(`[data-testid="field-${k}"] .cm-content`).getAttribute("contenteditable") === "false", key, { timeout: WAIT });
      // Even a determined keyboard cannot write.
      await editor(p.page, key).evaluate((el) => el.focus());
      await p.page.keyboard.type("Typed during the break");
      assert.equal(await textOf(p.page, key), "We pause when one of us asks.");
      assert.equal(await p.page.evaluate(() => window.__rr.unsent()), 0);
      assert.equal(await p.page.getByTestId("scale-safety_start_a-5").isDisabled(), true, "scales are disabled too");
    }

    // The moderator ends it and writing opens again.
    await clickTestId(m.page, "mod-break-end-overlay");
    for (const p of [a, b]) {
      await p.page.getByTestId("break-overlay").waitFor({ state: "hidden", timeout: WAIT });
      await p.page.waitForFunction((k) => document.querySelector(`[data-testid="field-${k}"] .cm-content`).getAttribute("contenteditable") === "true", key, { timeout: WAIT });
    }
  });
});
