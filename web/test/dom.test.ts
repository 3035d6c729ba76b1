import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

// A minimal fake DOM: enough for dom.ts, and loud if anything parses HTML.
class FakeNode {
  childNodes: FakeNode[] = [];
  parentNode: FakeNode | null = null;
  appendChild(n: FakeNode) {
    n.parentNode = this;
    this.childNodes.push(n);
    return n;
  }
  removeChild(n: FakeNode) {
    this.childNodes = this.childNodes.filter((c) => c !== n);
    return n;
  }
  get firstChild() {
    return this.childNodes[0] ?? null;
  }
}
class FakeText extends FakeNode {
  nodeType = 3;
  constructor(public data: string) {
    super();
  }
  get textContent() {
    return this.data;
  }
}
const htmlWrites: string[] = [];
class FakeElement extends FakeNode {
  nodeType = 1;
  attrs = new Map<string, string>();
  listeners: string[] = [];
  constructor(public tagName: string) {
    super();
  }
  setAttribute(k: string, v: string) {
    this.attrs.set(k, v);
  }
  removeAttribute(k: string) {
    this.attrs.delete(k);
  }
  addEventListener(t: string) {
    this.listeners.push(t);
  }
  set textContent(v: string) {
    this.childNodes = [new FakeText(v)];
  }
  get textContent(): string {
    return this.childNodes.map((c) => (c as FakeText | FakeElement).textContent).join("");
  }
  set innerHTML(v: string) {
    htmlWrites.push(v);
  }
  insertAdjacentHTML(_p: string, v: string) {
    htmlWrites.push(v);
  }
}
(globalThis as unknown as { document: unknown }).document = {
  createElement: (t: string) => new FakeElement(t),
  createTextNode: (s: string) => new FakeText(s),
};

const { h, replaceChildren, setText } = await import("../src/dom");

const EVIL = `<img src=x onerror="alert('pwned')"><script>alert(1)</script>`;

test("user text becomes text nodes, never markup", () => {
  const el = h("p", { class: "x", text: EVIL }) as unknown as FakeElement;
  assert.equal(el.childNodes.length, 1);
  assert.equal((el.childNodes[0] as FakeText).nodeType, 3);
  assert.equal(el.textContent, EVIL);
  const el2 = h("div", null, "Name: ", EVIL, 3) as unknown as FakeElement;
  assert.ok(el2.childNodes.every((c) => (c as FakeText).nodeType === 3));
  assert.equal(el2.textContent, `Name: ${EVIL}3`);
  replaceChildren(el2 as unknown as Element, EVIL);
  setText(el2 as unknown as Element, EVIL + "!");
  assert.equal(el2.textContent, EVIL + "!");
  assert.deepEqual(htmlWrites, []);
});

test("attribute values are set as attributes, not parsed", () => {
  const el = h("input", { "aria-label": EVIL, title: EVIL }) as unknown as FakeElement;
  assert.equal(el.attrs.get("aria-label"), EVIL);
  assert.deepEqual(htmlWrites, []);
});

test("no module of web/src uses an HTML-parsing DOM API", () => {
  const root = join(process.env.RR_WEB_ROOT ?? join(process.cwd(), "web"), "src");
  const banned = /\b(innerHTML|outerHTML|insertAdjacentHTML|createContextualFragment|DOMParser|document\.write|srcdoc)\b/;
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|js|mjs)$/.test(name)) {
        readFileSync(p, "utf8")
          .split("\n")
          .forEach((line, i) => {
            if (banned.test(line) && !line.includes("a unit test checks")) offenders.push(`${p}:${i + 1}: ${line.trim()}`);
          });
      }
    }
  };
  walk(root);
  assert.deepEqual(offenders, []);
});
