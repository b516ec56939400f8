// The compare page, #/compare-runs?runs=["a","b"]&experiments=["1"]: params side by side
// (differences highlighted, "only differences" toggle), latest metrics, shared charts of the
// chosen metrics, and parallel coordinates over chosen params and metrics.
import { html, useMemo, useState } from "../html.js";
import { ErrorBox, Spinner, formatValue, runHref, useAsync, useTitle } from "../components.js";
import { ChosenMetricCharts, ParallelCoordinates, runColor, toNumber } from "../charts.js";
import { RunsBreadcrumbs, listParam, loadRuns } from "./metric.js";

function byKey(items) {
  const out = {};
  for (const item of items || []) out[item.key] = item.value;
  return out;
}

function differs(values) {
  const shown = values.map((v) => (v === undefined ? "\u0000missing" : String(v)));
  return new Set(shown).size > 1;
}

function SideBySide({ runs, title, rows, onlyDiff, format = (v) => v, id }) {
  const visible = onlyDiff ? rows.filter((r) => r.diff) : rows;
  return html`<section class="compare-section" aria-labelledby=${id}>
    <h2 id=${id}>${title}</h2>
    ${visible.length
      ? html`<div class="table-scroll"><table class="data-table compare-table">
          <thead>
            <tr>
              <th scope="col">Key</th>
              ${runs.map((r, i) => html`<th scope="col" key=${r.runId}>
                <span class="swatch" style=${{ background: runColor(i) }} aria-hidden="true"></span>
                <a href=${runHref(r.experimentId, r.runId)}>${r.label}</a></th>`)}
            </tr>
          </thead>
          <tbody>
            ${visible.map(
              (row) => html`<tr key=${row.key} class=${row.diff ? "diff" : ""} data-key=${row.key} data-diff=${row.diff ? "true" : "false"}>
                <th scope="row">${row.key}${row.diff ? html`<span class="visually-hidden"> (differs)</span>` : null}</th>
                ${row.values.map((v, i) => html`<td key=${i} class=${v === undefined ? "missing" : ""}>${v === undefined ? "—" : format(v)}</td>`)}
              </tr>`,
            )}
          </tbody>
        </table></div>`
      : html`<p class="muted">${onlyDiff && rows.length ? "No differences." : "None."}</p>`}
  </section>`;
}

function rowsOf(runs, pick) {
  const maps = runs.map((r) => pick(r.run));
  const keys = [...new Set(maps.flatMap((m) => Object.keys(m)))].sort();
  return keys.map((key) => {
    const values = maps.map((m) => m[key]);
    return { key, values, diff: differs(values) };
  });
}

function Parallel({ runs, paramRows, metricRows }) {
  const candidates = [
    ...paramRows.map((r) => ({ key: "param:" + r.key, label: r.key, row: r })),
    ...metricRows.map((r) => ({ key: "metric:" + r.key, label: r.key, row: r })),
  ];
  const initial = [
    ...paramRows.filter((r) => r.diff).slice(0, 4),
    ...metricRows.slice(0, 2),
  ].map((r) => (paramRows.includes(r) ? "param:" : "metric:") + r.key);
  const [chosen, setChosen] = useState(initial);
  const [colorKey, setColorKey] = useState(metricRows.length ? "metric:" + metricRows[0].key : "");
  const dims = candidates
    .filter((c) => chosen.includes(c.key))
    .map((c) => ({
      key: c.key,
      label: c.label,
      values: Object.fromEntries(runs.map((r, i) => [r.runId, c.row.values[i] === undefined ? undefined : c.key.startsWith("metric:") ? toNumber(c.row.values[i]) : c.row.values[i]])),
    }));
  const toggle = (key) => setChosen((c) => (c.includes(key) ? c.filter((k) => k !== key) : [...c, key]));
  return html`<section class="compare-section" aria-labelledby="pc-title">
    <h2 id="pc-title">Parallel coordinates</h2>
    <div class="pc-controls">
      <fieldset class="metric-chooser">
        <legend>Axes</legend>
        ${candidates.map(
          (c) => html`<label key=${c.key} class="inline-check">
            <input type="checkbox" checked=${chosen.includes(c.key)} onChange=${() => toggle(c.key)} />
            ${c.key.startsWith("param:") ? "param " : "metric "}${c.label}
          </label>`,
        )}
      </fieldset>
      <label>Colour lines by
        <select value=${colorKey} onChange=${(e) => setColorKey(e.currentTarget.value)}>
          <option value="">run</option>
          ${metricRows.map((r) => html`<option key=${r.key} value=${"metric:" + r.key}>${r.key}</option>`)}
        </select>
      </label>
    </div>
    <${ParallelCoordinates} runs=${runs} dimensions=${dims} colorBy=${dims.findIndex((d) => d.key === colorKey)} />
  </section>`;
}

function SharedCharts({ runs, metricKeys }) {
  return html`<section class="compare-section" aria-labelledby="charts-title">
    <h2 id="charts-title">Metric charts</h2>
    <${ChosenMetricCharts} keys=${metricKeys} runs=${runs} initial=${4} />
  </section>`;
}

export default function ComparePage({ query }) {
  const runIds = listParam(query, "runs");
  const { data, error, reload } = useAsync(() => loadRuns(runIds), [runIds.join(",")]);
  const [onlyDiff, setOnlyDiff] = useState(false);
  useTitle(`Compare ${runIds.length} runs`);
  const paramRows = useMemo(() => (data ? rowsOf(data, (run) => byKey(run.data && run.data.params)) : []), [data]);
  const metricRows = useMemo(() => (data ? rowsOf(data, (run) => byKey(run.data && run.data.metrics)) : []), [data]);
  if (runIds.length === 0) {
    return html`<div class="page"><${ErrorBox} title="No runs chosen" error="Select runs in a runs table and press Compare." /></div>`;
  }
  if (error) return html`<div class="page"><${ErrorBox} error=${error} title="The runs could not be loaded" onRetry=${reload} /></div>`;
  if (!data) return html`<div class="page"><${Spinner} label="Loading the runs…" /></div>`;
  return html`<div class="page compare-page">
    <${RunsBreadcrumbs} runs=${data} query=${query} current=${`Compare ${data.length} runs`} />
    <header class="page-header"><h1>Comparing ${data.length} runs</h1></header>
    <label class="inline-check only-diff">
      <input type="checkbox" checked=${onlyDiff} onChange=${(e) => setOnlyDiff(e.currentTarget.checked)} /> Only differences
    </label>
    <${SideBySide} id="params-title" runs=${data} title="Parameters" rows=${paramRows} onlyDiff=${onlyDiff} />
    <${SideBySide} id="metrics-title" runs=${data} title="Latest metrics" rows=${metricRows} onlyDiff=${onlyDiff} format=${formatValue} />
    <${Parallel} runs=${data} paramRows=${paramRows} metricRows=${metricRows} />
    ${metricRows.length ? html`<${SharedCharts} runs=${data} metricKeys=${metricRows.map((r) => r.key)} />` : null}
  </div>`;
}
