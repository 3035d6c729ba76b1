// Safe to take part, in real Chromium: the private line reaches the
// therapist only; a "No" on the safety screen alerts the therapist and
// leaves the other partner's page as it is with a "Yes"; a self-guided
// "No" pauses both pages and shows help to the one who answered; a break
// reason stays with the therapist; a self-guided break can be undone;
// either self-guided partner can delete the room; a sign-off given before
// an edit is shown as given to an earlier version.

import { after, afterEach, before, describe, it as nodeIt } from "node:test";
import assert from "node:assert/strict";
import { WAIT, createRoom, join, launchBrowser, requireWebDist, settled, startServer, typeInto } from "./harness.mjs";

requireWebDist();

let server;
let browser;
let open = [];
let pageErrors = [];

function it(name, fn) {
  nodeIt(name, { timeout: 120_000 }, async (t) => {
    pageErrors = [];
    try {
      await fn(t);
      assert.deepEqual(pageErrors, [], "no uncaught exception on any page");
    } catch (e) {
      if (e && typeof e === "object" && server) e.message = `${e.message}\n--- server log (last 20 lines) ---\n${server.log(20)}`;
      throw e;
    }
  });
}

/** A person; `frames` collects every WebSocket frame the page receives, `dialogs` every confirm it showed (accepted). */
async function person(url, opts = {}) {
  const frames = [];
  const dialogs = [];
  const onPage = (page) => {
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("websocket", (ws) => ws.on("framereceived", (f) => frames.push(typeof f.payload === "string" ? f.payload : f.payload.toString("utf8"))));
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.accept().catch(() => {});
    });
  };
  const p = await join(browser, url, { ...opts, onPage });
  open.push(p.context);
  return { ...p, frames, dialogs };
}

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 2 };
const NAMES = { partner_a: "Alex", partner_b: "Sam", moderator: "Dr. Rivera" };
const state = (page) => page.evaluate(() => window.__rr.state());

async function choose(page, field, option) {
  await page.getByTestId(`choice-${field}`).getByRole("radio", { name: option, exact: true }).click();
  await page.waitForFunction(([f, o]) => window.__rr.state().values?.[f] === o, [field, option], { timeout: WAIT });
}

/** What a person sees of the conversation: the main column's text. */
const mainText = (page) => page.locator("main").innerText();

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

