// One card per field of a stage. Each card builds its DOM once and updates
// it in place (so focus, selection and editors survive room updates).

import { h, replaceChildren, setHidden, setText, toggleClass } from "../dom";
import type { FieldDef, PartnerRole, Question, Role, StageDef } from "../types";
import { PARTNERS } from "../types";
import type { EditorHandle, RoomCtx } from "./app";
import { friendlyError, toneOf } from "./app";
import { canReadField, isPartner, markCounts, otherPartner, whose, writers } from "../perm";
import { matchHints } from "../hints";
import { clockTime } from "../format";
import { buildPlanCard } from "./checkins";

export interface Card {
  el: HTMLElement;
  /** Text keys this card shows (for targeted updates). */
  keys: string[];
  update(): void;
  destroy(): void;
}

/** Runs an act from a button: busy while waiting, a kind toast on failure. */
export async function runAct(ctx: RoomCtx, btn: HTMLButtonElement | null, act: string, args?: Record<string, unknown>): Promise<boolean> {
  if (btn) {
    btn.disabled = true;
    btn.setAttribute("aria-busy", "true");
  }
  const r = await ctx.act(act, args);
  if (btn) {
    btn.removeAttribute("aria-busy");
    btn.disabled = false;
  }
  if (!r.ok) ctx.toast(friendlyError(r.code, r.message));
  return r.ok;
}

/** "Alex writes here", "You write here", "You both write here". */
export function writerLabel(ctx: RoomCtx, who: Role[]): string {
  const partners = who.filter(isPartner);
  if (partners.length === 2) return ctx.me.role === "moderator" ? "Both partners write here" : "You both write here";
  if (who.length === 1) {
    if (who[0] === ctx.me.role) return "You write here";
    if (who[0] === "moderator") return "Only you can see this";
    return `${ctx.name(who[0])} writes here`;
  }
  return "";
}

function toneClass(who: Role[]): string {
  if (who.length === 1) return `tone-${toneOf(who[0])}`;
  return "tone-both";
}

/** Shows who writes a field and, to a writer who cannot now, why not. */
function showWriters(badge: HTMLElement, why: HTMLElement, ctx: RoomCtx, who: Role[], verdict: { ok: boolean; why?: string }): void {
  setText(badge, who.length ? writerLabel(ctx, who) : "Opens once the roles are chosen");
  badge.className = `writer-badge ${toneClass(who)}`;
  setText(why, !verdict.ok && who.includes(ctx.me.role) ? (verdict.why ?? "") : "");
}

/** An editor for one text key, with its writer label, read-only state, save state and hints. */
class EditorBox {
  el: HTMLElement;
  private wrap: HTMLElement;
  private badge: HTMLElement;
  private why: HTMLElement;
  private saved: HTMLElement;
  private foot: HTMLElement;
  private hints: HTMLElement;
  private handle: EditorHandle | null = null;
  private missing: HTMLElement;
  private lastHintText = "";

  constructor(
    private ctx: RoomCtx,
    readonly key: string,
    private field: FieldDef,
    private stage: StageDef,
    private opts: { caption?: string; emptyText?: string } = {},
  ) {
    this.badge = h("span", { class: "writer-badge" });
    this.wrap = h("div", { class: "editor-wrap", "data-testid": `field-${key}` });
    this.why = h("span", { class: "why" });
    this.saved = h("span", { class: "saved", "data-testid": `saved-${key}` });
    this.hints = h("div", { class: "hints", "aria-live": "polite" });
    this.missing = h("p", { class: "muted placeholder-note" });
    this.foot = h("div", { class: "field-foot" }, this.why, this.saved);
    this.el = h(
      "div",
      { class: "editor-box" },
      h("div", { class: "editor-head" }, opts.caption ? h("span", { class: "caption" }, opts.caption) : null, this.badge),
      this.wrap,
      this.missing,
      this.foot,
      this.hints,
    );
    this.update();
  }

