// The plan's dated lists: check-ins (a date and time with its offset, an
// optional title) and milestones (a title, an optional date, reached by
// whom and when). The server validates and stores the whole list; a card
// sends the list it wants with value.set and shows what the room holds.

import { h, replaceChildren, setHidden, setText } from "../dom";
import type { FieldDef, StageDef } from "../types";
import type { RoomCtx } from "./app";
import type { Card } from "./fields";
import { runAct } from "./fields";
import { canReadField, writers } from "../perm";
import { downloadCalendar, storedToken } from "../summary/download";

export interface Checkin {
  id?: string;
  at: string;
  title?: string;
}

export interface Milestone {
  id?: string;
  title: string;
  date?: string;
  reached?: { by: string; at: string } | boolean | null;
}

/** The room's limits on a plan list (internal/room/checkins.go). */
export const MAX_PLAN_ENTRIES = 52;
export const MAX_PLAN_TITLE = 200;

const pad = (n: number) => String(n).padStart(2, "0");

/**
 * An RFC 3339 date-time with the offset the browser's zone has at that
 * moment, from an <input type="datetime-local"> value ("2026-05-12T20:00").
 * "" when the value is not a date and time.
 */
export function localToRFC3339(value: string, offsetMinutes?: number): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!m) return "";
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
  if (isNaN(d.getTime())) return "";
  const off = offsetMinutes ?? -d.getTimezoneOffset();
  const sign = off < 0 ? "-" : "+";
  const abs = Math.abs(off);
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:00${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** "Sunday 12 May 2026, 20:00 (UTC+02:00)": the time as planned, with its offset. */
export function plannedTime(at: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::\d{2})?(Z|[+-]\d{2}:\d{2})$/.exec(at);
  if (!m) return at;
  // The wall-clock time the couple chose, shown in its own offset (not
  // converted), so both read the same words.
  const wall = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5])));
  const day = wall.toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" });
  const off = m[6] === "Z" ? "+00:00" : m[6];
  return `${day}, ${m[4]}:${m[5]} (UTC${off})`;
}

function list<T>(ctx: RoomCtx, field: FieldDef): T[] {
  const v = ctx.room.values?.[field.id] as unknown;
  return Array.isArray(v) ? (v as T[]) : [];
}

/** One card for a checkins or milestones field. */
class PlanListCard implements Card {
  el: HTMLElement;
  keys: string[] = [];
  private listEl: HTMLElement;
  private form: HTMLFormElement;
  private empty: HTMLElement;
  private why: HTMLElement;
  private calendarBtn: HTMLButtonElement | null = null;
  private sig = "";

  constructor(
    private ctx: RoomCtx,
    private field: FieldDef,
    private stage: StageDef,
  ) {
    const checkins = field.kind === "checkins";
    this.listEl = h("ul", { class: "plan-list", "data-testid": `planlist-${field.id}` });
    this.empty = h("p", { class: "muted small" }, checkins ? "No check-ins planned yet." : "No milestones yet.");
    this.why = h("span", { class: "why" });
    this.form = checkins ? this.checkinForm() : this.milestoneForm();
    const foot = h("div", { class: "field-foot" }, this.why);
    if (checkins) {
      this.calendarBtn = h("button", { class: "btn soft", type: "button", "data-testid": `calendar-${field.id}` }, "Add to calendar (.ics)");
      this.calendarBtn.addEventListener("click", () => void this.calendar());
      foot.prepend(this.calendarBtn);
    }
    this.el = h(
      "section",
      { class: `card field kind-${field.kind}`, "data-testid": `fieldcard-${field.id}`, "aria-labelledby": `label-${field.id}` },
      h("h3", { class: "field-label", id: `label-${field.id}` }, field.label),
      field.prompt ? h("p", { class: "prompt" }, field.prompt) : null,
      this.listEl,
      this.empty,
      this.form,
      foot,
    );
    this.update();
  }

