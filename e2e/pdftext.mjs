// A small text extraction for the PDFs Chromium prints (page.pdf()), so
// the tests can read what "Save as PDF" gives without a PDF library:
// inflate the Flate streams, read each font's ToUnicode CMap, and map the
// glyph strings of every content stream (Tf selects the font; Tj, TJ, '
// and " show text) back to Unicode. Good enough for Chromium's own output;
// not a general PDF reader.

import { inflateSync } from "node:zlib";

/** Every "N 0 obj … endobj" of the file: { num, dict, stream }. */
function objects(buf) {
  const s = buf.toString("latin1");
  const out = new Map();
  const re = /(\d+)\s+0\s+obj\b/g;
  let m;
  while ((m = re.exec(s))) {
    const start = m.index + m[0].length;
    const end = s.indexOf("endobj", start);
    if (end < 0) break;
    const body = s.slice(start, end);
    const si = body.indexOf("stream");
    let dict = body;
    let stream = null;
    if (si >= 0) {
      dict = body.slice(0, si);
      let from = start + si + "stream".length;
      if (s[from] === "\r") from++;
      if (s[from] === "\n") from++;
      const lenM = /\/Length\s+(\d+)(?!\s+0\s+R)/.exec(dict);
      const to = lenM ? from + Number(lenM[1]) : start + body.lastIndexOf("endstream");
      let raw = buf.subarray(from, to);
      if (/\/FlateDecode/.test(dict)) {
        try {
          raw = inflateSync(raw);
        } catch {
          raw = Buffer.alloc(0);
        }
      }
      stream = raw.toString("latin1");
    }
    out.set(Number(m[1]), { dict, stream });
    re.lastIndex = end;
  }
  return out;
}

const hexToStr = (hex) => {
  let out = "";
  for (let i = 0; i + 3 < hex.length + 1; i += 4) {
    const cp = parseInt(hex.slice(i, i + 4), 16);
    if (!isNaN(cp)) out += String.fromCharCode(cp);
  }
  return out;
};

/** A ToUnicode CMap as glyph code (hex, upper case) → text. */
function cmap(text) {
  const map = new Map();
  for (const block of text.matchAll(/beginbfchar([\s\S]*?)endbfchar/g)) {
    for (const [, src, dst] of block[1].matchAll(/<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>/g)) map.set(src.toUpperCase(), hexToStr(dst));
  }
  for (const block of text.matchAll(/beginbfrange([\s\S]*?)endbfrange/g)) {
    for (const [, lo, hi, dst] of block[1].matchAll(/<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>/g)) {
      const a = parseInt(lo, 16);
      const b = parseInt(hi, 16);
      const d = parseInt(dst, 16);
      for (let c = a; c <= b; c++) map.set(c.toString(16).toUpperCase().padStart(lo.length, "0"), String.fromCharCode(d + c - a));
    }
  }
  return map;
}

/** The text of a PDF, page content in file order, one line per text line. */
export function pdfText(buf) {
  const objs = objects(buf);
  // Font object number → its CMap.
  const fontMaps = new Map();
  for (const [num, o] of objs) {
    const tu = /\/ToUnicode\s+(\d+)\s+0\s+R/.exec(o.dict);
    if (tu && objs.get(Number(tu[1]))?.stream) fontMaps.set(num, cmap(objs.get(Number(tu[1])).stream));
  }
  // Font resource names (/F4 12 0 R) → font object numbers, from every dictionary.
  const names = new Map();
  for (const [, o] of objs) {
    for (const [, fontDict] of o.dict.matchAll(/\/Font\s*<<([\s\S]*?)>>/g)) {
      for (const [, name, ref] of fontDict.matchAll(/\/([A-Za-z0-9_.+-]+)\s+(\d+)\s+0\s+R/g)) names.set(name, Number(ref));
    }
  }
  const decode = (font, hex) => {
    const map = fontMaps.get(names.get(font)) ?? new Map();
    const width = [...map.keys()][0]?.length ?? 4;
    let out = "";
    for (let i = 0; i < hex.length; i += width) out += map.get(hex.slice(i, i + width).toUpperCase()) ?? "";
    return out;
  };
  let text = "";
  for (const [, o] of objs) {
    if (!o.stream || !/\bBT\b/.test(o.stream)) continue;
    let font = "";
    for (const tok of o.stream.matchAll(/\/([A-Za-z0-9_.+-]+)\s+[\d.]+\s+Tf|\[((?:[^\]\\]|\\.)*)\]\s*TJ|<([0-9A-Fa-f]*)>\s*(?:Tj|'|")|\bT\*|\bET\b|[\d.-]+\s+[\d.-]+\s+T[dD]/g)) {
      if (tok[1]) font = tok[1];
      else if (tok[2] !== undefined) {
        for (const part of tok[2].matchAll(/<([0-9A-Fa-f]*)>|(-?\d+(?:\.\d+)?)/g)) {
          if (part[1] !== undefined) text += decode(font, part[1]);
          else if (Number(part[2]) < -200) text += " "; // a wide gap is a space
        }
      } else if (tok[3] !== undefined) text += decode(font, tok[3]);
      else text += "\n";
    }
  }
  return text.replace(/[ \t]+/g, " ").replace(/\n\s*\n+/g, "\n");
}