  update(): void {
    const ctx = this.ctx;
    const s = ctx.sync(this.key);
    const readable = !!s && s.readable;
    if (readable && !this.handle) {
      this.handle = ctx.mountEditor(this.key, this.field, this.wrap);
    } else if (!readable && this.handle) {
      this.handle.destroy();
      this.handle = null;
    }
    setHidden(this.wrap, !readable);
    setHidden(this.missing, readable);
    setText(this.missing, this.opts.emptyText ?? "Not visible yet.");

    const who = this.field.kind === "reveal" ? [this.key.slice(this.field.id.length + 1) as Role] : writers(this.field.owner, ctx.room);
    const verdict = ctx.canWriteKey(this.key, this.field, this.stage);
    showWriters(this.badge, this.why, ctx, who, verdict);
    toggleClass(this.wrap, "readonly", !verdict.ok);
    // The foot only ever speaks to a writer of this field: no empty gap for the others.
    setHidden(this.foot, !who.includes(ctx.me.role));

    // Save state: "Saved" only once the server echoed everything back.
    let savedText = "";
    let savedCls = "saved";
    if (s && readable && who.includes(ctx.me.role)) {
      const unsent = s.unsent;
      if (s.error && unsent) {
        savedText = `Not saved yet — ${friendlyError(s.error.code, s.error.message)}`;
        savedCls = "saved warn";
      } else if (s.saved) {
        savedText = s.version === 0 && !s.text ? "" : "Saved";
        savedCls = "saved ok";
      } else if (ctx.status !== "connected") {
        savedText = unsent ? "Kept safely on this device — it will be sent when you're back online" : "Offline";
        savedCls = "saved warn";
      } else {
        savedText = "Saving…";
      }
    }
    if (!savedText) savedCls = "saved";
    setText(this.saved, savedText);
    if (this.saved.className !== savedCls) this.saved.className = savedCls;

    // Justification hints for the writer and the therapist.
    if (this.field.hints?.length && s && (who.includes(ctx.me.role) || ctx.me.role === "moderator")) {
      const text = s.text;
      if (text !== this.lastHintText) {
        this.lastHintText = text;
        const matches = matchHints(text, this.field.hints);
        replaceChildren(this.hints, ...matches.map((m) => h("p", { class: "hint" }, m.message)));
      }
    }
  }

  destroy(): void {
    this.handle?.destroy();
    this.handle = null;
  }
}

function fieldHeader(f: FieldDef): HTMLElement[] {
  // h2: fields sit under the stage's h1, so heading levels stay in order.
  return [h("h2", { class: "field-label", id: `label-${f.id}` }, f.label), f.prompt ? h("p", { class: "prompt" }, f.prompt) : (null as never)].filter(Boolean);
}

/** The version a sign-off or mirror mark must carry to still count. */
function currentVersion(ctx: RoomCtx, key: string): number {
  const s = ctx.sync(key);
  return s ? Math.max(s.version, s.known) : 0;
}

// ---- text, agreement, mirror ----

class TextCard implements Card {
  el: HTMLElement;
  keys: string[];
  private box: EditorBox;
  private extra: HTMLElement;
  private signBtn: HTMLButtonElement | null = null;
  private signList: HTMLElement | null = null;
  private mirrorStatus: HTMLElement | null = null;
  private mirrorBtns: HTMLElement | null = null;

  constructor(
    private ctx: RoomCtx,
    private field: FieldDef,
    private stage: StageDef,
    private readOnlyView: boolean,
  ) {
    this.keys = [field.id];
    this.box = new EditorBox(ctx, field.id, field, stage);
    this.extra = h("div", { class: "field-extra" });
    this.el = h("section", { class: `card field kind-${field.kind}`, "data-testid": `fieldcard-${field.id}`, "aria-label": regionName(ctx, field) }, ...fieldHeader(field), this.box.el, this.extra);
    if (field.kind === "agreement") this.buildSigns();
    if (field.kind === "mirror") this.buildMirror();
    this.update();
  }