  private checkinForm(): HTMLFormElement {
    const id = `add-${this.field.id}`;
    const when = h("input", { type: "datetime-local", id: `${id}-at`, required: true, "data-testid": `checkin-at-${this.field.id}` });
    const title = h("input", { type: "text", id: `${id}-title`, maxlength: MAX_PLAN_TITLE, placeholder: "e.g. Sunday walk and talk", "data-testid": `checkin-title-${this.field.id}` });
    const btn = h("button", { class: "btn", type: "submit", "data-testid": `checkin-add-${this.field.id}` }, "Add check-in");
    const form = h("form", { class: "plan-form" }, h("label", { for: when.id }, "Date and time"), when, h("label", { for: title.id }, "Title (optional)"), title, btn);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const at = localToRFC3339(when.value);
      if (!at) {
        this.ctx.toast("Choose a date and a time.");
        return;
      }
      const next = [...list<Checkin>(this.ctx, this.field), { at, title: title.value.trim() }];
      if (await runAct(this.ctx, btn, "value.set", { field: this.field.id, value: next })) {
        when.value = "";
        title.value = "";
      }
    });
    return form;
  }

  private milestoneForm(): HTMLFormElement {
    const id = `add-${this.field.id}`;
    const title = h("input", { type: "text", id: `${id}-title`, required: true, maxlength: MAX_PLAN_TITLE, placeholder: "e.g. One month of Sunday talks", "data-testid": `milestone-title-${this.field.id}` });
    const date = h("input", { type: "date", id: `${id}-date`, "data-testid": `milestone-date-${this.field.id}` });
    const btn = h("button", { class: "btn", type: "submit", "data-testid": `milestone-add-${this.field.id}` }, "Add milestone");
    const form = h("form", { class: "plan-form" }, h("label", { for: title.id }, "Milestone"), title, h("label", { for: date.id }, "Date (optional)"), date, btn);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!title.value.trim()) return;
      const next = [...list<Milestone>(this.ctx, this.field), { title: title.value.trim(), date: date.value || undefined }];
      if (await runAct(this.ctx, btn, "value.set", { field: this.field.id, value: next })) {
        title.value = "";
        date.value = "";
      }
    });
    return form;
  }

  private async calendar(): Promise<void> {
    const tok = storedToken(this.ctx.roomID);
    if (!tok) {
      this.ctx.toast("Open the room with your personal link to download the calendar.");
      return;
    }
    const err = await downloadCalendar(this.ctx.roomID, tok);
    if (err) this.ctx.toast(err);
  }

  private send(value: unknown[], btn: HTMLButtonElement): void {
    void runAct(this.ctx, btn, "value.set", { field: this.field.id, value });
  }

  update(): void {
    const ctx = this.ctx;
    const verdict = ctx.canWriteKey(this.field.id, this.field, this.stage);
    const readable = canReadField(this.field, ctx.me.role, ctx.room);
    const entries = readable ? list<Checkin & Milestone>(ctx, this.field) : [];
    setHidden(this.form, !verdict.ok);
    setHidden(this.empty, entries.length > 0);
    if (this.calendarBtn) setHidden(this.calendarBtn, entries.length === 0);
    setText(this.why, !verdict.ok && writers(this.field.owner, ctx.room).includes(ctx.me.role) ? (verdict.why ?? "") : "");
    const sig = JSON.stringify([entries, verdict.ok]);
    if (sig === this.sig) return;
    this.sig = sig;
    replaceChildren(this.listEl, ...entries.map((e, i) => this.item(e, i, entries, verdict.ok)));
  }

  private item(e: Checkin & Milestone, i: number, all: (Checkin & Milestone)[], writable: boolean): HTMLElement {
    const without = () => all.filter((_, j) => j !== i);
    const remove = h("button", { class: "btn quiet small", type: "button", "aria-label": `Remove ${e.title || "this check-in"}` }, "Remove");
    remove.addEventListener("click", () => this.send(without(), remove));
    if (this.field.kind === "checkins") {
      return h("li", { class: "plan-item", "data-testid": "plan-item" }, h("span", { class: "plan-when" }, plannedTime(e.at)), e.title ? h("span", { class: "plan-title" }, ` — ${e.title}`) : null, writable ? remove : null);
    }
    const reached = e.reached && typeof e.reached === "object" ? e.reached : null;
    const box = h("input", { type: "checkbox", id: `ms-${this.field.id}-${i}`, "data-testid": "milestone-reached" }) as HTMLInputElement;
    box.checked = !!reached;
    box.disabled = !writable;
    box.addEventListener("change", () => {
      const next = all.map((m, j) => (j === i ? { ...m, reached: box.checked } : m));
      void runAct(this.ctx, null, "value.set", { field: this.field.id, value: next });
    });
    const note = reached ? ` — reached, marked by ${this.ctx.name(reached.by as never)} on ${new Date(reached.at).toLocaleDateString(undefined, { day: "numeric", month: "long", year: "numeric" })}` : "";
    return h("li", { class: "plan-item", "data-testid": "plan-item" }, box, h("label", { for: box.id }, e.title, e.date ? ` (${e.date})` : "", note), writable ? remove : null);
  }

  destroy(): void {}
}

/** Builds the card of a checkins or milestones field (dispatched from fields.ts). */
export function buildPlanCard(ctx: RoomCtx, field: FieldDef, stage: StageDef): Card {
  return new PlanListCard(ctx, field, stage);
}
