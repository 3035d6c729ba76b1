// The summary page, /r/{room}/summary: what a seat takes home. It reads
// GET /api/rooms/{room}/summary with the seat's token in the Authorization
// header (the server filters it for the seat's role), shows every stage's
// fields as they ended, and offers print / "Save as PDF" (print.css), a
// Markdown download, the check-ins as a calendar file and, for the
// therapist (and for partners once the session has ended), the timeline.

import "./summary.css";
import { h, replaceChildren, setText } from "../dom";
import type { Child } from "../dom";
import { download, downloadCalendar, fetchWithToken } from "./download";
import { plannedTime } from "../room/checkins";
import { renderTimeline } from "./timeline";

export interface SummaryData {
  room: string;
  template: string;
  title: string;
  mode: "guided" | "self";
  viewer: string;
  started: string;
  ended?: string;
  keptUntil?: string;
  people: { role: string; name: string; roleLabel?: string }[];
  stages: { id: string; title: string; fields: SummaryField[] }[];
}

export interface SummaryField {
  id: string;
  label: string;
  kind: string;
  writers?: string[];
  private?: boolean;
  withheld?: boolean;
  text?: string;
  value?: unknown;
  drafts?: { by: string; text: string; revealed: boolean }[];
  signs?: { by: string; at: string; current: boolean }[];
  signedByBoth?: boolean;
  mirror?: { by: string; at: string; status: string; current: boolean };
  questions?: { id: string; text: string; answer?: string; status: string }[];
  checkins?: { id: string; at: string; title?: string }[];
  milestones?: { id: string; title: string; date?: string; reached?: { by: string; at: string } }[];
}

const SEAT: Record<string, string> = { partner_a: "Partner A", partner_b: "Partner B", moderator: "Therapist" };

