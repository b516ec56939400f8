// The artifact browser: a lazily listed folder tree (keyboard navigable) and the preview of
// the selected file (./artifact-previews.js). It reads a run's artifacts (ArtifactBrowser, the
// run page's Artifacts tab) or a logged model's (LoggedModelArtifacts, a model version's
// files). Artifact names are attacker-controlled: they are only ever Preact text children.
import { html, useCallback, useEffect, useMemo, useRef, useState } from "../html.js";
import { api } from "../api.js";
import { ErrorBox, Spinner } from "../components.js";
import { Preview, baseName, formatSize } from "./artifact-previews.js";

const API = "ajax-api/2.0/mlflow";

/** Where a run's artifacts are listed and downloaded from. */
export function runSource(runId) {
  return {
    key: `run:${runId}`,
    list: (folder) => api.get(`${API}/artifacts/list`, folder ? { run_id: runId, path: folder } : { run_id: runId }),
    url: (path) => api.url("get-artifact", { run_id: runId, path }),
  };
}

/** Where a logged model's artifacts are listed and downloaded from (MLflow 3's UI routes). */
export function loggedModelSource(modelId) {
  const base = `${API}/logged-models/${encodeURIComponent(modelId)}/artifacts`;
  return {
    key: `logged-model:${modelId}`,
    list: (folder) => api.get(`${base}/directories`, folder ? { artifact_directory_path: folder } : {}),
    url: (path) => api.url(`${base}/files`, { artifact_file_path: path }),
  };
}

