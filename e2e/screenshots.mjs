// Writes the README's screenshots to docs/screenshots/ (npm run screenshots):
// the start page (desktop and phone) and a guided room in progress (a
// partner's view on desktop and phone, the therapist's view on desktop).
// Needs web/dist built (npm run build:web); builds and runs the Go server.

import { mkdirSync } from "node:fs";
import { join as pathJoin } from "node:path";
import {
  ROOT,
  WAIT,
  createRoom,
  join,
  launchBrowser,
  settled,
  startServer,
  typeInto,
  waitText,
} from "./harness.mjs";

const OUT = pathJoin(ROOT, "docs/screenshots");
const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 2 };
// Same clock and words for everyone who runs this.
const CONTEXT = { locale: "en-US", timezoneId: "Europe/Berlin" };

mkdirSync(OUT, { recursive: true });
const server = await startServer();
const browser = await launchBrowser();
const shot = async (page, name) => {
  // No blinking caret or focus ring in a still picture.
  await page.evaluate(() => document.activeElement instanceof HTMLElement && document.activeElement.blur());
  await page.waitForTimeout(300); // let transitions settle: this is a picture, not a test
  await page.screenshot({ path: pathJoin(OUT, name) });
  console.log(`wrote docs/screenshots/${name}`);
};

/** Scrolls the page so that `selector` starts just below the sticky top bar. */
async function scrollUnderHeader(page, selector) {
  await page.evaluate((sel) => {
    const bar = document.querySelector(".topbar");
    const top = getComputedStyle(bar).position === "sticky" || getComputedStyle(bar).position === "fixed" ? bar.getBoundingClientRect().height : 0;
    const y = document.querySelector(sel).getBoundingClientRect().top + window.scrollY - top - 12;
    window.scrollTo(0, Math.max(0, y));
  }, selector);
}

try {
  // ---- the start page ----
  for (const [name, opts] of [["start-desktop.png", DESKTOP], ["start-phone.png", PHONE]]) {
    const context = await browser.newContext({ ...CONTEXT, ...opts, hasTouch: !!opts.isMobile });
    const page = await context.newPage();
    await page.goto(server.base + "/");
    await page.getByTestId("template-betrayal").waitFor({ timeout: WAIT });
    await shot(page, name);
    await context.close();
  }

  // ---- a guided room in progress ----
  const room = await createRoom(server.base, { template: "betrayal", mode: "guided", names: { partner_a: "Alex", partner_b: "Sam", moderator: "Dr. Rivera" } });
  const a = await join(browser, room.links.partner_a, { ...CONTEXT, ...PHONE });
  const b = await join(browser, room.links.partner_b, { ...CONTEXT, ...DESKTOP });
  const m = await join(browser, room.links.moderator, { ...CONTEXT, ...DESKTOP });

  // Stage 1: ground rules written by both, both sign, each says how safe it feels.
  await typeInto(a.page, "ground_rules", "We speak one at a time, and we let each other finish.\n");
  await settled(a.page);
  await typeInto(b.page, "ground_rules", "Either of us can ask for a break, and the other says yes.\n");
  await settled(b.page);
  await typeInto(a.page, "ground_rules", "No name-calling, even when it hurts.\n");
  await settled(a.page);
  await typeInto(b.page, "ground_rules", "We stay until the end, or agree together when to continue.");
  await settled(b.page);
  const rules = await b.page.evaluate(() => window.__rr.text("ground_rules"));
  await waitText(a.page, "ground_rules", rules);
  for (const p of [a, b]) {
    await p.page.getByTestId("sign-ground_rules").click();
  }
  await m.page.waitForFunction(() => Object.keys(window.__rr.state().signs?.ground_rules ?? {}).length === 2, null, { timeout: WAIT });
  await a.page.getByTestId("scale-safety_start_a-6").click();
  await b.page.getByTestId("scale-safety_start_b-4").click();
  await typeInto(m.page, "notes", "Both arrived on time. Sam rated safety 4: go slowly with the acknowledgement, and offer a break early.\nAlex is eager to apologise; remind Alex to listen first.");
  await settled(m.page);

  // Sam carries the hurt; on to acknowledging it, Sam holding the floor first.
  await m.page.getByTestId("mod-roles-hurt-partner_b").click();
  await m.page.waitForFunction(() => window.__rr.state().roles?.hurt === "partner_b", null, { timeout: WAIT });
  await m.page.getByTestId("mod-stage-next").click();
  await m.page.getByTestId("mod-floor-b").click();
  await b.page.waitForFunction(() => window.__rr.state().stage === "acknowledge" && window.__rr.state().floor === "partner_b", null, { timeout: WAIT });
  await typeInto(
    b.page,
    "impact",
    "Since I found out, I have felt unsteady, as if the ground moved under me. I check my phone, I replay old evenings, I sleep badly.\nWhat hurts the most is that I heard it from someone else, not from you.",
  );
  await settled(b.page);
  await m.page.getByTestId("mod-floor-a").click();
  await a.page.waitForFunction(() => window.__rr.state().floor === "partner_a", null, { timeout: WAIT });
  await typeInto(a.page, "impact_mirror", "What I hear is that you have felt unsteady since you found out, that you keep going back over our evenings, and that hearing it from someone else hurt the most.\nDid I get it? Is there more?");
  await settled(a.page);
  await waitText(b.page, "impact_mirror", await a.page.evaluate(() => window.__rr.text("impact_mirror")));
  // The other person's name tag fades a moment after they stop typing.
  await m.page.waitForTimeout(3500);
  await scrollUnderHeader(b.page, ".toolbar");
  await shot(b.page, "room-partner-desktop.png");
  await scrollUnderHeader(a.page, ".toolbar");
  await shot(a.page, "room-partner-phone.png");
  await shot(m.page, "room-moderator-desktop.png");
} finally {
  await browser.close().catch(() => {});
  await server.stop();
}
