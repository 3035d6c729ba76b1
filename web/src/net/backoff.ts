/**
 * Reconnect delay for the given attempt (0 = first retry): exponential
 * from `base`, capped at `cap`, with "equal jitter" — half the delay is
 * fixed, half random — so that clients dropped together by a restarting
 * node do not all come back in the same millisecond, yet none waits near zero.
 */
export function backoffDelay(attempt: number, rand: () => number = Math.random, base = 500, cap = 10000): number {
  const exp = Math.min(cap, base * 2 ** Math.min(Math.max(0, attempt), 20));
  const half = exp / 2;
  return Math.round(half + rand() * half);
}

/** Extra pause after a close that asks us to slow down (4029: message flood). */
export const FLOOD_PAUSE_MS = 15000;
