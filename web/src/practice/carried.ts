// "What we agreed last time": the read-only block a room shows when the
// therapist started it from the couple's previous session. The server put
// it in the room state once, at creation (state.carried); nothing here
// writes to it.

import { h, type Child } from "../dom";
import { dateTime } from "../format";

interface CarriedSign {
  by: string;
  at: string;
}

interface CarriedField {
  id: string;
  label: string;
  kind: string;
  text?: string;
  signs?: CarriedSign[];
  checkins?: { id: string; at: string; title?: string }[];
  milestones?: { id: string; title: string; date?: string; reached?: { by: string; at: string } }[];
}

interface Carried {
  from: string;
  title: string;
  started: string;
  names: Record<string, string>;
  fields: CarriedField[];
  steps?: string[];
}

const seatWords: Record<string, string> = { partner_a: "Partner A", partner_b: "Partner B", moderator: "Therapist" };

/**
 * The block for a room state, or null when the room carries nothing. In a
 * check-in, each carried agreement comes with the question to talk about.
 */
export function carriedBlock(state: { carried?: unknown; template?: string } | null | undefined): HTMLElement | null {
  const c = state?.carried as Carried | undefined;
  if (!c || !Array.isArray(c.fields) || c.fields.length === 0) return null;
  const who = (role: string) => c.names?.[role] || seatWords[role] || role;
  const asks = state?.template === "checkin" ? new Set(c.steps ?? []) : new Set<string>();
  const items: Child[] = c.fields.map((f) => {
    const body: Child[] = [];
    if (f.text !== undefined) body.push(h("p", { class: "carried-text" }, f.text));
    if (f.signs?.length) body.push(h("p", { class: "muted small" }, "Signed by " + f.signs.map((s) => `${who(s.by)} (${dateTime(s.at)})`).join(" and ")));
    if (f.checkins?.length) body.push(h("ul", null, ...f.checkins.map((x) => h("li", null, dateTime(x.at), x.title ? ` — ${x.title}` : ""))));
    if (f.milestones?.length)
      body.push(h("ul", null, ...f.milestones.map((m) => h("li", null, m.title, m.date ? ` (${m.date})` : "", m.reached ? ` — reached, marked by ${who(m.reached.by)}` : ""))));
    if (asks.has(f.id)) body.push(h("p", { class: "carried-ask" }, "How did this go since last time? Talk about it, then keep, change or add to it in your commitments."));
    return h("div", { class: "carried-item", "data-testid": `carried-${f.id}` }, h("h3", null, f.label), ...body);
  });
  return h(
    "details",
    { class: "card carried", open: true, "data-testid": "carried" },
    h("summary", null, h("strong", null, "What we agreed last time"), h("span", { class: "muted small" }, ` — ${c.title}, ${dateTime(c.started)} (read-only)`)),
    ...items,
  );
}
