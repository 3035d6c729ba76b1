// Routing to the summary page: /r/{room}/summary. The token comes from the
// fragment (#t=…, then stored and removed from the visible URL) or from
// this tab's storage, as for the room page.

import type { KV } from "../token";
import { resolveToken } from "../token";
import { showSummaryPage as show } from "./page";

/** The room id of a path like "/r/{id}/summary", or null. */
export function summaryRoomFromPath(path: string): string | null {
  const m = /^\/r\/([^/?#]+)\/summary\/?$/.exec(path);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

/** Opens the summary page of roomID in root. */
export function showSummaryPage(root: HTMLElement, roomID: string, store: KV | null): Promise<void> {
  const { token, hashHadToken } = resolveToken(roomID, location.hash, store);
  if (hashHadToken) history.replaceState(history.state, "", location.pathname + location.search);
  return show(root, roomID, token);
}
