// The room's "take home" line: a link to the summary page, until when the
// room is kept and, once the conversation has ended, a reminder to
// download the summary before then. The moderator (both partners in a
// self-guided room) can keep it shorter or longer, within the server's
// limit (GET/POST /api/rooms/{id}/retention).

import { h, setHidden, setText } from "../dom";
import type { RoomCtx } from "./app";
import { fetchWithToken, storedToken } from "../summary/download";
import { dayOf } from "../summary/page";

interface Retention {
  keptUntil?: string;
  linkExpires?: string;
  mayChange?: boolean;
  maxDays?: number;
}

/** The choices of how long to keep a room, in days, within maxDays. */
export function retentionChoices(maxDays: number): number[] {
  return [1, 7, 14, 30, 60, 90, 180, 365].filter((d) => d <= maxDays);
}

export class TakeHome {
  el: HTMLElement;
  private kept: HTMLElement;
  private form: HTMLFormElement;
  private select: HTMLSelectElement;
  private info: Retention = {};
  private endedSeen = false;

  constructor(private ctx: RoomCtx) {
    const link = h("a", { class: "btn soft small", href: `/r/${encodeURIComponent(ctx.roomID)}/summary`, "data-testid": "open-summary" }, "Summary and downloads");
    this.kept = h("span", { class: "muted small", "data-testid": "kept-until" });
    this.select = h("select", { id: "retention-days", "data-testid": "retention-days" });
    const btn = h("button", { class: "btn quiet small", type: "submit", "data-testid": "retention-set" }, "Change");
    this.form = h("form", { class: "retention-form", hidden: true }, h("label", { for: "retention-days", class: "small" }, "Keep it for"), this.select, btn);
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.change(Number(this.select.value), btn);
    });
    this.el = h("div", { class: "banner calm takehome" }, link, this.kept, this.form);
    void this.load();
  }

  private async load(): Promise<void> {
    const tok = storedToken(this.ctx.roomID);
    if (!tok) return;
    try {
      const r = await fetchWithToken(`/api/rooms/${encodeURIComponent(this.ctx.roomID)}/retention`, tok);
      if (!r.ok) return;
      this.info = (await r.json()) as Retention;
    } catch {
      return;
    }
    this.fillChoices();
    this.update();
  }

  private fillChoices(): void {
    if (this.select.options.length || !this.info.maxDays) return;
    for (const d of retentionChoices(this.info.maxDays)) this.select.append(h("option", { value: String(d) }, d === 1 ? "1 day" : `${d} days`));
    this.select.value = String(retentionChoices(this.info.maxDays).includes(30) ? 30 : this.info.maxDays);
  }

  private async change(days: number, btn: HTMLButtonElement): Promise<void> {
    const tok = storedToken(this.ctx.roomID);
    if (!tok) return;
    btn.disabled = true;
    try {
      const r = await fetch(`/api/rooms/${encodeURIComponent(this.ctx.roomID)}/retention`, {
        method: "POST",
        headers: { Authorization: `Bearer ${tok}`, "Content-Type": "application/json" },
        body: JSON.stringify({ days }),
      });
      const body = (await r.json().catch(() => ({}))) as Retention & { message?: string };
      if (!r.ok) {
        this.ctx.toast(body.message ?? "The room's retention could not be changed. Try again.");
        return;
      }
      this.info = body;
      this.update();
      this.ctx.toast(`The room is now kept until ${dayOf(body.keptUntil)}.`);
    } catch {
      this.ctx.toast("The server could not be reached. Try again in a moment.");
    } finally {
      btn.disabled = false;
    }
  }

  update(): void {
    const ended = !!this.ctx.room.ended;
    if (ended && !this.endedSeen) {
      this.endedSeen = true;
      void this.load(); // the end was a write: the room is kept from now
    }
    const day = dayOf(this.info.keptUntil);
    setHidden(this.kept, !day);
    setHidden(this.form, !this.info.mayChange);
    // A link that stops working before the room is deleted closes the room
    // to its holder earlier: say so, the earlier date is the one that counts.
    const link = this.info.linkExpires && this.info.keptUntil && new Date(this.info.linkExpires) < new Date(this.info.keptUntil) ? ` Your link works until ${dayOf(this.info.linkExpires)}.` : "";
    setText(this.kept, !day ? "" : ended ? `This room is kept until ${day}.${link} Download your summary before then.` : `This room is kept until ${day}.${link}`);
  }
}
