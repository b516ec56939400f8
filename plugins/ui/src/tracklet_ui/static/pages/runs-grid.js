// The runs table itself: virtualised rows (only those in view are in the DOM, so 10,000
// loaded runs scroll as smoothly as 10), sortable headers, selection, nested runs, and the
// keyboard: arrows move between rows, Enter opens a run, Space selects it, Right/Left
// expand and collapse a parent.
import { Component, html, useEffect, useLayoutEffect, useRef, useState } from "../html.js";
import { runHref } from "../components.js";
import { cellText, columnId, columnLabel, columnWidth, orderKey } from "./runs-columns.js";

export const ROW_HEIGHT = 32;
const OVERSCAN = 12;
const CHUNK = 8; // the rendered window moves in steps of this many rows: fewer renders while scrolling
const NEAR_END = 40; // rows left below the view when the next page is asked for
const NAME_WIDTH = 280;
const CHECK_WIDTH = 36;

function SortHeader({ column, label, sort, onSort, width }) {
  const term = orderKey(column);
  const active = term && sort.term === term;
  const ariaSort = active ? (sort.desc ? "descending" : "ascending") : "none";
  const kind = column.kind === "name" ? "attr" : column.kind;
  const title = column.kind === "name" || column.kind === "attr" ? label : `${column.kind} ${column.key}`;
  return html`<th scope="col" class=${`col-${kind}`} aria-sort=${term ? ariaSort : null} title=${title} style=${{ width: `${width}px` }}>
    ${term
      ? html`<button type="button" class="sort-button" onClick=${() => onSort(column)}>
          <span class="col-label">${label}</span>
          <span class="sort-mark" aria-hidden="true">${active ? (sort.desc ? "▼" : "▲") : ""}</span>
        </button>`
      : html`<span class="col-label">${label}</span>`}
  </th>`;
}

/** A row renders again only when what it shows changed (scrolling re-renders only new rows). */
class RunRow extends Component {
  shouldComponentUpdate(next) {
    const now = this.props;
    return (
      next.item !== now.item ||
      next.index !== now.index ||
      next.columns !== now.columns ||
      next.selected !== now.selected ||
      next.focused !== now.focused ||
      next.experimentNames !== now.experimentNames
    );
  }

  render(props) {
    return runRow(props);
  }
}

function runRow({ item, index, columns, selected, focused, experimentNames, onToggleSelect, onToggleExpand }) {
  const { row, depth, childCount, expanded } = item;
  const name = row.name || row.id;
  const inner = focused ? 0 : -1;
  return html`<tr
    class=${`run-row${selected ? " selected" : ""}${row.info.lifecycle_stage === "deleted" ? " deleted" : ""}`}
    data-index=${index}
    data-run-id=${row.id}
    aria-rowindex=${index + 2}
    aria-selected=${selected ? "true" : "false"}
    tabindex=${inner}
  >
    <td class="check-cell">
      <input
        type="checkbox"
        tabindex="-1"
        checked=${selected}
        aria-label=${`Select run ${name}`}
        onChange=${() => onToggleSelect(row.id)}
      />
    </td>
    <td class="name-cell" title=${name}>
      <span class="name-indent" style=${{ paddingLeft: `${depth * 18}px` }}>
        ${childCount > 0
          ? html`<button
              type="button"
              class="expander"
              tabindex="-1"
              aria-expanded=${expanded ? "true" : "false"}
              aria-label=${`${expanded ? "Hide" : "Show"} ${childCount} child run${childCount > 1 ? "s" : ""} of ${name}`}
              onClick=${() => onToggleExpand(row.id)}
            >
              ${expanded ? "▾" : "▸"}
            </button>`
          : html`<span class="expander-space"></span>`}
        <a href=${runHref(row.info.experiment_id, row.id)} tabindex=${inner} class="run-link">${name}</a>
        ${childCount > 0 ? html`<span class="badge child-count">${childCount}</span>` : null}
      </span>
    </td>
    ${columns.map((column) => {
      const text = cellText(row, column, experimentNames);
      return html`<td key=${columnId(column)} class=${`col-${column.kind}`} title=${text}>${text}</td>`;
    })}
  </tr>`;
}