/** A moment with date, time and time zone in the reader's locale. */
export function fullTime(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return "";
  return d.toLocaleString(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
}

/** A day, e.g. "30 December 2026". */
export function dayOf(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? "" : d.toLocaleDateString(undefined, { day: "numeric", month: "long", year: "numeric" });
}

function nameOf(s: SummaryData, role: string): string {
  return s.people.find((p) => p.role === role)?.name || SEAT[role] || role;
}

/** Words people wrote, as text, keeping their line breaks. */
function words(text: string | undefined, testid?: string): HTMLElement {
  if (!text || !text.trim()) return h("p", { class: "muted" }, "Nothing written.");
  return h("blockquote", { class: "summary-text", "data-testid": testid }, text);
}

function field(s: SummaryData, f: SummaryField): HTMLElement {
  const by = (f.writers ?? []).map((r) => nameOf(s, r));
  const parts: Child[] = [h("h3", null, f.label), by.length ? h("p", { class: "muted small" }, `By ${by.join(" and ")}${f.private ? " — private" : ""}`) : null];
  if (f.withheld) {
    parts.push(h("p", { class: "muted" }, "Answered privately."));
    return h("section", { class: "summary-field", "data-field": f.id }, ...parts);
  }
  switch (f.kind) {
    case "text":
    case "agreement":
    case "mirror":
      parts.push(words(f.text, `summary-text-${f.id}`));
      break;
    case "reveal":
      for (const d of f.drafts ?? []) parts.push(h("p", { class: "small" }, h("strong", null, nameOf(s, d.by)), d.revealed ? "" : " (not revealed)"), words(d.text));
      break;
    case "scale":
    case "choice":
      parts.push(h("p", null, f.value === undefined || f.value === null ? "No answer." : Array.isArray(f.value) ? f.value.join(", ") : String(f.value)));
      break;
    case "questions": {
      const qs = f.questions ?? [];
      const now = qs.filter((q) => q.status !== "notnow");
      const later = qs.filter((q) => q.status === "notnow");
      if (!qs.length) parts.push(h("p", { class: "muted" }, "No questions."));
      if (now.length) parts.push(h("ul", { class: "summary-questions" }, ...now.map((q) => h("li", null, h("strong", null, q.text), h("br"), q.status === "answered" ? (q.answer ?? "") : h("em", { class: "muted" }, "Not answered yet.")))));
      if (later.length) parts.push(h("p", { class: "small" }, "Left for later:"), h("ul", null, ...later.map((q) => h("li", null, q.text))));
      break;
    }
    case "checkins":
      parts.push(
        f.checkins?.length ? h("ul", { class: "summary-checkins", "data-testid": `summary-checkins-${f.id}` }, ...f.checkins.map((c) => h("li", null, plannedTime(c.at), c.title ? ` — ${c.title}` : ""))) : h("p", { class: "muted" }, "No check-ins planned."),
      );
      break;
    case "milestones":
      parts.push(
        f.milestones?.length
          ? h("ul", { class: "summary-milestones" }, ...f.milestones.map((m) => h("li", null, m.reached ? "☑ " : "☐ ", m.title, m.date ? ` (${m.date})` : "", m.reached ? ` — reached, marked by ${nameOf(s, m.reached.by)}, ${fullTime(m.reached.at)}` : "")))
          : h("p", { class: "muted" }, "No milestones yet."),
      );
      break;
  }
  if (f.kind === "agreement") {
    parts.push(
      h("p", { class: f.signedByBoth ? "summary-signed" : "muted", "data-testid": `summary-signed-${f.id}` }, f.signedByBoth ? "Signed by both." : "Not signed by both for the words as they ended."),
      f.signs?.length ? h("ul", { class: "small" }, ...f.signs.map((sg) => h("li", null, `${nameOf(s, sg.by)} ${sg.current ? "signed" : "signed an earlier version"} — ${fullTime(sg.at)}`))) : null,
    );
  }
  if (f.mirror) {
    const m = f.mirror;
    parts.push(h("p", { class: "small" }, !m.current ? "Not confirmed for the words as they ended." : m.status === "yes" ? `Confirmed by ${nameOf(s, m.by)}: “yes, that's it” — ${fullTime(m.at)}` : `${nameOf(s, m.by)} asked to try again — ${fullTime(m.at)}`));
  }
  return h("section", { class: "summary-field", "data-field": f.id }, ...parts);
}

function hasCheckins(s: SummaryData): boolean {
  return s.stages.some((st) => st.fields.some((f) => f.kind === "checkins" && (f.checkins?.length ?? 0) > 0));
}

/** Renders the summary into root. */
export function renderSummary(root: HTMLElement, s: SummaryData, token: string): void {
  const status = h("p", { class: "muted small", role: "status", "aria-live": "polite" });
  const say = (msg: string) => setText(status, msg);
  const printBtn = h("button", { class: "btn primary", type: "button", "data-testid": "summary-print" }, "Print or save as PDF");
  printBtn.addEventListener("click", () => window.print());
  const mdBtn = h("button", { class: "btn", type: "button", "data-testid": "summary-markdown" }, "Download as Markdown");
  mdBtn.addEventListener("click", async () => say(await download(`/api/rooms/${encodeURIComponent(s.room)}/summary.md`, token, "repair-room-summary.md")));
  const calBtn = hasCheckins(s) ? h("button", { class: "btn", type: "button", "data-testid": "summary-calendar" }, "Add check-ins to calendar (.ics)") : null;
  calBtn?.addEventListener("click", async () => say(await downloadCalendar(s.room, token)));
  const back = h("a", { class: "btn quiet", href: `/r/${encodeURIComponent(s.room)}` }, "Back to the room");

  const kept = s.keptUntil
    ? h("p", { class: "summary-kept", "data-testid": "summary-kept" }, `This room is kept until ${dayOf(s.keptUntil)}; download your summary before then. After that, everything in it is deleted.`)
    : null;
  const header = h(
    "header",
    { class: "summary-head" },
    h("p", { class: "summary-kicker muted small" }, "Repair Room — session summary"),
    h("h1", null, s.title),
    h("p", null, `Started ${fullTime(s.started)}`, h("br"), s.ended ? `Ended ${fullTime(s.ended)}` : "Not ended yet: this is the room as it is now."),
    h("p", { class: "small" }, s.mode === "self" ? "Self-guided (no therapist). " : "", `This copy is ${nameOf(s, s.viewer)}'s.`),
    h("h2", { class: "summary-h2" }, "Who took part"),
    h("ul", { class: "summary-people" }, ...s.people.map((p) => h("li", null, h("strong", null, p.name || SEAT[p.role]), ` — ${SEAT[p.role] ?? p.role}`, p.roleLabel ? ` — ${p.roleLabel}` : ""))),
  );
  const actions = h("div", { class: "summary-actions no-print" }, printBtn, mdBtn, calBtn, back, status);
  const stages = s.stages
    .filter((st) => st.fields.length)
    .map((st, i) => h("section", { class: "summary-stage", "data-testid": `summary-stage-${st.id}`, "aria-labelledby": `st-${st.id}` }, h("h2", { id: `st-${st.id}` }, `${i + 1}. ${st.title}`), ...st.fields.map((f) => field(s, f))));
  const timelineBox = h("div", { class: "no-print" });
  const main = h("main", { class: "summary", "data-testid": "summary" }, actions, kept, header, timelineBox, ...stages);
  replaceChildren(root, main);
  document.title = `${s.title} — summary`;
  if (s.viewer === "moderator" || s.ended) renderTimeline(timelineBox, s, token);
}

/** Loads and renders the summary of roomID for the seat holding token. */
export async function showSummaryPage(root: HTMLElement, roomID: string, token: string | null): Promise<void> {
  if (!token) {
    replaceChildren(root, h("div", { class: "center-card card" }, h("h1", null, "This page needs your personal link"), h("p", null, "Open the summary from the room, with the link you were sent.")));
    return;
  }
  replaceChildren(root, h("div", { class: "center-card card loading", role: "status" }, h("p", null, "Preparing your summary…")));
  let r: Response;
  try {
    r = await fetchWithToken(`/api/rooms/${encodeURIComponent(roomID)}/summary`, token);
  } catch {
    replaceChildren(root, h("div", { class: "center-card card" }, h("h1", null, "The server cannot be reached"), h("p", null, "Check your connection and reload the page.")));
    return;
  }
  if (!r.ok) {
    const msg = r.status === 404 ? "This room does not exist any more." : r.status === 401 ? "This link no longer opens the room." : "Something went wrong on our side. Reload the page in a moment.";
    replaceChildren(root, h("div", { class: "center-card card" }, h("h1", null, "No summary to show"), h("p", null, msg)));
    return;
  }
  renderSummary(root, (await r.json()) as SummaryData, token);
}
