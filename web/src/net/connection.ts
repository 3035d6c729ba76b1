// The room's WebSocket, kept open: reconnects with backoff after any drop
// except the closes internal/protocol marks as final (closecodes.ts).

import { backoffDelay } from "./backoff";
import type { ClientMsg, ServerMsg } from "../types";
import { FATAL_CLOSE } from "../types";
import { closeInfo } from "./closecodes";
import { deviceSecret } from "../practice/wayback";

export type ConnStatus = "connecting" | "connected" | "reconnecting" | "offline" | "stopped";

export interface ConnectionHandlers {
  message(msg: ServerMsg): void;
  /** The socket closed (before a reconnect is scheduled). */
  closed(code: number): void;
  status(s: ConnStatus, detail: string): void;
}

/** Failed attempts in a row after which we say "offline" instead of "reconnecting". */
const OFFLINE_AFTER = 3;

/** HTTP answers before the upgrade that mean the link cannot work (protocol.md). */
/** Shown when this browser was removed from the room (close 4003 "device removed", or device_removed over HTTP). */
const DEVICE_REMOVED = "This device was removed from the room. Ask the person who sent your link if you need to come back.";

const FATAL_HTTP: Record<string, string> = {
  bad_token: "This link does not work. Please ask for a new one.",
  expired: "This link has expired. Please ask for a new one.",
  revoked: "This link was replaced by a new one. Please ask for the new link.",
  no_room: "This room no longer exists.",
  device_removed: DEVICE_REMOVED,
};

export class Connection {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private opened = false;
  private stoppedReason = "";
  status: ConnStatus = "connecting";

  constructor(
    private readonly roomID: string,
    private readonly token: string,
    private readonly h: ConnectionHandlers,
  ) {
    window.addEventListener("online", () => {
      if (this.status === "stopped") return;
      if (!this.ws) this.connectSoon(0);
    });
    window.addEventListener("offline", () => {
      if (this.status !== "connected" && this.status !== "stopped") this.setStatus("offline", "");
    });
  }

  get stopReason(): string {
    return this.stoppedReason;
  }

  private url(): string {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const device = deviceSecret(this.roomID); // the way back's device secret: this browser's socket is that device (room/devices.ts)
    return `${proto}//${location.host}/ws/rooms/${encodeURIComponent(this.roomID)}?token=${encodeURIComponent(this.token)}${device ? `&device=${encodeURIComponent(device)}` : ""}`;
  }

  start(): void {
    this.connect();
  }

  /** The room controller calls this once `welcome` arrived. */
  markConnected(): void {
    this.attempt = 0;
    this.setStatus("connected", "");
  }

  send(msg: ClientMsg): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.status !== "connected") return false;
    try {
      this.ws.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  /** Sends before `welcome` (never needed by the protocol today, kept for symmetry). */
  stop(reason: string): void {
    this.stoppedReason = reason;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      try {
        ws.close(1000);
      } catch {
        /* ignore */
      }
    }
    this.setStatus("stopped", reason);
  }

  private setStatus(s: ConnStatus, detail: string): void {
    this.status = s;
    this.h.status(s, detail);
  }

  private connect(): void {
    if (this.status === "stopped") return;
    this.timer = null;
    this.opened = false;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect(1006);
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.opened = true;
    };
    ws.onmessage = (ev) => {
      let msg: ServerMsg;
      try {
        msg = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      if (msg && typeof msg === "object" && typeof (msg as { t?: unknown }).t === "string") this.h.message(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      const wasConnected = this.status === "connected";
      this.h.closed(ev.code);
      // Whether to reconnect is the server's table (closecodes.ts); the
      // words shown are ours.
      if (!closeInfo(ev.code).reconnect) {
        this.stop(ev.code === 4003 && ev.reason === "device removed" ? DEVICE_REMOVED : (FATAL_CLOSE[ev.code] ?? "This connection was closed for good."));
        return;
      }
      if (!this.opened && !wasConnected) {
        // Refused before the upgrade: maybe the link is bad. Ask over HTTP why.
        void this.probe();
      }
      this.scheduleReconnect(ev.code);
    };
  }

  private scheduleReconnect(code: number): void {
    if (this.status === "stopped") return;
    const pause = closeInfo(code).pauseMs;
    const delay = pause > 0 ? pause : backoffDelay(this.attempt);
    this.attempt++;
    const offline = this.attempt > OFFLINE_AFTER || (typeof navigator !== "undefined" && navigator.onLine === false);
    this.setStatus(offline ? "offline" : "reconnecting", "");
    this.connectSoon(delay);
  }

  private connectSoon(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /**
   * Drops a connection that looks dead (the server stopped answering) and
   * reconnects, without waiting for the browser's own close, which can take
   * minutes on a vanished network.
   */
  restart(): void {
    const ws = this.ws;
    if (!ws || this.status === "stopped") return;
    this.ws = null;
    ws.onclose = null;
    ws.onmessage = null;
    try {
      ws.close(4000, "no answer");
    } catch {
      /* ignore */
    }
    this.h.closed(1006);
    this.scheduleReconnect(1006);
  }

  /** Reconnect now (the person pressed "Try again"). */
  retryNow(): void {
    if (this.status === "stopped" || this.ws) return;
    this.attempt = 0;
    this.connectSoon(0);
  }

  /**
   * A browser hides why a WebSocket upgrade failed. A plain GET of the same
   * URL is answered with the same 401/404 JSON when the token or room is
   * bad; anything else (a network error, 4xx about the upgrade) means "keep
   * trying".
   */
  private async probe(): Promise<void> {
    if (this.attempt % 3 !== 0) return; // not on every attempt
    try {
      const res = await fetch(this.url().replace(/^ws/, "http"), { cache: "no-store" });
      if (res.status !== 401 && res.status !== 404) return;
      const body = (await res.json().catch(() => null)) as { code?: string } | null;
      const why = body?.code ? FATAL_HTTP[body.code] : undefined;
      if (why && this.status !== "connected") this.stop(why);
    } catch {
      /* offline: keep trying */
    }
  }
}