  private buildSigns(): void {
    this.signList = h("ul", { class: "signs", "data-testid": `signs-${this.field.id}`, "aria-label": "Sign-offs" });
    const note = h("p", { class: "muted small" }, "When you both agree with the words above, sign. Any later change to the text clears both signatures.");
    if (isPartner(this.ctx.me.role) && !this.readOnlyView) {
      this.signBtn = h("button", { class: "btn primary", type: "button", "data-testid": `sign-${this.field.id}` });
      this.signBtn.addEventListener("click", () => this.toggleSign());
    }
    this.extra.append(this.signList, note, this.signBtn ?? "");
  }

  private validMark(m: { version: number } | undefined): boolean {
    return markCounts(m, currentVersion(this.ctx, this.field.id));
  }

  private async toggleSign(): Promise<void> {
    const me = this.ctx.me.role as PartnerRole;
    const mark = this.ctx.room.signs?.[this.field.id]?.[me];
    const signed = this.validMark(mark);
    const s = this.ctx.sync(this.field.id);
    const version = s ? s.version : 0;
    await runAct(this.ctx, this.signBtn, signed ? "unsign" : "sign", { field: this.field.id, version });
    this.update();
  }

  private buildMirror(): void {
    this.mirrorStatus = h("p", { class: "mirror-status", "aria-live": "polite" });
    this.mirrorBtns = h("div", { class: "row" });
    const yes = h("button", { class: "btn primary", type: "button", "data-testid": `mirror-yes-${this.field.id}` }, "Yes, that's it");
    const again = h("button", { class: "btn", type: "button", "data-testid": `mirror-again-${this.field.id}` }, "Not quite — try again");
    yes.addEventListener("click", () => this.confirm(yes, "yes"));
    again.addEventListener("click", () => this.confirm(again, "again"));
    this.mirrorBtns.append(yes, again);
    this.extra.append(this.mirrorStatus, this.mirrorBtns);
  }

  private async confirm(btn: HTMLButtonElement, status: "yes" | "again"): Promise<void> {
    const s = this.ctx.sync(this.field.id);
    await runAct(this.ctx, btn, "mirror.confirm", { field: this.field.id, version: s ? s.version : 0, status });
    this.update();
  }

  update(): void {
    this.box.update();
    const ctx = this.ctx;
    const s = ctx.sync(this.field.id);
    const hasText = !!s && s.text.trim().length > 0;
    if (this.signList) {
      const signs = ctx.room.signs?.[this.field.id] ?? {};
      replaceChildren(
        this.signList,
        ...PARTNERS.map((p) => {
          const m = signs[p];
          const ok = this.validMark(m);
          return h(
            "li",
            { class: `sign ${ok ? "signed" : ""} tone-${toneOf(p)}` },
            h("span", { class: "sign-mark", "aria-hidden": "true" }, ok ? "✓" : "○"),
            ok ? `${ctx.name(p)} signed at ${clockTime(m!.at)}` : m ? `${ctx.name(p)} signed an earlier version — the text changed since` : `${ctx.name(p)} has not signed yet`,
          );
        }),
      );
      if (this.signBtn) {
        const mine = this.validMark(signs[ctx.me.role as PartnerRole]);
        setText(this.signBtn, mine ? "Withdraw my signature" : "I agree — sign");
        this.signBtn.className = mine ? "btn" : "btn primary";
        this.signBtn.setAttribute("aria-pressed", String(mine));
        const synced = !!s && s.saved;
        const blocked = !!ctx.room.ended || ctx.status !== "connected" || (!mine && (!hasText || !synced)) || ctx.room.stage !== this.stage.id;
        this.signBtn.disabled = blocked;
        this.signBtn.title = !hasText ? "Write the agreement first" : !synced ? "Wait until the text is saved" : "";
      }
    }
    if (this.mirrorStatus && this.mirrorBtns) {
      const speaker = this.field.speaker ? writers(this.field.speaker, ctx.room) : [];
      const mark = ctx.room.mirrors?.[this.field.id];
      const valid = this.validMark(mark);
      const spk = speaker[0];
      let text = "";
      if (valid && mark!.status === "yes") text = `${ctx.name(mark!.by as Role)} confirmed: “that's it.”`;
      else if (valid && mark!.status === "again") text = `${ctx.name(mark!.by as Role)} asked to try again. Is there more they'd like to say?`;
      else if (spk && hasText) text = spk === ctx.me.role ? "Is this what you meant? Let them know." : `Waiting for ${ctx.name(spk)} to say whether this is what they meant.`;
      else if (spk) text = `${ctx.name(spk)} will confirm when the words feel right.`;
      setText(this.mirrorStatus, text);
      this.mirrorStatus.className = `mirror-status ${valid ? `is-${mark!.status}` : ""}`;
      const canConfirm = !!spk && spk === ctx.me.role && !this.readOnlyView;
      setHidden(this.mirrorBtns, !canConfirm);
      const enabled = canConfirm && hasText && !!s?.saved && !ctx.room.ended && ctx.room.stage === this.stage.id;
      for (const b of Array.from(this.mirrorBtns.querySelectorAll("button"))) (b as HTMLButtonElement).disabled = !enabled;
    }
  }

