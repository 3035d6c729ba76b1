// The practice page at /practice: sign-up and sign-in with a passkey (or
// the recovery code), then the caseload: couples, their sessions in order
// with a live status, and what the therapist does with them.
//
// "Live now" is polled from a small JSON endpoint every few seconds rather
// than pushed over a socket: presence already sits in Redis, and a page
// left open all day should not hold a room subscription per session.

import "./practice.css";
import { h, replaceChildren, setText, type Child } from "../dom";
import { dateTime } from "../format";
import { ApiError, call, type Caseload, type Couple, type Link, type Session } from "./api";
import { createPasskey, passkeysSupported, usePasskey } from "./passkey";

const POLL_MS = 4000;

const statusWords: Record<Session["status"], string> = {
  not_started: "Not started",
  live: "Live now",
  open: "Nobody in the room",
  ended: "Ended",
  gone: "Expired",
};

const seatWords: Record<string, string> = { partner_a: "Partner A", partner_b: "Partner B", moderator: "Therapist" };

function messageOf(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof DOMException && e.name === "NotAllowedError") return "The passkey was cancelled or is not available on this device.";
  return e instanceof Error ? e.message : String(e);
}

/** A form-error paragraph and a function to show or hide a message in it. */
function errorLine(): { el: HTMLElement; show: (msg: string | null) => void } {
  const el = h("p", { class: "form-error", role: "alert", hidden: true });
  return {
    el,
    show: (msg) => {
      el.hidden = !msg;
      setText(el, msg ?? "");
    },
  };
}

function shell(root: HTMLElement, ...main: Child[]): void {
  replaceChildren(
    root,
    h(
      "div",
      { class: "practice-page" },
      h("header", { class: "topbar" }, h("a", { class: "brand", href: "/" }, "Repair Room"), h("span", { class: "muted" }, "Practice")),
      h("main", { class: "practice-main", id: "main" }, ...main),
    ),
  );
}

export async function renderPractice(root: HTMLElement): Promise<void> {
  document.title = "Your practice · Repair Room";
  try {
    await call("GET", "/me");
  } catch {
    renderSignIn(root);
    return;
  }
  await new CaseloadView(root).start();
}

function renderSignIn(root: HTMLElement): void {
  const err = errorLine();
  // attempt runs one of the three sign-in actions with its button busy,
  // showing what went wrong in the error line.
  const attempt = async (b: HTMLButtonElement, work: () => Promise<void>) => {
    err.show(null);
    b.disabled = true;
    b.setAttribute("aria-busy", "true");
    try {
      await work();
    } catch (e) {
      err.show(messageOf(e));
    } finally {
      b.disabled = false;
      b.setAttribute("aria-busy", "false");
    }
  };

  const signin = h("button", { class: "btn primary big", type: "button", "data-testid": "practice-signin" }, "Sign in with your passkey");
  signin.addEventListener("click", async () => {
    await attempt(signin, async () => {
      const begin = await call<{ ceremony: string; options: any }>("POST", "/signin/begin"); // eslint-disable-line @typescript-eslint/no-explicit-any
      const credential = await usePasskey(begin.options);
      await call("POST", "/signin/finish", { ceremony: begin.ceremony, credential });
      await renderPractice(root);
    });
  });

  const name = h("input", { id: "practice-name", type: "text", maxlength: "60", autocomplete: "organization", "data-testid": "practice-signup-name" });
  const signup = h("button", { class: "btn", type: "submit", "data-testid": "practice-signup" }, "Create a practice with a passkey");
  const signupForm = h(
    "form",
    { class: "practice-form" },
    h("label", { for: "practice-name" }, "Your practice's name ", h("span", { class: "muted small" }, "(shown to you and, in your rooms, to the couples)")),
    name,
    signup,
  );
  signupForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    await attempt(signup, async () => {
      const begin = await call<{ ceremony: string; options: any }>("POST", "/signup/begin", { name: name.value }); // eslint-disable-line @typescript-eslint/no-explicit-any
      const credential = await createPasskey(begin.options);
      const done = await call<{ recoveryCode: string }>("POST", "/signup/finish", { ceremony: begin.ceremony, credential });
      renderRecoveryCode(root, done.recoveryCode, "Your practice is ready.");
    });
  });

  const code = h("input", { id: "recovery-input", type: "text", autocomplete: "off", spellcheck: "false", "data-testid": "recovery-input" });
  const recover = h("button", { class: "btn quiet", type: "submit", "data-testid": "recover" }, "Sign in with the code");
  const recoverForm = h("form", { class: "practice-form" }, h("label", { for: "recovery-input" }, "Recovery code"), code, recover);
  recoverForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    await attempt(recover, async () => {
      const done = await call<{ recoveryCode: string }>("POST", "/recover", { code: code.value });
      renderRecoveryCode(root, done.recoveryCode, "You are signed in. Your old code no longer works; here is a new one. Add a passkey for this device from your caseload.");
    });
  });

  shell(
    root,
    h(
      "section",
      { class: "card practice-card", "aria-labelledby": "signin-title" },
      h("h1", { id: "signin-title" }, "Therapists: your practice"),
      h("p", { class: "lead" }, "Keep your couples and their sessions in one place. You sign in with a passkey — your device's fingerprint, face or PIN. No password, no email."),
      passkeysSupported() ? null : h("p", { class: "form-error" }, "This browser cannot use passkeys. Try a current Chrome, Edge, Firefox or Safari."),
      err.el,
      signin,
      h("h2", null, "New here?"),
      signupForm,
      h("details", { class: "recovery" }, h("summary", null, "Lost your passkey?"), recoverForm),
    ),
  );
}

