// The CodeMirror setup every text field shares.

import { Compartment, EditorState, Extension, Transaction } from "@codemirror/state";
import { EditorView, keymap, placeholder as placeholderExt, ViewUpdate } from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { remoteCursorField } from "./cursors";
import { LIMITS } from "../types";

export interface EditorOptions {
  label: string;
  editable: boolean;
  /** Compartment holding the editable/read-only configuration (one per text key). */
  access: Compartment;
  /** A local (not remote) change happened. */
  onLocalChange: () => void;
  /** Selection or focus moved (for presence). */
  onSelection: (update: ViewUpdate) => void;
  /** An edit was refused because the field would be too long. */
  onTooLong: () => void;
}

/** Editable or read-only; only an editable field invites writing with a placeholder. */
export function accessExtension(editable: boolean): Extension {
  return [EditorView.editable.of(editable), EditorState.readOnly.of(!editable), editable ? placeholderExt("Write here…") : []];
}

export function editorExtensions(o: EditorOptions): Extension {
  void indentWithTab; // Tab keeps moving focus: the page must stay keyboard-navigable.
  return [
    history(),
    keymap.of([...defaultKeymap, ...historyKeymap]),
    EditorView.lineWrapping,
    remoteCursorField,
    EditorView.contentAttributes.of({ "aria-label": o.label, "aria-multiline": "true", spellcheck: "true" }),
    o.access.of(accessExtension(o.editable)),
    // Refuse local edits beyond the protocol's limits rather than fail to save them.
    EditorState.transactionFilter.of((tr) => {
      if (!tr.docChanged || tr.annotation(Transaction.remote)) return tr;
      let inserted = 0;
      tr.changes.iterChanges((_a, _b, _c, _d, ins) => (inserted += ins.length));
      if ((tr.newDoc.length > LIMITS.fieldChars && tr.newDoc.length > tr.startState.doc.length) || inserted > LIMITS.insertChars) {
        queueMicrotask(o.onTooLong);
        return [];
      }
      return tr;
    }),
    EditorView.updateListener.of((u) => {
      if (u.docChanged && u.transactions.some((tr) => tr.docChanged && !tr.annotation(Transaction.remote))) o.onLocalChange();
      if (u.selectionSet || u.focusChanged) o.onSelection(u);
    }),
  ];
}
