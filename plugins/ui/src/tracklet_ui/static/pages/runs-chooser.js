// The runs table's column chooser: attributes, metrics, params and tags of the loaded runs.
import { html, useEffect, useRef, useState } from "../html.js";
import { KINDS, columnId, columnLabel } from "./runs-columns.js";

const MAX_PER_KIND = 200; // beyond this, the find box narrows the list

function KindGroup({ kind, label, keys, chosen, onToggle }) {
  if (keys.length === 0) return null;
  const shown = keys.slice(0, MAX_PER_KIND);
  return html`<fieldset class="chooser-group">
    <legend>${label} <span class="muted">(${keys.length})</span></legend>
    ${shown.map((key) => {
      const column = { kind, key };
      const id = columnId(column);
      return html`<label class="checkbox-label chooser-item" key=${id}>
        <input type="checkbox" checked=${chosen.has(id)} onChange=${() => onToggle(column)} data-column=${id} />
        <span>${columnLabel(column)}</span>
      </label>`;
    })}
    ${keys.length > shown.length
      ? html`<p class="muted">${keys.length - shown.length} more: type in the find box to narrow.</p>`
      : null}
  </fieldset>`;
}

/**
 * @param {{columns: object[], keys: {attr,metric,param,tag}, onChange: (columns|null) => void}} props
 *   onChange(null) goes back to the default columns.
 */
export function ColumnChooser({ columns, keys, onChange }) {
  const [open, setOpen] = useState(false);
  const [find, setFind] = useState("");
  const panel = useRef(null);
  const button = useRef(null);
  const findInput = useRef(null);
  const chosen = new Set(columns.map(columnId));
  useEffect(() => {
    if (!open) return;
    if (findInput.current) findInput.current.focus();
    const onDown = (event) => {
      if (panel.current && !panel.current.contains(event.target) && !button.current.contains(event.target)) {
        setOpen(false);
      }
    };
    document.addEventListener("mousedown", onDown);
    return () => document.removeEventListener("mousedown", onDown);
  }, [open]);
  const toggle = (column) => {
    const id = columnId(column);
    onChange(chosen.has(id) ? columns.filter((c) => columnId(c) !== id) : [...columns, column]);
  };
  const close = () => {
    setOpen(false);
    button.current && button.current.focus();
  };
  const needle = find.trim().toLowerCase();
  const matching = (kind) =>
    keys[kind].filter((key) => !needle || columnLabel({ kind, key }).toLowerCase().includes(needle));
  return html`<div class="column-chooser">
    <button
      type="button"
      ref=${button}
      aria-expanded=${open ? "true" : "false"}
      aria-controls="column-chooser-panel"
      onClick=${() => setOpen(!open)}
    >
      Columns (${columns.length})
    </button>
    ${open
      ? html`<div
          class="chooser-panel"
          id="column-chooser-panel"
          ref=${panel}
          role="group"
          aria-label="Choose columns"
          onKeyDown=${(e) => e.key === "Escape" && close()}
        >
          <input
            type="search"
            ref=${findInput}
            aria-label="Find a column"
            placeholder="Find a column…"
            value=${find}
            onInput=${(e) => setFind(e.currentTarget.value)}
          />
          <div class="chooser-groups">
            ${KINDS.map(
              ({ kind, label }) =>
                html`<${KindGroup} key=${kind} kind=${kind} label=${label} keys=${matching(kind)} chosen=${chosen} onToggle=${toggle} />`,
            )}
          </div>
          <div class="dialog-actions">
            <button type="button" onClick=${() => onChange(null)}>Reset to default</button>
            <button type="button" class="primary" onClick=${close}>Done</button>
          </div>
        </div>`
      : null}
  </div>`;
}
