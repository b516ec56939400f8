// Metric charts: MetricChart draws series on uPlot (canvas), useMetricSeries fetches them
// downsampled by the server (api/2.0/tracklet/ui/metric-series: M4, every peak kept), and a
// drag-zoom re-fetches the window at full resolution. ChartControls picks the x axis, log
// scale and smoothing; Sparkline is a tiny SVG line; ParallelCoordinates is an SVG view of
// runs over several dimensions. uPlot writes labels with textContent (escaped).
import { html, useEffect, useMemo, useRef, useState } from "./html.js";
import { api } from "./api.js";
import uPlot from "./vendor/uPlot.esm.js";

export const SERIES_PATH = "api/2.0/tracklet/ui/metric-series";
export const X_AXES = [
  { id: "step", label: "Step" },
  { id: "time", label: "Wall time" },
  { id: "relative", label: "Relative time" },
];

const PALETTE = ["#2456c8", "#d9480f", "#2b8a3e", "#ae3ec9", "#c92a2a", "#0b7285", "#e67700", "#5f3dc4", "#495057", "#a61e4d"];

/** The colour of the i-th run of a chart (stable across pages). */
export function runColor(index) {
  return PALETTE[index % PALETTE.length];
}

/** A metric value from the wire ("NaN", "Infinity" as MLflow's JSON spells them) as a number. */
export function toNumber(value) {
  if (typeof value === "number") return value;
  if (value === "NaN") return NaN;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  return Number(value);
}

/** Exponential moving average with TensorBoard's debiasing; non-finite values pass through as gaps. */
export function smooth(values, weight) {
  if (!weight) return values;
  let last = 0;
  let count = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return v;
    last = last * weight + (1 - weight) * v;
    count += 1;
    return last / (1 - Math.pow(weight, count));
  });
}

/**
 * Fetch one metric of several runs, sampled by the server. runs: [{runId, label}].
 * windowX: null or {min, max} in the chart's x units. Returns {data, error, loading}; data is
 * [{runId, label, totalPoints, sampled, points: [[step, timestamp, value]], start}].
 * One request per run (the server authorizes each run on its own).
 */
export function useMetricSeries(runs, metricKey, xAxis, windowX, maxPoints = 2000) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const starts = useRef({}); // run id -> first timestamp of the whole history (relative time)
  const runKey = runs.map((r) => r.runId).join(",");
  // The whole history is sampled by step (the database's index order; a time axis then reads
  // each point's timestamp), a zoom window in the axis's own units.
  const serverAxis = xAxis === "step" || !windowX ? "step" : "time";
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    const load = async (run) => {
      const params = { run_id: run.runId, metric_key: metricKey, max_points: maxPoints, x_axis: serverAxis };
      if (windowX) {
        const toServer = (x) =>
          xAxis === "step" ? x : xAxis === "time" ? x * 1000 : (starts.current[run.runId] || 0) + x * 1000;
        params.min_x = Math.floor(toServer(windowX.min));
        params.max_x = Math.ceil(toServer(windowX.max));
      }
      const answer = await api.get(SERIES_PATH, params);
      const one = (answer.series || [])[0] || { points: [], total_points: 0, sampled: false };
      if (!windowX && one.points.length) {
        starts.current[run.runId] = Math.min(...one.points.map((p) => p[1]));
      }
      return {
        runId: run.runId,
        label: run.label,
        totalPoints: one.total_points,
        sampled: one.sampled,
        points: one.points,
        start: starts.current[run.runId] || 0,
      };
    };
    Promise.all(runs.map(load)).then(
      (data) => current && setState({ data, error: null, loading: false }),
      (error) => current && setState({ data: null, error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [runKey, metricKey, serverAxis, windowX ? `${xAxis}:${windowX.min}:${windowX.max}` : "", maxPoints]);
  return state;
}

function xOf(point, xAxis, start) {
  if (xAxis === "step") return point[0];
  if (xAxis === "time") return point[1] / 1000;
  return (point[1] - start) / 1000;
}

/** uPlot's aligned data: [xs, ys of series 1, ...], null where a series has no point. */
export function alignSeries(series, xAxis, logScale, smoothing) {
  const tables = series.map((s) => {
    const xs = [];
    const ys = [];
    const sorted = s.points.map((p) => [xOf(p, xAxis, s.start), toNumber(p[2])]).sort((a, b) => a[0] - b[0]);
    for (const [x, y] of sorted) {
      if (xs.length && xs[xs.length - 1] === x) {
        ys[ys.length - 1] = y; // the later point at one x wins, as a line shows it
        continue;
      }
      xs.push(x);
      ys.push(!Number.isFinite(y) || (logScale && y <= 0) ? null : y);
    }
    return [xs, smooth(ys, smoothing)];
  });
  if (tables.length === 0) return [[]];
  if (tables.length === 1) return tables[0];
  return uPlot.join(tables);
}

/** A number that changes whenever the page's theme does (data-theme on <html>), so charts,
 * which paint their axes once on a canvas, are redrawn in the new colours. */
function useThemeVersion() {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const observer = new MutationObserver(() => setVersion((v) => v + 1));
    observer.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    return () => observer.disconnect();
  }, []);
  return version;
}

