// The therapist's panel: stage navigation, pause (lock), floor, breaks,
// roles, private notes, ending and deleting the room.

import { h, replaceChildren, setHidden, setText, toggleClass } from "../dom";
import type { PartnerRole, Role } from "../types";
import { PARTNERS, textKeys } from "../types";
import type { RoomCtx } from "./app";
import { toneOf } from "./app";
import { buildNotesBox, Card, runAct } from "./fields";
import { assignRoles, onBreak } from "../perm";
import { clockTime } from "../format";

export class ModPanel {
  el: HTMLElement;
  private stageNow: HTMLElement;
  private prev: HTMLButtonElement;
  private next: HTMLButtonElement;
  private lock: HTMLButtonElement;
  private floorBtns: Record<string, HTMLButtonElement> = {};
  private breakStart: HTMLButtonElement;
  private breakEnd: HTMLButtonElement;
  private breakForm: HTMLElement;
  private breakState: HTMLElement;
  private minutes: HTMLInputElement;
  private reason: HTMLInputElement;
  private request: HTMLElement;
  /** The break-request alert; the view shows it over the page so it is never scrolled away. */
  readonly alert: HTMLElement;
  private dismissedRequest = "";
  private rolesBox: HTMLElement | null = null;
  private notes: Card[] = [];
  private endBtn: HTMLButtonElement;
  private readyLine: HTMLElement;

  constructor(
    private ctx: RoomCtx,
    private show: (stageId: string) => void,
    private viewed: () => string,
  ) {
    const t = ctx.template;
    // Break request alert
    this.request = h("div", { class: "alert-box floating-alert", role: "alert", hidden: true, "data-testid": "mod-break-request" });
    this.alert = this.request;

    // Stage
    this.stageNow = h("p", { class: "now" });
    this.prev = h("button", { class: "btn", type: "button", "data-testid": "mod-stage-prev" }, "← Previous");
    this.next = h("button", { class: "btn primary", type: "button", "data-testid": "mod-stage-next" }, "Next stage →");
    this.prev.addEventListener("click", () => this.step(-1));
    this.next.addEventListener("click", () => this.step(1));
    this.lock = h("button", { class: "btn", type: "button", "data-testid": "mod-lock", "aria-pressed": "false" });
    this.lock.addEventListener("click", () => {
      const st = ctx.room.stage;
      void runAct(ctx, this.lock, "stage.lock", { stage: st, locked: !ctx.room.locked?.[st] });
    });
    this.readyLine = h("p", { class: "muted small" });

    // Floor
    const floorRow = h("div", { class: "row", role: "group", "aria-label": "Who has the floor" });
    const floorOpts: [string, string][] = [
      ["partner_a", "mod-floor-a"],
      ["partner_b", "mod-floor-b"],
      ["", "mod-floor-none"],
    ];
    for (const [role, id] of floorOpts) {
      const b = h("button", { class: `btn ${role ? `tone-${toneOf(role as Role)}` : ""}`, type: "button", "data-testid": id, "aria-pressed": "false" });
      b.addEventListener("click", () => runAct(ctx, b, "floor.give", { role }));
      this.floorBtns[role] = b;
      floorRow.append(b);
    }

    // Break
    this.minutes = h("input", { type: "number", min: 20, max: 1440, step: 5, value: 20, id: "mod-break-minutes", "data-testid": "mod-break-minutes" });
    this.reason = h("input", { type: "text", maxlength: 200, id: "mod-break-reason", placeholder: "optional", "data-testid": "mod-break-reason" });
    this.breakStart = h("button", { class: "btn primary", type: "button", "data-testid": "mod-break" }, "Start a break");
    this.breakStart.addEventListener("click", () => this.startBreak(this.breakStart, Number(this.minutes.value) || 20, this.reason.value.trim()));
    this.breakEnd = h("button", { class: "btn", type: "button", "data-testid": "mod-break-end" }, "End the break");
    this.breakEnd.addEventListener("click", () => runAct(ctx, this.breakEnd, "break.end"));
    this.breakState = h("p", { class: "muted small" });
    this.breakForm = h(
      "div",
      { class: "break-fields" },
      h("label", { for: "mod-break-minutes" }, "Minutes (20 to 1440)"),
      this.minutes,
      h("label", { for: "mod-break-reason" }, "Reason shown to both"),
      this.reason,
      this.breakStart,
    );

    // Roles
    const roles = t.roles ?? [];
    if (roles.length) this.rolesBox = h("div", { class: "roles-box" });

    // Notes: every moderator-owned text field, whatever its stage.
    const notesWrap = h("div", { class: "notes", "data-testid": "notes" });
    for (const st of t.stages) {
      for (const f of st.fields) {
        if (f.owner !== "moderator" || !textKeys(f).length) continue;
        const card = buildNotesBox(ctx, f, st);
        this.notes.push(card);
        notesWrap.append(card.el);
      }
    }
    if (!this.notes.length) notesWrap.append(h("p", { class: "muted small" }, "This conversation has no private notes field."));
    if (this.notes.length === 1) notesWrap.classList.add("single");

    // Session
    this.endBtn = h("button", { class: "btn quiet", type: "button", "data-testid": "mod-end" }, "End the conversation");
    this.endBtn.addEventListener("click", async () => {
      if (!window.confirm("End the conversation for everyone? Everything written stays readable.")) return;
      await runAct(ctx, this.endBtn, "session.end");
    });
    const del = h("button", { class: "btn danger quiet", type: "button", "data-testid": "mod-delete" }, "Delete the room");
    del.addEventListener("click", async () => {
      if (!window.confirm("Delete this room and everything written in it, for everyone? This cannot be undone.")) return;
      del.disabled = true;
      const r = await ctx.deleteRoom();
      del.disabled = false;
      if (!r.ok) ctx.toast(r.message || "The room could not be deleted.");
    });

    this.el = h(
      "aside",
      { class: "mod-panel", id: "tools", "aria-label": "Therapist tools" },
      h("h2", null, "Your tools"),
      section("Stage", this.stageNow, h("div", { class: "row" }, this.prev, this.next), this.lock, this.readyLine),
      section("Floor", h("p", { class: "muted small" }, "In turn-taking stages only the partner with the floor writes."), floorRow),
      section("Break", this.breakState, this.breakForm, this.breakEnd),
      this.rolesBox ? section("Roles", this.rolesBox) : null,
      section("Private notes", notesWrap),
      section("Session", h("div", { class: "row" }, this.endBtn, del)),
    );
    this.update();
  }