function renderRecoveryCode(root: HTMLElement, code: string, lead: string): void {
  const go = h("button", { class: "btn primary", type: "button", "data-testid": "recovery-done" }, "I have written it down");
  go.addEventListener("click", () => void renderPractice(root));
  shell(
    root,
    h(
      "section",
      { class: "card practice-card", "aria-labelledby": "code-title" },
      h("h1", { id: "code-title" }, "Your recovery code"),
      h("p", { class: "lead" }, lead),
      h("p", null, "If you lose your passkey, this code lets you in once. Write it down and keep it somewhere safe: it is shown only now, and we keep only a fingerprint of it."),
      h("p", { class: "recovery-code", "data-testid": "recovery-code" }, code),
      go,
    ),
  );
}

/** The signed-in caseload. */
class CaseloadView {
  private data: Caseload | null = null;
  private timer: number | undefined;
  private readonly err = errorLine();
  private readonly list = h("div", { class: "couples" });
  private readonly title = h("h1", { id: "caseload-title" }, "Your caseload");
  /** Status badges by room id, updated by the poll. */
  private readonly badges = new Map<string, HTMLElement>();

  constructor(private readonly root: HTMLElement) {}

  async start(): Promise<void> {
    const label = h("input", { id: "couple-label", type: "text", maxlength: "60", required: true, "data-testid": "couple-label" });
    const nameA = h("input", { id: "couple-a", type: "text", maxlength: "40" });
    const nameB = h("input", { id: "couple-b", type: "text", maxlength: "40" });
    const add = h("button", { class: "btn primary", type: "submit", "data-testid": "add-couple" }, "Add the couple");
    const form = h(
      "form",
      { class: "practice-form add-couple" },
      h("div", { class: "field-input" }, h("label", { for: "couple-label" }, "Label ", h("span", { class: "muted small" }, "(your own, e.g. initials — no real names needed)")), label),
      h("div", { class: "field-input" }, h("label", { for: "couple-a" }, "Partner A is called ", h("span", { class: "muted small" }, "(optional)")), nameA),
      h("div", { class: "field-input" }, h("label", { for: "couple-b" }, "Partner B is called ", h("span", { class: "muted small" }, "(optional)")), nameB),
      add,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.act(async () => {
        await call("POST", "/couples", { label: label.value, names: { partner_a: nameA.value, partner_b: nameB.value } });
        form.reset();
      });
    });

    const signout = h("button", { class: "btn quiet small", type: "button", "data-testid": "practice-signout" }, "Sign out");
    signout.addEventListener("click", () =>
      void this.act(async () => {
        await call("POST", "/signout");
        this.stop();
        renderSignIn(this.root);
      }, false),
    );
    const addKey = h("button", { class: "btn quiet small", type: "button" }, "Add a passkey on this device");
    addKey.addEventListener("click", () =>
      void this.act(async () => {
        const begin = await call<{ ceremony: string; options: any }>("POST", "/passkeys/begin"); // eslint-disable-line @typescript-eslint/no-explicit-any
        await call("POST", "/passkeys/finish", { ceremony: begin.ceremony, credential: await createPasskey(begin.options) });
      }, false),
    );
    const exp = h("a", { class: "btn quiet small", href: "/api/practice/export", download: "practice.json" }, "Export (JSON)");
    const del = h("button", { class: "btn danger small", type: "button" }, "Delete the practice");
    del.addEventListener("click", () => {
      if (!confirm("Delete your practice, every couple and every room in it? This cannot be undone.")) return;
      void this.act(async () => {
        await call("DELETE", "");
        this.stop();
        renderSignIn(this.root);
      }, false);
    });

