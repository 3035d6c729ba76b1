// The room page: top bar (connection, presence), stage sidebar, the stage
// being viewed with its field cards, the partner's actions, the therapist's
// panel, and the break overlay.

import { h, replaceChildren, setHidden, setText, toggleClass } from "../dom";
import type { PartnerRole, Role, StageDef } from "../types";
import { LIMITS, PARTNERS } from "../types";
import type { RoomCtx } from "./app";
import { toneOf } from "./app";
import { buildCard, buildPrivateLine, Card, runAct } from "./fields";
import { assignRoles, canSteer, fieldOfKey, isPartner, onBreak, otherPartner, privateLine, stageCards } from "../perm";
import { clockTime, dateTime, describeRemaining, formatCountdown, plural } from "../format";
import { ModPanel } from "./modpanel";
import { DevicesBox } from "./devices";
import { carriedBlock } from "../practice/carried";
import { TakeHome } from "./takehome";

export class RoomView {
  private el: HTMLElement;
  private conn: HTMLElement;
  private connText: HTMLElement;
  private connRetry: HTMLButtonElement;
  private presence: HTMLElement;
  private stageList: HTMLElement;
  private stageSelect: HTMLSelectElement;
  private stageButtons = new Map<string, HTMLButtonElement>();
  private main: HTMLElement;
  private banners: HTMLElement;
  private stageHead: HTMLElement;
  private cardsEl: HTMLElement;
  private toolbar: HTMLElement;
  private cards: Card[] = [];
  private shownStage = "";
  private shownReadOnly = false;
  /** The stage the person chose to look at; null follows the room's current stage. */
  private viewStage: string | null = null;
  private overlay: HTMLElement;
  private overlayBody: HTMLElement;
  private overlayClock: HTMLElement;
  private overlayEnd: HTMLButtonElement;
  private overlayShown = false;
  private toasts: HTMLElement;
  /** Screen-reader announcements (break started/ended, stage changed). */
  private announcer: HTMLElement;
  private lastStage = "";
  private mod: ModPanel | null = null;
  private dirtyKeys = new Set<string>();
  private frame = 0;
  private readyBtn: HTMLButtonElement;
  private readyNote: HTMLElement;
  private breakBtn: HTMLButtonElement;
  private breakForm: HTMLFormElement;
  private floorBox: HTMLElement;
  private rolesBox: HTMLElement;
  private endedBox: HTMLElement;
  private takeHome: TakeHome;
  private pastBox: HTMLElement;
  private lockedBox: HTMLElement;
  private requestBox: HTMLElement;
  private endBtn: HTMLButtonElement;
  private deleteBtn: HTMLButtonElement;
  private lastFocus: HTMLElement | null = null;
  private holdBox: HTMLElement;
  private lineBtn: HTMLButtonElement | null = null;
  private line: Card | null = null;
  private layout: HTMLElement;
  private top: HTMLElement;
  private overlayActions: HTMLElement;
  /** Guided partners: the private line, reachable inside the break dialog. */
  private overlayLine: HTMLElement | null = null;
  /** Puts the private line back in the page and closes its place in the dialog. */
  private overlayLineHome: (() => void) | null = null;
  private overlaySig = "";