function themeColor(name, fallback) {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return value || fallback;
}

/**
 * A line chart of metric series on uPlot.
 * series: the data of useMetricSeries; xAxis: "step" | "time" | "relative"; logScale: bool;
 * smoothing: 0..0.99 (EMA weight); onZoom({min, max}) after a mouse drag, onZoom(null) on a
 * double click; windowX: the shown x range, or null for all.
 */
export function MetricChart({ series, xAxis = "step", logScale = false, smoothing = 0, onZoom, windowX, title, height = 280 }) {
  const box = useRef(null);
  const plot = useRef(null);
  const zoomRef = useRef(onZoom);
  zoomRef.current = onZoom;
  const data = useMemo(() => alignSeries(series, xAxis, logScale, smoothing), [series, xAxis, logScale, smoothing]);
  const theme = useThemeVersion();

  useEffect(() => {
    const element = box.current;
    if (!element) return undefined;
    // muted theme colours for the axes' text, grid and ticks (uPlot's own are for a white page)
    const axisStroke = themeColor("--fg-muted", "#5d6778");
    const lineColor = themeColor("--chart-grid", themeColor("--border", "#d9dde4"));
    const grid = { stroke: lineColor, width: 1 };
    const ticks = { stroke: lineColor, width: 1 };
    const opts = {
      title: title || undefined,
      width: Math.max(element.clientWidth || 600, 240),
      height,
      scales: {
        x: {
          time: xAxis === "time",
          range: windowX ? () => [windowX.min, windowX.max] : undefined,
        },
        y: { distr: logScale ? 3 : 1 },
      },
      axes: [
        { stroke: axisStroke, grid, ticks, label: X_AXES.find((a) => a.id === xAxis).label + (xAxis === "relative" ? " (s)" : "") },
        { stroke: axisStroke, grid, ticks, size: 60 },
      ],
      series: [
        { label: X_AXES.find((a) => a.id === xAxis).label },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: runColor(i),
          width: 1.5,
          spanGaps: true,
          points: { show: false },
        })),
      ],
      cursor: { drag: { x: true, y: false, setScale: false } },
      legend: { live: true },
      hooks: {
        // the shown x range, for people's tools and the browser tests
        setScale: [
          (u, key) => {
            if (key !== "x") return;
            element.dataset.xMin = String(u.scales.x.min);
            element.dataset.xMax = String(u.scales.x.max);
          },
        ],
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const min = u.posToVal(u.select.left, "x");
            const max = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            if (zoomRef.current && max > min) zoomRef.current({ min, max });
          },
        ],
      },
    };
    const chart = new uPlot(opts, data, element);
    element.dataset.gridColor = lineColor; // what the grid is drawn in, for the browser tests
    plot.current = chart;
    const reset = () => zoomRef.current && zoomRef.current(null);
    chart.over.addEventListener("dblclick", reset);
    const resize = new ResizeObserver(() => {
      const width = Math.max(element.clientWidth || 600, 240);
      if (Math.abs(width - chart.width) > 2) chart.setSize({ width, height });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.over.removeEventListener("dblclick", reset);
      chart.destroy();
      plot.current = null;
    };
  }, [data, theme, xAxis, logScale, windowX ? `${windowX.min}:${windowX.max}` : "", height, title, series.map((s) => s.label).join("\u0000")]);

  return html`<div class="metric-chart" ref=${box} data-x-axis=${xAxis} data-log=${logScale ? "true" : "false"}></div>`;
}