  private step(d: number): void {
    const stages = this.ctx.template.stages;
    const i = stages.findIndex((s) => s.id === this.ctx.room.stage);
    const target = stages[i + d];
    if (!target) return;
    void runAct(this.ctx, d > 0 ? this.next : this.prev, "stage.set", { stage: target.id }).then((ok) => {
      if (ok) this.show(target.id);
    });
  }

  private async startBreak(btn: HTMLButtonElement | null, minutes: number, reason: string): Promise<void> {
    const m = Math.min(1440, Math.max(20, Math.round(minutes)));
    if (await runAct(this.ctx, btn, "break.start", { minutes: m, reason })) this.reason.value = "";
  }

  update(): void {
    const ctx = this.ctx;
    const room = ctx.room;
    const stages = ctx.template.stages;
    const i = stages.findIndex((s) => s.id === room.stage);
    const live = !room.ended;
    const connected = ctx.status === "connected";
    setText(this.stageNow, `Now: ${i + 1}. ${stages[i]?.title ?? room.stage}`);
    this.prev.disabled = !live || !connected || i <= 0;
    this.next.disabled = !live || !connected || i >= stages.length - 1;
    const locked = !!room.locked?.[room.stage];
    setText(this.lock, locked ? "Let the partners write again" : "Pause writing in this stage");
    this.lock.setAttribute("aria-pressed", String(locked));
    toggleClass(this.lock, "on", locked);
    this.lock.disabled = !live || !connected;
    setText(this.readyLine, locked ? "Writing is paused: the partners can read but not write." : "");

    for (const [role, b] of Object.entries(this.floorBtns)) {
      const on = room.floor === role;
      setText(b, role ? `${on ? "✓ " : ""}${ctx.name(role as Role)}` : `${on ? "✓ " : ""}Nobody`);
      b.setAttribute("aria-pressed", String(on));
      toggleClass(b, "on", on);
      b.disabled = !live || !connected;
    }

    const active = onBreak(room, ctx.now());
    setHidden(this.breakForm, active);
    setHidden(this.breakEnd, !active);
    this.breakStart.disabled = !live || !connected;
    setText(this.breakState, active && room.break ? `On a break until ${clockTime(room.break.until)}.` : "Pausing for at least 20 minutes helps a flooded partner calm down.");

    // Break request
    const req = room.breakRequest;
    const reqKey = req ? `${req.by}@${req.at}` : "";
    const showReq = !!req && !active && reqKey !== this.dismissedRequest && live;
    setHidden(this.request, !showReq);
    if (showReq && req && this.request.dataset.key !== reqKey) {
      this.request.dataset.key = reqKey;
      const accept = h("button", { class: "btn primary", type: "button", "data-testid": "mod-break-accept" }, "Start a 20-minute break");
      accept.addEventListener("click", () => this.startBreak(accept, 20, req.reason ?? ""));
      const dismiss = h("button", { class: "btn quiet", type: "button" }, "Not now");
      dismiss.addEventListener("click", () => {
        this.dismissedRequest = reqKey;
        this.update();
      });
      replaceChildren(
        this.request,
        h("strong", null, `${ctx.name(req.by as Role)} asked for a break`),
        req.at ? ` at ${clockTime(req.at)}.` : ".",
        req.reason ? h("blockquote", null, req.reason) : null,
        h("div", { class: "row" }, accept, dismiss),
      );
    }

    if (this.rolesBox) this.renderRoles();
    for (const n of this.notes) n.update();
    this.endBtn.disabled = !live || !connected;
    void this.viewed;
  }