  constructor(
    private ctx: RoomCtx,
    root: HTMLElement,
  ) {
    // Top bar
    this.connText = h("span", { class: "conn-text" });
    this.connRetry = h("button", { class: "link-btn", type: "button", hidden: true }, "Try now");
    this.connRetry.addEventListener("click", () => ctx.retryNow());
    this.conn = h("div", { class: "conn", "data-testid": "conn-status", role: "status", "aria-live": "polite" }, h("span", { class: "dot", "aria-hidden": "true" }), this.connText, this.connRetry);
    this.presence = h("ul", { class: "presence", "data-testid": "presence-list", "aria-label": "Who is here" });
    const me = ctx.me;
    const top = h(
      "header",
      { class: "topbar" },
      h("a", { class: "brand", href: "/", "aria-label": "Repair Room home" }, "Repair Room"),
      h("span", { class: "tmpl-title" }, ctx.template.title),
      this.conn,
      h("span", { class: "spacer" }),
      this.presence,
    );

    // Sidebar
    this.stageList = h("ol", { class: "stage-list" });
    this.stageSelect = h("select", { class: "stage-select", "aria-label": "Stage" });
    this.stageSelect.addEventListener("change", () => this.show(this.stageSelect.value));
    ctx.template.stages.forEach((st, i) => {
      const b = h("button", { class: "stage-item", type: "button", "data-testid": `stage-${st.id}` }, h("span", { class: "stage-num", "aria-hidden": "true" }, String(i + 1)), h("span", { class: "stage-title" }, st.title), h("span", { class: "stage-flags" }));
      b.addEventListener("click", () => this.show(st.id));
      this.stageButtons.set(st.id, b);
      this.stageList.append(h("li", null, b));
      this.stageSelect.append(h("option", { value: st.id }, `${i + 1}. ${st.title}`));
    });
    const whoami = h(
      "p",
      { class: `whoami tone-${toneOf(me.role)}` },
      h("span", { class: "dot", "aria-hidden": "true" }),
      `You are ${ctx.name(me.role)}`,
      me.role === "moderator" ? " (therapist)" : "",
    );
    const sidebar = h("nav", { class: "sidebar", "aria-label": "Stages" }, h("p", { class: "sidebar-title", "aria-hidden": "true" }, "Stages"), this.stageList, this.stageSelect, whoami);

    // Main column
    this.banners = h("div", { class: "banners" });
    this.endedBox = h("div", { class: "banner calm", hidden: true, role: "status" });
    this.rolesBox = h("div", { class: "card roles-card", hidden: true, "data-testid": "roles-prompt" });
    this.requestBox = h("div", { class: "banner alert", hidden: true, role: "alert", "data-testid": "break-request-alert" });
    this.pastBox = h("div", { class: "banner", hidden: true });
    this.floorBox = h("div", { class: "banner floor", hidden: true, "data-testid": "floor" });
    this.lockedBox = h("div", { class: "banner calm", hidden: true, role: "status", "data-testid": "locked-banner" });
    this.holdBox = h("div", { class: "banner calm hold", hidden: true, role: "status", "data-testid": "hold-banner" });
    this.takeHome = new TakeHome(ctx); // takehome.ts: summary link, kept until
    this.banners.append(this.endedBox, this.takeHome.el, this.holdBox, this.requestBox, this.rolesBox, this.pastBox, this.lockedBox, this.floorBox);
    this.stageHead = h("div", { class: "stage-head" });
    this.cardsEl = h("div", { class: "cards" });

    // Partner actions
    this.readyBtn = h("button", { class: "btn", type: "button", "aria-pressed": "false", "data-testid": "ready-toggle", hidden: true }, "I'm ready to move on");
    this.readyBtn.addEventListener("click", () => this.toggleReady());
    this.readyNote = h("span", { class: "muted small", hidden: true });
    this.breakBtn = h("button", { class: "btn soft", type: "button", "data-testid": "break-request", hidden: true }, "I need a break");
    this.breakForm = this.buildBreakForm();
    this.breakBtn.addEventListener("click", () => {
      setHidden(this.breakForm, !this.breakForm.hidden);
      this.breakBtn.setAttribute("aria-expanded", String(!this.breakForm.hidden));
      if (!this.breakForm.hidden) (this.breakForm.querySelector("input,select") as HTMLElement | null)?.focus();
    });
    this.endBtn = h("button", { class: "btn quiet", type: "button", "data-testid": "end-session", hidden: true }, "End the conversation");
    this.endBtn.addEventListener("click", () => this.endConversation(this.endBtn));
    this.deleteBtn = h("button", { class: "btn danger quiet", type: "button", "data-testid": "delete-room", hidden: true }, "Delete this room");
    this.deleteBtn.addEventListener("click", async () => {
      if (!window.confirm(`Delete this room for both of you? Everything written in it — every answer, agreement, draft and question — is deleted from the server for good, and both your links stop working. ${ctx.name(otherPartner(me.role as PartnerRole))} is not asked first. This cannot be undone.`)) return;
      this.deleteBtn.disabled = true;
      const r = await ctx.deleteRoom();
      this.deleteBtn.disabled = false;
      if (!r.ok) ctx.toast(r.message || "The room could not be deleted.");
    });
    const toolsLink = me.role === "moderator" ? h("a", { class: "btn small tools-link", href: "#tools" }, "Your tools ↓") : null;

    // A partner's private line to the therapist: outside the stage, so it is there in every stage.
    const pl = isPartner(me.role) ? privateLine(ctx.template, me.role, ctx.room) : null;
    let linePanel: HTMLElement | null = null;
    if (pl) {
      this.line = buildPrivateLine(ctx, pl.field, pl.stage, "Only for my therapist", "private-line", "h2");
      linePanel = h("div", { class: "card private-panel", id: "private-line-panel", hidden: true }, this.line.el);
      this.lineBtn = h("button", { class: "btn soft", type: "button", "aria-expanded": "false", "aria-controls": "private-line-panel", "data-testid": "private-line-toggle" }, "Only for my therapist");
      this.lineBtn.addEventListener("click", () => {
        const open = linePanel!.hidden;
        setHidden(linePanel!, !open);
        this.lineBtn!.setAttribute("aria-expanded", String(open));
        if (open) (linePanel!.querySelector(".cm-content") as HTMLElement | null)?.focus();
      });
    }
    this.toolbar = h("div", { class: "toolbar" }, toolsLink, this.breakBtn, this.lineBtn, this.readyBtn, this.readyNote, h("span", { class: "spacer" }), this.endBtn, this.deleteBtn);

    // Self-guided: each partner manages the devices of their own link (devices.ts).
    const devices = isPartner(me.role) && ctx.room.mode === "self" ? h("details", { class: "card my-devices", "data-testid": "my-devices" }, h("summary", null, "My devices"), new DevicesBox(ctx, true).el) : null;
    this.main = h("main", { class: "stage-main", id: "main" }, this.banners, carriedBlock(ctx.room), this.stageHead, this.toolbar, this.breakForm, linePanel, this.cardsEl, devices);

    const layout = h("div", { class: `layout ${me.role === "moderator" ? "with-panel" : ""}` }, sidebar, this.main);
    this.layout = layout;
    if (me.role === "moderator") {
      this.mod = new ModPanel(ctx, (id) => this.show(id), () => this.viewStage ?? ctx.room.stage);
      layout.append(this.mod.el);
      this.banners.prepend(this.mod.alert);
    }

    // Break overlay
    this.overlayClock = h("p", { class: "break-clock", role: "timer", "aria-live": "off" });
    this.overlayBody = h("div", { class: "break-body" });
    this.overlayEnd = h("button", { class: "btn primary", type: "button", "data-testid": "mod-break-end-overlay", hidden: true }, "End the break now");
    this.overlayEnd.addEventListener("click", () => runAct(ctx, this.overlayEnd, "break.end"));
    this.overlayActions = h("div", { class: "row break-actions" });
    // A flooded partner may need the therapist most during a break, and the
    // dialog makes the page behind it inert: the same private line (one
    // editor, moved, never a second copy of the field) opens inside it.
    if (this.line && linePanel) {
      const line = this.line;
      const home = linePanel;
      const panel = h("div", { class: "break-line-panel", id: "break-line-panel", hidden: true });
      const btn = h("button", { class: "btn soft", type: "button", "aria-expanded": "false", "aria-controls": "break-line-panel", "data-testid": "break-private-toggle" }, "Only for my therapist");
      btn.addEventListener("click", () => {
        const open = panel.hidden;
        if (open) panel.append(line.el);
        setHidden(panel, !open);
        btn.setAttribute("aria-expanded", String(open));
        if (open) (panel.querySelector(".cm-content") as HTMLElement | null)?.focus();
      });
      this.overlayLine = h("div", { class: "break-line" }, btn, panel);
      this.overlayLineHome = () => {
        setHidden(panel, true);
        btn.setAttribute("aria-expanded", "false");
        home.append(line.el);
      };
    }
    this.overlay = h(
      "div",
      { class: `break-overlay ${me.role === "moderator" ? "as-banner" : ""}`, "data-testid": "break-overlay", hidden: true, role: me.role === "moderator" ? "status" : "dialog", "aria-modal": me.role === "moderator" ? undefined : "true", "aria-labelledby": "break-title", tabindex: "-1" },
      h("div", { class: "break-card" }, h("h2", { id: "break-title" }, "Taking a break"), this.overlayClock, this.overlayBody, this.overlayActions, this.overlayLine, this.overlayEnd),
    );
    // The dialog holds focus: Tab and Shift+Tab cycle inside it.
    this.overlay.addEventListener("keydown", (e) => this.trapFocus(e));

    this.toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    this.announcer = h("div", { class: "sr-only", "aria-live": "assertive", "data-testid": "announcer" });
    const skip = h("a", { class: "skip", href: "#main" }, "Skip to the conversation");
    this.top = top;
    this.el = h("div", { class: `room-page role-${me.role}` }, skip, top, layout, this.overlay, this.toasts, this.announcer);
    replaceChildren(root, this.el);
    this.roomChanged();
    this.updateStatus();
    this.updatePresence();
  }

