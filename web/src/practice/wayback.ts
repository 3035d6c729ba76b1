// The way back into a room without the link: the first time this browser
// opens a room with an invite link, it binds the seat to a random device
// secret kept in localStorage (the server keeps only its hash, under the
// room's keys, so it expires and is deleted with the room). Opening /r/ROOM
// later — a bookmark, a new tab — trades the secret for a fresh token. The
// start page lists these rooms as "my rooms".

import { h, replaceChildren, type Child } from "../dom";
import { dateTime } from "../format";
import { storageKey, type KV } from "../token";

const LS_KEY = "rr.rooms";

interface Remembered {
  secret: string;
  role: string;
  title?: string;
  created?: string;
}

function local(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

function load(): Record<string, Remembered> {
  try {
    const v = JSON.parse(local()?.getItem(LS_KEY) ?? "{}");
    return v && typeof v === "object" ? v : {};
  } catch {
    return {};
  }
}

function save(all: Record<string, Remembered>): void {
  try {
    local()?.setItem(LS_KEY, JSON.stringify(all));
  } catch {
    /* storage full or blocked: the way back is a convenience */
  }
}

function newSecret(): string {
  const b = new Uint8Array(32);
  crypto.getRandomValues(b);
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Binds this browser to the seat of `token` (again, after a link was replaced). Best effort. */
export async function bindThisBrowser(roomID: string, token: string): Promise<void> {
  const all = load();
  const mine = all[roomID] ?? { secret: newSecret(), role: "" };
  if (!all[roomID]) {
    // Kept at once: the room's socket, opened right now, presents it too
    // (room/devices.ts), so this browser is one device from the start.
    all[roomID] = mine;
    save(all);
  }
  try {
    const res = await fetch(`/api/rooms/${encodeURIComponent(roomID)}/device`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
      body: JSON.stringify({ secret: mine.secret }),
    });
    if (!res.ok) return;
    const info = await res.json();
    all[roomID] = { ...mine, role: info.role ?? mine.role, title: info.title ?? mine.title, created: info.created ?? mine.created };
    save(all);
  } catch {
    /* offline: try again next time the link is opened */
  }
}

/**
 * Trades this browser's device secret for a fresh token, kept in `store`
 * under the room's token key (where a reload finds it). False when this
 * browser has no binding, or it no longer works.
 */
export async function enterWithDevice(roomID: string, store: KV | null): Promise<boolean> {
  const mine = load()[roomID];
  if (!mine || !store) return false;
  try {
    const res = await fetch(`/api/rooms/${encodeURIComponent(roomID)}/enter`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ secret: mine.secret }),
    });
    if (res.status === 404) forget(roomID);
    if (!res.ok) return false;
    const { token } = await res.json();
    store.setItem(storageKey(roomID), token);
    return true;
  } catch {
    return false;
  }
}

/** This browser's device secret for the room, if it has one (sent with the room's socket). */
export function deviceSecret(roomID: string): string | null {
  return load()[roomID]?.secret ?? null;
}

/** This browser's device id in the room (the hex sha256 of its secret, as the server lists it), if any. */
export async function deviceId(roomID: string): Promise<string | null> {
  const secret = deviceSecret(roomID);
  if (!secret || !crypto.subtle) return null;
  try {
    const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
    return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
  } catch {
    return null;
  }
}

function forget(roomID: string): void {
  const all = load();
  delete all[roomID];
  save(all);
}

const roleWords: Record<string, string> = { partner_a: "Partner A", partner_b: "Partner B", moderator: "Therapist" };

/** The start page's "my rooms": rooms this browser has opened, newest first, or null when there are none. */
export function myRoomsSection(): HTMLElement | null {
  const all = Object.entries(load());
  if (all.length === 0) return null;
  all.sort(([, a], [, b]) => (b.created ?? "").localeCompare(a.created ?? ""));
  const list = h("ul", { class: "my-rooms-list" });
  const items: Child[] = all.map(([id, r]) => {
    const status = h("span", { class: "muted small", "data-testid": `my-room-status-${id}` });
    void roomStatus(id, r.secret).then((s) => (status.textContent = s));
    return h(
      "li",
      { "data-testid": `my-room-${id}` },
      h("a", { href: `/r/${encodeURIComponent(id)}` }, r.title || "A room"),
      h("span", { class: "muted small" }, ` ${r.created ? dateTime(r.created) + " · " : ""}as ${roleWords[r.role] ?? r.role} · `),
      status,
    );
  });
  replaceChildren(list, ...items);
  return h("section", { class: "step my-rooms", "aria-labelledby": "my-rooms-title" }, h("h2", { id: "my-rooms-title" }, "My rooms"), h("p", { class: "muted small" }, "Rooms you opened in this browser. They open without your link here."), list);
}

async function roomStatus(id: string, secret: string): Promise<string> {
  try {
    const res = await fetch(`/api/rooms/${encodeURIComponent(id)}/device/status`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ secret }),
    });
    if (res.status === 404) return "deleted or expired";
    const body = await res.json();
    if (!res.ok) return body.code === "revoked" ? "link replaced: ask for your new link" : "cannot open from here";
    return body.ended ? "ended" : "open";
  } catch {
    return "";
  }
}
