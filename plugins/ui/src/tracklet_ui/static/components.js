// Small pieces every page shares. Everything shown goes through Preact text children
// (escaped); nothing here builds HTML from strings.
import { html, useCallback, useEffect, useRef, useState } from "./html.js";

/** A busy indicator with a label screen readers announce. */
export function Spinner({ label = "Loading…" }) {
  return html`<div class="spinner" role="status" aria-live="polite">
    <span class="spinner-dot" aria-hidden="true"></span><span>${label}</span>
  </div>`;
}

/** An error, with the server's error code and an optional retry button. */
export function ErrorBox({ error, title = "Something went wrong", onRetry }) {
  if (!error) return null;
  const message = typeof error === "string" ? error : error.message || String(error);
  const code = typeof error === "object" && error.code ? error.code : null;
  return html`<div class="error-box" role="alert">
    <strong>${title}</strong>
    <p class="error-message">${message}</p>
    ${code ? html`<p class="error-code">${code}</p>` : null}
    ${onRetry ? html`<button type="button" onClick=${onRetry}>Try again</button>` : null}
  </div>`;
}

/**
 * A tab bar. tabs: [{id, label}], active: id, onSelect(id). Arrow keys move between tabs.
 * Render the active panel yourself, below, inside <div role="tabpanel">.
 */
export function Tabs({ tabs, active, onSelect, label = "Sections" }) {
  const onKeyDown = (event) => {
    const index = tabs.findIndex((t) => t.id === active);
    let next = -1;
    if (event.key === "ArrowRight") next = (index + 1) % tabs.length;
    if (event.key === "ArrowLeft") next = (index - 1 + tabs.length) % tabs.length;
    if (event.key === "Home") next = 0;
    if (event.key === "End") next = tabs.length - 1;
    if (next < 0) return;
    event.preventDefault();
    onSelect(tabs[next].id);
    const buttons = event.currentTarget.querySelectorAll("[role=tab]");
    if (buttons[next]) buttons[next].focus();
  };
  return html`<div class="tabs" role="tablist" aria-label=${label} onKeyDown=${onKeyDown}>
    ${tabs.map(
      (tab) => html`<button
        type="button"
        role="tab"
        key=${tab.id}
        id=${"tab-" + tab.id}
        aria-selected=${tab.id === active ? "true" : "false"}
        tabindex=${tab.id === active ? 0 : -1}
        class=${tab.id === active ? "tab active" : "tab"}
        onClick=${() => onSelect(tab.id)}
      >
        ${tab.label}
      </button>`,
    )}
  </div>`;
}

/** A two-column table of [key, value] rows; values may be text or elements. */
export function KeyValueTable({ rows, caption, empty = "Nothing here." }) {
  if (!rows || rows.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<table class="kv-table">
    ${caption ? html`<caption>${caption}</caption>` : null}
    <tbody>
      ${rows.map(
        ([key, value]) => html`<tr key=${key}>
          <th scope="row">${key}</th>
          <td>${value}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

/** A modal dialog (the native <dialog>, so focus and Escape work as the browser does them). */
export function Dialog({ open, title, onClose, children }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return html`<dialog ref=${ref} class="dialog" aria-label=${title} onClose=${onClose} onCancel=${onClose}>
    <h2 class="dialog-title">${title}</h2>
    ${open ? children : null}
  </dialog>`;
}

/**
 * Run an async loader when deps change: {data, error, loading, reload}.
 * Answers of a superseded call are dropped.
 */
export function useAsync(load, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const generation = useRef(0);
  const run = useCallback(() => {
    const mine = ++generation.current;
    setState((s) => ({ data: s.data, error: null, loading: true }));
    Promise.resolve()
      .then(load)
      .then(
        (data) => mine === generation.current && setState({ data, error: null, loading: false }),
        (error) => mine === generation.current && setState({ data: null, error, loading: false }),
      );
  }, deps);
  useEffect(() => {
    run();
  }, [run]);
  return { ...state, reload: run };
}

/** Set the document's title while a page is shown. */
export function useTitle(title) {
  useEffect(() => {
    document.title = title ? `${title} · tracklet` : "tracklet";
  }, [title]);
}

const pad = (n) => String(n).padStart(2, "0");

/** "2026-12-06 11:20:31" in the browser's time zone, from milliseconds since the epoch. */
export function formatTime(ms) {
  if (ms === null || ms === undefined || ms === "") return "";
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return "";
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** "850ms", "12.3s", "4m 05s", "2h 03m", "3d 4h" from a duration in milliseconds. */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(Number(ms))) return "";
  ms = Number(ms);
  if (ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(Math.floor(s % 60))}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h ${pad(m % 60)}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** The first 8 characters of a run or trace id (the rest is in the title attribute). */
export function shortId(id) {
  return id ? String(id).slice(0, 8) : "";
}

/** A metric value for a table cell: NaN/Infinity as MLflow's JSON spells them, else at most 6 significant digits. */
export function formatValue(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (Number.isInteger(value)) return String(value);
  return Number(value).toPrecision(6).replace(/\.?0+(e|$)/, "$1");
}

/** A hash link for a run (experimentId may be unknown). */
export function runHref(experimentId, runId) {
  const run = encodeURIComponent(runId);
  return experimentId ? `#/experiments/${encodeURIComponent(experimentId)}/runs/${run}` : `#/runs/${run}`;
}

/** A hash link for an experiment's runs. */
export function experimentHref(experimentId) {
  return `#/experiments/${encodeURIComponent(experimentId)}`;
}

/**
 * The breadcrumb trail above a page's title: items [{label, href}], the last one (the page
 * itself) usually without href. The " › " separators are text children of their own:
 * htm drops whitespace next to a line break in a template, so spaces written around a "›"
 * at a line's end would vanish.
 */
export function Breadcrumbs({ items }) {
  const parts = [];
  items.forEach((item, i) => {
    if (i) parts.push(" › ");
    parts.push(item.href ? html`<a key=${i} href=${item.href}>${item.label}</a>` : html`<span key=${i}>${item.label}</span>`);
  });
  return html`<nav class="breadcrumbs" aria-label="Breadcrumbs">${parts}</nav>`;
}

// Previous / Next over a server's pages. `tokens` holds the page tokens that led to the
// page shown (the first page's is null); `nextToken` is the answer's next_page_token.
export function Pager({ tokens, setTokens, nextToken }) {
  return html`<div class="pager">
    <button type="button" disabled=${tokens.length < 2} onClick=${() => setTokens(tokens.slice(0, -1))}>Previous</button>
    <button type="button" disabled=${!nextToken} onClick=${() => setTokens([...tokens, nextToken])}>Next</button>
  </div>`;
}
