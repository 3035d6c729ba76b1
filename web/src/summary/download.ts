// Downloads of what a seat takes home. The invite token never goes in a
// URL: it is sent in the Authorization header, and the answer is handed
// to the browser as a file through a blob URL.

import { storageKey } from "../token";

/** The token this tab holds for the room (sessionStorage), or null. */
export function storedToken(roomID: string): string | null {
  try {
    return window.sessionStorage.getItem(storageKey(roomID));
  } catch {
    return null;
  }
}

/** The browser's IANA time zone, e.g. "Europe/Paris" ("" if unknown). */
export function timeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone ?? "";
  } catch {
    return "";
  }
}

/** GET an API path of the room with the token as a Bearer header. */
export async function fetchWithToken(path: string, token: string): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  const tz = timeZone();
  if (tz) headers["X-Time-Zone"] = tz;
  return fetch(path, { headers, cache: "no-store" });
}

/** The file name a Content-Disposition header gives, or `fallback`. */
export function fileName(disposition: string | null, fallback: string): string {
  const m = /filename="([^"]+)"/.exec(disposition ?? "");
  return m ? m[1] : fallback;
}

/**
 * Fetches path and saves it as a file. Resolves to "" on success, or a
 * sentence saying what went wrong.
 */
export async function download(path: string, token: string, fallback: string): Promise<string> {
  let r: Response;
  try {
    r = await fetchWithToken(path, token);
  } catch {
    return "The download did not start: the server could not be reached. Try again in a moment.";
  }
  if (!r.ok) return r.status === 401 || r.status === 404 ? "This link no longer opens the room, so there is nothing to download." : "The download failed on our side. Try again in a moment.";
  const blob = await r.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = fileName(r.headers.get("Content-Disposition"), fallback);
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return "";
}

/** Downloads the room's check-ins as a calendar file. */
export function downloadCalendar(roomID: string, token: string): Promise<string> {
  return download(`/api/rooms/${encodeURIComponent(roomID)}/calendar.ics`, token, "repair-room-checkins.ics");
}
