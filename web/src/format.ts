// Formatting of times and counts for people (pure, unit-tested).

/** "4:05" for 245 s, "1:02:03" past an hour; never negative. Rounds up so 0:00 means done. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, "0");
  if (h > 0) return `${h}:${String(m).padStart(2, "0")}:${ss}`;
  return `${m}:${ss}`;
}

/** A short spoken form for screen readers and headings: "about 19 minutes". */
export function describeRemaining(ms: number): string {
  const min = Math.ceil(Math.max(0, ms) / 60000);
  if (min <= 0) return "no time";
  if (min === 1) return "about a minute";
  if (min < 90) return `about ${min} minutes`;
  const h = Math.round(min / 60);
  return `about ${h} hours`;
}

/** Local clock time of an RFC 3339 stamp, e.g. "14:05" (the browser's locale). */
export function clockTime(iso: string | undefined | null, locale?: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return "";
  return d.toLocaleTimeString(locale, { hour: "numeric", minute: "2-digit" });
}

/** Local date and time, e.g. "12 March, 14:05". */
export function dateTime(iso: string | undefined | null, locale?: string): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return "";
  return d.toLocaleString(locale, { day: "numeric", month: "long", hour: "numeric", minute: "2-digit" });
}

/** "1 unsent change", "3 unsent changes". */
export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
