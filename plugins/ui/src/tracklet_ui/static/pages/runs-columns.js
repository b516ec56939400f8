// The runs table's columns: what a column is, how its cell reads a run, how it sorts on the
// server (runs/search order_by), and the per-experiment choice kept in localStorage.
import { formatDuration, formatTime, formatValue } from "../components.js";

/** Attribute columns: run fields every run has. `order` is the server's sort key, if any. */
export const ATTRIBUTES = [
  { key: "start_time", label: "Created", order: "attributes.start_time", width: 165 },
  { key: "duration", label: "Duration", order: null, width: 90 },
  { key: "status", label: "Status", order: "attributes.status", width: 100 },
  { key: "user_id", label: "User", order: "attributes.user_id", width: 120 },
  { key: "source", label: "Source", order: null, width: 160 },
  { key: "end_time", label: "Ended", order: "attributes.end_time", width: 165 },
  { key: "run_id", label: "Run ID", order: null, width: 140 },
  { key: "experiment", label: "Experiment", order: null, width: 140 },
];
const ATTRIBUTE_BY_KEY = Object.fromEntries(ATTRIBUTES.map((a) => [a.key, a]));

export const KINDS = [
  { kind: "attr", label: "Attributes" },
  { kind: "metric", label: "Metrics" },
  { kind: "param", label: "Parameters" },
  { kind: "tag", label: "Tags" },
];

/** A column's stable id: "metric:loss". */
export const columnId = (column) => `${column.kind}:${column.key}`;

export function parseColumnId(id) {
  const at = id.indexOf(":");
  return at < 0 ? null : { kind: id.slice(0, at), key: id.slice(at + 1) };
}

/** The identifier of a key in the search grammar (backquoted unless plain). */
function identifier(prefix, key) {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${prefix}.${key}` : `${prefix}.\`${key.replace(/`/g, "")}\``;
}

/** runs/search's order_by term for a column, or null when the server cannot sort by it. */
export function orderKey(column) {
  if (column.kind === "name") return "attributes.run_name";
  if (column.kind === "attr") return (ATTRIBUTE_BY_KEY[column.key] || {}).order || null;
  if (column.kind === "metric") return identifier("metrics", column.key);
  if (column.kind === "param") return identifier("params", column.key);
  if (column.kind === "tag") return identifier("tags", column.key);
  return null;
}

export function columnLabel(column) {
  if (column.kind === "attr") return (ATTRIBUTE_BY_KEY[column.key] || { label: column.key }).label;
  return column.key;
}

export function columnWidth(column) {
  if (column.kind === "attr") return (ATTRIBUTE_BY_KEY[column.key] || { width: 120 }).width;
  return column.kind === "tag" ? 150 : 120;
}

/** A run from runs/search made quick to read: maps for metrics, params and tags. */
export function toRow(run) {
  const data = run.data || {};
  const metrics = new Map((data.metrics || []).map((m) => [m.key, m.value]));
  const params = new Map((data.params || []).map((p) => [p.key, p.value]));
  const tags = new Map((data.tags || []).map((t) => [t.key, t.value]));
  const info = run.info;
  return {
    id: info.run_id,
    name: info.run_name || tags.get("mlflow.runName") || "",
    info,
    metrics,
    params,
    tags,
    parentId: tags.get("mlflow.parentRunId") || null,
  };
}

/** The text of one cell. */
export function cellText(row, column, experimentNames) {
  const info = row.info;
  if (column.kind === "metric") return row.metrics.has(column.key) ? formatValue(row.metrics.get(column.key)) : "";
  if (column.kind === "param") return row.params.get(column.key) ?? "";
  if (column.kind === "tag") return row.tags.get(column.key) ?? "";
  switch (column.key) {
    case "start_time":
      return formatTime(info.start_time);
    case "end_time":
      return formatTime(info.end_time);
    case "duration":
      return info.start_time && info.end_time ? formatDuration(info.end_time - info.start_time) : "";
    case "status":
      return info.status || "";
    case "user_id":
      return row.tags.get("mlflow.user") || info.user_id || "";
    case "source":
      return row.tags.get("mlflow.source.name") || "";
    case "run_id":
      return row.id;
    case "experiment":
      return (experimentNames && experimentNames[info.experiment_id]) || info.experiment_id;
    default:
      return "";
  }
}

/** Every key seen in the loaded rows, by kind, sorted (tags starting "mlflow." last). */
export function availableKeys(rows) {
  const seen = { metric: new Set(), param: new Set(), tag: new Set() };
  for (const row of rows) {
    for (const k of row.metrics.keys()) seen.metric.add(k);
    for (const k of row.params.keys()) seen.param.add(k);
    for (const k of row.tags.keys()) seen.tag.add(k);
  }
  // Plain code-point order: localeCompare costs more than the whole table's first render.
  const byName = (a, b) => a.startsWith("mlflow.") - b.startsWith("mlflow.") || (a < b ? -1 : a > b ? 1 : 0);
  return {
    attr: ATTRIBUTES.map((a) => a.key),
    metric: [...seen.metric].sort(byName),
    param: [...seen.param].sort(byName),
    tag: [...seen.tag].sort(byName),
  };
}

/** The columns shown before the user chooses: a few attributes, then up to 8 metrics and 8 params. */
export function defaultColumns(keys, severalExperiments) {
  const attrs = ["start_time", "duration", "status", "user_id"];
  if (severalExperiments) attrs.push("experiment");
  return [
    ...attrs.map((key) => ({ kind: "attr", key })),
    ...keys.metric.slice(0, 8).map((key) => ({ kind: "metric", key })),
    ...keys.param.slice(0, 8).map((key) => ({ kind: "param", key })),
  ];
}

const STORAGE_PREFIX = "tracklet-ui.runs.columns.";

/** The user's column choice for these experiments, or null when they never chose. */
export function loadColumnChoice(scope) {
  try {
    const raw = localStorage.getItem(STORAGE_PREFIX + scope);
    if (!raw) return null;
    const ids = JSON.parse(raw);
    return Array.isArray(ids) ? ids.map(parseColumnId).filter(Boolean) : null;
  } catch {
    return null;
  }
}

export function saveColumnChoice(scope, columns) {
  try {
    if (columns === null) localStorage.removeItem(STORAGE_PREFIX + scope);
    else localStorage.setItem(STORAGE_PREFIX + scope, JSON.stringify(columns.map(columnId)));
  } catch {
    // storage full or disabled: the choice lasts for this page only
  }
}
