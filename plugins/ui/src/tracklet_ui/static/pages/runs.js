// The runs table of one experiment (#/experiments/<id>) or several (#/runs?experiments=1,2):
// server-side search and sort, chosen columns, nested runs, selection to compare, paging.
import { html, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "../html.js";
import { api } from "../api.js";
import { Breadcrumbs, Dialog, ErrorBox, Spinner, useTitle } from "../components.js";
import { ColumnChooser } from "./runs-chooser.js";
import {
  availableKeys,
  columnId,
  defaultColumns,
  loadColumnChoice,
  orderKey,
  saveColumnChoice,
  toRow,
} from "./runs-columns.js";
import { FilterBox } from "./runs-filter.js";
import { RunsGrid } from "./runs-grid.js";

export const PAGE_SIZE = 100;
const DEFAULT_SORT = { term: "attributes.start_time", desc: true };
const VIEW_TYPES = [
  { value: "ACTIVE_ONLY", label: "Active runs" },
  { value: "DELETED_ONLY", label: "Deleted runs" },
  { value: "ALL", label: "All runs" },
];

/** The experiment ids of the page: the route's one, or ?experiments=1,2 (or MLflow's ["1","2"]). */
export function experimentIdsOf(params, query) {
  if (params.experimentId) return [params.experimentId];
  const raw = (query.get("experiments") || "").trim();
  if (raw.startsWith("[")) {
    try {
      const ids = JSON.parse(raw);
      if (Array.isArray(ids)) return ids.map(String);
    } catch {
      // not JSON after all: read it as a comma-separated list
    }
  }
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** runs/search, page by page: {rows, next, loading, error, loadMore, reload}. */
function useRunSearch(experimentIds, filter, sort, viewType) {
  const [state, setState] = useState({ rows: [], next: null, loading: true, error: null });
  const generation = useRef(0);
  const [version, setVersion] = useState(0);
  const load = (pageToken) => {
    const mine = ++generation.current;
    setState((s) => (pageToken ? { ...s, loading: true } : { rows: [], next: null, loading: true, error: null }));
    api
      .searchRuns({
        experimentIds,
        filter,
        orderBy: [`${sort.term} ${sort.desc ? "DESC" : "ASC"}`],
        maxResults: PAGE_SIZE,
        pageToken,
        runViewType: viewType,
      })
      .then(
        (answer) => {
          if (mine !== generation.current) return;
          setState((s) => ({
            rows: (pageToken ? s.rows : []).concat(answer.runs.map(toRow)),
            next: answer.next_page_token,
            loading: false,
            error: null,
          }));
        },
        (error) => mine === generation.current && setState((s) => ({ ...s, loading: false, error })),
      );
  };
  const key = JSON.stringify([experimentIds, filter, sort, viewType, version]);
  // A layout effect: the search leaves before the first paint instead of a frame after it.
  useLayoutEffect(() => {
    if (experimentIds.length) load(null);
  }, [key]);
  return {
    ...state,
    loadMore: () => state.next && !state.loading && load(state.next),
    reload: () => setVersion((v) => v + 1),
  };
}

/** Names (and the one experiment's details) of the page's experiments. */
function useExperiments(experimentIds) {
  const [state, setState] = useState({ experiments: [], error: null });
  const key = experimentIds.join(",");
  useLayoutEffect(() => {
    let current = true;
    Promise.all(
      experimentIds.map((id) => api.get("ajax-api/2.0/mlflow/experiments/get", { experiment_id: id })),
    ).then(
      (answers) => current && setState({ experiments: answers.map((a) => a.experiment), error: null }),
      (error) => current && setState({ experiments: [], error }),
    );
    return () => {
      current = false;
    };
  }, [key]);
  return state;
}

/** Parents with their loaded children under them; a child whose parent is not loaded stays on top. */
export function groupRuns(rows, expanded) {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const children = new Map();
  const isTop = (row) => {
    // Walk up the parent chain; a chain leaving the loaded rows or looping ends at the top.
    const seen = new Set([row.id]);
    let parent = row.parentId;
    while (parent && byId.has(parent)) {
      if (seen.has(parent)) return true;
      seen.add(parent);
      parent = byId.get(parent).parentId;
    }
    return !row.parentId || !byId.has(row.parentId);
  };
  const top = [];
  for (const row of rows) {
    if (isTop(row)) top.push(row);
    else {
      if (!children.has(row.parentId)) children.set(row.parentId, []);
      children.get(row.parentId).push(row);
    }
  }
  const items = [];
  const visit = (row, depth) => {
    const kids = children.get(row.id) || [];
    const open = expanded.has(row.id);
    items.push({ row, depth, childCount: kids.length, expanded: open });
    if (open) for (const kid of kids) visit(kid, depth + 1);
  };
  for (const row of top) visit(row, 0);
  return items;
}

/** The hash of the compare page for these runs (MLflow's format: JSON lists). */
export function compareHash(runIds, experimentIds) {
  const runs = encodeURIComponent(JSON.stringify(runIds));
  const experiments = encodeURIComponent(JSON.stringify(experimentIds));
  return `#/compare-runs?runs=${runs}&experiments=${experiments}`;
}

function parseSort(text) {
  const match = /^(.*\S)\s+(ASC|DESC)$/i.exec(text || "");
  return match ? { term: match[1], desc: match[2].toUpperCase() === "DESC" } : DEFAULT_SORT;
}

/** Keep the filter and sort in the address (shareable), without a new history entry. */
function rememberInAddress(filter, sort) {
  const [path, search = ""] = location.hash.replace(/^#/, "").split(/\?(.*)/s);
  const query = new URLSearchParams(search);
  if (filter) query.set("filter", filter);
  else query.delete("filter");
  const order = `${sort.term} ${sort.desc ? "DESC" : "ASC"}`;
  if (sort.term !== DEFAULT_SORT.term || sort.desc !== DEFAULT_SORT.desc) query.set("order_by", order);
  else query.delete("order_by");
  const text = query.toString();
  const hash = `#${path}${text ? `?${text}` : ""}`;
  if (hash !== location.hash) history.replaceState(history.state, "", hash);
}

function ExperimentHeader({ experimentIds, experiments }) {
  if (experimentIds.length !== 1) {
    const names = experiments.map((e) => e.name);
    return html`<div class="page-header">
      <h1>Runs of ${experimentIds.length} experiments</h1>
      <span class="muted">${names.join(", ")}</span>
    </div>`;
  }
  const experiment = experiments[0];
  const id = experimentIds[0];
  const tags = new Map(((experiment && experiment.tags) || []).map((t) => [t.key, t.value]));
  const description = tags.get("mlflow.note.content");
  return html`<div class="experiment-header">
    <${Breadcrumbs} items=${[{ label: "Experiments", href: "#/experiments" }, { label: experiment ? experiment.name : `Experiment ${id}` }]} />
    <div class="page-header">
      <h1>${experiment ? experiment.name : `Experiment ${id}`}</h1>
      ${experiment && experiment.lifecycle_stage === "deleted" ? html`<span class="badge">deleted</span>` : null}
      <span class="muted mono">ID ${id}</span>
      <a href=${`#/experiments/${encodeURIComponent(id)}/traces`}>Traces</a>
    </div>
    ${experiment
      ? html`<p class="muted experiment-meta">Artifacts: <span class="mono">${experiment.artifact_location}</span></p>`
      : null}
    ${description
      ? html`<details class="experiment-description">
          <summary>Description</summary>
          <div class="description-text">${description}</div>
        </details>`
      : null}
  </div>`;
}

/** Delete (or restore) the chosen runs, after asking: runs/delete or runs/restore for each. */
function LifecycleDialog({ action, runs, onClose, onDone }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setError(null);
    setBusy(false);
  }, [action]);
  const verb = action === "delete" ? "Delete" : "Restore";
  const go = async () => {
    setBusy(true);
    try {
      for (const run of runs) await api.post(`ajax-api/2.0/mlflow/runs/${action}`, { run_id: run.id });
      onClose();
      onDone();
    } catch (e) {
      setBusy(false);
      setError(e);
      onDone();
    }
  };
  return html`<${Dialog} open=${!!action} title=${`${verb} runs`} onClose=${onClose}>
    <div class="confirm">
      <p>
        ${verb} ${runs.length} run${runs.length === 1 ? "" : "s"}:${" "}
        <span class="lifecycle-names">${runs.map((r) => r.name || r.id).join(", ")}</span>?
        ${action === "delete" ? " Deleted runs stay listed under “Deleted runs”, where they can be restored." : ""}
      </p>
      <${ErrorBox} error=${error} title=${`Not all runs could be ${action === "delete" ? "deleted" : "restored"}`} />
      <div class="dialog-actions">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="button" class="primary" disabled=${busy} onClick=${go}>${verb}</button>
      </div>
    </div>
  <//>`;
}

export default function RunsPage({ params, query, navigate }) {
  const experimentIds = useMemo(() => experimentIdsOf(params, query), [params.experimentId, query.get("experiments")]);
  const scope = [...experimentIds].sort().join(",");
  const [filter, setFilter] = useState(() => query.get("filter") || "");
  const [sort, setSort] = useState(() => parseSort(query.get("order_by")));
  const [viewType, setViewType] = useState("ACTIVE_ONLY");
  const [expanded, setExpanded] = useState(() => new Set());
  const [selected, setSelected] = useState(() => new Set());
  const [choice, setChoice] = useState(() => loadColumnChoice(scope));
  const [lifecycle, setLifecycle] = useState(null);
  useEffect(() => setChoice(loadColumnChoice(scope)), [scope]);

  const { experiments, error: experimentError } = useExperiments(experimentIds);
  const search = useRunSearch(experimentIds, filter, sort, viewType);
  useTitle(experimentIds.length === 1 && experiments[0] ? experiments[0].name : "Runs");
  useEffect(() => rememberInAddress(filter, sort), [filter, sort]);

  const keys = useMemo(() => availableKeys(search.rows), [search.rows]);
  const several = experimentIds.length > 1;
  const columns = useMemo(() => choice || defaultColumns(keys, several), [choice, keys, several]);
  const items = useMemo(() => groupRuns(search.rows, expanded), [search.rows, expanded]);
  const experimentNames = useMemo(
    () => Object.fromEntries(experiments.map((e) => [e.experiment_id, e.name])),
    [experiments],
  );

  const chooseColumns = (next) => {
    saveColumnChoice(scope, next);
    setChoice(next);
  };
  const onSort = (column) => {
    const term = orderKey(column);
    if (!term) return;
    const numeric = column.kind === "metric" || column.key === "start_time" || column.key === "end_time";
    setSort(sort.term === term ? { term, desc: !sort.desc } : { term, desc: numeric });
  };
  const toggleIn = (setter) => (id) =>
    setter((old) => {
      const next = new Set(old);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const onToggleSelect = useCallback(toggleIn(setSelected), []);
  const onToggleExpand = useCallback(toggleIn(setExpanded), []);
  const onToggleAll = (all) => setSelected(all ? new Set(items.map((i) => i.row.id)) : new Set());
  const onOpen = (row) => navigate(`/experiments/${encodeURIComponent(row.info.experiment_id)}/runs/${encodeURIComponent(row.id)}`);

  const chosenRuns = search.rows.filter((r) => selected.has(r.id));
  const compare = () => {
    const ids = chosenRuns.map((r) => r.id);
    const exps = [...new Set(chosenRuns.map((r) => r.info.experiment_id))];
    navigate(compareHash(ids, exps));
  };

  if (experimentIds.length === 0) {
    return html`<div class="page">
      <${ErrorBox}
        title="No experiment given"
        error="Open an experiment from the list, or name several: #/runs?experiments=1,2."
      />
    </div>`;
  }
  const invalidFilter = search.error && search.error.code === "INVALID_PARAMETER_VALUE";
  return html`<div class="page runs-page">
    <${ExperimentHeader} experimentIds=${experimentIds} experiments=${experiments} />
    <${ErrorBox} error=${experimentError} title="Could not read the experiment" />
    <${FilterBox} value=${filter} onApply=${setFilter} error=${invalidFilter ? search.error : null} />
    <div class="toolbar runs-toolbar">
      <label>
        Show${" "}
        <select aria-label="Runs to show" value=${viewType} onChange=${(e) => setViewType(e.currentTarget.value)}>
          ${VIEW_TYPES.map((v) => html`<option value=${v.value}>${v.label}</option>`)}
        </select>
      </label>
      <${ColumnChooser} columns=${columns} keys=${keys} onChange=${chooseColumns} />
      <button type="button" class="primary" disabled=${chosenRuns.length < 2} onClick=${compare}>
        Compare${chosenRuns.length ? ` ${chosenRuns.length} runs` : ""}
      </button>
      ${chosenRuns.some((r) => r.info.lifecycle_stage !== "deleted")
        ? html`<button type="button" class="danger" onClick=${() => setLifecycle("delete")}>Delete</button>`
        : null}
      ${chosenRuns.some((r) => r.info.lifecycle_stage === "deleted")
        ? html`<button type="button" onClick=${() => setLifecycle("restore")}>Restore</button>`
        : null}
      ${selected.size ? html`<button type="button" onClick=${() => setSelected(new Set())}>Clear selection</button>` : null}
      <span class="runs-count muted" aria-live="polite">
        ${search.rows.length} run${search.rows.length === 1 ? "" : "s"}${search.next ? " loaded, more below" : ""}
      </span>
      ${search.loading ? html`<${Spinner} label="Loading runs…" />` : null}
    </div>
    ${search.error && !invalidFilter
      ? html`<${ErrorBox} error=${search.error} title="Could not search the runs" onRetry=${search.reload} />`
      : null}
    <${RunsGrid}
      items=${items}
      columns=${columns}
      sort=${sort}
      onSort=${onSort}
      selected=${selected}
      experimentNames=${experimentNames}
      onToggleSelect=${onToggleSelect}
      onToggleExpand=${onToggleExpand}
      onToggleAll=${onToggleAll}
      onOpen=${onOpen}
      hasMore=${!!search.next && !search.error}
      loading=${search.loading}
      onNearEnd=${search.loadMore}
    />
    ${!search.loading && !search.error && search.rows.length === 0
      ? html`<p class="muted empty">${filter ? "No run matches the filter." : "No runs yet."}</p>`
      : null}
    <${LifecycleDialog}
      action=${lifecycle}
      runs=${chosenRuns.filter((r) => (r.info.lifecycle_stage === "deleted") === (lifecycle === "restore"))}
      onClose=${() => setLifecycle(null)}
      onDone=${() => {
        setSelected(new Set());
        search.reload();
      }}
    />
    ${search.next
      ? html`<button type="button" class="load-more" onClick=${search.loadMore} disabled=${search.loading}>
          Load ${PAGE_SIZE} more runs
        </button>`
      : null}
  </div>`;
}
