// Trace pages: #/experiments/:experimentId/traces (and #/traces, every experiment's) — the
// trace list through MLflow's 3.0 search route; #/traces/:traceId — the span tree as a
// waterfall (bar offset by start, width by duration), a span's inputs, outputs, attributes
// and events shown as JSON text. Span names and payloads are user data: text only.
import { html, useMemo, useState } from "../html.js";
import { api } from "../api.js";
import { ErrorBox, KeyValueTable, Pager, Spinner, formatDuration, formatTime, useAsync, useTitle } from "../components.js";

const V3 = "ajax-api/3.0/mlflow";
const PAGE_SIZE = 50;

export const traceHref = (traceId) => `#/traces/${encodeURIComponent(traceId)}`;

/** Milliseconds from a protobuf Duration's JSON ("0.181s"). */
export function durationMs(text) {
  if (text === undefined || text === null) return null;
  const seconds = parseFloat(String(text));
  return Number.isNaN(seconds) ? null : seconds * 1000;
}

function userTags(tags) {
  return Object.entries(tags || {}).filter(([key]) => !key.startsWith("mlflow."));
}

async function experimentIdsOf(experimentId) {
  if (experimentId) return [experimentId];
  const answer = await api.post("ajax-api/2.0/mlflow/experiments/search", { max_results: 1000 });
  return (answer.experiments || []).map((e) => e.experiment_id);
}

async function searchTraces({ experimentId, runId, filter, pageToken }) {
  const ids = await experimentIdsOf(experimentId);
  if (!ids.length) return { traces: [] };
  const body = {
    locations: ids.map((id) => ({ type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: id } })),
    max_results: PAGE_SIZE,
    order_by: ["timestamp_ms DESC"],
  };
  const clauses = [];
  if (runId) clauses.push(`metadata.\`mlflow.sourceRun\` = '${runId.replace(/'/g, "")}'`);
  if (filter) clauses.push(filter);
  if (clauses.length) body.filter = clauses.join(" AND ");
  if (pageToken) body.page_token = pageToken;
  return api.post(`${V3}/traces/search`, body);
}

function StateBadge({ state }) {
  const value = state || "STATE_UNSPECIFIED";
  return html`<span class=${`trace-state trace-state-${value.toLowerCase()}`}>${value}</span>`;
}

function FilterForm({ filter, onSearch }) {
  const [text, setText] = useState(filter);
  const onSubmit = (event) => {
    event.preventDefault();
    onSearch(text.trim());
  };
  return html`<form class="traces-filter" role="search" onSubmit=${onSubmit}>
    <label for="trace-filter">Filter traces</label>
    <input
      id="trace-filter"
      type="search"
      placeholder="tags.note = 'plain' AND status = 'OK'"
      value=${text}
      onInput=${(e) => setText(e.target.value)}
    />
    <button type="submit">Search</button>
  </form>`;
}

function listHash(experimentId, runId, filter) {
  const query = new URLSearchParams();
  if (runId) query.set("run", runId);
  if (filter) query.set("filter", filter);
  const path = experimentId ? `#/experiments/${encodeURIComponent(experimentId)}/traces` : "#/traces";
  const search = query.toString();
  return search ? `${path}?${search}` : path;
}