describe("private to the therapist", () => {
  it("the private line reaches the therapist only, from any stage, with a badge", async () => {
    const room = await createRoom(server.base, { template: "betrayal", mode: "guided", names: NAMES });
    const a = await person(room.links.partner_a);
    const b = await person(room.links.partner_b, PHONE);
    const m = await person(room.links.moderator);
    const secret = `only-for-the-therapist-${room.id.slice(0, 6)}`;

    // Keyboard: the toggle opens the line and puts the cursor in it.
    await a.page.getByTestId("private-line-toggle").focus();
    await a.page.keyboard.press("Enter");
    assert.equal(await a.page.getByTestId("private-line-toggle").getAttribute("aria-expanded"), "true");
    await a.page.keyboard.type(`I am afraid of how this ends. ${secret}`);
    await settled(a.page);
    await m.page.getByTestId("mod-private-partner_a").getByText(secret).waitFor({ timeout: WAIT });
    await m.page.getByTestId("mod-private-badge").waitFor({ timeout: WAIT });
    await m.page.getByTestId("mod-private-read").click();
    await m.page.getByTestId("mod-private-badge").waitFor({ state: "hidden", timeout: WAIT });

    // Still there in a later stage, for both partners (phone width for Sam).
    await m.page.getByTestId("mod-roles-hurt-partner_b").click();
    await m.page.waitForFunction(() => window.__rr.state().roles?.hurt === "partner_b", null, { timeout: WAIT });
    await m.page.getByTestId("mod-stage-next").click();
    await b.page.waitForFunction(() => window.__rr.state().stage === "acknowledge", null, { timeout: WAIT });
    await b.page.getByTestId("private-line-toggle").click();
    await typeInto(b.page, "private_b", "He seems calmer today.");
    await settled(b.page);
    await m.page.getByTestId("mod-private-partner_b").getByText("He seems calmer today.").waitFor({ timeout: WAIT });

    assert.ok(!(await b.page.content()).includes(secret), "Sam's page never shows Alex's line");
    assert.ok(!b.frames.some((f) => f.includes(secret)), "no frame to Sam carries Alex's line");
    assert.ok(!a.frames.some((f) => f.includes("He seems calmer")), "no frame to Alex carries Sam's line");
  });

  it("during a break the private line opens inside the dialog and still reaches the therapist only", async () => {
    const room = await createRoom(server.base, { template: "betrayal", mode: "guided", names: NAMES });
    const a = await person(room.links.partner_a);
    const b = await person(room.links.partner_b, PHONE);
    const m = await person(room.links.moderator);
    const secret = `flooded-during-the-break-${room.id.slice(0, 6)}`;
    await b.page.getByTestId("break-request").click();
    await b.page.getByTestId("break-send").click();
    await m.page.getByTestId("mod-break-accept").click();
    for (const p of [a, b]) await p.page.getByTestId("break-overlay").waitFor({ timeout: WAIT });

    // Sam (phone) opens the line from the dialog by keyboard; focus stays in the dialog.
    const toggle = b.page.getByTestId("break-overlay").getByTestId("break-private-toggle");
    await toggle.focus();
    await b.page.keyboard.press("Enter");
    assert.equal(await toggle.getAttribute("aria-expanded"), "true");
    const inDialog = () => b.page.evaluate(() => document.querySelector('[data-testid="break-overlay"]').contains(document.activeElement));
    assert.ok(await inDialog(), "the editor has focus inside the dialog");
    await b.page.keyboard.type(`I can't calm down. ${secret}`);
    await settled(b.page);
    await m.page.getByTestId("mod-private-partner_b").getByText(secret).waitFor({ timeout: WAIT });
    for (let i = 0; i < 4; i++) await b.page.keyboard.press("Shift+Tab");
    assert.ok(await inDialog(), "Shift+Tab from the editor stays in the dialog");
    assert.equal(await m.page.getByTestId("break-private-toggle").count(), 0, "the therapist has no such button");

    assert.ok(!(await a.page.content()).includes(secret), "Alex's page never shows Sam's line");
    assert.ok(!a.frames.some((f) => f.includes(secret)), "no frame to Alex carries Sam's line");

    // When the break ends the line is back in its place on the page.
    await m.page.getByTestId("mod-break-end-overlay").click();
    await b.page.getByTestId("break-overlay").waitFor({ state: "hidden", timeout: WAIT });
    await b.page.getByTestId("private-line-toggle").click();
    await b.page.locator("#private-line-panel").getByText(secret).waitFor({ timeout: WAIT });
  });

  it('a "No" on the safety screen alerts the therapist and leaves the partner\'s page as a "Yes" does', async () => {
    const room = await createRoom(server.base, { template: "betrayal", mode: "guided", names: NAMES });
    const a = await person(room.links.partner_a);
    const b = await person(room.links.partner_b);
    const m = await person(room.links.moderator);
    await choose(a.page, "screen_safe_a", "Yes");
    await b.page.waitForFunction(() => window.__rr.state().answered?.screen_safe_a === true, null, { timeout: WAIT });
    const afterYes = await mainText(b.page);
    const rev = (await state(b.page)).rev;
    assert.match(afterYes, /Alex answered\. Only they and the therapist see the answer\./);

    await choose(a.page, "screen_safe_a", "No");
    await m.page.getByTestId("mod-safety-alerts").getByText(/Alex answered “No”/).waitFor({ timeout: WAIT });
    await b.page.waitForFunction((r) => window.__rr.state().rev > r, rev, { timeout: WAIT });
    assert.equal(await mainText(b.page), afterYes, "Sam's page is the same after a No as after a Yes");
    assert.ok(!b.frames.some((f) => f.includes('"alerts"') || f.includes('"screen_safe_a":"')), "no frame to Sam carries the answer or the alert");

    // The rating: Sam sees that Alex answered, never the number.
    await a.page.getByTestId("scale-safety_start_a-3").click();
    await b.page.waitForFunction(() => window.__rr.state().answered?.safety_start_a === true, null, { timeout: WAIT });
    assert.equal(await b.page.getByTestId("scale-safety_start_a").isVisible(), false);
    assert.ok(!b.frames.some((f) => f.includes('"safety_start_a":3')), "the number never reaches Sam");
    const region = b.page.getByRole("region", { name: "Alex's answer: How safe do I feel right now?" });
    await region.waitFor({ timeout: WAIT });
  });

  it("a break reason goes to the therapist only; the dialog says who asked and who started it", async () => {
    const room = await createRoom(server.base, { template: "betrayal", mode: "guided", names: NAMES });
    const a = await person(room.links.partner_a);
    const b = await person(room.links.partner_b);
    const m = await person(room.links.moderator);
    await b.page.getByTestId("break-request").click();
    await b.page.getByTestId("break-reason").fill("I feel flooded by the details");
    await b.page.getByTestId("break-minutes").selectOption("45");
    await b.page.getByTestId("break-send").click();
    await m.page.getByTestId("mod-break-request").getByText("I feel flooded by the details").waitFor({ timeout: WAIT });
    await m.page.getByTestId("mod-break-accept").getByText("45-minute").waitFor({ timeout: WAIT });
    await m.page.getByTestId("mod-break-accept").click();
    await a.page.getByTestId("break-overlay").waitFor({ timeout: WAIT });
    assert.equal(await a.page.getByTestId("break-who").innerText(), "Sam asked for this break; Dr. Rivera started it.");
    assert.equal(await b.page.getByTestId("break-who").innerText(), "You asked for this break; Dr. Rivera started it.");
    const st = await state(m.page);
    assert.equal(Date.parse(st.break.until) - Date.parse(st.break.started), 45 * 60_000, "the minutes asked for");
    assert.ok(!(await a.page.content()).includes("flooded"), "Alex's page does not show the reason");
    assert.ok(!a.frames.some((f) => f.includes("flooded")), "no frame to Alex carries the reason");
  });
});