  private renderRoles(): void {
    const ctx = this.ctx;
    const roles = ctx.template.roles ?? [];
    const box = this.rolesBox!;
    const first = roles[0];
    const sig = JSON.stringify([ctx.room.roles, ctx.room.stage, ctx.status, ctx.room.ended]);
    if (box.dataset.sig === sig) return;
    box.dataset.sig = sig;
    const lines = roles.map((r) => {
      const seat = ctx.room.roles?.[r.id];
      return h("p", { class: "small" }, `${r.label}: `, seat ? h("strong", { class: `tone-${toneOf(seat)}` }, ctx.name(seat)) : h("em", null, "not chosen"));
    });
    const firstStage = ctx.template.stages[0]?.id === ctx.room.stage;
    const row = h("div", { class: "row" });
    for (const p of PARTNERS) {
      const on = ctx.room.roles?.[first.id] === p;
      const b = h("button", { class: `btn small tone-${toneOf(p)} ${on ? "on" : ""}`, type: "button", "aria-pressed": String(on), "data-testid": `mod-roles-${first.id}-${p}` }, `${first.label}: ${ctx.name(p)}`);
      b.disabled = !firstStage || !!ctx.room.ended || ctx.status !== "connected";
      b.addEventListener("click", () => runAct(ctx, b, "roles.set", { roles: assignRoles(roles.map((r) => r.id), first.id, p as PartnerRole) }));
      row.append(b);
    }
    replaceChildren(box, ...lines, row, firstStage ? null : h("p", { class: "muted small" }, "Roles can be changed in the first stage only."));
  }

  fieldsChanged(keys: Set<string>): void {
    for (const n of this.notes) if (n.keys.some((k) => keys.has(k))) n.update();
  }
}

function section(title: string, ...children: (HTMLElement | string | null)[]): HTMLElement {
  return h("section", { class: "panel-section" }, h("h3", null, title), ...children);
}