/** The scroller's view, rounded so that it changes only when the rendered window must move.
 * Sizes come from the scroll event and the ResizeObserver, never from reading layout in a
 * frame callback (which would force a synchronous layout of the whole table). */
function useViewport(scroller) {
  const [view, setView] = useState({ top: 0, height: 800 });
  useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const step = CHUNK * ROW_HEIGHT;
    let top = 0;
    let height = 800;
    let frame = 0;
    const publish = () => {
      frame = 0;
      const rounded = { top: Math.floor(top / step) * step, height: Math.ceil(height / step) * step + step };
      setView((old) => (old.top === rounded.top && old.height === rounded.height ? old : rounded));
    };
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(publish);
    };
    const onScroll = () => {
      top = el.scrollTop;
      schedule();
    };
    el.addEventListener("scroll", onScroll, { passive: true });
    const observer = new ResizeObserver((entries) => {
      height = entries[entries.length - 1].contentRect.height;
      schedule();
    });
    observer.observe(el);
    return () => {
      el.removeEventListener("scroll", onScroll);
      observer.disconnect();
      if (frame) cancelAnimationFrame(frame);
    };
  }, []);
  return view;
}

const MIN_HEIGHT = 320;
const BOTTOM_ROOM = 16; // the page's padding under the grid

/** The scroller ends at the window's bottom edge (never below it), so its horizontal
 * scrollbar is in view when the columns are wider than the window. Measured on mount, when
 * the window is resized and when the page above it changes (a description opened, a filter
 * error shown): not per frame. */
function useFitToWindow(scroller) {
  useEffect(() => {
    const el = scroller.current;
    if (!el) return undefined;
    const fit = () => {
      const top = el.getBoundingClientRect().top + window.scrollY;
      const height = `${Math.max(MIN_HEIGHT, Math.floor(window.innerHeight - top - BOTTOM_ROOM))}px`;
      if (el.style.height !== height) el.style.height = height;
    };
    fit();
    window.addEventListener("resize", fit);
    const observer = new ResizeObserver(fit);
    if (el.parentElement) observer.observe(el.parentElement);
    return () => {
      window.removeEventListener("resize", fit);
      observer.disconnect();
    };
  }, []);
}

/**
 * @param props.items [{row, depth, childCount, expanded}] in display order
 * @param props.onNearEnd called when the view nears the last loaded row (load the next page)
 */