describe("self-guided", () => {
  it('a "No" pauses both pages: help for the one who answered, neither who nor why for the other', async () => {
    const room = await createRoom(server.base, { template: "betrayal", mode: "self", names: NAMES });
    const a = await person(room.links.partner_a);
    const b = await person(room.links.partner_b, PHONE);
    await choose(b.page, "screen_safe_b", "No");
    await b.page.getByTestId("hold-help").waitFor({ timeout: WAIT });
    const seen = await a.page.getByTestId("hold-banner").innerText();
    assert.match(seen, /The conversation is paused/);
    assert.doesNotMatch(seen, /Sam|safe|No\b/, "the other partner is not told who or why");
    assert.equal(await a.page.getByTestId("hold-help").count(), 0);
    assert.equal(await a.page.getByTestId("private-line-toggle").count(), 0, "no private line without a therapist");
    await choose(b.page, "screen_safe_b", "Yes");
    await a.page.getByTestId("hold-banner").waitFor({ state: "hidden", timeout: WAIT });
  });

  it("a break pressed by mistake is undone by the one who started it", async () => {
    const room = await createRoom(server.base, { template: "checkin", mode: "self", names: NAMES });
    const a = await person(room.links.partner_a);
    const b = await person(room.links.partner_b);
    await a.page.getByTestId("break-request").click();
    await a.page.getByTestId("break-send").click();
    await a.page.getByTestId("break-undo").waitFor({ timeout: WAIT });
    await b.page.getByTestId("break-overlay").waitFor({ timeout: WAIT });
    assert.equal(await b.page.getByTestId("break-undo").count(), 0, "only its starter can undo it");
    await b.page.getByTestId("break-end-conversation").waitFor({ timeout: WAIT }); // ending stays reachable
    await a.page.getByTestId("break-undo").click();
    for (const p of [a, b]) await p.page.getByTestId("break-overlay").waitFor({ state: "hidden", timeout: WAIT });
    assert.equal((await state(a.page)).break.endedHow, "undone");
  });

  it("either partner can delete the room, after a confirmation that says what is deleted", async () => {
    const room = await createRoom(server.base, { template: "checkin", mode: "self", names: NAMES });
    const a = await person(room.links.partner_a);
    const b = await person(room.links.partner_b);
    await b.page.getByTestId("delete-room").click();
    assert.match(b.dialogs[0] ?? "", /Delete this room for both of you\? Everything written in it .* is deleted from the server for good/);
    for (const p of [a, b]) await p.page.getByText(/This room (has been|was) deleted/).first().waitFor({ timeout: WAIT });
    const res = await fetch(room.links.partner_a.replace("/r/", "/ws/rooms/").replace("#t=", "?token="));
    assert.equal(res.status, 404, "the room is gone on the server");
  });
});

