// What the couple takes home, in real Chromium: a guided session filled
// through the page (the therapist's notes, a plan both partners sign,
// dated check-ins and a milestone), ended; then the summary opened as each
// partner and as the therapist. page.pdf() of a partner's summary holds
// the agreement and none of the therapist's notes; the calendar file
// parses back with ical.js (two events at the planned instants, the same
// UIDs on a second download); the therapist's timeline slider shows the
// plan before and after it was written. With RR_SCREENSHOTS=1 it writes
// the screenshots of the plan stage's lists, the summary page and its
// print preview to docs/screenshots (not on every run: they would dirty
// the tree).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join as pathJoin } from "node:path";
import ICAL from "ical.js";
import { AxeBuilder } from "@axe-core/playwright";
import { ROOT, WAIT, createRoom, join, launchBrowser, requireWebDist, settled, startServer, typeInto } from "./harness.mjs";
import { pdfText } from "./pdftext.mjs";

requireWebDist();

const NAMES = { partner_a: "Alex", partner_b: "Sam", moderator: "Dr. Rivera" };
const NOTE = "Therapist-only observation 5521";
const AGREEMENT = "Each Sunday we walk for an hour and talk about the week.";
const MILESTONE = "One month of Sunday walks";

let server;
let browser;
const pageErrors = [];

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function person(url, opts = {}) {
  return join(browser, url, {
    ...opts,
    onPage: (page) => {
      page.on("pageerror", (e) => pageErrors.push(String(e)));
      page.on("dialog", (d) => void d.accept().catch(() => {}));
    },
  });
}

/** Fails on any serious or critical axe violation (WCAG 2 A and AA). */
async function noSeriousFaults(page, where) {
  const r = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
  const bad = r.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), [], `${where}: serious or critical axe violations`);
}

const tokenOf = (url) => decodeURIComponent(url.split("#t=")[1]);
const squash = (s) => s.replace(/\s+/g, "");