/** The x-axis, log-scale and smoothing controls shared by every chart page. */
export function ChartControls({ xAxis, setXAxis, logScale, setLogScale, smoothing, setSmoothing, zoomed, onReset }) {
  return html`<div class="chart-controls">
    <label>X axis
      <select value=${xAxis} onChange=${(e) => setXAxis(e.currentTarget.value)}>
        ${X_AXES.map((a) => html`<option value=${a.id} key=${a.id}>${a.label}</option>`)}
      </select>
    </label>
    <label class="inline-check">
      <input type="checkbox" checked=${logScale} onChange=${(e) => setLogScale(e.currentTarget.checked)} /> Log scale
    </label>
    <label>Smoothing
      <input type="range" min="0" max="0.99" step="0.01" value=${smoothing}
        onInput=${(e) => setSmoothing(Number(e.currentTarget.value))} />
      <output>${smoothing.toFixed(2)}</output>
    </label>
    ${zoomed ? html`<button type="button" onClick=${onReset}>Reset zoom</button>` : null}
    <span class="muted chart-hint">Drag across a chart to zoom; double-click to reset.</span>
  </div>`;
}

/** Chart state for a page: x axis, log scale, smoothing and the zoom window. */
export function useChartOptions(initialXAxis = "step") {
  const [xAxis, setXAxisRaw] = useState(initialXAxis);
  const [logScale, setLogScale] = useState(false);
  const [smoothing, setSmoothing] = useState(0);
  const [windowX, setWindowX] = useState(null);
  const setXAxis = (value) => {
    setWindowX(null); // a window in one axis's units means nothing in another's
    setXAxisRaw(value);
  };
  return { xAxis, setXAxis, logScale, setLogScale, smoothing, setSmoothing, windowX, setWindowX };
}

/**
 * One metric of several runs, with its own fetch and zoom: the unit the run, metric and
 * compare pages repeat. runs: [{runId, label}].
 */
export function MetricPanel({ runs, metricKey, options, height, heading }) {
  const { xAxis, logScale, smoothing, windowX, setWindowX } = options;
  const fetched = useMetricSeries(runs, metricKey, xAxis, windowX);
  const { error, loading } = fetched;
  // labels may arrive after the series (the metric page fetches both at once)
  const labels = runs.map((r) => r.label).join("\u0000");
  const data = useMemo(
    () => fetched.data && fetched.data.map((s) => ({ ...s, label: (runs.find((r) => r.runId === s.runId) || s).label })),
    [fetched.data, labels],
  );
  const total = data ? data.reduce((n, s) => n + s.totalPoints, 0) : 0;
  const shown = data ? data.reduce((n, s) => n + s.points.length, 0) : 0;
  return html`<section class="metric-panel" aria-label=${"Chart of " + metricKey}>
    ${heading === false ? null : html`<h3 class="metric-panel-title">${metricKey}</h3>`}
    ${error ? html`<p class="error-message" role="alert">${error.message}</p>` : null}
    ${data
      ? html`<${MetricChart}
            series=${data}
            xAxis=${xAxis}
            logScale=${logScale}
            smoothing=${smoothing}
            windowX=${windowX}
            onZoom=${setWindowX}
            height=${height}
          />
          <p class="muted chart-note" aria-live="polite">
            ${loading ? "Loading… " : ""}${shown.toLocaleString()} of ${total.toLocaleString()} points drawn${shown < total
              ? " (downsampled, extremes kept)"
              : ""}${windowX ? " · zoomed" : ""}
          </p>`
      : loading
        ? html`<p class="muted">Loading ${metricKey}…</p>`
        : null}
  </section>`;
}

