// Code generated from internal/protocol's Closes by
// "go test ./internal/protocol -run TestCloseCodesTS -update". DO NOT EDIT.
// The close codes of docs/protocol.md and whether a client reconnects after each.

/** One close code: its stable name, whether to reconnect, the least pause before it. */
export interface CloseInfo {
  name: string;
  reconnect: boolean;
  pauseMs: number;
  meaning: string;
}

export const CLOSES: Readonly<Record<number, CloseInfo>> = {
  1000: { name: "normal", reconnect: true, pauseMs: 0, meaning: "closed normally (by a proxy, or by the client itself); reconnect if still wanted" },
  1001: { name: "going_away", reconnect: true, pauseMs: 0, meaning: "the server is shutting down; reconnect (to another node) and resume" },
  1009: { name: "too_big", reconnect: true, pauseMs: 0, meaning: "a message was larger than the limit (maxMessageBytes in welcome)" },
  1011: { name: "internal", reconnect: true, pauseMs: 0, meaning: "the server could not serve the room (storage unreachable or an internal error); reconnect with backoff" },
  4001: { name: "bad_token", reconnect: false, pauseMs: 0, meaning: "the link is not valid" },
  4003: { name: "revoked", reconnect: false, pauseMs: 0, meaning: "the links were rotated; this one is revoked" },
  4004: { name: "room_deleted", reconnect: false, pauseMs: 0, meaning: "the room was deleted" },
  4008: { name: "slow_consumer", reconnect: true, pauseMs: 0, meaning: "the client read too slowly and its queue filled; reconnect and resume" },
  4029: { name: "flood", reconnect: true, pauseMs: 15000, meaning: "too many messages in a row over the rate limit; reconnect after a pause" },
};

/** The entry of code; codes not listed (the network's 1006, a proxy's own) are reconnectable. */
export function closeInfo(code: number): CloseInfo {
  return CLOSES[code] ?? { name: "other", reconnect: true, pauseMs: 0, meaning: "" };
}