/** A local date-time input value `days` from now at 20:00. */
function localAt(days) {
  const d = new Date(Date.now() + days * 86400_000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T20:00`;
}

async function addCheckin(page, value, title) {
  await page.getByTestId("checkin-at-checkins").fill(value);
  await page.getByTestId("checkin-title-checkins").fill(title);
  const before = await page.evaluate(() => (window.__rr.state().values?.checkins ?? []).length);
  await page.getByTestId("checkin-add-checkins").click();
  await page.waitForFunction((n) => (window.__rr.state().values?.checkins ?? []).length === n + 1, before, { timeout: WAIT });
}

describe("the summary a couple takes home", () => {
  it("is filtered by role, prints with the agreement, and its calendar parses back", { timeout: 240_000 }, async () => {
    const room = await createRoom(server.base, { template: "betrayal", mode: "guided", names: NAMES });
    // Alex plans in Paris, Sam in New York: the check-ins keep the offset they were planned in.
    const a = await person(room.links.partner_a, { timezoneId: "Europe/Paris" });
    const b = await person(room.links.partner_b, { timezoneId: "America/New_York" });
    const m = await person(room.links.moderator);
    const people = [a, b, m];

    await m.page.getByTestId("mod-roles-hurt-partner_b").click();
    await m.page.waitForFunction(() => window.__rr.state().roles?.hurt === "partner_b", null, { timeout: WAIT });
    await typeInto(m.page, "notes", NOTE);
    await settled(m.page);

    await m.page.getByTestId("stage-plan").click();
    await m.page.getByTestId("mod-stage-here").click();
    for (const p of people) await p.page.waitForFunction(() => window.__rr.state().stage === "plan", null, { timeout: WAIT });

    await typeInto(a.page, "plan_steps", AGREEMENT);
    await settled(a.page);
    await b.page.waitForFunction((t) => window.__rr.text("plan_steps") === t, AGREEMENT, { timeout: WAIT });
    await a.page.getByTestId("sign-plan_steps").click();
    await b.page.getByTestId("sign-plan_steps").click();
    await m.page.waitForFunction(() => Object.keys(window.__rr.state().signs?.plan_steps ?? {}).length === 2, null, { timeout: WAIT });

    await addCheckin(a.page, localAt(7), "Sunday walk and talk");
    await addCheckin(b.page, localAt(14), "");
    await b.page.getByTestId("milestone-title-milestones").fill(MILESTONE);
    await b.page.getByTestId("milestone-add-milestones").click();
    await a.page.waitForFunction(() => (window.__rr.state().values?.milestones ?? []).length === 1, null, { timeout: WAIT });
    await a.page.getByTestId("milestone-reached").click();
    await b.page.waitForFunction(() => window.__rr.state().values?.milestones?.[0]?.reached?.by === "partner_a", null, { timeout: WAIT });
    const checkins = await a.page.evaluate(() => window.__rr.state().values.checkins);
    await noSeriousFaults(a.page, "the plan stage with check-ins and milestones");
    const shots = process.env.RR_SCREENSHOTS ? pathJoin(ROOT, "docs/screenshots") : "";
    if (shots) {
      mkdirSync(shots, { recursive: true });
      await a.page.getByTestId("fieldcard-checkins").scrollIntoViewIfNeeded();
      await a.page.screenshot({ path: pathJoin(shots, "room-plan-checkins.png") });
    }
    assert.match(checkins[0].at, /T20:00:00\+0[12]:00$/, "Alex's check-in keeps the Paris offset");
    assert.match(checkins[1].at, /T20:00:00-0[45]:00$/, "Sam's check-in keeps the New York offset");

    // The room says until when it is kept, and where the summary is; the
    // therapist keeps it longer, a partner cannot.
    await a.page.getByTestId("kept-until").filter({ hasText: "kept until" }).waitFor({ timeout: WAIT });
    assert.equal(await a.page.getByTestId("retention-days").isVisible(), false, "a partner of a guided room does not choose");
    await m.page.getByTestId("retention-days").selectOption("60");
    await m.page.getByTestId("retention-set").click();
    const in60days = (page) => page.evaluate(() => new Date(Date.now() + 60 * 86400_000).toLocaleDateString(undefined, { day: "numeric", month: "long", year: "numeric" }));
    const in60 = await in60days(m.page);
    await m.page.getByTestId("kept-until").filter({ hasText: in60 }).waitFor({ timeout: WAIT });

    await m.page.getByTestId("mod-end").click();
    for (const p of people) await p.page.waitForFunction(() => !!window.__rr.state().ended, null, { timeout: WAIT });
    await a.page.getByTestId("kept-until").filter({ hasText: "Download your summary" }).waitFor({ timeout: WAIT });

    // Each seat opens its summary from the room.
    const summaries = {};
    for (const [role, p] of [["partner_a", a], ["partner_b", b], ["moderator", m]]) {
      await p.page.getByTestId("open-summary").click();
      await p.page.getByTestId("summary").waitFor({ timeout: WAIT });
      summaries[role] = await p.page.getByTestId("summary").innerText();
      assert.ok(summaries[role].includes(AGREEMENT), `${role}'s summary holds the agreement`);
      assert.ok(summaries[role].includes("Signed by both."), `${role}'s summary says both signed`);
      assert.ok(summaries[role].includes(MILESTONE), `${role}'s summary holds the milestone`);
      assert.ok(summaries[role].includes("Sunday walk and talk"), `${role}'s summary holds the check-in`);
      assert.ok(summaries[role].includes(`kept until ${await in60days(p.page)}`), `${role}'s summary says the room is kept 60 days`);
    }
    assert.ok(summaries.moderator.includes(NOTE), "the therapist's copy holds the notes");
    await noSeriousFaults(a.page, "a partner's summary");
    await noSeriousFaults(m.page, "the therapist's summary with the timeline");
    for (const role of ["partner_a", "partner_b"]) assert.ok(!summaries[role].includes(NOTE), `${role}'s copy holds no note of the therapist's`);
    // Who signed and when, with the time zone (Sam reads New York time).
    assert.match(summaries.partner_b, /Alex signed — .*\d{2}:\d{2}.*(EST|EDT|GMT-[45])/);

    // Save as PDF: non-empty, the agreement in it, no therapist's note.
    const pdf = await a.page.pdf({ format: "A4", printBackground: false });
    assert.ok(pdf.length > 1000, "the PDF is not empty");
    const text = squash(pdfText(pdf));
    assert.ok(text.includes(squash(AGREEMENT)), `the PDF's text holds the agreement:\n${text.slice(0, 2000)}`);
    assert.ok(!text.includes(squash(NOTE)), "a partner's PDF holds no note of the therapist's");
    assert.ok(text.includes("Page1of"), "pages are numbered");
    assert.ok(!text.includes(squash("Download as Markdown")), "no app chrome in print");

    // The calendar, parsed in Node: two events at the planned instants, stable UIDs.
    const ics = async () => {
      const r = await fetch(`${server.base}/api/rooms/${room.id}/calendar.ics`, { headers: { Authorization: `Bearer ${tokenOf(room.links.partner_b)}` } });
      assert.equal(r.status, 200);
      return new ICAL.Component(ICAL.parse(await r.text())).getAllSubcomponents("vevent").map((v) => new ICAL.Event(v));
    };
    const first = await ics();
    const second = await ics();
    assert.equal(first.length, 2);
    assert.deepEqual(
      first.map((e) => e.startDate.toJSDate().getTime()),
      checkins.map((c) => new Date(c.at).getTime()),
    );
    assert.deepEqual(first.map((e) => e.uid), second.map((e) => e.uid));
    assert.notEqual(first[0].uid, first[1].uid);
    assert.ok(first[0].description.includes(AGREEMENT), "the small steps both signed are in the description");
    assert.equal(first[0].summary, "Sunday walk and talk");

    // The Markdown download is the same content (fetched the way the page does).
    const md = await (await fetch(`${server.base}/api/rooms/${room.id}/summary.md`, { headers: { Authorization: `Bearer ${tokenOf(room.links.partner_a)}` } })).text();
    assert.ok(md.includes(AGREEMENT) && !md.includes(NOTE));

    // The timeline: at the first moment the plan is not written; at the last it is.
    const slider = m.page.getByTestId("timeline-slider");
    await m.page.waitForFunction(() => Number(document.querySelector('[data-testid="timeline-slider"]')?.max ?? 0) > 3, null, { timeout: WAIT });
    const setSlider = async (where) => {
      const before = await m.page.evaluate(() => document.querySelector(".timeline")?.parentElement?.dataset.at ?? "");
      await slider.evaluate((el, w) => {
        el.value = w === "first" ? el.min : el.max;
        el.dispatchEvent(new Event("input", { bubbles: true }));
      }, where);
      await m.page.waitForFunction((b) => (document.querySelector(".timeline")?.parentElement?.dataset.at ?? "") !== b, before, { timeout: WAIT });
    };
    await setSlider("first");
    assert.equal(await m.page.getByTestId("timeline-text-plan_steps").count(), 0, "no plan at the first moment");
    await setSlider("last");
    await m.page.getByTestId("timeline-text-plan_steps").filter({ hasText: AGREEMENT }).waitFor({ timeout: WAIT });
    assert.match(await m.page.getByTestId("timeline-text-plan_steps").innerText(), /written by Alex/);

    // Screenshots: the summary page and its print preview.
    if (shots) {
      await a.page.screenshot({ path: pathJoin(shots, "summary-partner-desktop.png"), fullPage: true });
      await a.page.emulateMedia({ media: "print" });
      await a.page.screenshot({ path: pathJoin(shots, "summary-print-preview.png"), fullPage: true });
      await a.page.emulateMedia({ media: "screen" });
    }

    assert.deepEqual(pageErrors, [], "no uncaught exception on any page");
    for (const p of people) await p.context.close();
  });
});