  destroy(): void {
    this.box.destroy();
  }
}

// ---- reveal ----

class RevealCard implements Card {
  el: HTMLElement;
  keys: string[];
  private boxes: EditorBox[] = [];
  private notes = new Map<PartnerRole, HTMLElement>();
  private btn: HTMLButtonElement | null = null;

  constructor(
    private ctx: RoomCtx,
    private field: FieldDef,
    private stage: StageDef,
    readOnlyView: boolean,
  ) {
    this.keys = PARTNERS.map((p) => `${field.id}.${p}`);
    const me = ctx.me.role;
    const order: PartnerRole[] = isPartner(me) ? [me, otherPartner(me)] : [...PARTNERS];
    const cols = h("div", { class: "reveal-cols" });
    for (const p of order) {
      const key = `${field.id}.${p}`;
      const mine = p === me;
      const box = new EditorBox(ctx, key, field, stage, {
        caption: mine ? "Your answer" : `${ctx.name(p)}'s answer`,
        emptyText: `${ctx.name(p)}'s answer appears here once they reveal it.`,
      });
      this.boxes.push(box);
      const note = h("p", { class: "reveal-note muted small" });
      this.notes.set(p, note);
      const col = h("div", { class: `reveal-col tone-${toneOf(p)}` }, box.el, note);
      if (mine && !readOnlyView) {
        this.btn = h("button", { class: "btn primary", type: "button", "data-testid": `reveal-${field.id}` }, "Reveal my answer");
        this.btn.addEventListener("click", () => this.reveal());
        col.append(this.btn);
      }
      cols.append(col);
    }
    this.el = h("section", { class: "card field kind-reveal", "data-testid": `fieldcard-${field.id}`, "aria-labelledby": `label-${field.id}` }, ...fieldHeader(field), cols);
    this.update();
  }

  private async reveal(): Promise<void> {
    if (!window.confirm("Reveal your answer? Your partner will be able to read it.")) return;
    await runAct(this.ctx, this.btn, "reveal", { field: this.field.id });
    this.update();
  }

  update(): void {
    const ctx = this.ctx;
    for (const b of this.boxes) b.update();
    for (const [p, note] of this.notes) {
      const revealed = ctx.room.revealed?.[`${this.field.id}.${p}`] === true;
      if (p === ctx.me.role) setText(note, revealed ? "You revealed your answer. It stays here for both of you." : "Only you can see this until you reveal it.");
      else setText(note, revealed ? `${ctx.name(p)} revealed their answer.` : `${ctx.name(p)} has not revealed their answer yet.`);
    }
    if (this.btn) {
      const mine = ctx.room.revealed?.[`${this.field.id}.${ctx.me.role}`] === true;
      const s = ctx.sync(`${this.field.id}.${ctx.me.role}`);
      setHidden(this.btn, mine);
      this.btn.disabled = !s || !s.text.trim() || !s.saved || !!ctx.room.ended || ctx.room.stage !== this.stage.id;
    }
  }

