// The shell: hash router, top bar, theme, and the page modules loaded on demand.
import { html, render, useEffect, useLayoutEffect, useState } from "./html.js";
import { api } from "./api.js";
import { ErrorBox, Spinner } from "./components.js";

// The route table. ":name" takes one path segment, "*name" the rest of the path; both are
// URI-decoded. First match wins. `extra` adds fixed params (the run page's tab).
const ROUTES = [
  { path: "/", module: "experiments" },
  { path: "/experiments", module: "experiments" },
  { path: "/experiments/:experimentId", module: "runs" },
  { path: "/experiments/:experimentId/runs", module: "runs" },
  { path: "/runs", module: "runs" },
  { path: "/experiments/:experimentId/runs/:runId", module: "run" },
  { path: "/experiments/:experimentId/runs/:runId/artifacts/*artifactPath", module: "run", extra: { tab: "artifacts" } },
  // MLflow 2's spelling of the same link.
  { path: "/experiments/:experimentId/runs/:runId/artifactPath/*artifactPath", module: "run", extra: { tab: "artifacts" } },
  { path: "/experiments/:experimentId/runs/:runId/:tab", module: "run" },
  { path: "/runs/:runId", module: "run" },
  { path: "/runs/:runId/artifacts/*artifactPath", module: "run", extra: { tab: "artifacts" } },
  { path: "/runs/:runId/:tab", module: "run" },
  { path: "/compare-runs", module: "compare" },
  { path: "/metric/*metricKey", module: "metric" },
  { path: "/models", module: "models" },
  { path: "/models/:name", module: "models" },
  { path: "/models/:name/versions/:version", module: "models" },
  { path: "/experiments/:experimentId/traces", module: "traces" },
  { path: "/traces", module: "traces" },
  { path: "/traces/:traceId", module: "traces" },
];

function decode(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function matchRoute(pattern, segments) {
  const parts = pattern.split("/").filter(Boolean);
  const params = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part.startsWith("*")) {
      if (i >= segments.length) return null;
      params[part.slice(1)] = segments.slice(i).map(decode).join("/");
      return params;
    }
    if (i >= segments.length) return null;
    if (part.startsWith(":")) params[part.slice(1)] = decode(segments[i]);
    else if (part !== segments[i]) return null;
  }
  return parts.length === segments.length ? params : null;
}

/** {module, params, query, path} for a location hash ("#/experiments/1?x=y"). */
export function resolve(hash) {
  const raw = (hash || "").replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split(/\?(.*)/s);
  const segments = path.split("/").filter(Boolean);
  const query = new URLSearchParams(search);
  for (const route of ROUTES) {
    const params = matchRoute(route.path, segments);
    if (params) return { module: route.module, params: { ...(route.extra || {}), ...params }, query, path };
  }
  return { module: null, params: {}, query, path };
}

function navigate(hash) {
  const target = hash.startsWith("#") ? hash : `#${hash}`;
  if (location.hash !== target) location.hash = target;
}

// --- theme -----------------------------------------------------------------------------

const THEME_KEY = "tracklet-ui.theme";
const THEMES = ["system", "light", "dark"];
const darkQuery = window.matchMedia("(prefers-color-scheme: dark)");

function storedTheme() {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return THEMES.includes(value) ? value : "system";
  } catch {
    return "system";
  }
}

function applyTheme(choice) {
  const effective = choice === "system" ? (darkQuery.matches ? "dark" : "light") : choice;
  document.documentElement.dataset.theme = effective;
}

