// Justification hints: a soft note under an apology when its text contains
// one of the template's phrases ("but you", "because you", …). Never blocks.

import type { Hint } from "./types";

/** Lower case, straight apostrophes, single spaces: how both sides are compared. */
export function normalizeForHints(s: string): string {
  return s
    .toLowerCase()
    .replace(/[\u2018\u2019\u02bc`´]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/\s+/g, " ")
    .trim();
}

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && /[\p{L}\p{N}']/u.test(c);
}

/** Whether `phrase` occurs in `text` (both normalised) as whole words. */
export function containsPhrase(text: string, phrase: string): boolean {
  const p = normalizeForHints(phrase);
  if (!p) return false;
  let from = 0;
  for (;;) {
    const i = text.indexOf(p, from);
    if (i < 0) return false;
    const before = text[i - 1];
    const after = text[i + p.length];
    const startOk = !isWordChar(p[0]) || !isWordChar(before);
    const endOk = !isWordChar(p[p.length - 1]) || !isWordChar(after);
    if (startOk && endOk) return true;
    from = i + 1;
  }
}

export interface HintMatch {
  message: string;
  phrase: string;
}

/** The hints whose phrases occur in `text`, each message once, in template order. */
export function matchHints(text: string, hints: readonly Hint[] | undefined): HintMatch[] {
  if (!hints?.length || !text) return [];
  const norm = normalizeForHints(text);
  const out: HintMatch[] = [];
  const seen = new Set<string>();
  for (const h of hints) {
    if (seen.has(h.message)) continue;
    const phrase = (h.phrases ?? []).find((p) => containsPhrase(norm, p));
    if (phrase !== undefined) {
      seen.add(h.message);
      out.push({ message: h.message, phrase });
    }
  }
  return out;
}
