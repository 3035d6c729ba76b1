// Devices of a seat (docs/api.md, "Devices of a seat"): every browser a
// seat's link was opened in. A new one is announced to the whole room (the
// server's "notice" frame); the moderator — in a self-guided room, the
// seat's own partner — sees the list and can remove one, which closes it at
// once and keeps it out.

import { h, replaceChildren, setText } from "../dom";
import { clockTime } from "../format";
import type { NoticeMsg } from "../types";
import { deviceId } from "../practice/wayback";
import type { RoomCtx } from "./app";

/** The window event that asks every devices list to refresh. */
export const DEVICES_CHANGED = "rr:devices";

interface Device {
  id: string;
  seat: string;
  name: string;
  at: string;
}

/** What a notice says, in our words. */
export function noticeText(ctx: RoomCtx, msg: NoticeMsg): string | null {
  if (msg.kind !== "device_new") return null;
  if (msg.seat === ctx.me.role) return "Your link was just opened on another device. If that was not you, tell the person who sent it.";
  return `${msg.name || "Someone"} joined from a new device.`;
}

/** The list of devices, with a Remove button each. */
export class DevicesBox {
  readonly el: HTMLElement;
  private list: HTMLElement;
  private note: HTMLElement;
  private mine: string | null = null;

  constructor(
    private ctx: RoomCtx,
    own: boolean, // the list of one's own seat (self-guided)
  ) {
    this.list = h("ul", { class: "devices-list", "data-testid": "devices-list" });
    this.note = h("p", { class: "muted small", role: "status" });
    const refresh = h("button", { class: "btn small quiet", type: "button", "data-testid": "devices-refresh" }, "Refresh the list");
    refresh.addEventListener("click", () => void this.refresh());
    this.el = h(
      "div",
      { class: "devices", "data-testid": "devices" },
      h("p", { class: "muted small" }, own ? "Where your link is open. Remove a device you do not know: it is closed at once." : "Where each link is open. Remove a device nobody recognises: it is closed at once and kept out."),
      this.list,
      this.note,
      refresh,
    );
    window.addEventListener(DEVICES_CHANGED, () => void this.refresh());
    void deviceId(ctx.roomID).then((id) => {
      this.mine = id;
      void this.refresh();
    });
  }

  async refresh(): Promise<void> {
    const res = await this.ctx.authed(`/api/rooms/${encodeURIComponent(this.ctx.roomID)}/devices`).catch(() => null);
    if (!res || !res.ok) {
      setText(this.note, "The list of devices could not be loaded.");
      return;
    }
    const { devices } = (await res.json()) as { devices: Device[] };
    setText(this.note, devices.length ? "" : "No device has opened a link yet.");
    replaceChildren(
      this.list,
      ...devices.map((d) => {
        const here = d.id === this.mine;
        const when = clockTime(d.at);
        const label = `${d.name}${here ? " (this browser)" : ""}${when ? `, last opened ${when}` : ""}`;
        const btn = h("button", { class: "btn small danger quiet", type: "button", "aria-label": `Remove ${label}`, "data-testid": "device-remove" }, "Remove");
        btn.addEventListener("click", () => void this.remove(d, btn, here));
        return h("li", { "data-testid": `device-${d.seat}`, "data-device": d.id }, h("span", null, label), " ", btn);
      }),
    );
  }

  private async remove(d: Device, btn: HTMLButtonElement, here: boolean): Promise<void> {
    const q = here ? "Remove this browser? This page closes and this browser cannot open the room again." : `Remove this device of ${d.name}? It is closed at once and cannot open the room again.`;
    if (!window.confirm(q)) return;
    btn.disabled = true;
    const res = await this.ctx.authed(`/api/rooms/${encodeURIComponent(this.ctx.roomID)}/devices/${encodeURIComponent(d.id)}`, { method: "DELETE" }).catch(() => null);
    btn.disabled = false;
    if (!res || (!res.ok && res.status !== 404)) {
      this.ctx.toast("The device could not be removed. Please try again.");
      return;
    }
    this.ctx.toast(`${d.name}'s device was removed.`);
    await this.refresh();
  }
}