function TraceList({ experimentId, runId, filter, navigate }) {
  useTitle("Traces");
  const [tokens, setTokens] = useState([null]);
  const token = tokens[tokens.length - 1];
  const answer = useAsync(
    () => searchTraces({ experimentId, runId, filter, pageToken: token }),
    [experimentId, runId, filter, token],
  );
  const traces = (answer.data && answer.data.traces) || [];
  return html`<div class="page traces-page">
    <nav class="breadcrumbs" aria-label="Breadcrumbs">
      ${experimentId
        ? html`<a href="#/experiments">Experiments</a>${" › "}<a href=${`#/experiments/${encodeURIComponent(experimentId)}`}
              >Experiment ${experimentId}</a
            >${" › "}<span>Traces</span>`
        : html`<span>Traces of every experiment</span>`}
    </nav>
    <h1>Traces${runId ? html` <span class="muted">of run ${runId}</span>` : null}</h1>
    <${FilterForm} filter=${filter} onSearch=${(text) => navigate(listHash(experimentId, runId, text))} />
    ${answer.error && html`<${ErrorBox} error=${answer.error} onRetry=${answer.reload} />`}
    ${answer.loading && html`<${Spinner} />`}
    ${!answer.loading &&
    !answer.error &&
    !traces.length &&
    html`<p class="muted">${filter ? "No traces match the filter." : "No traces here yet."}</p>`}
    ${traces.length > 0 &&
    html`<table class="data-table traces-table">
      <thead>
        <tr>
          <th scope="col">Trace ID</th>
          <th scope="col">Name</th>
          <th scope="col">Status</th>
          <th scope="col">Execution time</th>
          <th scope="col">Timestamp</th>
          <th scope="col">Request</th>
          <th scope="col">Tags</th>
        </tr>
      </thead>
      <tbody>
        ${traces.map(
          (t) => html`<tr key=${t.trace_id}>
            <td><a class="trace-link" href=${traceHref(t.trace_id)}>${t.trace_id}</a></td>
            <td>${(t.tags || {})["mlflow.traceName"] || ""}</td>
            <td><${StateBadge} state=${t.state} /></td>
            <td class="num">${formatDuration(durationMs(t.execution_duration))}</td>
            <td>${formatTime(Date.parse(t.request_time))}</td>
            <td class="trace-preview">${(t.request_preview || "").slice(0, 200)}</td>
            <td>
              ${userTags(t.tags).map(([k, v]) => html`<span class="chip" key=${k}><span class="chip-key">${k}</span>: ${v}</span> `)}
            </td>
          </tr>`,
        )}
      </tbody>
    </table>`}
    <${Pager} tokens=${tokens} setTokens=${setTokens} nextToken=${answer.data && answer.data.next_page_token} />
  </div>`;
}

// -- one trace -----------------------------------------------------------------------------

