// Entry point: the start page at "/", a room at "/r/{id}".

import "./styles.css";
import { renderStart } from "./start";
import { renderPractice } from "./practice/page";
import { bindThisBrowser, enterWithDevice } from "./practice/wayback";
import { RoomApp } from "./room/app";
import { resolveToken, roomFromPath } from "./token";
import { h, replaceChildren } from "./dom";
import { showSummaryPage, summaryRoomFromPath } from "./summary/route";

type Hooks = ReturnType<RoomApp["hooks"]>;

declare global {
  interface Window {
    __rr: Hooks;
  }
}

function sessionStore(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/** Harmless hooks for end-to-end tests, present on every page. */
const idleHooks: Hooks = {
  status: () => "offline",
  text: () => "",
  version: () => -1,
  unsent: () => 0,
  state: () => null,
  me: () => null,
  saved: () => false,
  keys: () => [],
  members: () => [],
};

function main(): void {
  const root = document.getElementById("app") ?? document.body;
  window.__rr = idleHooks;
  const summaryOf = summaryRoomFromPath(location.pathname);
  if (summaryOf) return void showSummaryPage(root, summaryOf, sessionStore()); // summary/route.ts
  const roomID = roomFromPath(location.pathname);
  if (location.pathname === "/practice") {
    void renderPractice(root);
    return;
  }
  if (!roomID) {
    renderStart(root);
    return;
  }
  const { token, hashHadToken } = resolveToken(roomID, location.hash, sessionStore());
  if (hashHadToken) {
    // Keep the capability out of the visible URL, history and screenshots.
    history.replaceState(history.state, "", location.pathname + location.search);
  }
  if (token) void bindThisBrowser(roomID, token); // practice/wayback.ts: the way back without the link
  if (!token) {
    // This browser may have opened the room before: its device secret
    // trades for a fresh token, and a reload finds it (practice/wayback.ts).
    void enterWithDevice(roomID, sessionStore()).then((entered) => {
      if (entered) return location.reload();
      replaceChildren(
        root,
        h(
          "div",
          { class: "center-card card" },
          h("h1", null, "This page needs your personal link"),
          h("p", null, "Open the room with the link you were sent — it ends with a private code. If you no longer have it, ask the person who created the room."),
          h("a", { class: "btn", href: "/" }, "Go to the start page"),
        ),
      );
    });
    return;
  }
  replaceChildren(root, h("div", { class: "center-card card loading", role: "status" }, h("p", null, "Opening the room…")));
  const app = new RoomApp(roomID, token, root);
  window.__rr = app.hooks();
  app.start();
  // Leaving with unsent words: let the browser ask first.
  window.addEventListener("beforeunload", (e) => {
    if (app.unsent() > 0) {
      e.preventDefault();
      e.returnValue = "";
    }
  });
}

main();
