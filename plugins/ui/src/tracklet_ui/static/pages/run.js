// The run page: header (name, status, times, user, source, parent, lifecycle) and tabs:
// Overview (description, params, latest metrics with sparklines, tags, datasets), Metrics
// (charts of the chosen metrics) and Artifacts (the ArtifactBrowser of ./artifacts.js).
import { html, useEffect, useState } from "../html.js";
import { api } from "../api.js";
import {
  Breadcrumbs,
  ErrorBox,
  KeyValueTable,
  Spinner,
  Tabs,
  experimentHref,
  formatDuration,
  formatTime,
  formatValue,
  runHref,
  useAsync,
  useTitle,
} from "../components.js";
import { ChosenMetricCharts, Sparkline } from "../charts.js";

const NOTE = "mlflow.note.content";
// Sparklines drawn in the metrics table (one request each); further rows link to their chart.
const SPARKLINES = 30;
const TABS = [
  { id: "overview", label: "Overview" },
  { id: "metrics", label: "Metrics" },
  { id: "artifacts", label: "Artifacts" },
];

function tagsOf(run) {
  const out = {};
  for (const t of (run.data && run.data.tags) || []) out[t.key] = t.value;
  return out;
}

async function loadRun(runId) {
  const { run } = await api.get("ajax-api/2.0/mlflow/runs/get", { run_id: runId });
  let experiment = null;
  try {
    experiment = (await api.get("ajax-api/2.0/mlflow/experiments/get", { experiment_id: run.info.experiment_id })).experiment;
  } catch {
    experiment = null; // the run still shows; the breadcrumb says only the id
  }
  return { run, experiment };
}

function metricHref(experimentId, runId, key) {
  const runs = encodeURIComponent(JSON.stringify([runId]));
  const experiments = encodeURIComponent(JSON.stringify([experimentId]));
  return `#/metric/${encodeURIComponent(key)}?runs=${runs}&experiments=${experiments}`;
}

/** Who ran it: the mlflow.user tag first (clients set it; user_id is often "unknown"), as
 * MLflow's UI and the runs table show it. */
function userOf(info, tags) {
  return tags["mlflow.user"] || info.user_id || "";
}

function tracesHref(experimentId, runId) {
  return `#/experiments/${encodeURIComponent(experimentId)}/traces?run=${encodeURIComponent(runId)}`;
}

function Header({ run, experiment, tags }) {
  const info = run.info;
  const name = info.run_name || tags["mlflow.runName"] || info.run_id;
  const parent = tags["mlflow.parentRunId"];
  const end = info.end_time ? Number(info.end_time) : null;
  const duration = info.start_time ? (end || Date.now()) - Number(info.start_time) : null;
  return html`<header class="run-header">
    <${Breadcrumbs}
      items=${[
        { label: "Experiments", href: "#/experiments" },
        { label: experiment ? experiment.name : `Experiment ${info.experiment_id}`, href: experimentHref(info.experiment_id) },
        { label: name },
      ]}
    />
    <h1 class="run-name">${name}</h1>
    <dl class="run-facts">
      <div><dt>Run ID</dt><dd><code>${info.run_id}</code></dd></div>
      <div><dt>Status</dt><dd><span class=${"status status-" + String(info.status).toLowerCase()}>${info.status}</span></dd></div>
      <div><dt>Started</dt><dd>${formatTime(info.start_time)}</dd></div>
      <div><dt>Duration</dt><dd>${duration === null ? "" : formatDuration(duration)}${end ? "" : info.status === "RUNNING" ? " (running)" : ""}</dd></div>
      <div><dt>User</dt><dd>${userOf(info, tags)}</dd></div>
      <div><dt>Source</dt><dd>${tags["mlflow.source.name"] || ""}${tags["mlflow.source.git.commit"] ? ` @ ${tags["mlflow.source.git.commit"].slice(0, 8)}` : ""}</dd></div>
      ${parent ? html`<div><dt>Parent run</dt><dd><a class="parent-link" href=${runHref(info.experiment_id, parent)}>${parent}</a></dd></div>` : null}
      <div><dt>Lifecycle</dt><dd>${info.lifecycle_stage}</dd></div>
    </dl>
    <p class="run-links">
      <a class="traces-link" href=${tracesHref(info.experiment_id, info.run_id)}>Traces of this run</a>
    </p>
  </header>`;
}