  // ---- updates from the controller ----

  roomChanged(): void {
    const ctx = this.ctx;
    const room = ctx.room;
    if (this.viewStage === room.stage) this.viewStage = null;
    if (this.viewStage && !ctx.template.stages.some((s) => s.id === this.viewStage)) this.viewStage = null;
    const stageId = this.viewStage ?? room.stage;
    const readOnly = stageId !== room.stage;
    if (stageId !== this.shownStage || readOnly !== this.shownReadOnly) this.renderStage(stageId, readOnly);
    if (this.lastStage && this.lastStage !== room.stage) {
      const st = ctx.template.stages.find((s) => s.id === room.stage);
      if (st) this.announce(`The conversation moved to the stage “${st.title}”.`);
    }
    this.lastStage = room.stage;
    this.updateSidebar();
    this.updateBanners();
    this.updateToolbar();
    for (const c of this.cards) c.update();
    this.line?.update();
    this.mod?.update();
    this.updateOverlay();
    this.updatePresence();
  }

  /** A text key changed (text, version or save state): update only its cards, once per frame. */
  fieldChanged(key: string): void {
    this.dirtyKeys.add(key);
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const keys = this.dirtyKeys;
      this.dirtyKeys = new Set();
      for (const c of this.cards) if (c.keys.some((k) => keys.has(k))) c.update();
      if (this.line?.keys.some((k) => keys.has(k))) this.line.update();
      this.mod?.fieldsChanged(keys);
    });
  }

  /** Once a second: countdown, the end of a break, save states after time-outs. */
  tick(): void {
    const active = onBreak(this.ctx.room, this.ctx.now()) && !this.ctx.room.ended;
    if (active !== this.overlayShown) {
      // A break just ended by the clock: open the editors again even before the server says so.
      this.ctx.refreshAccess();
      this.roomChanged();
    } else {
      this.updateOverlay();
    }
  }

  updateStatus(): void {
    const ctx = this.ctx;
    const n = ctx.unsent();
    let text: string;
    let cls: string;
    switch (ctx.status) {
      case "connected":
        text = "Connected";
        cls = "ok";
        break;
      case "connecting":
        text = "Connecting…";
        cls = "wait";
        break;
      case "reconnecting":
        text = n ? "Reconnecting… your latest words are kept on this device" : "Reconnecting…";
        cls = "wait";
        break;
      case "offline":
        text = n ? `Offline — ${plural(n, "unsent change", "unsent changes")}, kept safely here` : "Offline — we'll reconnect by ourselves";
        cls = "off";
        break;
      case "stopped":
        text = ctx.stopReason || "Disconnected";
        cls = "off";
        break;
    }
    setText(this.connText, text);
    this.conn.className = `conn ${cls}`;
    this.conn.dataset.status = ctx.status;
    setHidden(this.connRetry, ctx.status !== "offline");
    if (ctx.status === "stopped") this.showStopped();
    this.updatePresence();
    for (const c of this.cards) c.update();
    this.line?.update();
    this.mod?.update();
    this.updateToolbar();
  }

  updatePresence(): void {
    const ctx = this.ctx;
    const seats: Role[] = ctx.room.mode === "guided" ? ["partner_a", "partner_b", "moderator"] : ["partner_a", "partner_b"];
    const items = seats.map((role) => {
      const here = ctx.members.filter((m) => m.role === role);
      const isMe = role === ctx.me.role;
      const present = here.length > 0 || (isMe && ctx.status === "connected");
      const where = here.find((m) => m.field)?.field;
      const f = where ? fieldOfKey(ctx.template, where) : null;
      const whereText = present ? (f ? `in “${f.field.label}”` : "here") : "not here yet";
      return h(
        "li",
        { class: `member tone-${toneOf(role)} ${present ? "present" : "away"}`, "data-role": role },
        h("span", { class: "dot", "aria-hidden": "true" }),
        h("span", { class: "member-name" }, isMe ? `${ctx.name(role)} (you)` : ctx.name(role)),
        h("span", { class: "member-where" }, whereText),
      );
    });
    replaceChildren(this.presence, ...items);
    toggleClass(this.presence, "stale", ctx.status !== "connected");
  }

  announce(text: string): void {
    this.announcer.textContent = "";
    // A fresh text node after clearing makes screen readers speak it even if it repeats.
    setTimeout(() => (this.announcer.textContent = text), 50);
  }

  toast(text: string): void {
    const t = h("div", { class: "toast" }, text);
    this.toasts.append(t);
    setTimeout(() => t.remove(), 6000);
  }

  // ---- pieces ----

  private show(stageId: string): void {
    this.viewStage = stageId === this.ctx.room.stage ? null : stageId;
    this.roomChanged();
    this.stageHead.querySelector("h1")?.focus();
  }

  private renderStage(stageId: string, readOnly: boolean): void {
    const ctx = this.ctx;
    for (const c of this.cards) c.destroy();
    this.cards = [];
    this.shownStage = stageId;
    this.shownReadOnly = readOnly;
    const stage = ctx.template.stages.find((s) => s.id === stageId) ?? ctx.template.stages[0];
    const idx = ctx.template.stages.indexOf(stage);
    replaceChildren(
      this.stageHead,
      h("p", { class: "eyebrow" }, `Stage ${idx + 1} of ${ctx.template.stages.length}`),
      h("h1", { tabindex: "-1" }, stage.title),
      stage.guidance ? h("div", { class: "guidance card" }, ...stage.guidance.split(/\n\s*\n/).map((p) => h("p", null, p))) : null,
    );
    const fields = stageCards(stage, ctx.room);
    for (const f of fields) this.cards.push(buildCard(ctx, f, stage, readOnly));
    replaceChildren(this.cardsEl, ...this.cards.map((c) => c.el));
    if (!fields.length) this.cardsEl.append(h("p", { class: "muted" }, "Nothing to write in this stage — take it at your own pace."));
  }

  private updateSidebar(): void {
    const ctx = this.ctx;
    const room = ctx.room;
    const cur = ctx.template.stages.findIndex((s) => s.id === room.stage);
    const shown = this.viewStage ?? room.stage;
    ctx.template.stages.forEach((st, i) => {
      const b = this.stageButtons.get(st.id)!;
      const isCur = st.id === room.stage;
      toggleClass(b, "current", isCur);
      toggleClass(b, "past", i < cur);
      toggleClass(b, "viewing", st.id === shown);
      toggleClass(b, "locked", !!room.locked?.[st.id]);
      if (isCur) b.setAttribute("aria-current", "step");
      else b.removeAttribute("aria-current");
      const flags = b.querySelector(".stage-flags")!;
      const parts: string[] = [];
      if (isCur) parts.push("now");
      if (room.locked?.[st.id]) parts.push("paused");
      if (i < cur) parts.push("done");
      setText(flags, parts.join(" · "));
      b.removeAttribute("aria-label"); // the visible text (number, title, "now · done") is the name
    });
    if (this.stageSelect.value !== shown) this.stageSelect.value = shown;
  }

  private updateBanners(): void {
    const ctx = this.ctx;
    const room = ctx.room;
    const me = ctx.me.role;

    // Ended
    this.takeHome.update();
    setHidden(this.endedBox, !room.ended);
    if (room.ended)
      setText(
        this.endedBox,
        `This conversation ended${dateTime(room.ended) ? ` on ${dateTime(room.ended)}` : ""}. What you wrote can still be read here until the room is deleted or its links expire.${me === "moderator" ? " Your private notes stay writable." : ""}`,
      );

    // Paused by a safety answer (self-guided). The other partner learns neither who nor why.
    const hold = room.hold && !room.ended ? room.hold : null;
    setHidden(this.holdBox, !hold);
    if (hold) {
      const sig = `${hold.since}|${hold.by ?? ""}`;
      if (this.holdBox.dataset.sig !== sig) {
        this.holdBox.dataset.sig = sig;
        const mine = hold.by === me;
        replaceChildren(
          this.holdBox,
          h("h2", null, "The conversation is paused"),
          mine
            ? h(
                "div",
                { "data-testid": "hold-help" },
                h("p", null, "You said you do not feel safe taking part today. That matters more than this conversation, and nothing here goes on until you change that answer. Your partner sees only that the conversation is paused, not who paused it or why."),
                h("p", null, "If you are in danger, call your local emergency number. If you are afraid of your partner, a domestic abuse helpline in your country can talk it through with you in confidence. A couples or individual therapist can help you decide whether and how to have this conversation."),
                h("p", { class: "muted small" }, "You can change your answer in the first stage, end the conversation, or delete this room."),
              )
            : h("p", null, "Nothing can be written for now. You can come back to it another time, end the conversation, or delete this room."),
        );
      }
    }

    // Break request (the therapist's alert is in the panel; partners see that it was sent)
    const req = room.breakRequest;
    const showReq = !!req && !onBreak(room, ctx.now()) && room.mode === "guided" && isPartner(me);
    setHidden(this.requestBox, !showReq);
    if (showReq && req) {
      this.requestBox.className = "banner calm";
      setText(this.requestBox, req.by === me ? "You asked for a break. The therapist has been told." : `${ctx.name(req.by as Role)} asked for a break. The therapist has been told.`);
    }

    // Roles
    this.updateRoles();

    // Viewing another stage
    const viewing = this.viewStage;
    setHidden(this.pastBox, !viewing);
    if (viewing) {
      const back = h("button", { class: "link-btn", type: "button" }, "Back to the current stage");
      back.addEventListener("click", () => this.show(room.stage));
      const idxView = ctx.template.stages.findIndex((s) => s.id === viewing);
      const idxCur = ctx.template.stages.findIndex((s) => s.id === room.stage);
      const kinds = idxView < idxCur ? "an earlier stage" : "a later stage";
      const children: (HTMLElement | string)[] = [`You are looking at ${kinds}. It is read-only here. `, back];
      if (me === "moderator") {
        const move = h("button", { class: "btn small", type: "button", "data-testid": "mod-stage-here" }, "Move everyone to this stage");
        move.addEventListener("click", () => runAct(ctx, move, "stage.set", { stage: viewing }));
        children.push(" ", move);
      }
      replaceChildren(this.pastBox, ...children);
    }

    // Paused stage
    const paused = !!room.locked?.[room.stage] && !viewing && !room.ended;
    setHidden(this.lockedBox, !paused);
    if (paused) setText(this.lockedBox, me === "moderator" ? "Writing is paused in this stage: the partners can read but not write." : "The therapist has paused writing for a moment. You can keep reading; your words are safe.");

    // Floor (turn-taking stages)
    const stage = ctx.template.stages.find((s) => s.id === (viewing ?? room.stage));
    const turn = !!stage?.turnTaking && !viewing;
    setHidden(this.floorBox, !turn);
    if (turn) this.renderFloor(stage!);
  }

  private renderFloor(stage: StageDef): void {
    const ctx = this.ctx;
    const room = ctx.room;
    const me = ctx.me.role;
    const holder = room.floor;
    const parts: (HTMLElement | string)[] = [];
    if (holder) {
      const listener = otherPartner(holder);
      parts.push(
        h("span", { class: `floor-holder tone-${toneOf(holder)}` }, holder === me ? "You have the floor." : `${ctx.name(holder)} has the floor.`),
        " ",
        holder === me ? `Speak for yourself, in short pieces. ${ctx.name(listener)} listens.` : listener === me ? "Listen, and try to understand before answering." : "",
      );
    } else {
      parts.push("Nobody has the floor yet. " + (room.mode === "guided" ? "The therapist will give it to one of you." : "One of you can take it."));
    }
    if (room.mode === "self" && isPartner(me) && !room.ended) {
      if (!holder) {
        const take = h("button", { class: "btn small", type: "button", "data-testid": "floor-take" }, "Take the floor");
        take.addEventListener("click", () => runAct(ctx, take, "floor.give", { role: me }));
        parts.push(" ", take);
      } else if (holder === me) {
        const pass = h("button", { class: "btn small", type: "button", "data-testid": "floor-pass" }, `Pass the floor to ${ctx.name(otherPartner(me))}`);
        pass.addEventListener("click", () => runAct(ctx, pass, "floor.give", { role: otherPartner(me) }));
        parts.push(" ", pass);
      }
    }
    void stage;
    replaceChildren(this.floorBox, ...parts);
  }

  private updateRoles(): void {
    const ctx = this.ctx;
    const room = ctx.room;
    const roles = ctx.template.roles ?? [];
    const unset = roles.length > 0 && roles.some((r) => !room.roles?.[r.id]);
    const firstStage = ctx.template.stages[0]?.id === room.stage;
    const show = unset && !room.ended;
    setHidden(this.rolesBox, !show);
    if (!show) return;
    const first = roles[0];
    const children: (HTMLElement | string | null)[] = [h("h2", null, "Before you begin")];
    if (canSteer(ctx.me.role, room) && firstStage) {
      children.push(h("p", null, first.question || `Who is “${first.label}”?`));
      const row = h("div", { class: "row" });
      for (const p of PARTNERS) {
        const b = h("button", { class: `btn tone-${toneOf(p)}`, type: "button", "data-testid": `roles-${first.id}-${p}` }, ctx.me.role === p ? `Me (${ctx.name(p)})` : ctx.name(p));
        b.addEventListener("click", () => runAct(ctx, b, "roles.set", { roles: assignRoles(roles.map((r) => r.id), first.id, p) }));
        row.append(b);
      }
      children.push(
        row,
        h("p", { class: "muted small" }, room.mode === "guided" ? "This only decides who writes which part. You can change it during this first stage." : "This only decides who writes which part. Either of you can change it during this first stage."),
      );
    } else {
      children.push(h("p", null, room.mode === "guided" ? "Your therapist will set up who writes which part in a moment." : "The roles are chosen at the start of the conversation."));
    }
    replaceChildren(this.rolesBox, ...children);
  }

  private updateToolbar(): void {
    const ctx = this.ctx;
    const room = ctx.room;
    const me = ctx.me.role;
    const partner = isPartner(me);
    const live = !room.ended && ctx.status !== "stopped";
    const connected = ctx.status === "connected";
    // Ready (self-guided)
    const showReady = partner && room.mode === "self" && live;
    setHidden(this.readyBtn, !showReady);
    setHidden(this.readyNote, !showReady);
    if (showReady) {
      const mine = !!room.ready?.[me as PartnerRole];
      const other = otherPartner(me as PartnerRole);
      const theirs = !!room.ready?.[other];
      this.readyBtn.setAttribute("aria-pressed", String(mine));
      toggleClass(this.readyBtn, "on", mine);
      setText(this.readyBtn, mine ? "✓ I'm ready to move on" : "I'm ready to move on");
      this.readyBtn.disabled = !connected;
      setText(this.readyNote, theirs ? `${ctx.name(other)} is ready too.` : mine ? `Waiting for ${ctx.name(other)}. The next stage opens when you are both ready.` : `The next stage opens when you are both ready.`);
    }
    // Break
    const showBreak = partner && live && !onBreak(room, ctx.now());
    setHidden(this.breakBtn, !showBreak);
    if (!showBreak) setHidden(this.breakForm, true);
    this.breakBtn.disabled = !connected;
    // End and delete (self: either partner)
    setHidden(this.endBtn, !(partner && room.mode === "self" && live));
    this.endBtn.disabled = !connected;
    setHidden(this.deleteBtn, !(partner && room.mode === "self" && ctx.status !== "stopped"));
    this.deleteBtn.disabled = !connected;
  }

  private buildBreakForm(): HTMLFormElement {
    const ctx = this.ctx;
    const self = ctx.room.mode === "self";
    const me = ctx.me.role;
    const other = isPartner(me) ? ctx.name(otherPartner(me)) : "your partner";
    const reason = h("input", { type: "text", maxlength: 200, placeholder: "e.g. I feel overwhelmed", "data-testid": "break-reason", id: "break-reason" });
    const minutes = h("select", { id: "break-minutes", "data-testid": "break-minutes" }, ...[20, 30, 45, 60, 120].map((m) => h("option", { value: m }, `${m} minutes`)));
    const share = h("input", { type: "checkbox", id: "break-share", "data-testid": "break-share" });
    const go = h("button", { class: "btn primary", type: "submit", "data-testid": "break-send" }, self ? "Start the break" : "Ask for a break");
    const cancel = h("button", { class: "btn quiet", type: "button" }, "Cancel");
    const form = h(
      "form",
      { class: "card break-form", hidden: true, "aria-label": "Ask for a break" },
      h("p", null, "Taking a pause when feelings run high is a way of caring for the conversation, not leaving it. Twenty minutes or more helps the body calm down."),
      h("label", { for: "break-reason" }, self ? "Why? (optional, kept to yourself unless you tick below)" : "Why? (optional, for your therapist)"),
      reason,
      h("div", { class: "check" }, share, h("label", { for: "break-share" }, `Also show my reason to ${other}`)),
      h("label", { for: "break-minutes" }, "For how long?"),
      minutes,
      self ? h("p", { class: "muted small" }, "Pressed by mistake? You can undo the break in its first minute. After 20 minutes you can both say you are ready to come back.") : null,
      h("div", { class: "row" }, go, cancel),
    );
    cancel.addEventListener("click", () => {
      setHidden(form, true);
      this.breakBtn.setAttribute("aria-expanded", "false");
      this.breakBtn.focus();
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const ok = await runAct(ctx, go, "break.request", { minutes: Number(minutes.value), reason: reason.value.trim(), share: share.checked });
      if (ok) {
        reason.value = "";
        share.checked = false;
        setHidden(form, true);
        if (!self) ctx.toast("Your request was sent to the therapist.");
      }
    });
    return form;
  }

  private async toggleReady(): Promise<void> {
    const mine = !!this.ctx.room.ready?.[this.ctx.me.role as PartnerRole];
    await runAct(this.ctx, this.readyBtn, "ready", { ready: !mine });
  }

  private updateOverlay(): void {
    const ctx = this.ctx;
    const room = ctx.room;
    const br = room.break;
    const active = onBreak(room, ctx.now()) && !room.ended;
    setHidden(this.overlay, !active);
    if (active && br) {
      const left = Date.parse(br.until) - ctx.now();
      setText(this.overlayClock, formatCountdown(left));
      this.overlayClock.setAttribute("aria-label", `${describeRemaining(left)} left`);
      if (!this.overlayShown && ctx.me.role === "moderator") {
        replaceChildren(
          this.overlayBody,
          h("p", { class: "small" }, `${this.breakWho(br)} The partners cannot write until ${clockTime(br.until)}.`),
          br.reason ? h("blockquote", { class: "break-reason small" }, br.reason) : null,
          br.reason && br.askedBy && !br.shared ? h("p", { class: "muted small" }, "Only you and the one who asked see this reason.") : null,
        );
      } else if (!this.overlayShown) {
        replaceChildren(
          this.overlayBody,
          h("p", { class: "break-who", "data-testid": "break-who" }, this.breakWho(br)),
          br.reason ? h("blockquote", { class: "break-reason" }, br.reason) : null,
          h("p", null, `Back at ${clockTime(br.until)}. Breathe slowly, stretch, drink some water, step outside if you can. Try not to rehearse the argument in your head.`),
          h("p", { class: "muted small" }, "Everything you wrote is saved. Writing opens again when the break ends."),
        );
      }
      this.updateOverlayActions();
      setHidden(this.overlayEnd, ctx.me.role !== "moderator");
      if (!this.overlayShown) this.announce(`A break has started. Back at ${clockTime(br.until)}.${br.reason ? ` ${br.reason}` : ""}`);
      if (!this.overlayShown && ctx.me.role !== "moderator") {
        this.lastFocus = document.activeElement as HTMLElement | null;
        (document.activeElement as HTMLElement | null)?.blur?.();
        this.setInert(true);
        this.overlay.focus();
      }
      this.overlayShown = true;
    } else if (this.overlayShown) {
      this.overlayShown = false;
      this.overlaySig = "";
      this.overlayLineHome?.();
      this.setInert(false);
      this.announce("The break is over. Writing is open again.");
      if (this.lastFocus && document.contains(this.lastFocus)) this.lastFocus.focus();
      this.lastFocus = null;
    }
    toggleClass(this.el, "on-break", active && ctx.me.role !== "moderator");
  }

  /** "Sam asked for this break; Dr. Rivera started it." */
  private breakWho(br: NonNullable<RoomCtx["room"]["break"]>): string {
    const me = this.ctx.me.role;
    const nm = (r: string) => (r === me ? "you" : isRole(r) ? this.ctx.name(r) : "someone");
    const cap = (t: string) => t.charAt(0).toUpperCase() + t.slice(1);
    if (br.askedBy && br.askedBy !== br.by) return `${cap(nm(br.askedBy))} asked for this break; ${nm(br.by)} started it.`;
    return `${cap(nm(br.by))} started this break.`;
  }

  /** Self-guided: undo (its starter, first minute), ready to come back (after 20 minutes), end the conversation. */
  private updateOverlayActions(): void {
    const ctx = this.ctx;
    const room = ctx.room;
    const br = room.break;
    const me = ctx.me.role;
    if (!br || room.mode !== "self" || !isPartner(me)) {
      replaceChildren(this.overlayActions);
      return;
    }
    const age = ctx.now() - Date.parse(br.started);
    const canUndo = br.by === me && age < 60_000;
    const canBack = age >= LIMITS.breakReturnAfterMs;
    const mineBack = !!br.back?.[me];
    const theirsBack = !!br.back?.[otherPartner(me)];
    const sig = JSON.stringify([canUndo, canBack, mineBack, theirsBack, ctx.status]);
    if (sig === this.overlaySig) return;
    const hadFocus = this.overlay.contains(document.activeElement) && document.activeElement !== this.overlay ? (document.activeElement as HTMLElement).dataset.testid : "";
    this.overlaySig = sig;
    const kids: (HTMLElement | string)[] = [];
    if (canUndo) {
      const undo = h("button", { class: "btn", type: "button", "data-testid": "break-undo" }, "Undo: I pressed it by mistake");
      undo.addEventListener("click", () => runAct(ctx, undo, "break.undo"));
      kids.push(undo);
    }
    if (canBack) {
      const back = h("button", { class: `btn ${mineBack ? "on" : "primary"}`, type: "button", "aria-pressed": String(mineBack), "data-testid": "break-back" }, mineBack ? "✓ I'm ready to come back" : "I'm ready to come back");
      back.addEventListener("click", () => runAct(ctx, back, "break.back", { ready: !mineBack }));
      kids.push(back, h("span", { class: "small" }, theirsBack ? `${ctx.name(otherPartner(me))} is ready too.` : "The break ends when you are both ready."));
    }
    const end = h("button", { class: "btn quiet", type: "button", "data-testid": "break-end-conversation" }, "End the conversation");
    end.addEventListener("click", () => this.endConversation(end));
    kids.push(end);
    for (const k of kids) if (k instanceof HTMLButtonElement) k.disabled = ctx.status !== "connected";
    replaceChildren(this.overlayActions, ...kids);
    if (hadFocus) (this.overlayActions.querySelector(`[data-testid="${hadFocus}"]`) as HTMLElement | null)?.focus();
    if (hadFocus && !this.overlay.contains(document.activeElement)) this.overlay.focus();
  }

  private async endConversation(btn: HTMLButtonElement): Promise<void> {
    if (!window.confirm("End the conversation for both of you? Nothing more can be written; what you wrote can still be read until the room is deleted or its links expire.")) return;
    await runAct(this.ctx, btn, "session.end");
  }

  /** While the break dialog is up, the page behind it cannot be reached. */
  private setInert(on: boolean): void {
    for (const el of [this.top, this.layout]) {
      if (on) el.setAttribute("inert", "");
      else el.removeAttribute("inert");
    }
  }

  private trapFocus(e: KeyboardEvent): void {
    if (e.key !== "Tab" || this.overlay.hidden || this.ctx.me.role === "moderator") return;
    const items = Array.from(this.overlay.querySelectorAll<HTMLElement>("button:not([disabled]):not([hidden]), [href], input, select, textarea, [contenteditable='true']")).filter((x) => x.offsetParent !== null);
    if (!items.length) {
      e.preventDefault();
      this.overlay.focus();
      return;
    }
    const first = items[0];
    const last = items[items.length - 1];
    const at = document.activeElement;
    if (e.shiftKey && (at === first || at === this.overlay)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && at === last) {
      e.preventDefault();
      first.focus();
    }
  }

  private showStopped(): void {
    if (this.el.querySelector(".stopped-banner")) return;
    const msg = this.ctx.stopReason || "This link no longer works.";
    const b = h("div", { class: "banner alert stopped-banner", role: "alert" }, h("strong", null, msg), " ", "Nothing here will be sent any more. ", h("a", { href: "/" }, "Start page"));
    this.banners.prepend(b);
  }
}

function isRole(s: string): s is Role {
  return s === "partner_a" || s === "partner_b" || s === "moderator";
}
