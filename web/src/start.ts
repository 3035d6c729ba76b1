// The start page: what Repair Room is, choose a conversation and a way of
// meeting, create the room, hand out the invite links.

import { myRoomsSection } from "./practice/wayback";
import { h, replaceChildren, setHidden } from "./dom";
import type { ApiError, CreateRoomResp, InviteLink, Role, TemplateSummary } from "./types";
import { dateTime } from "./format";
import { DEFAULT_NAMES } from "./perm";

export function renderStart(root: HTMLElement): void {
  const cardsBox = h("div", { class: "template-cards", role: "radiogroup", "aria-labelledby": "choose-title" }, h("p", { class: "muted" }, "Loading the conversations…"));
  const modeGuided = radio("mode", "guided", "With a therapist", "Your therapist joins from anywhere, guides each stage and can call a pause. You get three links.", true);
  const modeSelf = radio("mode", "self", "Just the two of us", "A self-guided room: a stage opens when you both say you are ready. You get two links.", false);
  const nameA = textInput("name-a", "First partner's name", "e.g. Alex");
  const nameB = textInput("name-b", "Second partner's name", "e.g. Sam");
  const nameM = textInput("name-m", "Therapist's name", "e.g. Dr. Rivera");
  const errorBox = h("p", { class: "form-error", role: "alert", hidden: true });
  const create = h("button", { class: "btn primary big", type: "submit", "data-testid": "create-room" }, "Create the room");
  const result = h("section", { class: "result", hidden: true, "aria-live": "polite", tabindex: "-1" });

  const form = h(
    "form",
    { class: "create-form" },
    h("section", { class: "step" }, h("h2", { id: "choose-title" }, "1. Choose a conversation"), cardsBox),
    h("section", { class: "step" }, h("h2", null, "2. How will you meet?"), h("div", { class: "mode-cards", role: "radiogroup", "aria-label": "How will you meet?" }, modeGuided.el, modeSelf.el)),
    h(
      "section",
      { class: "step" },
      h("h2", null, "3. Names ", h("span", { class: "muted" }, "(optional)")),
      h("p", { class: "muted small" }, "Names are shown to the people in the room only. First names or nicknames are plenty."),
      h("div", { class: "names" }, nameA.el, nameB.el, nameM.el),
    ),
    errorBox,
    create,
  );

  const intro = h(
    "section",
    { class: "intro" },
    h("h1", null, "A calm room for a hard conversation"),
    h(
      "p",
      { class: "lead" },
      "When trust has been hurt — by a betrayal, or by a fight you both regret — talking about it can feel impossible. Repair Room gives the two of you one shared page, written together in real time, that walks you through the conversation step by step.",
    ),
    h(
      "ul",
      { class: "promises" },
      h("li", null, "One stage at a time: acknowledging the hurt, a real apology, questions, agreements, a plan."),
      h("li", null, "You each see the other write, live. Nothing you write is lost, even if the connection drops."),
      h("li", null, "A therapist can guide you from anywhere, or you can go through it on your own."),
      h("li", null, "Either of you can ask for a pause at any time."),
      h("li", null, "No accounts. Each person gets a private link. The therapist, or in a room without one either of you, can delete the room and everything in it at any time."),
    ),
  );

  const syncMode = () => setHidden(nameM.el, modeSelf.input.checked);
  modeGuided.input.addEventListener("change", syncMode);
  modeSelf.input.addEventListener("change", syncMode);
  syncMode();

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    setHidden(errorBox, true);
    const chosen = form.querySelector<HTMLInputElement>('input[name="template"]:checked');
    if (!chosen) {
      showError(errorBox, "Please choose a conversation first.");
      return;
    }
    const mode = modeSelf.input.checked ? "self" : "guided";
    const names: Partial<Record<Role, string>> = {};
    if (nameA.input.value.trim()) names.partner_a = nameA.input.value.trim();
    if (nameB.input.value.trim()) names.partner_b = nameB.input.value.trim();
    if (mode === "guided" && nameM.input.value.trim()) names.moderator = nameM.input.value.trim();
    create.disabled = true;
    create.setAttribute("aria-busy", "true");
    try {
      const res = await fetch("/api/rooms", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ template: chosen.value, mode, names }),
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => null)) as ApiError | null;
        if (res.status === 429) showError(errorBox, "Several rooms were just created from here. Please wait a minute, then try again.");
        else showError(errorBox, body?.message || `The room could not be created (${res.status}). Please try again.`);
        return;
      }
      const room = (await res.json()) as CreateRoomResp;
      showResult(result, room, names);
      setHidden(form, true);
      setHidden(intro, true);
      setHidden(result, false);
      result.focus();
    } catch {
      showError(errorBox, "No connection to the server. Please check your network and try again.");
    } finally {
      create.disabled = false;
      create.removeAttribute("aria-busy");
    }
  });

  const page = h(
    "div",
    { class: "start-page" },
    h("header", { class: "topbar" }, h("span", { class: "brand" }, "Repair Room"), h("a", { class: "topbar-link", href: "/practice", "data-testid": "practice-link" }, "Therapists: sign in")),
    h(
      "main",
      { class: "start-main", id: "main" },
      intro,
      myRoomsSection(), // practice/wayback.ts: rooms this browser opened
      form,
      result,
    ),
    h("footer", { class: "foot muted small" }, "Repair Room is open source and can run on your own server. It is not a replacement for professional help in an emergency."),
  );
  replaceChildren(root, page);
  void loadTemplates(cardsBox);
}