function ancestorsOf(path) {
  const parts = path.split("/").filter(Boolean);
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

function moveFocus(tree, current, delta) {
  const items = [...tree.querySelectorAll("button.artifact-item")];
  const index = items.indexOf(current);
  const next = items[Math.max(0, Math.min(items.length - 1, index + delta))];
  if (next) next.focus();
}

// Entries of one folder drawn before a "Show all" button (a folder may hold thousands).
const FOLDER_PAGE = 500;

function TreeLevel({ folder, listings, expanded, selected, onToggle, onSelect, depth }) {
  const [showAll, setShowAll] = useState(false);
  const listing = listings[folder];
  if (!listing || listing.loading) return html`<li role="none"><${Spinner} /></li>`;
  if (listing.error) return html`<li role="none"><${ErrorBox} error=${listing.error} /></li>`;
  if (!listing.files.length && depth === 0) {
    return html`<li role="none" class="artifact-note">This run has no artifacts.</li>`;
  }
  const files = showAll ? listing.files : listing.files.slice(0, FOLDER_PAGE);
  const more = listing.files.length - files.length;
  const items = files.map((file) => {
    const isOpen = file.is_dir && expanded.has(file.path);
    return html`<li
      role="treeitem"
      key=${file.path}
      aria-expanded=${file.is_dir ? String(isOpen) : undefined}
      aria-selected=${String(selected === file.path)}
    >
      <button
        type="button"
        class=${`artifact-item ${file.is_dir ? "is-dir" : "is-file"}${selected === file.path ? " selected" : ""}`}
        style=${{ paddingLeft: `${0.5 + depth * 1.1}rem` }}
        data-path=${file.path}
        data-dir=${file.is_dir ? "true" : "false"}
        onClick=${() => (file.is_dir ? onToggle(file.path) : onSelect(file))}
      >
        <span class="artifact-icon" aria-hidden="true">${file.is_dir ? (isOpen ? "▾" : "▸") : "·"}</span>
        <span class="artifact-label">${baseName(file.path)}</span>
        ${!file.is_dir && html`<span class="artifact-item-size">${formatSize(file.file_size)}</span>`}
      </button>
      ${isOpen &&
      html`<ul role="group">
        <${TreeLevel}
          folder=${file.path}
          listings=${listings}
          expanded=${expanded}
          selected=${selected}
          onToggle=${onToggle}
          onSelect=${onSelect}
          depth=${depth + 1}
        />
      </ul>`}
    </li>`;
  });
  if (more > 0) {
    items.push(html`<li role="none" key="--more">
      <button type="button" class="artifact-more" onClick=${() => setShowAll(true)}>Show all ${listing.files.length} entries</button>
    </li>`);
  }
  return items;
}

/** A run's artifacts: tree on the left, preview of the selected file on the right.
 * `initialPath` (a file or a folder) is opened and selected on first render. */
export function ArtifactBrowser({ runId, initialPath }) {
  const source = useMemo(() => runSource(runId), [runId]);
  return html`<${Browser} key=${source.key} source=${source} initialPath=${initialPath} />`;
}

/** A logged model's artifacts (MLflow 3's LoggedModel), browsed as a run's are. */
export function LoggedModelArtifacts({ modelId, initialPath }) {
  const source = useMemo(() => loggedModelSource(modelId), [modelId]);
  return html`<${Browser} key=${source.key} source=${source} initialPath=${initialPath} />`;
}

function Browser({ source, initialPath }) {
  const [listings, setListings] = useState({});
  const [expanded, setExpanded] = useState(() => new Set(initialPath ? ancestorsOf(initialPath) : []));
  const [selected, setSelected] = useState(null);
  const pending = useRef(new Set());
  const tree = useRef(null);

  const load = useCallback(
    (folder) => {
      if (pending.current.has(folder)) return;
      pending.current.add(folder);
      setListings((prev) => ({ ...prev, [folder]: { loading: true } }));
      source.list(folder).then(
        (body) => {
          const files = (body.files || []).slice().sort((a, b) => b.is_dir - a.is_dir || a.path.localeCompare(b.path));
          setListings((prev) => ({ ...prev, [folder]: { files } }));
        },
        (error) => setListings((prev) => ({ ...prev, [folder]: { error } })),
      );
    },
    [source],
  );

  useEffect(() => {
    pending.current = new Set();
    setListings({});
    load("");
    for (const folder of initialPath ? ancestorsOf(initialPath) : []) load(folder);
  }, [source, load]);

  // Select initialPath once the listing of its folder shows it (a file) or open it (a folder).
  useEffect(() => {
    if (!initialPath || selected) return;
    const parent = ancestorsOf(initialPath).pop() || "";
    const entry = listings[parent]?.files?.find((f) => f.path === initialPath.replace(/\/$/, ""));
    if (!entry) return;
    if (entry.is_dir) {
      setExpanded((prev) => new Set(prev).add(entry.path));
      load(entry.path);
      setSelected({ path: entry.path, is_dir: true });
    } else setSelected(entry);
  }, [listings, initialPath]);

  const onToggle = useCallback(
    (path) => {
      setExpanded((prev) => {
        const next = new Set(prev);
        if (next.has(path)) next.delete(path);
        else {
          next.add(path);
          if (!listings[path]) load(path);
        }
        return next;
      });
    },
    [listings, load],
  );

  const onKeyDown = (event) => {
    const target = event.target;
    if (!target.classList || !target.classList.contains("artifact-item")) return;
    const path = target.dataset.path;
    const isDir = target.dataset.dir === "true";
    if (event.key === "ArrowDown") moveFocus(tree.current, target, 1);
    else if (event.key === "ArrowUp") moveFocus(tree.current, target, -1);
    else if (event.key === "Home") moveFocus(tree.current, target, -Infinity);
    else if (event.key === "End") moveFocus(tree.current, target, Infinity);
    else if (event.key === "ArrowRight" && isDir && !expanded.has(path)) onToggle(path);
    else if (event.key === "ArrowLeft" && isDir && expanded.has(path)) onToggle(path);
    else if (event.key === "ArrowLeft") {
      const parent = tree.current.querySelector(`button[data-path="${CSS.escape(ancestorsOf(path).pop() || "")}"]`);
      if (parent) parent.focus();
      else return;
    } else return;
    event.preventDefault();
  };

  const file = selected && !selected.is_dir ? selected : null;
  return html`<div class="artifact-browser">
    <nav class="artifact-tree" aria-label="Artifacts">
      <ul role="tree" aria-label="Artifact files" ref=${tree} onKeyDown=${onKeyDown}>
        <${TreeLevel}
          folder=""
          listings=${listings}
          expanded=${expanded}
          selected=${selected && selected.path}
          onToggle=${onToggle}
          onSelect=${setSelected}
          depth=${0}
        />
      </ul>
    </nav>
    ${file
      ? html`<${Preview} key=${file.path} source=${source} file=${file} />`
      : html`<section class="artifact-preview artifact-empty"><p class="artifact-note">Select a file to preview it.</p></section>`}
  </div>`;
}