/** A tiny SVG line of a metric's history (sampled by the server to a few dozen points). */
export function Sparkline({ runId, metricKey, width = 90, height = 22 }) {
  const [points, setPoints] = useState(null);
  useEffect(() => {
    let current = true;
    api.get(SERIES_PATH, { run_id: runId, metric_key: metricKey, max_points: 48 }).then(
      (answer) => current && setPoints(((answer.series || [])[0] || { points: [] }).points),
      () => current && setPoints([]),
    );
    return () => {
      current = false;
    };
  }, [runId, metricKey]);
  if (!points || points.length < 2) return html`<span class="sparkline-empty" aria-hidden="true"></span>`;
  const ys = points.map((p) => toNumber(p[2])).filter(Number.isFinite);
  const xs = points.map((p) => p[0]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x) => (x1 === x0 ? 0 : ((x - x0) / (x1 - x0)) * (width - 2) + 1);
  const sy = (y) => (y1 === y0 ? height / 2 : height - 1 - ((y - y0) / (y1 - y0)) * (height - 2));
  const d = points
    .filter((p) => Number.isFinite(toNumber(p[2])))
    .map((p, i) => `${i ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(toNumber(p[2])).toFixed(1)}`)
    .join("");
  return html`<svg class="sparkline" width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`} aria-hidden="true">
    <path d=${d} fill="none" stroke="currentColor" stroke-width="1.2" />
  </svg>`;
}

/** text cut to about `width` pixels (at `charWidth` per character), ending in "…" when cut. */
function fitText(text, width, charWidth) {
  const max = Math.max(3, Math.floor(width / charWidth));
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Parallel coordinates over runs (own SVG). runs: [{runId, label}]; dimensions:
 * [{key, label, values: {runId: number|string}}]; colorBy: index of the dimension colouring
 * the lines (low = blue, high = red). One <path class="pc-line"> per run.
 */
export function ParallelCoordinates({ runs, dimensions, colorBy = -1, width = 900, height = 320 }) {
  // The axes' names and their top/bottom values sit above and below the plotting band, where
  // no axis or run line runs; names are cut to the room between axes (the whole in a title).
  const pad = { top: 58, bottom: 30, left: 48, right: 48 };
  if (dimensions.length < 2) {
    return html`<p class="muted">Choose at least two params or metrics to draw parallel coordinates.</p>`;
  }
  const step = (width - pad.left - pad.right) / (dimensions.length - 1);
  const scales = dimensions.map((dim) => {
    const raw = runs.map((r) => dim.values[r.runId]).filter((v) => v !== undefined && v !== null && v !== "");
    const numbers = raw.map(Number);
    if (raw.length && numbers.every(Number.isFinite)) {
      const [lo, hi] = [Math.min(...numbers), Math.max(...numbers)];
      return { kind: "number", lo, hi, pos: (v) => (hi === lo ? 0.5 : (Number(v) - lo) / (hi - lo)) };
    }
    const categories = [...new Set(raw.map(String))].sort();
    return {
      kind: "category",
      categories,
      pos: (v) => (categories.length < 2 ? 0.5 : categories.indexOf(String(v)) / (categories.length - 1)),
    };
  });
  const y = (fraction) => pad.top + (1 - fraction) * (height - pad.top - pad.bottom);
  const colorScale = colorBy >= 0 ? scales[colorBy] : null;
  const colour = (run, i) => {
    if (!colorScale) return runColor(i);
    const v = dimensions[colorBy].values[run.runId];
    if (v === undefined || v === null || v === "") return "#868e96";
    const t = Math.max(0, Math.min(1, colorScale.pos(v)));
    return `hsl(${Math.round(220 - 220 * t)}, 70%, 45%)`;
  };
  return html`<svg class="parallel-coordinates" role="img" aria-label="Parallel coordinates of the runs"
      viewBox=${`0 0 ${width} ${height}`} width="100%" preserveAspectRatio="xMidYMid meet">
    ${dimensions.map((dim, i) => {
      const x = pad.left + i * step;
      // the first name starts at its axis, the last ends at it, the others are centred
      const anchor = i === 0 ? "start" : i === dimensions.length - 1 ? "end" : "middle";
      const room = i === 0 || i === dimensions.length - 1 ? step / 2 + pad.left : step;
      const hi = scales[i].kind === "number" ? String(Number(scales[i].hi.toPrecision(4))) : scales[i].categories[scales[i].categories.length - 1] || "";
      const lo = scales[i].kind === "number" ? String(Number(scales[i].lo.toPrecision(4))) : scales[i].categories[0] || "";
      return html`<g class="pc-axis" key=${dim.key}>
        <line x1=${x} x2=${x} y1=${pad.top} y2=${height - pad.bottom} />
        <text class="pc-axis-label" x=${x} y=${pad.top - 26} text-anchor=${anchor}
          ><title>${dim.label}</title>${fitText(dim.label, room - 8, 6.6)}</text>
        <text class="pc-tick" x=${x} y=${pad.top - 8} text-anchor=${anchor}><title>${hi}</title>${fitText(hi, room - 8, 6)}</text>
        <text class="pc-tick" x=${x} y=${height - pad.bottom + 16} text-anchor=${anchor}><title>${lo}</title>${fitText(lo, room - 8, 6)}</text>
      </g>`;
    })}
    ${runs.map((run, r) => {
      const parts = [];
      dimensions.forEach((dim, i) => {
        const v = dim.values[run.runId];
        if (v === undefined || v === null || v === "") return;
        parts.push(`${parts.length ? "L" : "M"}${(pad.left + i * step).toFixed(1)},${y(scales[i].pos(v)).toFixed(1)}`);
      });
      return html`<path class="pc-line" key=${run.runId} data-run-id=${run.runId} d=${parts.join("")}
        stroke=${colour(run, r)} fill="none"><title>${run.label}</title></path>`;
    })}
  </svg>`;
}

// A metric chooser over `keys` (the first `initial` ticked), the chart controls, and one
// MetricPanel per ticked key for `runs`: the run page's Metrics tab and compare's charts.
export function ChosenMetricCharts({ keys, runs, initial }) {
  const [chosen, setChosen] = useState(() => keys.slice(0, initial));
  const options = useChartOptions();
  const toggle = (key) => setChosen((c) => (c.includes(key) ? c.filter((k) => k !== key) : [...c, key]));
  return html`<fieldset class="metric-chooser">
      <legend>Metrics to chart</legend>
      ${keys.map(
        (key) => html`<label key=${key} class="inline-check">
          <input type="checkbox" checked=${chosen.includes(key)} onChange=${() => toggle(key)} /> ${key}
        </label>`,
      )}
    </fieldset>
    <${ChartControls} ...${options} zoomed=${!!options.windowX} onReset=${() => options.setWindowX(null)} />
    <div class="chart-grid">
      ${keys.filter((k) => chosen.includes(k)).map((key) => html`<${MetricPanel} key=${key} runs=${runs} metricKey=${key} options=${options} />`)}
    </div>`;
}