function Description({ runId, text, onSaved, editable }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(text || "");
  const [error, setError] = useState(null);
  const save = async () => {
    try {
      await api.post("ajax-api/2.0/mlflow/runs/set-tag", { run_id: runId, key: NOTE, value: draft });
      setEditing(false);
      setError(null);
      onSaved();
    } catch (e) {
      setError(e);
    }
  };
  return html`<section class="run-section run-description" aria-labelledby="description-title">
    <h2 id="description-title">Description</h2>
    ${editing
      ? html`<label class="visually-hidden" for="description-input">Description</label>
          <textarea id="description-input" rows="5" value=${draft} onInput=${(e) => setDraft(e.currentTarget.value)}></textarea>
          <div class="button-row">
            <button type="button" class="primary" onClick=${save}>Save description</button>
            <button type="button" onClick=${() => { setDraft(text || ""); setEditing(false); }}>Cancel</button>
          </div>`
      : html`<p class=${text ? "description-text" : "muted"}>${text || "No description."}</p>
          ${editable ? html`<button type="button" onClick=${() => setEditing(true)}>Edit description</button>` : null}`}
    <${ErrorBox} error=${error} title="The description was not saved" />
  </section>`;
}

function Tags({ runId, tags, onChanged, editable }) {
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [editingKey, setEditingKey] = useState(null);
  const [editValue, setEditValue] = useState("");
  const [error, setError] = useState(null);
  const act = async (path, body) => {
    try {
      await api.post(path, { run_id: runId, ...body });
      setError(null);
      onChanged();
      return true;
    } catch (e) {
      setError(e);
      return false;
    }
  };
  const add = async (event) => {
    event.preventDefault();
    if (!key.trim()) return;
    if (await act("ajax-api/2.0/mlflow/runs/set-tag", { key: key.trim(), value })) {
      setKey("");
      setValue("");
    }
  };
  const entries = Object.entries(tags).sort(([a], [b]) => a.localeCompare(b));
  const own = entries.filter(([k]) => !k.startsWith("mlflow."));
  const system = entries.filter(([k]) => k.startsWith("mlflow.") && k !== NOTE);
  return html`<section class="run-section" aria-labelledby="tags-title">
    <h2 id="tags-title">Tags</h2>
    <table class="data-table tags-table">
      <thead><tr><th scope="col">Key</th><th scope="col">Value</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>
        ${own.map(
          ([k, v]) => html`<tr key=${k} data-tag=${k}>
            <th scope="row">${k}</th>
            <td>${editingKey === k
              ? html`<input aria-label=${"New value of tag " + k} value=${editValue} onInput=${(e) => setEditValue(e.currentTarget.value)} />`
              : v}</td>
            <td class="actions">${!editable
              ? null
              : editingKey === k
                ? html`<button type="button" onClick=${async () => (await act("ajax-api/2.0/mlflow/runs/set-tag", { key: k, value: editValue })) && setEditingKey(null)}>Save</button>
                    <button type="button" onClick=${() => setEditingKey(null)}>Cancel</button>`
                : html`<button type="button" aria-label=${"Edit tag " + k} onClick=${() => { setEditingKey(k); setEditValue(v); }}>Edit</button>
                    <button type="button" aria-label=${"Delete tag " + k} onClick=${() => act("ajax-api/2.0/mlflow/runs/delete-tag", { key: k })}>Delete</button>`}</td>
          </tr>`,
        )}
        ${system.map(
          ([k, v]) => html`<tr key=${k} class="system-tag" data-tag=${k}>
            <th scope="row">${k}</th><td>${v}</td><td class="muted">system</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${editable
      ? html`<form class="tag-form" onSubmit=${add}>
          <label>Key <input name="tag-key" value=${key} onInput=${(e) => setKey(e.currentTarget.value)} required /></label>
          <label>Value <input name="tag-value" value=${value} onInput=${(e) => setValue(e.currentTarget.value)} /></label>
          <button type="submit">Add tag</button>
        </form>`
      : null}
    <${ErrorBox} error=${error} title="The tag was not changed" />
  </section>`;
}

function Datasets({ inputs }) {
  if (!inputs.length) return null;
  return html`<section class="run-section" aria-labelledby="datasets-title">
    <h2 id="datasets-title">Datasets</h2>
    <table class="data-table datasets-table">
      <thead><tr><th scope="col">Name</th><th scope="col">Digest</th><th scope="col">Context</th><th scope="col">Source</th><th scope="col">Schema</th></tr></thead>
      <tbody>
        ${inputs.map((input, i) => {
          const d = input.dataset || {};
          const context = ((input.tags || []).find((t) => t.key === "mlflow.data.context") || {}).value || "";
          return html`<tr key=${i}>
            <th scope="row">${d.name}</th>
            <td><code>${d.digest}</code></td>
            <td>${context}</td>
            <td><span class="muted">${d.source_type}</span> ${d.source}</td>
            <td>${d.schema ? html`<details><summary>schema</summary><pre>${d.schema}</pre></details>` : ""}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </section>`;
}

function Overview({ run, tags, reload }) {
  const info = run.info;
  const editable = info.lifecycle_stage !== "deleted";
  const params = ((run.data && run.data.params) || []).slice().sort((a, b) => a.key.localeCompare(b.key));
  const metrics = ((run.data && run.data.metrics) || []).slice().sort((a, b) => a.key.localeCompare(b.key));
  return html`<div class="run-overview">
    <${Description} runId=${info.run_id} text=${tags[NOTE]} onSaved=${reload} editable=${editable} />
    <div class="run-columns">
      <section class="run-section" aria-labelledby="params-title">
        <h2 id="params-title">Parameters (${params.length})</h2>
        <${KeyValueTable} rows=${params.map((p) => [p.key, p.value])} empty="No parameters." />
      </section>
      <section class="run-section" aria-labelledby="metrics-title">
        <h2 id="metrics-title">Metrics (${metrics.length})</h2>
        ${metrics.length
          ? html`<table class="data-table metrics-table">
              <thead><tr><th scope="col">Metric</th><th scope="col">Latest</th><th scope="col">Step</th><th scope="col">History</th></tr></thead>
              <tbody>
                ${metrics.map(
                  (m, index) => html`<tr key=${m.key}>
                    <th scope="row"><a href=${metricHref(info.experiment_id, info.run_id, m.key)}>${m.key}</a></th>
                    <td class="number">${formatValue(m.value)}</td>
                    <td class="number">${m.step}</td>
                    <td><a href=${metricHref(info.experiment_id, info.run_id, m.key)} aria-label=${"Chart of " + m.key}>
                      ${index < SPARKLINES ? html`<${Sparkline} runId=${info.run_id} metricKey=${m.key} />` : "chart"}</a></td>
                  </tr>`,
                )}
              </tbody>
            </table>`
          : html`<p class="muted">No metrics.</p>`}
      </section>
    </div>
    <${Tags} runId=${info.run_id} tags=${tags} onChanged=${reload} editable=${editable} />
    <${Datasets} inputs=${(run.inputs && run.inputs.dataset_inputs) || []} />
  </div>`;
}

function MetricsTab({ run }) {
  const keys = ((run.data && run.data.metrics) || []).map((m) => m.key).sort();
  const name = run.info.run_name || run.info.run_id;
  const runs = [{ runId: run.info.run_id, label: name }];
  if (!keys.length) return html`<p class="muted">This run has no metrics.</p>`;
  return html`<div class="run-metrics">
    <${ChosenMetricCharts} keys=${keys} runs=${runs} initial=${12} />
  </div>`;
}

function ArtifactsTab({ runId, initialPath }) {
  const [state, setState] = useState({ Browser: null, error: null });
  useEffect(() => {
    let current = true;
    import("./artifacts.js").then(
      (module) =>
        current &&
        setState(
          typeof module.ArtifactBrowser === "function"
            ? { Browser: module.ArtifactBrowser, error: null }
            : { Browser: null, error: "the artifacts module has no ArtifactBrowser" },
        ),
      (error) => current && setState({ Browser: null, error: error.message }),
    );
    return () => {
      current = false;
    };
  }, []);
  if (state.error) return html`<${ErrorBox} title="The artifact browser is not available" error=${state.error} />`;
  if (!state.Browser) return html`<${Spinner} label="Loading the artifact browser…" />`;
  const { Browser } = state;
  return html`<${Browser} runId=${runId} initialPath=${initialPath || ""} />`;
}

export default function RunPage({ params }) {
  const runId = params.runId;
  const [tab, setTab] = useState(TABS.some((t) => t.id === params.tab) ? params.tab : "overview");
  const { data, error, loading, reload } = useAsync(() => loadRun(runId), [runId]);
  const tags = data ? tagsOf(data.run) : {};
  useTitle(data ? data.run.info.run_name || runId : "Run");
  const select = (id) => {
    setTab(id);
    const experimentId = data ? data.run.info.experiment_id : params.experimentId;
    const base = runHref(experimentId, runId);
    // the URL follows the tab without a hashchange (which would remount the page)
    history.replaceState(null, "", id === "overview" ? base : `${base}/${id}`);
  };
  if (error) return html`<div class="page"><${ErrorBox} error=${error} title="The run could not be loaded" onRetry=${reload} /></div>`;
  if (!data) return html`<div class="page">${loading ? html`<${Spinner} label="Loading the run…" />` : null}</div>`;
  const { run, experiment } = data;
  return html`<div class="page run-page">
    <${Header} run=${run} experiment=${experiment} tags=${tags} />
    <${Tabs} tabs=${TABS} active=${tab} onSelect=${select} label="Run sections" />
    <div role="tabpanel" aria-labelledby=${"tab-" + tab} class="tab-panel">
      ${tab === "overview" ? html`<${Overview} run=${run} tags=${tags} reload=${reload} />` : null}
      ${tab === "metrics" ? html`<${MetricsTab} run=${run} />` : null}
      ${tab === "artifacts" ? html`<${ArtifactsTab} runId=${runId} initialPath=${params.artifactPath} />` : null}
    </div>
  </div>`;
}