describe("self-guided, with the break's return time set to seconds", () => {
  // LIMIT_BREAK_RETURN_AFTER shortens the 20 minutes a break lasts before
  // both partners may end it, so a browser can wait for it; this suite has
  // its own server so the other tests keep the default.
  let quick;
  before(async () => {
    const had = process.env.LIMIT_BREAK_RETURN_AFTER;
    process.env.LIMIT_BREAK_RETURN_AFTER = "3s";
    try {
      quick = await startServer();
    } finally {
      if (had === undefined) delete process.env.LIMIT_BREAK_RETURN_AFTER;
      else process.env.LIMIT_BREAK_RETURN_AFTER = had;
    }
  });
  after(async () => {
    await quick?.stop();
  });

  it('after the return time, both pressing "ready to come back" ends the break on both pages', async () => {
    const room = await createRoom(quick.base, { template: "checkin", mode: "self", names: NAMES });
    const a = await person(room.links.partner_a);
    const b = await person(room.links.partner_b, PHONE);
    await a.page.getByTestId("break-request").click();
    await a.page.getByTestId("break-send").click();
    for (const p of [a, b]) await p.page.getByTestId("break-overlay").waitFor({ timeout: WAIT });
    assert.equal(await b.page.getByTestId("break-back").count(), 0, "not offered before the return time");
    for (const p of [a, b]) await p.page.getByTestId("break-back").waitFor({ timeout: WAIT });
    await a.page.getByTestId("break-back").click();
    await b.page.getByTestId("break-overlay").getByText("Alex is ready too.").waitFor({ timeout: WAIT });
    assert.equal(await a.page.getByTestId("break-overlay").isVisible(), true, "one ready partner does not end it");
    await b.page.getByTestId("break-back").click();
    for (const p of [a, b]) await p.page.getByTestId("break-overlay").waitFor({ state: "hidden", timeout: WAIT });
    assert.equal((await state(a.page)).break.endedHow, "both_back");
  });
});

describe("the page's sign-off rule", () => {
  it("a partner signs, the text is edited, and the page shows the mark as given to an earlier version", async () => {
    const room = await createRoom(server.base, { template: "betrayal", mode: "guided", names: NAMES });
    const a = await person(room.links.partner_a);
    const b = await person(room.links.partner_b);
    await typeInto(a.page, "ground_rules", "We speak one at a time.");
    await settled(a.page);
    await b.page.waitForFunction(() => window.__rr.text("ground_rules") === "We speak one at a time.", null, { timeout: WAIT });
    await a.page.getByTestId("sign-ground_rules").click();
    await b.page.getByTestId("signs-ground_rules").getByText("Alex signed at").waitFor({ timeout: WAIT });
    await typeInto(b.page, "ground_rules", " No phones.");
    await settled(b.page);
    for (const p of [a, b]) {
      await p.page.getByTestId("signs-ground_rules").getByText("Alex signed an earlier version — the text changed since").waitFor({ timeout: WAIT });
    }
    assert.equal(await a.page.getByTestId("sign-ground_rules").innerText(), "I agree — sign");
  });
});