export function RunsGrid(props) {
  const { items, columns, sort, onSort, selected, experimentNames } = props;
  const scroller = useRef(null);
  const view = useViewport(scroller);
  useFitToWindow(scroller);
  const [focusIndex, setFocusIndex] = useState(0);
  const moved = useRef(false);
  const header = ROW_HEIGHT + 4;

  const count = items.length;
  const first = Math.max(0, Math.floor((view.top - header) / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(count, Math.ceil((view.top + view.height) / ROW_HEIGHT) + OVERSCAN);
  const focus = Math.min(focusIndex, Math.max(0, count - 1));

  useEffect(() => {
    if (props.hasMore && !props.loading && last >= count - NEAR_END) props.onNearEnd();
  }, [last, count, props.hasMore, props.loading]);

  // After a keyboard move: scroll the row into view, then focus it once it is rendered.
  useLayoutEffect(() => {
    if (!moved.current) return;
    const el = scroller.current;
    const top = focus * ROW_HEIGHT + header;
    if (top - header < el.scrollTop) el.scrollTop = top - header;
    else if (top + ROW_HEIGHT > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_HEIGHT - el.clientHeight;
    const tr = el.querySelector(`tr[data-index="${focus}"]`);
    if (tr) {
      tr.focus({ preventScroll: true });
      moved.current = false;
    }
  });

  const moveTo = (index) => {
    moved.current = true;
    setFocusIndex(Math.max(0, Math.min(count - 1, index)));
  };
  const onKeyDown = (event) => {
    const tr = event.target.closest && event.target.closest("tr[data-index]");
    if (!tr || count === 0) return;
    const index = Number(tr.dataset.index);
    const item = items[index];
    const onRow = event.target === tr;
    const page = Math.max(1, Math.floor(scroller.current.clientHeight / ROW_HEIGHT) - 1);
    const keys = {
      ArrowDown: () => moveTo(index + 1),
      ArrowUp: () => moveTo(index - 1),
      PageDown: () => moveTo(index + page),
      PageUp: () => moveTo(index - page),
      Home: () => moveTo(0),
      End: () => moveTo(count - 1),
      ArrowRight: () => item.childCount && !item.expanded && props.onToggleExpand(item.row.id),
      ArrowLeft: () => item.childCount && item.expanded && props.onToggleExpand(item.row.id),
    };
    if (onRow && event.key === "Enter") keys.Enter = () => props.onOpen(item.row);
    if (onRow && event.key === " ") keys[" "] = () => props.onToggleSelect(item.row.id);
    const action = keys[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  };
  const onFocusIn = (event) => {
    const tr = event.target.closest && event.target.closest("tr[data-index]");
    if (tr) setFocusIndex(Number(tr.dataset.index));
  };

  const allSelected = count > 0 && items.every((item) => selected.has(item.row.id));
  const width = CHECK_WIDTH + NAME_WIDTH + columns.reduce((sum, c) => sum + columnWidth(c), 0);
  const rows = [];
  for (let i = first; i < last; i++) {
    const item = items[i];
    rows.push(html`<${RunRow}
      key=${item.row.id}
      item=${item}
      index=${i}
      columns=${columns}
      selected=${selected.has(item.row.id)}
      focused=${i === focus}
      experimentNames=${experimentNames}
      onToggleSelect=${props.onToggleSelect}
      onToggleExpand=${props.onToggleExpand}
    />`);
  }
  return html`<div class="runs-scroller" ref=${scroller}>
    <table
      class="runs-grid"
      role="grid"
      aria-label="Runs"
      aria-rowcount=${count + 1}
      aria-multiselectable="true"
      style=${{ width: `${width}px` }}
    >
      <colgroup>
        <col style=${{ width: `${CHECK_WIDTH}px` }} />
        <col style=${{ width: `${NAME_WIDTH}px` }} />
        ${columns.map((c) => html`<col key=${columnId(c)} style=${{ width: `${columnWidth(c)}px` }} />`)}
      </colgroup>
      <thead>
        <tr aria-rowindex="1">
          <th scope="col" class="check-cell">
            <input
              type="checkbox"
              aria-label="Select all loaded runs"
              checked=${allSelected}
              disabled=${count === 0}
              onChange=${() => props.onToggleAll(!allSelected)}
            />
          </th>
          <${SortHeader} column=${{ kind: "name", key: "run_name" }} label="Run name" sort=${sort} onSort=${onSort} width=${NAME_WIDTH} />
          ${columns.map(
            (column) =>
              html`<${SortHeader}
                key=${columnId(column)}
                column=${column}
                label=${columnLabel(column)}
                sort=${sort}
                onSort=${onSort}
                width=${columnWidth(column)}
              />`,
          )}
        </tr>
      </thead>
      <tbody onKeyDown=${onKeyDown} onfocusin=${onFocusIn}>
        ${first > 0 ? html`<tr class="spacer" aria-hidden="true" style=${{ height: `${first * ROW_HEIGHT}px` }}></tr>` : null}
        ${rows}
        ${last < count
          ? html`<tr class="spacer" aria-hidden="true" style=${{ height: `${(count - last) * ROW_HEIGHT}px` }}></tr>`
          : null}
      </tbody>
    </table>
  </div>`;
}
