// The other people's cursors and selections inside one editor: a state
// field holding their positions, mapped through every change (so a caret
// stays on its word while text is typed before it), drawn as a mark for the
// selection and a caret widget carrying the person's name.

import { EditorState, StateEffect, StateField, Range } from "@codemirror/state";
import { Decoration, DecorationSet, EditorView, WidgetType } from "@codemirror/view";

export interface RemoteCursor {
  id: string;
  name: string;
  /** Colour class suffix: "a", "b" or "m". */
  tone: string;
  anchor: number;
  head: number;
}

/** Replaces the remote cursors shown in this editor. */
export const setRemoteCursors = StateEffect.define<RemoteCursor[]>();

/** A shown cursor: `at` is where its person last put it (before local mapping). */
interface ShownCursor extends RemoteCursor {
  at: string;
}

/**
 * The caret with its name tag. The tag would cover the line above, so it
 * shows only while its person moves or types, then fades (styles.css): a
 * new `at` makes a new widget, whose tag shows again.
 */
class CaretWidget extends WidgetType {
  constructor(
    readonly name: string,
    readonly tone: string,
    readonly at: string,
  ) {
    super();
  }
  eq(other: CaretWidget): boolean {
    return other.name === this.name && other.tone === this.tone && other.at === this.at;
  }
  toDOM(): HTMLElement {
    const caret = document.createElement("span");
    caret.className = `rr-caret rr-tone-${this.tone}`;
    caret.setAttribute("aria-hidden", "true");
    const label = document.createElement("span");
    label.className = "rr-caret-name";
    label.textContent = this.name;
    caret.appendChild(label);
    return caret;
  }
  ignoreEvent(): boolean {
    return true;
  }
}

function clamp(n: number, len: number): number {
  return Math.max(0, Math.min(len, n | 0));
}

function build(cursors: readonly ShownCursor[]): DecorationSet {
  const ranges: Range<Decoration>[] = [];
  for (const c of cursors) {
    const from = Math.min(c.anchor, c.head);
    const to = Math.max(c.anchor, c.head);
    if (from < to) ranges.push(Decoration.mark({ class: `rr-remote-sel rr-tone-${c.tone}` }).range(from, to));
    ranges.push(Decoration.widget({ widget: new CaretWidget(c.name, c.tone, c.at), side: 1 }).range(c.head));
  }
  return Decoration.set(ranges, true);
}

interface CursorState {
  cursors: ShownCursor[];
  deco: DecorationSet;
}

export const remoteCursorField = StateField.define<CursorState>({
  create: () => ({ cursors: [], deco: Decoration.none }),
  update(value, tr) {
    let cursors = value.cursors;
    let dirty = false;
    if (tr.docChanged && cursors.length) {
      cursors = cursors.map((c) => ({
        ...c,
        anchor: tr.changes.mapPos(c.anchor, 1),
        head: tr.changes.mapPos(c.head, 1),
      }));
      dirty = true;
    }
    for (const e of tr.effects) {
      if (e.is(setRemoteCursors)) {
        const len = tr.newDoc.length;
        cursors = e.value.map((c) => ({ ...c, anchor: clamp(c.anchor, len), head: clamp(c.head, len), at: `${c.anchor}:${c.head}` }));
        dirty = true;
      }
    }
    return dirty ? { cursors, deco: build(cursors) } : value;
  },
  provide: (f) => EditorView.decorations.from(f, (v) => v.deco),
});

export function remoteCursorsOf(state: EditorState): readonly RemoteCursor[] {
  return state.field(remoteCursorField, false)?.cursors ?? [];
}
