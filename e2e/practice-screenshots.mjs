// Writes the practice's screenshots to docs/screenshots/ (node
// e2e/practice-screenshots.mjs): the sign-in page, a caseload with a live
// session, and a check-in that carries what the couple agreed last time.
// Needs web/dist built (npm run build:web); builds and runs the Go server.
// Passkeys come from a virtual authenticator (DevTools protocol), and the
// page is opened on localhost: a passkey's relying party is a host name.

import { mkdirSync } from "node:fs";
import { join as pathJoin } from "node:path";
import { ROOT, WAIT, connected, launchBrowser, startServer } from "./harness.mjs";

const OUT = pathJoin(ROOT, "docs/screenshots");
const CONTEXT = { locale: "en-US", timezoneId: "Europe/Berlin", viewport: { width: 1280, height: 800 } };

mkdirSync(OUT, { recursive: true });
const server = await startServer();
const base = server.base.replace("127.0.0.1", "localhost");
const browser = await launchBrowser();
const shot = async (page, name) => {
  await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
  await page.waitForTimeout(300); // let transitions settle: this is a picture, not a test
  await page.screenshot({ path: pathJoin(OUT, name) });
  console.log(`wrote docs/screenshots/${name}`);
};

async function linkOf(page, roomID, role) {
  const input = page.getByTestId(`link-${role}-${roomID}`);
  if (!(await input.isVisible())) await page.getByTestId(`links-${roomID}`).click();
  await input.waitFor({ timeout: WAIT });
  const url = await input.inputValue();
  await page.getByTestId(`links-${roomID}`).click(); // fold the links away again
  return url;
}

async function person(url) {
  const context = await browser.newContext(CONTEXT);
  const page = await context.newPage();
  await page.goto(url);
  await connected(page);
  return page;
}

try {
  const context = await browser.newContext(CONTEXT);
  const page = await context.newPage();
  page.on("dialog", (d) => d.accept());
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });

  await page.goto(`${base}/practice`);
  await page.getByTestId("practice-signin").waitFor({ timeout: WAIT });
  await shot(page, "practice-signin-desktop.png");

  await page.getByTestId("practice-signup-name").fill("Dr. Rivera");
  await page.getByTestId("practice-signup").click();
  await page.getByTestId("recovery-done").click({ timeout: WAIT });
  const couples = [
    ["A. & S. (Tuesdays)", "Alex", "Sam"],
    ["M. & K.", "", ""],
  ];
  for (const [label, a, b] of couples) {
    await page.getByTestId("couple-label").fill(label);
    await page.locator("#couple-a").fill(a);
    await page.locator("#couple-b").fill(b);
    await page.getByTestId("add-couple").click();
    await page.locator("section.couple", { hasText: label }).waitFor({ timeout: WAIT });
  }
  const coupleID = (await page.locator("section.couple", { hasText: "A. & S." }).getAttribute("data-testid")).replace(/^couple-/, "");
  const sessions = () => page.getByTestId(`couple-${coupleID}`).locator("li.session").evaluateAll((els) => els.map((e) => e.dataset.testid.replace(/^session-/, "")));
  await page.getByTestId(`new-template-${coupleID}`).selectOption("betrayal");
  await page.getByTestId(`new-session-${coupleID}`).click();
  await page.waitForFunction((c) => document.querySelectorAll(`[data-testid="couple-${c}"] li.session`).length === 1, coupleID, { timeout: WAIT });
  const [first] = await sessions();

  // Session 1: both write their ground rules and sign them.
  const a = await person(await linkOf(page, first, "partner_a"));
  const b = await person(await linkOf(page, first, "partner_b"));
  const key = "ground_rules";
  await a.locator(`[data-testid="field-${key}"] .cm-content`).click();
  await a.keyboard.type("We speak one at a time, and either of us can ask for a break.");
  await a.waitForFunction(() => window.__rr.unsent() === 0, null, { timeout: WAIT });
  await b.waitForFunction((k) => window.__rr.text(k).length > 0, key, { timeout: WAIT });
  await a.getByTestId(`sign-${key}`).click();
  await b.getByTestId(`sign-${key}`).click();
  await a.waitForFunction((k) => document.querySelectorAll(`[data-testid="signs-${k}"] .sign.signed`).length === 2, key, { timeout: WAIT });
  await b.context().close();

  // Session 2: the weekly check-in, carrying session 1.
  await page.getByTestId(`new-template-${coupleID}`).selectOption("checkin");
  await page.getByTestId(`new-session-${coupleID}`).click();
  await page.waitForFunction((c) => document.querySelectorAll(`[data-testid="couple-${c}"] li.session`).length === 2, coupleID, { timeout: WAIT });
  const [, second] = await sessions();
  await page.getByTestId(`status-${first}`).filter({ hasText: "Live now" }).waitFor({ timeout: WAIT });
  await shot(page, "practice-caseload-desktop.png");

  const a2 = await person(await linkOf(page, second, "partner_a"));
  await a2.getByTestId("carried").waitFor({ timeout: WAIT });
  await shot(a2, "room-carried-desktop.png");
} finally {
  await browser.close();
  await server.stop();
}