  destroy(): void {
    for (const b of this.boxes) b.destroy();
  }
}

// ---- scale and choice ----

/**
 * A radio group: one tab stop, arrow keys move and choose (as a native
 * radio group does), Home/End jump to the ends. `pick` sends the choice;
 * the checked state follows the room (set).
 */
class RadioGroup {
  el: HTMLElement;
  private radios: HTMLButtonElement[] = [];

  constructor(
    labelledBy: string,
    testid: string,
    cls: string,
    options: { value: string; text: string; testid?: string }[],
    private pick: (value: string) => void,
  ) {
    this.el = h("div", { class: cls, role: "radiogroup", "aria-labelledby": labelledBy, "data-testid": testid });
    for (const o of options) {
      const b = h("button", { class: cls === "scale" ? "scale-btn" : "chip", type: "button", role: "radio", "aria-checked": "false", tabindex: "-1", "data-value": o.value, "data-testid": o.testid ?? "" }, o.text);
      if (cls !== "scale") b.dataset.option = o.value;
      b.addEventListener("click", () => this.pick(o.value));
      b.addEventListener("keydown", (e) => this.key(e, b));
      this.radios.push(b);
      this.el.append(b);
    }
  }

  private key(e: KeyboardEvent, b: HTMLButtonElement): void {
    const i = this.radios.indexOf(b);
    const n = this.radios.length;
    let j = -1;
    if (e.key === "ArrowRight" || e.key === "ArrowDown") j = (i + 1) % n;
    else if (e.key === "ArrowLeft" || e.key === "ArrowUp") j = (i - 1 + n) % n;
    else if (e.key === "Home") j = 0;
    else if (e.key === "End") j = n - 1;
    if (j < 0) return;
    e.preventDefault();
    const to = this.radios[j];
    if (to.disabled) return;
    this.radios.forEach((r) => r.setAttribute("tabindex", r === to ? "0" : "-1"));
    to.focus();
    this.pick(to.dataset.value ?? "");
  }

  set(checked: string | null, enabled: boolean): void {
    const focused = this.radios.find((r) => r === document.activeElement);
    const stop = this.radios.find((r) => r.dataset.value === checked) ?? focused ?? this.radios[0];
    for (const r of this.radios) {
      const on = r.dataset.value === checked;
      r.setAttribute("aria-checked", String(on));
      toggleClass(r, "on", on);
      r.disabled = !enabled;
      r.setAttribute("tabindex", r === stop ? "0" : "-1");
    }
  }
}

/** For a field the viewer may not read: "Sam answered." or "Sam has not answered yet." */
function privateNote(ctx: RoomCtx, field: FieldDef): string {
  const w = writers(field.owner, ctx.room).filter(isPartner)[0];
  const who = w ? ctx.name(w) : "Your partner";
  const seen = ctx.room.mode === "guided" ? "Only they and the therapist see the answer." : "Only they see the answer.";
  return ctx.room.answered?.[field.id] ? `${who} answered. ${seen}` : `${who} has not answered yet. ${seen}`;
}

/** The accessible name of a field's region: whose it is, then its label. */
export function regionName(ctx: RoomCtx, field: FieldDef): string {
  const w = whose(field.owner, ctx.room, ctx.me.role, (r) => ctx.name(r));
  return w ? `${w} answer: ${field.label}` : field.label;
}

/** Scale and single choice: a radio group; several choices: toggle buttons. */
class ValueCard implements Card {
  el: HTMLElement;
  keys: string[] = [];
  private radios: RadioGroup | null = null;
  private chips: HTMLButtonElement[] = [];
  private group: HTMLElement;
  private valueText: HTMLElement;
  private hiddenNote: HTMLElement;
  private badge: HTMLElement;
  private why: HTMLElement;