/** A span attribute as stored in the trace data (a JSON-encoded string), decoded. */
function attributeValue(raw) {
  if (typeof raw !== "string") return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

const nanos = (value) => (value === undefined || value === null ? null : BigInt(value));

/** Spans as a forest in start order: [{span, depth, children, startMs, durationMs}] roots. */
export function spanForest(spans) {
  const nodes = new Map();
  for (const span of spans) nodes.set(span.span_id, { span, children: [] });
  const roots = [];
  for (const node of nodes.values()) {
    const parent = node.span.parent_span_id && nodes.get(node.span.parent_span_id);
    (parent ? parent.children : roots).push(node);
  }
  const byStart = (a, b) => {
    const x = nanos(a.span.start_time_unix_nano) || 0n;
    const y = nanos(b.span.start_time_unix_nano) || 0n;
    return x < y ? -1 : x > y ? 1 : 0;
  };
  const sortAll = (list) => {
    list.sort(byStart);
    for (const n of list) sortAll(n.children);
  };
  sortAll(roots);
  return roots;
}

function spanTimes(spans) {
  let start = null;
  let end = null;
  for (const s of spans) {
    const a = nanos(s.start_time_unix_nano);
    const b = nanos(s.end_time_unix_nano) ?? a;
    if (a !== null && (start === null || a < start)) start = a;
    if (b !== null && (end === null || b > end)) end = b;
  }
  return { start: start ?? 0n, total: end !== null && start !== null ? Number(end - start) / 1e6 : 0 };
}

function offsetMs(span, start) {
  const a = nanos(span.start_time_unix_nano);
  return a === null ? 0 : Number(a - start) / 1e6;
}

function spanDurationMs(span) {
  const a = nanos(span.start_time_unix_nano);
  const b = nanos(span.end_time_unix_nano);
  return a === null || b === null ? null : Number(b - a) / 1e6;
}

function flatten(roots, collapsed, depth = 0, out = []) {
  for (const node of roots) {
    out.push({ node, depth });
    if (!collapsed.has(node.span.span_id)) flatten(node.children, collapsed, depth + 1, out);
  }
  return out;
}

function SpanRow({ node, depth, times, open, selected, onToggle, onSelect }) {
  const { span } = node;
  const duration = spanDurationMs(span);
  const left = times.total > 0 ? (offsetMs(span, times.start) / times.total) * 100 : 0;
  const width = times.total > 0 && duration !== null ? Math.max((duration / times.total) * 100, 0.3) : 100;
  const status = (span.status && span.status.code) || "";
  return html`<li
    class=${`span-row${selected ? " selected" : ""}${status.endsWith("ERROR") ? " span-error" : ""}`}
    role="treeitem"
    aria-level=${depth + 1}
    aria-expanded=${node.children.length ? String(open) : undefined}
    aria-selected=${String(selected)}
    data-span-id=${span.span_id}
  >
    <div class="span-label" style=${{ paddingLeft: `${depth * 1.1}rem` }}>
      ${node.children.length
        ? html`<button
            type="button"
            class="span-toggle"
            aria-label=${`${open ? "Collapse" : "Expand"} ${span.name}`}
            onClick=${() => onToggle(span.span_id)}
          >
            ${open ? "▾" : "▸"}
          </button>`
        : html`<span class="span-toggle-space" aria-hidden="true"></span>`}
      <button type="button" class="span-name" onClick=${() => onSelect(span.span_id)}>${span.name}</button>
    </div>
    <div class="span-track" aria-hidden="true">
      <div class="span-bar" style=${{ left: `${left}%`, width: `${Math.min(width, 100 - left)}%` }}></div>
    </div>
    <span class="span-duration">${duration === null ? "" : formatDuration(duration)}</span>
  </li>`;
}

function JsonBlock({ title, value }) {
  if (value === undefined) return null;
  return html`<section class="span-json">
    <h3>${title}</h3>
    <pre>${typeof value === "string" ? value : JSON.stringify(value, null, 2)}</pre>
  </section>`;
}

function SpanDetails({ span, start }) {
  const attributes = {};
  for (const [key, raw] of Object.entries(span.attributes || {})) attributes[key] = attributeValue(raw);
  const inputs = attributes["mlflow.spanInputs"];
  const outputs = attributes["mlflow.spanOutputs"];
  const rest = Object.fromEntries(
    Object.entries(attributes).filter(([k]) => k !== "mlflow.spanInputs" && k !== "mlflow.spanOutputs"),
  );
  const duration = spanDurationMs(span);
  return html`<section class="span-details" aria-label=${`Span ${span.name}`}>
    <h2 class="span-title">${span.name}</h2>
    <p class="muted span-facts">
      ${[
        attributes["mlflow.spanType"],
        `started +${formatDuration(offsetMs(span, start))}`,
        `took ${duration === null ? "?" : formatDuration(duration)}`,
        span.status && span.status.code,
        span.status && span.status.message,
      ]
        .filter(Boolean)
        .join(" · ")}
    </p>
    <${JsonBlock} title="Inputs" value=${inputs} />
    <${JsonBlock} title="Outputs" value=${outputs} />
    <${JsonBlock} title="Attributes" value=${rest} />
    ${span.events && span.events.length ? html`<${JsonBlock} title="Events" value=${span.events} />` : null}
  </section>`;
}

/** Arrow keys in the span tree: up/down between spans, right opens, left closes (or goes
 * to the parent), Home/End to the first/last span. */
function onTreeKey(event, collapsed, onToggle) {
  const button = event.target;
  if (!button.classList || !button.classList.contains("span-name")) return;
  const tree = event.currentTarget;
  const buttons = [...tree.querySelectorAll("button.span-name")];
  const index = buttons.indexOf(button);
  const row = button.closest("li");
  const id = row.dataset.spanId;
  const hasChildren = row.getAttribute("aria-expanded") !== null;
  const focus = (i) => buttons[Math.max(0, Math.min(buttons.length - 1, i))].focus();
  if (event.key === "ArrowDown") focus(index + 1);
  else if (event.key === "ArrowUp") focus(index - 1);
  else if (event.key === "Home") focus(0);
  else if (event.key === "End") focus(buttons.length - 1);
  else if (event.key === "ArrowRight" && hasChildren && collapsed.has(id)) onToggle(id);
  else if (event.key === "ArrowLeft" && hasChildren && !collapsed.has(id)) onToggle(id);
  else if (event.key === "ArrowLeft") {
    const level = Number(row.getAttribute("aria-level"));
    const rows = [...tree.querySelectorAll("li.span-row")];
    const parent = rows.slice(0, rows.indexOf(row)).reverse().find((r) => Number(r.getAttribute("aria-level")) < level);
    if (!parent) return;
    parent.querySelector("button.span-name").focus();
  } else return;
  event.preventDefault();
}

/** The trace's tags and metadata, folded away (MLflow's own keys are many and long). */
function TraceFacts({ info }) {
  const tags = Object.entries(info.tags || {});
  const metadata = Object.entries(info.trace_metadata || {});
  return html`<details class="trace-facts">
    <summary>Tags (${tags.length}) and metadata (${metadata.length})</summary>
    <${KeyValueTable} caption="Tags" rows=${tags} empty="No tags." />
    <${KeyValueTable} caption="Metadata" rows=${metadata} empty="No metadata." />
  </details>`;
}

async function loadTrace(traceId) {
  const [info, data] = await Promise.all([
    api.get(`${V3}/traces/${encodeURIComponent(traceId)}`),
    api.get(`${V3}/get-trace-artifact`, { request_id: traceId }),
  ]);
  return { info: info.trace.trace_info, spans: data.spans || [] };
}

function TraceView({ traceId }) {
  useTitle(`Trace ${traceId}`);
  const answer = useAsync(() => loadTrace(traceId), [traceId]);
  const [collapsed, setCollapsed] = useState(() => new Set());
  const [selectedId, setSelectedId] = useState(null);
  const spans = (answer.data && answer.data.spans) || [];
  const roots = useMemo(() => spanForest(spans), [spans]);
  const times = useMemo(() => spanTimes(spans), [spans]);
  if (answer.error) return html`<div class="page"><${ErrorBox} error=${answer.error} onRetry=${answer.reload} /></div>`;
  if (!answer.data) return html`<div class="page"><${Spinner} /></div>`;
  const { info } = answer.data;
  const experimentId = info.trace_location && info.trace_location.mlflow_experiment && info.trace_location.mlflow_experiment.experiment_id;
  const rows = flatten(roots, collapsed);
  const selected = spans.find((s) => s.span_id === selectedId) || (roots[0] && roots[0].span);
  const onToggle = (id) =>
    setCollapsed((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const sourceRun = (info.trace_metadata || {})["mlflow.sourceRun"];
  return html`<div class="page trace-page">
    <nav class="breadcrumbs" aria-label="Breadcrumbs">
      ${experimentId
        ? html`<a href=${`#/experiments/${encodeURIComponent(experimentId)}/traces`}>Traces of experiment ${experimentId}</a>`
        : html`<a href="#/traces">Traces</a>`}${" › "}<span>${traceId}</span>
    </nav>
    <h1>${(info.tags || {})["mlflow.traceName"] || "Trace"} <span class="muted trace-id">${traceId}</span></h1>
    <p class="trace-summary">
      <${StateBadge} state=${info.state} />
      ${` · ${formatDuration(durationMs(info.execution_duration))} · ${formatTime(Date.parse(info.request_time))} · ${spans.length} spans`}
      ${sourceRun ? html`${" · run "}<a href=${`#/runs/${encodeURIComponent(sourceRun)}`}>${sourceRun}</a>` : null}
    </p>
    <${TraceFacts} info=${info} />
    ${!spans.length
      ? html`<p class="muted">This trace has no spans stored.</p>`
      : html`<div class="trace-layout">
          <div class="waterfall">
            <div class="waterfall-head" aria-hidden="true">
              <span>Span</span><span>0 — ${formatDuration(times.total)}</span><span>Duration</span>
            </div>
            <ul class="span-tree" role="tree" aria-label="Spans" onKeyDown=${(e) => onTreeKey(e, collapsed, onToggle)}>
              ${rows.map(
                ({ node, depth }) => html`<${SpanRow}
                  key=${node.span.span_id}
                  node=${node}
                  depth=${depth}
                  times=${times}
                  open=${!collapsed.has(node.span.span_id)}
                  selected=${selected && selected.span_id === node.span.span_id}
                  onToggle=${onToggle}
                  onSelect=${setSelectedId}
                />`,
              )}
            </ul>
          </div>
          ${selected && html`<${SpanDetails} key=${selected.span_id} span=${selected} start=${times.start} />`}
        </div>`}
  </div>`;
}

/** #/experiments/:experimentId/traces, #/traces (?run=<run id>&filter=<search filter>), #/traces/:traceId. */
export default function Page({ params, query, navigate }) {
  if (params.traceId) return html`<${TraceView} traceId=${params.traceId} />`;
  const filter = query.get("filter") || "";
  const runId = query.get("run") || null;
  // A new filter starts again from the first page.
  return html`<${TraceList}
    key=${`${runId}|${filter}`}
    experimentId=${params.experimentId}
    runId=${runId}
    filter=${filter}
    navigate=${navigate}
  />`;
}