function ThemeToggle() {
  const [choice, setChoice] = useState(storedTheme);
  // a layout effect: the page takes the new theme in the same task as the press, not after
  // the next paint (a passive effect waits for an animation frame)
  useLayoutEffect(() => {
    applyTheme(choice);
    try {
      localStorage.setItem(THEME_KEY, choice);
    } catch {
      // private mode: the choice lasts for this page only
    }
    const follow = () => applyTheme(choice);
    darkQuery.addEventListener("change", follow);
    return () => darkQuery.removeEventListener("change", follow);
  }, [choice]);
  const next = THEMES[(THEMES.indexOf(choice) + 1) % THEMES.length];
  const icon = { system: "◐", light: "☀", dark: "☾" }[choice];
  return html`<button
    type="button"
    class="theme-toggle"
    title=${`Theme: ${choice} (click for ${next})`}
    aria-label=${`Theme: ${choice}. Switch to ${next}`}
    onClick=${() => setChoice((current) => THEMES[(THEMES.indexOf(current) + 1) % THEMES.length])}
  >
    <span aria-hidden="true">${icon}</span> ${choice}
  </button>`;
}

// --- top bar ---------------------------------------------------------------------------

// Probed once per page load: the registry's pages show only when its plugin is installed.
let registryProbe = null;
function probeRegistry() {
  registryProbe ||= api.get("ajax-api/2.0/mlflow/registered-models/search", { max_results: 1 }).then(
    () => true,
    () => false,
  );
  return registryProbe;
}

function TopBar({ module }) {
  const [hasRegistry, setHasRegistry] = useState(false);
  useEffect(() => {
    probeRegistry().then(setHasRegistry);
  }, []);
  const link = (href, label, active) =>
    html`<a href=${href} class=${active ? "nav-link active" : "nav-link"} aria-current=${active ? "page" : null}
      >${label}</a
    >`;
  return html`<header class="topbar">
    <a class="brand" href="#/experiments">tracklet</a>
    <nav class="nav" aria-label="Main">
      ${link("#/experiments", "Experiments", module === "experiments" || module === "runs")}
      ${hasRegistry ? link("#/models", "Models", module === "models") : null}
      ${link("#/traces", "Traces", module === "traces")}
    </nav>
    <span class="topbar-spacer"></span>
    <a class="nav-link" href="../openapi.json" title="The server's REST API (OpenAPI)">API</a>
    <${ThemeToggle} />
  </header>`;
}

// --- pages -----------------------------------------------------------------------------

const loaded = new Map();
function loadPage(name) {
  if (!loaded.has(name)) loaded.set(name, import(`./pages/${name}.js`));
  return loaded.get(name);
}

function NotFound({ path }) {
  return html`<div class="page">
    <h1>Page not found</h1>
    <p>Nothing lives at <code>#${path}</code>.</p>
    <p><a href="#/experiments">Go to the experiments</a></p>
  </div>`;
}

function PageHost({ route }) {
  const [state, setState] = useState({ name: null, Page: null, error: null });
  // A layout effect, not an effect: the page (and its first request) must not wait a frame.
  useLayoutEffect(() => {
    if (!route.module) return;
    let current = true;
    loadPage(route.module).then(
      (module) => current && setState({ name: route.module, Page: module.default, error: null }),
      (error) => current && setState({ name: route.module, Page: null, error }),
    );
    return () => {
      current = false;
    };
  }, [route.module]);
  if (!route.module) return html`<${NotFound} path=${route.path} />`;
  if (state.name !== route.module) return html`<${Spinner} />`;
  if (state.error || typeof state.Page !== "function") {
    return html`<div class="page">
      <${ErrorBox}
        title="This page is not available"
        error=${`The ${route.module} page could not be loaded: ${state.error ? state.error.message : "it has no page"}.`}
      />
    </div>`;
  }
  const { Page } = state;
  // A new key remounts the page when its route params change (another run, another experiment).
  const key = `${route.module}:${JSON.stringify(route.params)}`;
  return html`<${Page} key=${key} params=${route.params} query=${route.query} navigate=${navigate} />`;
}

/** The route of the current address, its page module already on its way. */
function currentRoute() {
  const route = resolve(location.hash);
  if (route.module) loadPage(route.module);
  return route;
}

function App() {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return html`<${TopBar} module=${route.module} />
    <main id="main" class="main">
      <${PageHost} route=${route} />
    </main>`;
}

applyTheme(storedTheme());
render(html`<${App} />`, document.getElementById("app"));