  constructor(
    private ctx: RoomCtx,
    private field: FieldDef,
    private stage: StageDef,
  ) {
    const labelId = `label-${field.id}`;
    if (field.kind === "scale") {
      const opts = [];
      for (let v = field.min ?? 0; v <= (field.max ?? 10); v++) opts.push({ value: String(v), text: String(v), testid: `scale-${field.id}-${v}` });
      this.radios = new RadioGroup(labelId, `scale-${field.id}`, "scale", opts, (v) => this.send(Number(v)));
      this.group = this.radios.el;
    } else if (!field.multi) {
      const opts = (field.options ?? []).map((o) => ({ value: o, text: o }));
      this.radios = new RadioGroup(labelId, `choice-${field.id}`, "chips", opts, (v) => this.send(v));
      this.group = this.radios.el;
    } else {
      this.group = h("div", { class: "chips", role: "group", "aria-labelledby": labelId, "data-testid": `choice-${field.id}` });
      for (const opt of field.options ?? []) {
        const b = h("button", { class: "chip", type: "button", "aria-pressed": "false" }, opt);
        b.dataset.option = opt;
        b.addEventListener("click", () => this.toggle(opt));
        this.chips.push(b);
        this.group.append(b);
      }
    }
    this.valueText = h("p", { class: "scale-value", "aria-live": "polite" });
    this.hiddenNote = h("p", { class: "private-note", "data-testid": `private-${field.id}` });
    this.badge = h("span", { class: "writer-badge" });
    this.why = h("span", { class: "why" });
    const ends = field.kind === "scale" ? h("div", { class: "scale-ends muted small", "aria-hidden": "true" }, h("span", null, String(field.min ?? 0)), h("span", null, String(field.max ?? 10))) : null;
    this.el = h(
      "section",
      { class: `card field kind-${field.kind}`, "data-testid": `fieldcard-${field.id}`, "aria-label": regionName(ctx, field) },
      h("div", { class: "editor-head" }, this.badge),
      ...fieldHeader(field),
      field.multi ? h("p", { class: "muted small" }, "Choose as many as fit.") : null,
      this.group,
      ends,
      this.valueText,
      this.hiddenNote,
      h("div", { class: "field-foot" }, this.why),
    );
    this.update();
  }

  private send(value: unknown): void {
    void runAct(this.ctx, null, "value.set", { field: this.field.id, value });
  }

  private selected(): string[] {
    const v = this.ctx.room.values?.[this.field.id];
    if (Array.isArray(v)) return v;
    if (typeof v === "string" && v) return [v];
    if (typeof v === "number") return [String(v)];
    return [];
  }

  private toggle(opt: string): void {
    const cur = this.selected();
    this.send(cur.includes(opt) ? cur.filter((x) => x !== opt) : [...cur, opt]);
  }

  update(): void {
    const ctx = this.ctx;
    const who = writers(this.field.owner, ctx.room);
    const verdict = ctx.canWriteKey(this.field.id, this.field, this.stage);
    const readable = canReadField(this.field, ctx.me.role, ctx.room);
    const sel = this.selected();
    setHidden(this.group, !readable);
    setHidden(this.hiddenNote, readable);
    if (!readable) setText(this.hiddenNote, privateNote(ctx, this.field));
    this.radios?.set(sel[0] ?? null, verdict.ok);
    for (const b of this.chips) {
      const on = sel.includes(b.dataset.option ?? "");
      b.setAttribute("aria-pressed", String(on));
      toggleClass(b, "on", on);
      b.disabled = !verdict.ok;
    }
    const privateToMe = readable && this.field.visibility === "owner" && ctx.me.role !== "moderator";
    const chosen = this.field.kind === "scale" ? (sel.length ? `Chosen: ${sel[0]}` : "Nothing chosen yet.") : "";
    setText(this.valueText, readable ? `${chosen}${privateToMe ? `${chosen ? " " : ""}${ctx.room.mode === "guided" ? "Only you and the therapist see your answer." : "Only you see your answer."}` : ""}` : "");
    showWriters(this.badge, this.why, ctx, who, verdict);
  }

  destroy(): void {}
}

// ---- questions ----

