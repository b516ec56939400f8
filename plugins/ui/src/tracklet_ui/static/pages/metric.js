// The metric page, #/metric/<key>?runs=["a","b"]&experiments=["1"] (MLflow's link format;
// runs=a,b works too): one metric of several runs on one chart.
import { html } from "../html.js";
import { api } from "../api.js";
import { Breadcrumbs, ErrorBox, Spinner, experimentHref, runHref, useAsync, useTitle } from "../components.js";
import { ChartControls, MetricPanel, runColor, useChartOptions } from "../charts.js";

/** A list query parameter in MLflow's JSON form (["a","b"]) or comma separated (a,b). */
export function listParam(query, name) {
  const raw = query && query.get(name);
  if (!raw) return [];
  try {
    const parsed = JSON.parse(raw);
    if (Array.isArray(parsed)) return parsed.map(String).filter(Boolean);
  } catch {
    // not JSON: comma separated
  }
  return raw.split(",").map((s) => s.trim()).filter(Boolean);
}

/** runs/get for each id: [{runId, label, experimentId, run}] (a run that fails is reported). */
export async function loadRuns(runIds) {
  return Promise.all(
    runIds.map(async (runId) => {
      const { run } = await api.get("ajax-api/2.0/mlflow/runs/get", { run_id: runId });
      return { runId, label: run.info.run_name || runId, experimentId: run.info.experiment_id, run };
    }),
  );
}

/** The names of experiments by id (an experiment that cannot be read keeps its id). */
async function experimentNames(ids) {
  const names = await Promise.all(
    ids.map((id) =>
      api.get("ajax-api/2.0/mlflow/experiments/get", { experiment_id: id }).then(
        (answer) => answer.experiment.name,
        () => `Experiment ${id}`,
      ),
    ),
  );
  return Object.fromEntries(ids.map((id, i) => [id, names[i]]));
}

/**
 * "Experiments › <experiment> … › <page>" for a page over runs: the experiments of the runs
 * (once known), else those the link names (?experiments=["1"], MLflow's format).
 */
export function RunsBreadcrumbs({ runs, query, current }) {
  const fromRuns = (runs || []).map((r) => r.experimentId).filter(Boolean);
  const ids = [...new Set(fromRuns.length ? fromRuns : listParam(query, "experiments"))];
  const names = useAsync(() => experimentNames(ids), [ids.join(",")]);
  const items = [
    { label: "Experiments", href: "#/experiments" },
    ...ids.map((id) => ({ label: (names.data && names.data[id]) || `Experiment ${id}`, href: experimentHref(id) })),
    { label: current },
  ];
  return html`<${Breadcrumbs} items=${items} />`;
}

export default function MetricPage({ params, query }) {
  const metricKey = params.metricKey;
  const runIds = listParam(query, "runs");
  const { data, error, reload } = useAsync(() => loadRuns(runIds), [runIds.join(",")]);
  const options = useChartOptions(query && query.get("x_axis") === "time" ? "time" : "step");
  useTitle(metricKey);
  if (!runIds.length) {
    return html`<div class="page"><${ErrorBox} title="No runs chosen" error=${'The link names no runs: add ?runs=["<run id>"].'} /></div>`;
  }
  if (error) return html`<div class="page"><${ErrorBox} error=${error} title="The runs could not be loaded" onRetry=${reload} /></div>`;
  // The chart's series are fetched at once, alongside runs/get (which only names the runs).
  const runs = data || runIds.map((runId) => ({ runId, label: runId, experimentId: null }));
  return html`<div class="page metric-page">
    <${RunsBreadcrumbs} runs=${data} query=${query} current=${metricKey} />
    <header class="page-header">
      <h1>${metricKey}</h1>
      ${!data ? html`<${Spinner} label="Loading the runs…" />` : null}
      <p class="muted">
        ${runs.length === 1 ? "1 run: " : `${runs.length} runs: `}
        ${runs.map(
          (r, i) => html`<a key=${r.runId} class="run-chip" href=${runHref(r.experimentId, r.runId)}>
            <span class="swatch" style=${{ background: runColor(i) }} aria-hidden="true"></span>${r.label}</a> `,
        )}
      </p>
    </header>
    <${ChartControls} ...${options} zoomed=${!!options.windowX} onReset=${() => options.setWindowX(null)} />
    <${MetricPanel} runs=${runs} metricKey=${metricKey} options=${options} height=${420} heading=${false} />
  </div>`;
}
