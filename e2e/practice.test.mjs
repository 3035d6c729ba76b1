// End-to-end tests of a therapist's practice in headless Chromium, with a
// virtual WebAuthn authenticator (DevTools protocol) standing in for the
// therapist's device. The page is opened on http://localhost:PORT: a
// passkey's relying party must be a host name, never an IP address.
// Run with `node --test e2e/practice.test.mjs` (web/dist must be built).

import { after, before, describe } from "node:test";
import assert from "node:assert/strict";
import { AxeBuilder } from "@axe-core/playwright";
import { WAIT, connected, createRoom, launchBrowser, liveIt, requireWebDist, startServer } from "./harness.mjs";

requireWebDist();

let server;
let browser;
let base;
const pageErrors = [];

const it = liveIt({ timeout: 120_000, logLines: 30, server: () => server, pageErrors });

/** A browser context with a virtual platform authenticator (resident keys, user verification). */
async function therapistContext() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("dialog", (d) => d.accept());
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { context, page, cdp, authenticatorId };
}

/** A partner opening a link in a fresh context, recording the close codes of the page's sockets. */
async function partner(url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.addInitScript(() => {
    window.__closes = [];
    const Native = window.WebSocket;
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        this.addEventListener("close", (e) => window.__closes.push(e.code));
      }
    };
  });
  await page.goto(url);
  return { context, page };
}

/** Fails on any serious or critical axe violation (WCAG 2 A and AA). */
async function accessible(page, where) {
  const r = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
  const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const report = bad.map((v) => `${v.id}: ${v.help}\n  ${v.nodes.map((n) => n.target.join(" ")).join("\n  ")}`).join("\n");
  assert.equal(bad.length, 0, `${where}: ${bad.length} serious/critical axe violations\n${report}`);
}

const statusOf = (page, id) => page.getByTestId(`status-${id}`);

/** The link of a seat, from the caseload's "Links" panel. */
async function linkOf(page, roomID, role) {
  const input = page.getByTestId(`link-${role}-${roomID}`);
  if (!(await input.isVisible())) await page.getByTestId(`links-${roomID}`).click();
  await input.waitFor({ timeout: WAIT });
  return input.inputValue();
}

/** Room ids of a couple's sessions, in the caseload's order. */
async function sessionIDs(page, coupleID) {
  return page
    .getByTestId(`couple-${coupleID}`)
    .locator("li.session")
    .evaluateAll((els) => els.map((e) => e.dataset.testid.replace(/^session-/, "")));
}

