// Shared set-up for the end-to-end tests and the screenshot script: builds
// the Go server, runs it on a free loopback port with the embedded store,
// launches one headless Chromium, and offers small helpers to create rooms
// and join them as a person (one browser context per person).

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, closeSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join as pathJoin } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { it as nodeIt } from "node:test";
import { chromium } from "playwright-core";

export const ROOT = pathJoin(dirname(fileURLToPath(import.meta.url)), "..");

/** A fixed invite-signing key (64 hex digits), so links survive nothing but this run. */
const SECRET = "5e".repeat(32);

/** Liveness bounds: how long we wait for something that should happen soon. */
export const WAIT = 15_000;

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-dev-shm-usage",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-sync",
];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * The `it` of an end-to-end file: each test has a liveness bound
 * (`timeout` ms) and a failure carries the last `logLines` lines of the
 * log of `server()` (a function: the server is started later, in before).
 * With `pageErrors` (the array the file's pages push uncaught exceptions
 * into), it is emptied before each test and must be empty after it.
 */
export function liveIt({ timeout, logLines, server, pageErrors }) {
  return (name, fn) =>
    nodeIt(name, { timeout }, async (t) => {
      if (pageErrors) pageErrors.length = 0;
      try {
        await fn(t);
        if (pageErrors) assert.deepEqual(pageErrors, [], "no uncaught exception on any page");
      } catch (e) {
        const s = server();
        if (e && typeof e === "object" && s) e.message = `${e.message}\n--- server log (last ${logLines} lines) ---\n${s.log(logLines)}`;
        throw e;
      }
    });
}

/** The Go binary embeds web/dist at build time: without it there is nothing to test. */
export function requireWebDist() {
  if (!existsSync(pathJoin(ROOT, "web/dist/index.html"))) {
    throw new Error("web/dist/index.html is missing: build the web client first with `npm run build:web` (`make test` does it before the end-to-end tests).");
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Builds ./server into a temporary directory and starts it. Returns
 * { base, stop(), log() }. The server's output goes to a file (shown by
 * log()), never to the test output.
 */
export async function startServer() {
  requireWebDist();
  const dir = mkdtempSync(pathJoin(tmpdir(), "rr-e2e-"));
  const bin = pathJoin(dir, "repairroom");
  const build = spawnSync("go", ["build", "-o", bin, "./server"], { cwd: ROOT, encoding: "utf8" });
  if (build.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`go build ./server failed:\n${build.stdout}${build.stderr}`);
  }
  const port = await freePort();
  const logPath = pathJoin(dir, "server.log");
  const fd = openSync(logPath, "a");
  const env = { ...process.env, PORT: String(port), SECRET };
  delete env.REDIS_URL;
  delete env.REDIS_CLUSTER_ADDRS;
  delete env.ALLOWED_ORIGINS;
  delete env.TRUSTED_PROXIES;
  const child = spawn(bin, [], { cwd: dir, env, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  let exited = null;
  child.on("exit", (code, signal) => (exited = { code, signal }));
  // Never leave the server behind, whatever happens to this process.
  const killOnExit = () => {
    try {
      child.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  };
  process.on("exit", killOnExit);
  const onSignal = (sig) => {
    killOnExit();
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const base = `http://127.0.0.1:${port}`;
  /** The server's output; `tail` keeps only the last lines. */
  const log = (tail = 0) => {
    try {
      const text = readFileSync(logPath, "utf8");
      return tail ? text.split("\n").slice(-tail).join("\n") : text;
    } catch {
      return "";
    }
  };
  const stop = async () => {
    process.off("exit", killOnExit);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (!exited) {
      child.kill("SIGTERM");
      for (let i = 0; i < 100 && !exited; i++) await sleep(50);
      if (!exited) child.kill("SIGKILL");
      for (let i = 0; i < 40 && !exited; i++) await sleep(50);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) {
      const out = log();
      await stop();
      throw new Error(`the server exited (${JSON.stringify(exited)}) before it was ready:\n${out}`);
    }
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      const out = log();
      await stop();
      throw new Error(`the server did not become ready within 30 s:\n${out}`);
    }
    await sleep(100);
  }
  return { base, port, stop, log };
}

/** The Chromium to drive: CHROMIUM or PLAYWRIGHT_CHROMIUM_PATH, else Debian's. */
export const CHROMIUM_PATH = process.env.CHROMIUM || process.env.PLAYWRIGHT_CHROMIUM_PATH || "/usr/bin/chromium";

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** POST /api/rooms; returns { id, links: {partner_a, partner_b, moderator?} } with absolute URLs. */
export async function createRoom(base, { template = "betrayal", mode = "guided", names = {} } = {}) {
  const res = await fetch(`${base}/api/rooms`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Origin: base },
    body: JSON.stringify({ template, mode, names }),
  });
  if (!res.ok) throw new Error(`create room: ${res.status} ${await res.text()}`);
  const body = await res.json();
  const links = {};
  for (const l of body.links) links[l.role] = l.url.startsWith("http") ? l.url : base + l.url;
  return { id: body.id, links };
}

/**
 * Opens `url` in a fresh browser context (a new person) and waits until the
 * room is connected. Options are browser.newContext options (1280×800 by
 * default), and `onPage(page)`, which runs before the page loads (to attach
 * listeners). Returns { context, page }.
 */
export async function join(browser, url, { onPage, ...contextOptions } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, hasTouch: !!contextOptions.isMobile, ...contextOptions });
  const page = await context.newPage();
  onPage?.(page);
  await page.goto(url);
  await connected(page);
  return { context, page };
}

/** Waits until the page's room is connected (window.__rr.status()). */
export async function connected(page, timeout = WAIT) {
  await page.waitForFunction(() => window.__rr && window.__rr.status() === "connected" && window.__rr.state() !== null, null, { timeout });
}

/** Waits until every word typed on the page has been confirmed by the server. */
export async function settled(page, timeout = WAIT) {
  await page.waitForFunction(() => window.__rr.status() === "connected" && window.__rr.unsent() === 0, null, { timeout });
}

/** Waits until the text key `key` reads `text` on the page. */
export async function waitText(page, key, text, timeout = WAIT) {
  await page.waitForFunction(([k, t]) => window.__rr.text(k) === t, [key, text], { timeout });
}

export const textOf = (page, key) => page.evaluate((k) => window.__rr.text(k), key);
export const stateOf = (page) => page.evaluate(() => window.__rr.state());

/** The CodeMirror content element of a text key's editor. */
export const editor = (page, key) => page.locator(`[data-testid="field-${key}"] .cm-content`);

/**
 * The text a person sees in a key's editor: its lines, without the remote
 * cursors' name tags and the placeholder.
 */
export async function shownText(page, key) {
  return editor(page, key).evaluate((el) => {
    const copy = el.cloneNode(true);
    copy.querySelectorAll(".rr-caret, .cm-widgetBuffer, .cm-placeholder").forEach((x) => x.remove());
    return [...copy.querySelectorAll(".cm-line")].map((l) => l.textContent).join("\n");
  });
}

/** Clicks into a key's editor and puts the cursor at its end (or start). */
export async function focusEditor(page, key, where = "end") {
  await editor(page, key).click();
  await page.keyboard.press(where === "end" ? "Control+End" : "Control+Home");
}

/** Types like a person (key by key) at the end of a key's editor. */
export async function typeInto(page, key, text, { delay = 0, where = "end" } = {}) {
  await focusEditor(page, key, where);
  await page.keyboard.type(text, { delay });
}

/** Clicks a data-testid and waits for the act to land in the room state. */
export async function clickTestId(page, id) {
  await page.getByTestId(id).click();
}