    shell(
      this.root,
      h("div", { class: "caseload-head" }, this.title, h("div", { class: "caseload-tools" }, exp, addKey, signout, del)),
      this.err.el,
      h("section", { class: "card", "aria-labelledby": "add-title" }, h("h2", { id: "add-title" }, "Add a couple"), form),
      this.list,
    );
    await this.reload();
    this.timer = window.setInterval(() => void this.poll(), POLL_MS);
  }

  private stop(): void {
    if (this.timer !== undefined) window.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** When e says the sign-in has ended (401), stops polling and shows the sign-in page; says whether it did. */
  private signedOut(e: unknown): boolean {
    if (!(e instanceof ApiError && e.status === 401)) return false;
    this.stop();
    renderSignIn(this.root);
    return true;
  }

  /** Runs an action, shows its failure, and reloads the caseload after it. */
  private async act(fn: () => Promise<void>, reload = true): Promise<void> {
    this.err.show(null);
    try {
      await fn();
      if (reload) await this.reload();
    } catch (e) {
      if (!this.signedOut(e)) this.err.show(messageOf(e));
    }
  }

  private async reload(): Promise<void> {
    try {
      this.data = await call<Caseload>("GET", "/caseload");
    } catch (e) {
      if (!this.signedOut(e)) this.err.show(messageOf(e));
      return;
    }
    setText(this.title, `${this.data.practice.name}: your caseload`);
    this.badges.clear();
    const couples = this.data.couples.map((c) => this.couple(c));
    replaceChildren(this.list, ...(couples.length ? couples : [h("p", { class: "muted" }, "No couples yet. Add the first one above.")]));
  }

  private async poll(): Promise<void> {
    let st: { rooms: Record<string, { status: Session["status"]; present: Session["present"] }> };
    try {
      st = await call("GET", "/status");
    } catch (e) {
      this.signedOut(e);
      return; // a missed poll is corrected by the next one
    }
    for (const [id, s] of Object.entries(st.rooms)) {
      const badge = this.badges.get(id);
      if (badge) showStatus(badge, s.status, s.present);
    }
  }

  private couple(c: Couple): HTMLElement {
    const sessions = h(
      "ol",
      { class: "sessions" },
      ...c.sessions.map((s, i) => this.session(c, s, i + 1)),
    );
    const last = c.sessions[c.sessions.length - 1];
    const tpl = h("select", { "aria-label": "Conversation", "data-testid": `new-template-${c.id}` }, ...(this.data?.templates ?? []).map((t) => h("option", { value: t.id }, t.title)));
    const mode = h("select", { "aria-label": "How they meet", "data-testid": `new-mode-${c.id}` }, h("option", { value: "guided" }, "Guided by me"), h("option", { value: "self" }, "Self-guided"));
    const carry = h("input", { type: "checkbox", id: `carry-${c.id}`, checked: !!last, "data-testid": `carry-${c.id}` });
    const start = h("button", { class: "btn primary small", type: "submit", "data-testid": `new-session-${c.id}` }, "New session");
    const form = h(
      "form",
      { class: "new-session" },
      tpl,
      mode,
      last ? h("label", { class: "carry", for: `carry-${c.id}` }, carry, " Carry over what they agreed last time") : null,
      start,
    );
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.act(async () => {
        await call("POST", `/couples/${c.id}/sessions`, { template: tpl.value, mode: mode.value, from: last && carry.checked ? last.id : "" });
      });
    });
    const del = h("button", { class: "btn danger small", type: "button", "data-testid": `delete-couple-${c.id}` }, "Delete couple");
    del.addEventListener("click", () => {
      if (!confirm(`Delete ${c.label} and every room of theirs? This cannot be undone.`)) return;
      void this.act(() => call("DELETE", `/couples/${c.id}`));
    });
    const names = [c.names?.partner_a, c.names?.partner_b].filter(Boolean).join(" & ");
    return h(
      "section",
      { class: "card couple", "data-testid": `couple-${c.id}`, "aria-label": c.label },
      h("div", { class: "couple-head" }, h("h2", null, c.label, names ? h("span", { class: "muted small" }, ` — ${names}`) : null), del),
      c.nextCheckin ? h("p", { class: "next-checkin", "data-testid": `next-checkin-${c.id}` }, `Next check-in: ${dateTime(c.nextCheckin)}`) : null,
      c.sessions.length ? sessions : h("p", { class: "muted small" }, "No sessions yet."),
      form,
    );
  }

  private session(c: Couple, s: Session, n: number): HTMLElement {
    const badge = h("span", { class: "status", "data-testid": `status-${s.id}`, role: "status" });
    showStatus(badge, s.status, s.present);
    this.badges.set(s.id, badge);
    const linksBox = h("div", { class: "links", hidden: true });
    const showLinks = async (links: Link[]) => {
      linksBox.hidden = false;
      replaceChildren(linksBox, ...links.map((l) => linkRow(s.id, l)));
    };
    const links = h("button", { class: "btn small", type: "button", "data-testid": `links-${s.id}`, "aria-expanded": "false" }, "Links");
    links.addEventListener("click", () =>
      void this.act(async () => {
        if (!linksBox.hidden) {
          linksBox.hidden = true;
          links.setAttribute("aria-expanded", "false");
          return;
        }
        await showLinks((await call<{ links: Link[] }>("GET", `/sessions/${s.id}/links`)).links);
        links.setAttribute("aria-expanded", "true");
      }, false),
    );
    const open = h("button", { class: "btn small", type: "button", "data-testid": `open-${s.id}` }, s.mode === "guided" ? "Open as therapist" : "Open");
    open.addEventListener("click", () =>
      void this.act(async () => {
        const ls = (await call<{ links: Link[] }>("GET", `/sessions/${s.id}/links`)).links;
        const mine = ls.find((l) => l.role === "moderator") ?? ls[0];
        window.open(mine.url, "_blank", "noopener");
      }, false),
    );
    const rotate = h("button", { class: "btn small", type: "button", "data-testid": `rotate-${s.id}` }, "Replace links");
    rotate.addEventListener("click", () => {
      if (!confirm("Replace every link of this room? The old links stop working at once, and whoever uses one is disconnected.")) return;
      void this.act(async () => {
        await showLinks((await call<{ links: Link[] }>("POST", `/sessions/${s.id}/rotate`)).links);
      }, false);
    });
    const end = h("button", { class: "btn small", type: "button", "data-testid": `end-${s.id}` }, "End");
    end.addEventListener("click", () => {
      if (!confirm("End this session for everyone in the room? They can still read it, but no longer change it.")) return;
      void this.act(() => call("POST", `/sessions/${s.id}/end`));
    });
    const del = h("button", { class: "btn danger small", type: "button", "data-testid": `delete-${s.id}` }, "Delete");
    del.addEventListener("click", () => {
      if (!confirm("Delete this room and everything written in it?")) return;
      void this.act(() => call("DELETE", `/sessions/${s.id}`));
    });
    const gone = s.status === "gone";
    return h(
      "li",
      { class: "session", "data-testid": `session-${s.id}` },
      h(
        "div",
        { class: "session-line" },
        h("strong", null, `${n}. ${s.templateTitle || s.template}`),
        h("span", { class: "muted small" }, ` ${dateTime(s.created)} · ${s.mode === "guided" ? "guided" : "self-guided"}${s.from ? " · carried over" : ""}`),
        badge,
      ),
      h("div", { class: "session-actions" }, gone ? null : [open, links, rotate], s.mode === "guided" && (s.status === "live" || s.status === "open" || s.status === "not_started") ? end : null, del),
      linksBox,
    );
  }
}

function showStatus(badge: HTMLElement, status: Session["status"], present: Session["present"]): void {
  badge.dataset.status = status;
  let words = statusWords[status] ?? status;
  if (status === "live" && present.length) words += ": " + present.map((p) => p.name || seatWords[p.role] || p.role).join(", ");
  setText(badge, words);
}

function linkRow(roomID: string, l: Link): HTMLElement {
  const full = new URL(l.url, location.origin).href;
  const id = `link-${l.role}-${roomID}`;
  const who = l.label || seatWords[l.role] || l.role;
  const input = h("input", { type: "text", readonly: true, value: full, id, class: "invite-url", "data-testid": id, "aria-label": `Link for ${who}` });
  const copy = h("button", { class: "btn small", type: "button", "data-testid": `copy-${l.role}-${roomID}` }, "Copy");
  const said = h("span", { class: "copy-status small", role: "status", "aria-live": "polite" });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(full);
      setText(said, "Copied");
    } catch {
      input.select();
      setText(said, "Press Ctrl+C to copy");
    }
  });
  return h("div", { class: "link-row" }, h("label", { for: id }, `${who} (${seatWords[l.role] ?? l.role})`), input, copy, said);
}
