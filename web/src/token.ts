// The invite token travels in the URL fragment (#t=…). We keep it in
// sessionStorage per room, so a reload keeps working, and take it out of the
// visible URL so it is not copied or shoulder-surfed by accident.

export interface KV {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
}

export function storageKey(roomID: string): string {
  return `rr.token.${roomID}`;
}

/** The token in a location hash like "#t=abc" (also "#foo&t=abc"), or null. */
export function tokenFromHash(hash: string): string | null {
  const s = hash.startsWith("#") ? hash.slice(1) : hash;
  for (const part of s.split("&")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq) === "t") {
      // A mangled link (say "%E0") must not crash the page: no token.
      let v = "";
      try {
        v = decodeURIComponent(part.slice(eq + 1));
      } catch {
        return null;
      }
      return v || null;
    }
  }
  return null;
}

/** The room id of a path like "/r/{id}", or null. */
export function roomFromPath(path: string): string | null {
  const m = /^\/r\/([^/?#]+)\/?$/.exec(path);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null; // a mangled address is no room, not a crash
  }
}

/**
 * The token for `roomID`: from the hash when present (then stored), else from
 * storage. `hashHadToken` tells the caller to clean the visible URL.
 */
export function resolveToken(roomID: string, hash: string, store: KV | null): { token: string | null; hashHadToken: boolean } {
  const fromHash = tokenFromHash(hash);
  if (fromHash) {
    try {
      store?.setItem(storageKey(roomID), fromHash);
    } catch {
      /* storage full or blocked: the token still works for this page */
    }
    return { token: fromHash, hashHadToken: true };
  }
  let stored: string | null = null;
  try {
    stored = store?.getItem(storageKey(roomID)) ?? null;
  } catch {
    stored = null;
  }
  return { token: stored, hashHadToken: false };
}

export function forgetToken(roomID: string, store: KV | null): void {
  try {
    store?.removeItem(storageKey(roomID));
  } catch {
    /* ignore */
  }
}