class QuestionsCard implements Card {
  el: HTMLElement;
  keys: string[] = [];
  private list: HTMLElement;
  private form: HTMLFormElement;
  private input: HTMLTextAreaElement;
  private items = new Map<string, { el: HTMLElement; answer?: HTMLTextAreaElement; sig: string }>();
  private intro: HTMLElement;

  constructor(
    private ctx: RoomCtx,
    private field: FieldDef,
    private stage: StageDef,
    private readOnlyView: boolean,
  ) {
    this.list = h("ol", { class: "questions", "data-testid": `questions-${field.id}`, "aria-live": "polite" });
    this.input = h("textarea", { rows: 2, maxlength: 2000, "aria-label": "Your question", placeholder: "Write one question…", "data-testid": `question-input-${field.id}` });
    const add = h("button", { class: "btn primary", type: "submit", "data-testid": `question-add-${field.id}` }, "Add question");
    this.form = h("form", { class: "question-form" }, this.input, add);
    this.form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const text = this.input.value.trim();
      if (!text) return;
      if (await runAct(ctx, add, "question.add", { field: field.id, text })) this.input.value = "";
    });
    this.intro = h("p", { class: "muted small" });
    this.el = h("section", { class: "card field kind-questions", "data-testid": `fieldcard-${field.id}`, "aria-labelledby": `label-${field.id}` }, ...fieldHeader(field), this.intro, this.list, this.form);
    this.update();
  }

  private roles(): { asker: Role[]; answerer: Role[] } {
    return { asker: writers(this.field.owner, this.ctx.room), answerer: this.field.answerer ? writers(this.field.answerer, this.ctx.room) : [] };
  }

  private live(): boolean {
    const r = this.ctx.room;
    return !this.readOnlyView && !r.ended && r.stage === this.stage.id && !(r.locked?.[this.stage.id] && this.ctx.me.role !== "moderator");
  }

  update(): void {
    const ctx = this.ctx;
    const { asker, answerer } = this.roles();
    const iAsk = asker.includes(ctx.me.role);
    const iAnswer = answerer.includes(ctx.me.role);
    setHidden(this.form, !(iAsk && this.live()));
    setText(
      this.intro,
      asker.length && answerer.length
        ? `${iAsk ? "You ask" : `${ctx.name(asker[0])} asks`}; ${iAnswer ? "you answer" : `${ctx.name(answerer[0])} answers`}, one question at a time. “Not now” is always allowed.`
        : "Questions open once the roles are chosen.",
    );
    const qs: Question[] = ctx.room.questions?.[this.field.id] ?? [];
    const seen = new Set<string>();
    let prev: Element | null = null;
    for (const q of qs) {
      seen.add(q.id);
      const sig = JSON.stringify([q.text, q.answer, q.status, iAsk, iAnswer, this.live()]);
      let item = this.items.get(q.id);
      if (!item || item.sig !== sig) {
        const fresh = this.renderItem(q, iAsk, iAnswer, item?.answer?.value);
        if (item) item.el.replaceWith(fresh.el);
        item = { ...fresh, sig };
        this.items.set(q.id, item);
      }
      const want: ChildNode | null = prev ? prev.nextSibling : this.list.firstChild;
      if (want !== item.el) this.list.insertBefore(item.el, want);
      prev = item.el;
    }
    for (const [id, item] of this.items) {
      if (!seen.has(id)) {
        item.el.remove();
        this.items.delete(id);
      }
    }
    if (!qs.length && !this.list.querySelector(".empty")) this.list.append(h("li", { class: "empty muted" }, "No questions yet."));
    if (qs.length) this.list.querySelector(".empty")?.remove();
  }

  private renderItem(q: Question, iAsk: boolean, iAnswer: boolean, draft?: string): { el: HTMLElement; answer?: HTMLTextAreaElement } {
    const ctx = this.ctx;
    const statusText = q.status === "answered" ? "Answered" : q.status === "notnow" ? "Not now" : "Waiting for an answer";
    const li = h("li", { class: `question status-${q.status}`, "data-testid": `question-${q.id}` }, h("p", { class: "q-text" }, q.text), h("span", { class: "q-status small" }, statusText));
    if (q.answer) li.append(h("p", { class: "q-answer" }, q.answer));
    let answer: HTMLTextAreaElement | undefined;
    if (this.live()) {
      const row = h("div", { class: "row" });
      if (iAnswer && q.status === "open") {
        answer = h("textarea", { rows: 2, maxlength: 8000, "aria-label": `Answer to: ${q.text}`, "data-testid": `answer-input-${q.id}` });
        if (draft) answer.value = draft;
        const send = h("button", { class: "btn primary", type: "button", "data-testid": `answer-${q.id}` }, "Answer");
        send.addEventListener("click", () => {
          const text = answer!.value.trim();
          if (text) void runAct(ctx, send, "question.answer", { field: this.field.id, item: q.id, text });
        });
        li.append(answer);
        row.append(send);
      }
      if ((iAnswer || iAsk) && q.status === "open") {
        const later = h("button", { class: "btn", type: "button", "data-testid": `notnow-${q.id}` }, "Not now");
        later.addEventListener("click", () => runAct(ctx, later, "question.status", { field: this.field.id, item: q.id, status: "notnow" }));
        row.append(later);
      }
      if ((iAnswer || iAsk) && q.status === "notnow") {
        const reopen = h("button", { class: "btn", type: "button", "data-testid": `reopen-${q.id}` }, "Ask again");
        reopen.addEventListener("click", () => runAct(ctx, reopen, "question.status", { field: this.field.id, item: q.id, status: "open" }));
        row.append(reopen);
      }
      if (row.childNodes.length) li.append(row);
    }
    return { el: li, answer };
  }

  destroy(): void {}
}

