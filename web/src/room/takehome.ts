// The room's "take home" line: a link to the summary page, until when the
// room is kept, and, once the conversation has ended, a reminder to
// download the summary before then.

import { h, setHidden, setText } from "../dom";
import type { RoomCtx } from "./app";
import { fetchWithToken, storedToken } from "../summary/download";
import { dayOf } from "../summary/page";

export class TakeHome {
  el: HTMLElement;
  private kept: HTMLElement;
  private keptUntil = "";
  private endedSeen = false;

  constructor(private ctx: RoomCtx) {
    const link = h("a", { class: "btn soft small", href: `/r/${encodeURIComponent(ctx.roomID)}/summary`, "data-testid": "open-summary" }, "Summary and downloads");
    this.kept = h("span", { class: "muted small", "data-testid": "kept-until" });
    this.el = h("div", { class: "banner calm takehome" }, link, this.kept);
    void this.load();
  }

  private async load(): Promise<void> {
    const tok = storedToken(this.ctx.roomID);
    if (!tok) return;
    try {
      const r = await fetchWithToken(`/api/rooms/${encodeURIComponent(this.ctx.roomID)}/retention`, tok);
      if (!r.ok) return;
      this.keptUntil = ((await r.json()) as { keptUntil?: string }).keptUntil ?? "";
    } catch {
      return;
    }
    this.update();
  }

  update(): void {
    const ended = !!this.ctx.room.ended;
    if (ended && !this.endedSeen) {
      this.endedSeen = true;
      void this.load(); // the end was a write: the room is kept from now
    }
    const day = dayOf(this.keptUntil);
    setHidden(this.kept, !day);
    setText(this.kept, !day ? "" : ended ? `This room is kept until ${day}. Download your summary before then.` : `This room is kept until ${day}.`);
  }
}
