// The therapist's panel: stage navigation, pause (lock), floor, breaks,
// roles, private notes, ending and deleting the room.

import { h, replaceChildren, setHidden, setText, toggleClass } from "../dom";
import type { PartnerRole, Role } from "../types";
import { PARTNERS, textKeys } from "../types";
import type { RoomCtx } from "./app";
import { toneOf } from "./app";
import { buildNotesBox, buildPrivateLine, Card, runAct } from "./fields";
import { assignRoles, findField, onBreak, privateLine } from "../perm";
import { clockTime } from "../format";
import { DevicesBox } from "./devices";

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
  /** Safety-screen answers that ask for attention. */
  private safety: HTMLElement;
  /** Each partner's line to the therapist, with a "new" badge until read. */
  private lines: { p: PartnerRole; card: Card; key: string }[] = [];
  private linesBadge: HTMLElement;
  private linesSeen = new Map<string, number>();
  private linesRead: HTMLButtonElement;

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
      h("label", { for: "mod-break-reason" }, "Reason, shown to both partners (optional)"),
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

    // Safety answers and the partners' private lines.
    this.safety = h("div", { class: "safety-alerts", role: "status", "data-testid": "mod-safety-alerts" });
    this.linesBadge = h("span", { class: "badge", hidden: true, "data-testid": "mod-private-badge" }, "New");
    this.linesRead = h("button", { class: "btn small quiet", type: "button", hidden: true, "data-testid": "mod-private-read" }, "Mark as read");
    this.linesRead.addEventListener("click", () => this.markLinesRead());
    const linesWrap = h("div", { class: "private-lines" });
    for (const p of PARTNERS) {
      const pl = privateLine(t, p, ctx.room);
      if (!pl) continue;
      const card = buildPrivateLine(ctx, pl.field, pl.stage, `From ${ctx.name(p)}`, `mod-private-${p}`, "h4");
      this.lines.push({ p, card, key: pl.field.id });
      this.linesSeen.set(pl.field.id, ctx.sync(pl.field.id)?.version ?? 0);
      linesWrap.append(card.el);
    }
    linesWrap.addEventListener("focusin", () => this.markLinesRead());
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
      section("Safety", this.safety),
      this.lines.length ? sectionWith(h("h3", null, "Only for you ", this.linesBadge), h("p", { class: "muted small" }, "What each partner writes to you alone. The other partner never sees it."), linesWrap, this.linesRead) : null,
      section("Break", this.breakState, this.breakForm, this.breakEnd),
      this.rolesBox ? section("Roles", this.rolesBox) : null,
      section("Private notes", notesWrap),
      section("Devices", new DevicesBox(ctx, false).el), // devices.ts
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
      const asked = Math.max(20, req.minutes ?? 20);
      const accept = h("button", { class: "btn primary", type: "button", "data-testid": "mod-break-accept" }, `Start the ${asked}-minute break`);
      // No minutes and no reason: the server gives the minutes asked for and keeps the asker's reason private unless they shared it.
      accept.addEventListener("click", () => runAct(ctx, accept, "break.start", {}));
      const dismiss = h("button", { class: "btn quiet", type: "button" }, "Not now");
      dismiss.addEventListener("click", () => {
        this.dismissedRequest = reqKey;
        this.update();
      });
      replaceChildren(
        this.request,
        h("strong", null, `${ctx.name(req.by as Role)} asked for a ${asked}-minute break`),
        req.at ? ` at ${clockTime(req.at)}.` : ".",
        req.reason ? h("blockquote", null, req.reason) : null,
        req.reason ? h("p", { class: "muted small" }, req.shared ? `They chose to show this reason to ${ctx.name(req.by === "partner_a" ? "partner_b" : "partner_a")} too.` : "Only you see this reason.") : null,
        h("div", { class: "row" }, accept, dismiss),
      );
    }

    if (this.rolesBox) this.renderRoles();
    for (const n of this.notes) n.update();
    this.renderSafety();
    this.updateLines();
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
    if (this.lines.some((l) => keys.has(l.key))) this.updateLines();
  }

  private renderSafety(): void {
    const ctx = this.ctx;
    const alerts = Object.entries(ctx.room.alerts ?? {});
    const sig = JSON.stringify(alerts);
    if (this.safety.dataset.sig === sig) return;
    this.safety.dataset.sig = sig;
    if (!alerts.length) {
      replaceChildren(this.safety, h("p", { class: "muted small" }, "If a partner answers the safety screen with “no” or “not sure”, it shows here. The other partner is not told."));
      return;
    }
    replaceChildren(
      this.safety,
      h(
        "ul",
        { class: "alert-list" },
        ...alerts.map(([field, a]) => {
          const f = findField(ctx.template, field)?.field;
          return h("li", { class: `tone-${toneOf(a.by)}` }, h("strong", null, ctx.name(a.by)), ` answered “${a.value}” to “${f?.label ?? field}” at ${clockTime(a.at)}.`);
        }),
      ),
      h("p", { class: "muted small" }, "Their partner does not see these answers. Consider checking in with them alone before going on."),
    );
  }

  private updateLines(): void {
    let fresh = false;
    for (const l of this.lines) {
      l.card.update();
      const v = this.ctx.sync(l.key)?.version ?? 0;
      if (v > (this.linesSeen.get(l.key) ?? 0)) fresh = true;
    }
    setHidden(this.linesBadge, !fresh);
    setHidden(this.linesRead, !fresh);
  }

  private markLinesRead(): void {
    for (const l of this.lines) this.linesSeen.set(l.key, this.ctx.sync(l.key)?.version ?? 0);
    this.updateLines();
  }
}

function section(title: string, ...children: (HTMLElement | string | null)[]): HTMLElement {
  return sectionWith(h("h3", null, title), ...children);
}

function sectionWith(heading: HTMLElement, ...children: (HTMLElement | string | null)[]): HTMLElement {
  return h("section", { class: "panel-section" }, heading, ...children);
}