async function loadTemplates(box: HTMLElement): Promise<void> {
  try {
    const res = await fetch("/api/templates");
    if (!res.ok) throw new Error(String(res.status));
    const list = (await res.json()) as TemplateSummary[];
    const cards = list.map((t, i) => {
      const r = radio("template", t.id, t.title, t.summary, i === 0, t.stages?.length ? `${t.stages.length} stages` : "");
      r.el.classList.add("template-card");
      r.el.dataset.testid = `template-${t.id}`;
      return r.el;
    });
    replaceChildren(box, ...(cards.length ? cards : [h("p", { class: "muted" }, "No conversations are installed on this server.")]));
  } catch {
    const retry = h("button", { class: "btn", type: "button" }, "Try again");
    retry.addEventListener("click", () => loadTemplates(box));
    replaceChildren(box, h("p", { class: "form-error" }, "The conversations could not be loaded. "), retry);
  }
}

function radio(name: string, value: string, title: string, text: string, checked: boolean, meta = ""): { el: HTMLElement; input: HTMLInputElement } {
  const id = `${name}-${value}`;
  const input = h("input", { type: "radio", name, value, id, checked });
  const el = h("label", { class: "choice-card", for: id }, input, h("span", { class: "choice-body" }, h("strong", null, title), h("span", { class: "choice-text" }, text), meta ? h("span", { class: "choice-meta muted small" }, meta) : null));
  return { el, input };
}

function textInput(id: string, label: string, placeholder: string): { el: HTMLElement; input: HTMLInputElement } {
  const input = h("input", { type: "text", id, maxlength: 40, placeholder, autocomplete: "off" });
  return { el: h("div", { class: "field-input" }, h("label", { for: id }, label), input), input };
}

function showError(box: HTMLElement, text: string): void {
  box.textContent = text;
  setHidden(box, false);
}

function showResult(box: HTMLElement, room: CreateRoomResp, names: Partial<Record<Role, string>>): void {
  const items = room.links.map((l) => inviteCard(l, names));
  replaceChildren(
    box,
    h("h2", null, "Your room is ready"),
    h(
      "p",
      { class: "lead" },
      "Send each link only to the person it is for — privately, for example in a direct message. Anyone who has a link can join as that person.",
    ),
    h("div", { class: "invites" }, ...items),
    room.expires ? h("p", { class: "muted small" }, `The links work until ${dateTime(room.expires)}. After that the room and everything in it is deleted.`) : null,
    h("p", { class: "muted small" }, "Keep your own link somewhere safe: it is the only way back into the room."),
  );
}

const SEAT_WORDS: Partial<Record<Role, string>> = {
  partner_a: "first partner",
  partner_b: "second partner",
  moderator: "therapist",
};

function inviteCard(l: InviteLink, names: Partial<Record<Role, string>>): HTMLElement {
  const full = l.url.startsWith("http") ? l.url : location.origin + l.url;
  const seat = SEAT_WORDS[l.role] ?? "";
  const name = names[l.role] || (l.label && l.label !== DEFAULT_NAMES[l.role] ? l.label : "");
  const who = name ? name : l.label || DEFAULT_NAMES[l.role];
  const id = `invite-url-${l.role}`;
  const input = h("input", { type: "text", readonly: true, value: full, id, class: "invite-url", "aria-label": `Link for ${who}` });
  input.addEventListener("focus", () => input.select());
  const copy = h("button", { class: "btn", type: "button", "data-testid": `copy-${l.role}` }, "Copy link");
  const status = h("span", { class: "copy-status small", role: "status", "aria-live": "polite" });
  copy.addEventListener("click", async () => {
    const ok = await copyText(full, input);
    status.textContent = ok ? "Copied" : "Select the link and copy it";
    setTimeout(() => (status.textContent = ""), 4000);
  });
  const open = h("a", { class: "btn quiet", href: full, target: "_blank", rel: "noopener", "data-testid": `open-${l.role}` }, "Open my link");
  return h(
    "div",
    { class: `invite card tone-${l.role === "partner_a" ? "a" : l.role === "partner_b" ? "b" : "m"}`, "data-testid": `invite-${l.role}` },
    h("h3", null, `For ${who}`, seat ? h("span", { class: "seat muted small" }, ` · ${seat}`) : null),
    h("div", { class: "invite-row" }, input, copy),
    h("div", { class: "invite-row" }, status, h("span", { class: "spacer" }), open),
  );
}

/** Copies with the Clipboard API; falls back to a selected input + execCommand. */
export async function copyText(text: string, input?: HTMLInputElement): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through */
  }
  try {
    const el = input ?? h("input", { value: text });
    if (!input) document.body.append(el);
    el.select();
    const ok = document.execCommand("copy");
    if (!input) el.remove();
    return ok;
  } catch {
    return false;
  }
}