/** Builds the card for one field. `readOnlyView`: a stage that is not the current one. */
export function buildCard(ctx: RoomCtx, field: FieldDef, stage: StageDef, readOnlyView: boolean): Card {
  switch (field.kind) {
    case "text":
    case "agreement":
    case "mirror":
      return new TextCard(ctx, field, stage, readOnlyView);
    case "reveal":
      return new RevealCard(ctx, field, stage, readOnlyView);
    case "scale":
    case "choice":
      return new ValueCard(ctx, field, stage);
    case "questions":
      return new QuestionsCard(ctx, field, stage, readOnlyView);
    case "checkins":
    case "milestones":
      return buildPlanCard(ctx, field, stage); // checkins.ts
    default: {
      const el = h("section", { class: "card field" }, ...fieldHeader(field), h("p", { class: "muted" }, "This kind of field is not supported by this page yet."));
      return { el, keys: [], update() {}, destroy() {} };
    }
  }
}

/** Text editor for a moderator-owned key (private notes), outside the stage column. */
export function buildNotesBox(ctx: RoomCtx, field: FieldDef, stage: StageDef): Card {
  const box = new EditorBox(ctx, field.id, field, stage);
  const el = h("div", { class: "notes-field" }, h("h4", { id: `label-${field.id}` }, field.label), field.prompt ? h("p", { class: "prompt small" }, field.prompt) : null, box.el);
  return { el, keys: [field.id], update: () => box.update(), destroy: () => box.destroy() };
}

/**
 * A partner's private line to the therapist: an editor outside the stage
 * column, so it is there in every stage. `heading` names whose line it is.
 */
export function buildPrivateLine(ctx: RoomCtx, field: FieldDef, stage: StageDef, heading: string, testid: string, level: "h2" | "h4"): Card {
  const box = new EditorBox(ctx, field.id, field, stage, { emptyText: "Nothing written yet." });
  const id = `label-${field.id}`;
  const el = h(
    "section",
    { class: "private-line", "aria-labelledby": id, "data-testid": testid },
    h(level, { id }, heading),
    field.prompt && ctx.me.role !== "moderator" ? h("p", { class: "prompt small" }, field.prompt) : null,
    box.el,
  );
  return { el, keys: [field.id], update: () => box.update(), destroy: () => box.destroy() };
}