before(async () => {
  server = await startServer();
  base = server.base.replace("127.0.0.1", "localhost");
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

describe("a therapist's practice", () => {
  it("signs up, out and in with a passkey, keeps a caseload, sees a partner live and replaces a link", async () => {
    const t = await therapistContext();
    const { page } = t;
    try {
      await page.goto(`${base}/practice`);
      await page.getByTestId("practice-signin").waitFor({ timeout: WAIT });
      await accessible(page, "sign-in page");
      await page.getByTestId("practice-signup-name").fill("Dr Rivera");
      await page.getByTestId("practice-signup").click();
      const code = await page.getByTestId("recovery-code").textContent({ timeout: WAIT });
      assert.match(code, /^[A-Z2-7]{4}(-[A-Z2-7]{4}){4}$/, "the recovery code is shown once");
      await accessible(page, "recovery code page");
      await page.getByTestId("recovery-done").click();
      await page.getByRole("heading", { name: "Dr Rivera: your caseload" }).waitFor({ timeout: WAIT });

      // Sign out, then back in with the same passkey.
      await page.getByTestId("practice-signout").click();
      await page.getByTestId("practice-signin").waitFor({ timeout: WAIT });
      await page.reload();
      await page.getByTestId("practice-signin").click();
      await page.getByRole("heading", { name: "Dr Rivera: your caseload" }).waitFor({ timeout: WAIT });

      // A couple, and two sessions for it.
      await page.getByTestId("couple-label").fill("R & T");
      await page.locator("#couple-a").fill("Robin");
      await page.locator("#couple-b").fill("Toni");
      await page.getByTestId("add-couple").click();
      const couple = page.locator("section.couple", { hasText: "R & T" });
      await couple.waitFor({ timeout: WAIT });
      const coupleID = (await couple.getAttribute("data-testid")).replace(/^couple-/, "");
      await page.getByTestId(`new-template-${coupleID}`).selectOption("checkin");
      await page.getByTestId(`new-session-${coupleID}`).click();
      await page.waitForFunction((c) => document.querySelectorAll(`[data-testid="couple-${c}"] li.session`).length === 1, coupleID, { timeout: WAIT });
      await page.getByTestId(`new-session-${coupleID}`).click();
      await page.waitForFunction((c) => document.querySelectorAll(`[data-testid="couple-${c}"] li.session`).length === 2, coupleID, { timeout: WAIT });
      const [first, second] = await sessionIDs(page, coupleID);
      await assert.doesNotReject(statusOf(page, first).filter({ hasText: "Not started" }).waitFor({ timeout: WAIT }));
      await accessible(page, "caseload");

      // The links survive a reload of the caseload (they are minted again).
      const linkA = await linkOf(page, first, "partner_a");
      await page.reload();
      await page.getByRole("heading", { name: "Dr Rivera: your caseload" }).waitFor({ timeout: WAIT });
      assert.ok((await linkOf(page, first, "partner_a")).startsWith(`${base}/r/${first}#t=`));
      assert.ok((await linkOf(page, second, "moderator")).startsWith(`${base}/r/${second}#t=`));

      // "Live now" follows a partner joining.
      const robin = await partner(linkA);
      await connected(robin.page);
      await statusOf(page, first).filter({ hasText: "Live now: Robin" }).waitFor({ timeout: WAIT });
      assert.equal(await statusOf(page, second).textContent(), "Not started");

      // Replacing the links closes the old one at once (4003) and refuses it afterwards.
      await page.getByTestId(`rotate-${first}`).click();
      await page.waitForFunction(
        ([id, old]) => {
          const el = document.querySelector(`[data-testid="link-partner_a-${id}"]`);
          return el && el.value !== old;
        },
        [first, linkA],
        { timeout: WAIT },
      );
      await robin.page.waitForFunction(() => window.__closes.includes(4003), null, { timeout: WAIT });
      await robin.page.waitForFunction(() => window.__rr.me()?.status === "stopped" || window.__rr.status() === "offline", null, { timeout: WAIT });
      const again = await partner(linkA);
      await again.page.getByText("We could not open this room").waitFor({ timeout: WAIT });
      const fresh = await partner(await linkOf(page, first, "partner_a"));
      await connected(fresh.page);
      for (const p of [robin, again, fresh]) await p.context.close();
    } finally {
      await t.context.close();
    }
  });
});

describe("continuity", () => {
  it("starts session 2 from session 1 with the agreements both signed carried, read-only, and asked about in the check-in", async () => {
    const t = await therapistContext();
    const { page } = t;
    const people = [];
    try {
      await page.goto(`${base}/practice`);
      await page.getByTestId("practice-signup-name").fill("Dr Okafor");
      await page.getByTestId("practice-signup").click();
      await page.getByTestId("recovery-done").click({ timeout: WAIT });
      await page.getByTestId("couple-label").fill("S & J");
      await page.locator("#couple-a").fill("Sam");
      await page.locator("#couple-b").fill("Jo");
      await page.getByTestId("add-couple").click();
      const couple = page.locator("section.couple", { hasText: "S & J" });
      await couple.waitFor({ timeout: WAIT });
      const coupleID = (await couple.getAttribute("data-testid")).replace(/^couple-/, "");
      await page.getByTestId(`new-template-${coupleID}`).selectOption("betrayal");
      await page.getByTestId(`new-session-${coupleID}`).click();
      await page.waitForFunction((c) => document.querySelectorAll(`[data-testid="couple-${c}"] li.session`).length === 1, coupleID, { timeout: WAIT });
      const [first] = await sessionIDs(page, coupleID);

      // Session 1: both partners write the ground rules and sign them.
      const key = "ground_rules";
      const words = "We speak one at a time.";
      const a = await partner(await linkOf(page, first, "partner_a"));
      const b = await partner(await linkOf(page, first, "partner_b"));
      people.push(a, b);
      await connected(a.page);
      await connected(b.page);
      await a.page.locator(`[data-testid="field-${key}"] .cm-content`).click();
      await a.page.keyboard.type(words);
      await a.page.waitForFunction(() => window.__rr.unsent() === 0, null, { timeout: WAIT });
      await b.page.waitForFunction(([k, w]) => window.__rr.text(k) === w, [key, words], { timeout: WAIT });
      await a.page.getByTestId(`sign-${key}`).click();
      await b.page.getByTestId(`sign-${key}`).click();
      await a.page.waitForFunction((k) => document.querySelectorAll(`[data-testid="signs-${k}"] .sign.signed`).length === 2, key, { timeout: WAIT });

      // Session 2, a check-in, started from session 1 ("carry over" is ticked by default).
      await page.getByTestId(`new-template-${coupleID}`).selectOption("checkin");
      assert.equal(await page.getByTestId(`carry-${coupleID}`).isChecked(), true);
      await page.getByTestId(`new-session-${coupleID}`).click();
      await page.waitForFunction((c) => document.querySelectorAll(`[data-testid="couple-${c}"] li.session`).length === 2, coupleID, { timeout: WAIT });
      const [, second] = await sessionIDs(page, coupleID);
      await page.getByTestId(`session-${second}`).getByText("carried over").waitFor({ timeout: WAIT });

      const a2 = await partner(await linkOf(page, second, "partner_a"));
      people.push(a2);
      await connected(a2.page);
      const block = a2.page.getByTestId("carried");
      await block.getByText("What we agreed last time").waitFor({ timeout: WAIT });
      const item = block.getByTestId(`carried-${key}`);
      await item.getByText(words).waitFor({ timeout: WAIT });
      const signed = await item.getByText(/^Signed by /).textContent();
      assert.match(signed, /Sam \(.+\) and Jo \(.+\)|Jo \(.+\) and Sam \(.+\)/, "who signed, and when");
      await item.getByText("How did this go since last time?").waitFor({ timeout: WAIT });
      // Read-only: the carried words are not an editor.
      assert.equal(await block.locator(".cm-content, textarea, input").count(), 0);
      const st = await a2.page.evaluate(() => window.__rr.state());
      assert.equal(st.carried.from, first);
    } finally {
      for (const p of people) await p.context.close();
      await t.context.close();
    }
  });
});

describe("the way back", () => {
  it("a partner who closed the page gets back in from the bare room address, and the start page lists the room", async () => {
    const room = await createRoom(base, { template: "checkin", mode: "self", names: { partner_a: "Robin" } });
    const link = room.links.partner_a.replace("127.0.0.1", "localhost");
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const first = await context.newPage();
      first.on("pageerror", (e) => pageErrors.push(String(e)));
      await first.goto(link);
      await connected(first);
      await first.waitForFunction((id) => JSON.parse(localStorage.getItem("rr.rooms") || "{}")[id]?.title, room.id, { timeout: WAIT });
      await first.close();

      // A new tab of the same browser, the address without the link's code.
      const again = await context.newPage();
      again.on("pageerror", (e) => pageErrors.push(String(e)));
      await again.goto(`${base}/r/${room.id}`);
      await connected(again);
      assert.equal((await again.evaluate(() => window.__rr.me())).role, "partner_a");
      assert.equal(new URL(again.url()).hash, "", "no code in the address");

      await again.goto(`${base}/`);
      const mine = again.getByTestId(`my-room-${room.id}`);
      await mine.getByText("Weekly trust check-in").waitFor({ timeout: WAIT });
      await again.getByTestId(`my-room-status-${room.id}`).getByText("open").waitFor({ timeout: WAIT });

      // Another browser without the link gets no way in.
      const stranger = await browser.newContext();
      const p = await stranger.newPage();
      await p.goto(`${base}/r/${room.id}`);
      await p.getByText("This page needs your personal link").waitFor({ timeout: WAIT });
      await stranger.close();
    } finally {
      await context.close();
    }
  });
});
