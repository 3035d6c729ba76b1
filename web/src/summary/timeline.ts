// The session timeline on the summary page: a slider over the moments of
// the session (every event and every stored version of a text). Each
// position asks the server for the room at that moment
// (GET /api/rooms/{room}/timeline?at=ms), filtered for this seat.

import { h, replaceChildren, setText } from "../dom";
import { fetchWithToken } from "./download";
import type { SummaryData } from "./page";

interface Frame {
  moments: number[];
  at: number;
  scene: { stage: string; floor?: string; break?: boolean; ended?: boolean; past: { act: string; by: string; at: string; field?: string; stage?: string; detail?: Record<string, unknown> }[] };
  texts: Record<string, { version: number; text: string; authors?: Record<string, number>; approx?: boolean }>;
}

/** Words for an event of the timeline. */
export function describeEvent(act: string, who: string, detail: Record<string, unknown> | undefined, stageTitle: (id: string) => string, stage?: string): string {
  switch (act) {
    case "stage.set":
      return `${who} moved to “${stageTitle(stage ?? "")}”`;
    case "ready":
      return detail?.advanced ? `both were ready: on to “${stageTitle(stage ?? "")}”` : `${who} ${detail?.ready ? "is ready" : "is not ready yet"}`;
    case "floor.give":
      return detail?.to ? `${who} gave the floor` : `${who} opened the floor`;
    case "break.start":
      return `${who} started a break of ${detail?.minutes ?? "?"} minutes`;
    case "break.request":
      return `${who} asked for a break`;
    case "break.end":
    case "break.undo":
      return `${who} ended the break`;
    case "sign":
      return `${who} signed`;
    case "unsign":
      return `${who} withdrew a signature`;
    case "mirror.confirm":
      return detail?.status === "yes" ? `${who} confirmed the mirror` : `${who} asked to try again`;
    case "value.set":
      return `${who} changed an answer`;
    case "roles.set":
      return `${who} chose who takes which role`;
    case "reveal":
      return `${who} revealed an answer`;
    case "question.status":
      return `${who} set a question aside or reopened it`;
    case "session.end":
      return `${who} ended the session`;
    case "retention.set":
      return `${who} changed how long the room is kept`;
    case "question.add":
      return `${who} asked a question`;
    case "question.answer":
      return `${who} answered a question`;
    default:
      return `${who}: ${act}`;
  }
}

export function renderTimeline(box: HTMLElement, s: SummaryData, token: string): void {
  const name = (r: string) => s.people.find((p) => p.role === r)?.name || r;
  const stageTitle = (id: string) => s.stages.find((st) => st.id === id)?.title ?? id;
  const labels = new Map<string, string>();
  for (const st of s.stages) for (const f of st.fields) labels.set(f.id, f.label);
  const label = (key: string) => {
    const [id, seat] = key.split(".");
    return (labels.get(id) ?? id) + (seat ? ` — ${name(seat)}` : "");
  };

  const slider = h("input", { type: "range", min: "0", max: "0", value: "0", step: "1", id: "timeline-slider", "data-testid": "timeline-slider", "aria-describedby": "timeline-when" }) as HTMLInputElement;
  const when = h("p", { id: "timeline-when", class: "timeline-when", "aria-live": "polite", "data-testid": "timeline-when" });
  const sceneEl = h("p", { class: "small", "data-testid": "timeline-scene" });
  const eventsEl = h("ol", { class: "timeline-events small" });
  const textsEl = h("div", { class: "timeline-texts" });
  replaceChildren(
    box,
    h(
      "section",
      { class: "card timeline", "aria-labelledby": "timeline-h" },
      h("h2", { id: "timeline-h" }, "The session, moment by moment"),
      h("p", { class: "muted small" }, "Move the slider to see every text as it was at that moment, the stage, the floor, breaks and sign-offs."),
      h("label", { for: "timeline-slider" }, "Moment"),
      slider,
      when,
      sceneEl,
      textsEl,
      h("h3", null, "What happened up to then"),
      eventsEl,
    ),
  );

  let moments: number[] = [];
  let seq = 0;
  const show = (fr: Frame) => {
    setText(when, new Date(fr.at).toLocaleString(undefined, { day: "numeric", month: "long", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" }));
    const sc = fr.scene;
    setText(sceneEl, `Stage: ${stageTitle(sc.stage)}${sc.floor ? ` · ${name(sc.floor)} has the floor` : ""}${sc.break ? " · on a break" : ""}${sc.ended ? " · ended" : ""}`);
    const texts = Object.entries(fr.texts).filter(([, t]) => t.version > 0);
    replaceChildren(
      textsEl,
      ...texts.map(([key, t]) => {
        const who = Object.entries(t.authors ?? {})
          .map(([r, n]) => `${name(r)} (${n})`)
          .join(", ");
        return h("div", { class: "timeline-text", "data-testid": `timeline-text-${key}` }, h("h4", null, label(key)), h("blockquote", { class: "summary-text" }, t.text), h("p", { class: "muted small" }, `Version ${t.version}${who ? ` · written by ${who}` : ""}${t.approx ? " · nearest saved copy" : ""}`));
      }),
      texts.length ? null : h("p", { class: "muted" }, "Nothing written yet at this moment."),
    );
    replaceChildren(eventsEl, ...sc.past.slice(-12).map((e) => h("li", null, `${new Date(e.at).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })} — ${describeEvent(e.act, name(e.by), e.detail, stageTitle, e.stage)}${e.field ? ` (${labels.get(e.field) ?? e.field})` : ""}`)));
  };
  const load = async (at?: number) => {
    const mine = ++seq;
    const q = at === undefined ? "" : `?at=${at}`;
    let r: Response;
    try {
      r = await fetchWithToken(`/api/rooms/${encodeURIComponent(s.room)}/timeline${q}`, token);
    } catch {
      return;
    }
    if (!r.ok || mine !== seq) return;
    const fr = (await r.json()) as Frame;
    if (mine !== seq) return;
    if (at === undefined) {
      moments = fr.moments;
      slider.max = String(Math.max(0, moments.length - 1));
      slider.value = slider.max;
    }
    box.dataset.at = String(fr.at);
    show(fr);
  };
  // Each position is a server request: wait until the slider rests a moment.
  let timer: ReturnType<typeof setTimeout> | undefined;
  slider.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const m = moments[Number(slider.value)];
      if (m !== undefined) void load(m);
    }, 120);
  });
  void load();
}
