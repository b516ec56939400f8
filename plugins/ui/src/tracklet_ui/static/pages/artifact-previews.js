// Previews of one artifact file by type: text and logs (first 1 MB), JSON (a collapsible
// tree; MLflow's log_table output as a table), YAML and MLmodel files as text, CSV/TSV as a
// table (first 1,000 rows), images through blob URLs as <img> (SVG included, never inlined),
// HTML in an <iframe sandbox srcdoc> without allow-scripts or allow-same-origin. Contents are
// attacker-controlled: everything is a Preact text child. A `source` ({key, url(path)})
// says where the file is downloaded from (see artifacts.js).
import { html, useEffect, useMemo, useState } from "../html.js";
import { ErrorBox, Spinner } from "../components.js";

export const TEXT_LIMIT = 1024 * 1024;
export const TABLE_ROW_LIMIT = 1000;

const IMAGE_TYPES = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  svg: "image/svg+xml",
  webp: "image/webp",
  bmp: "image/bmp",
  ico: "image/x-icon",
};
const TEXT_EXTENSIONS = new Set([
  "txt", "log", "md", "rst", "py", "sh", "cfg", "ini", "toml", "conf", "properties", "r",
  "js", "ts", "java", "scala", "sql", "xml", "out", "err", "jsonl", "gitignore",
  "requirements", "lock", "text", "env",
]);
const TEXT_NAMES = new Set(["MLmodel", "MLproject", "Dockerfile", "LICENSE", "README"]);

function extensionOf(path) {
  const name = baseName(path);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

export function baseName(path) {
  const slash = path.lastIndexOf("/");
  return slash >= 0 ? path.slice(slash + 1) : path;
}

/** How a file is previewed, from its name: "image", "json", "yaml", "csv", "tsv", "html",
 * "text" or "none" (a download link only). */
export function previewKind(path) {
  const name = baseName(path);
  const ext = extensionOf(path);
  if (name === "MLmodel" || ext === "yaml" || ext === "yml") return "yaml";
  if (IMAGE_TYPES[ext]) return "image";
  if (ext === "json" || ext === "ipynb") return "json";
  if (ext === "csv") return "csv";
  if (ext === "tsv") return "tsv";
  if (ext === "html" || ext === "htm") return "html";
  if (TEXT_EXTENSIONS.has(ext) || TEXT_NAMES.has(name) || name.startsWith("requirements")) return "text";
  return "none";
}

export function formatSize(bytes) {
  if (bytes === undefined || bytes === null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
async function fetchArtifact(source, path) {
  const response = await fetch(source.url(path), { credentials: "same-origin" });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      message = body.message || message;
    } catch {
      // not a JSON error body: keep the status line
    }
    throw new Error(`Could not read ${path}: ${message}`);
  }
  return response;
}

/** The first `limit` bytes of a file as text, and whether there was more. */
async function fetchTextHead(source, path, limit = TEXT_LIMIT) {
  const response = await fetchArtifact(source, path);
  const reader = response.body.getReader();
  const chunks = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.length;
    if (size > limit) {
      truncated = true;
      await reader.cancel();
      break;
    }
  }
  const bytes = new Uint8Array(Math.min(size, limit));
  let offset = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, Math.min(chunk.length, bytes.length - offset));
    bytes.set(part, offset);
    offset += part.length;
    if (offset >= bytes.length) break;
  }
  return { text: new TextDecoder("utf-8").decode(bytes), truncated };
}

/** CSV/TSV rows (quoted fields, doubled quotes, CRLF), at most `maxRows`. */
export function parseDelimited(text, delimiter, maxRows) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  let i = 0;
  while (i < text.length && rows.length < maxRows) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (ch === '"') quoted = false;
      else field += ch;
      i += 1;
      continue;
    }
    if (ch === '"' && field === "") quoted = true;
    else if (ch === delimiter) {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      if (ch === "\r" && text[i + 1] === "\n") i += 1;
    } else field += ch;
    i += 1;
  }
  if ((field !== "" || row.length) && rows.length < maxRows) {
    row.push(field);
    rows.push(row);
  }
  return { rows, more: i < text.length };
}

function cellText(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function DataTable({ columns, rows, note }) {
  return html`<div class="artifact-table-wrap">
    <table class="artifact-table">
      <thead>
        <tr>${columns.map((c) => html`<th scope="col">${cellText(c)}</th>`)}</tr>
      </thead>
      <tbody>
        ${rows.map((r) => html`<tr>${columns.map((_, j) => html`<td>${cellText(r[j])}</td>`)}</tr>`)}
      </tbody>
    </table>
    ${note && html`<p class="artifact-note">${note}</p>`}
  </div>`;
}

/** Nodes in a JSON value, counting no further than `limit`. */
function countNodes(value, limit) {
  let count = 0;
  const stack = [value];
  while (stack.length && count < limit) {
    const item = stack.pop();
    count += 1;
    if (item !== null && typeof item === "object") stack.push(...Object.values(item).slice(0, limit));
  }
  return count;
}

function JsonNode({ name, value, depth, openDepth }) {
  const label = name === undefined ? null : html`<span class="json-key">${name}</span>: `;
  if (value === null || typeof value !== "object") {
    const kind = value === null ? "null" : typeof value;
    return html`<div class="json-leaf">${label}<span class=${`json-${kind}`}>${JSON.stringify(value)}</span></div>`;
  }
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  const shown = entries.slice(0, 1000);
  const brackets = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  return html`<details class="json-node" open=${depth < openDepth}>
    <summary>${label}${brackets[0]}<span class="json-count">${entries.length} ${Array.isArray(value) ? "items" : "keys"}</span>${brackets[1]}</summary>
    <div class="json-children">
      ${shown.map(([k, v]) => html`<${JsonNode} key=${k} name=${String(k)} value=${v} depth=${depth + 1} openDepth=${openDepth} />`)}
      ${entries.length > shown.length && html`<div class="artifact-note">… ${entries.length - shown.length} more</div>`}
    </div>
  </details>`;
}

/** A collapsible JSON tree: small documents open entirely, large ones two levels deep. */
export function JsonView({ value }) {
  const openDepth = useMemo(() => (countNodes(value, 500) < 500 ? Infinity : 2), [value]);
  return html`<div class="json-view"><${JsonNode} value=${value} depth=${0} openDepth=${openDepth} /></div>`;
}

function isLoggedTable(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    Array.isArray(value.columns) &&
    Array.isArray(value.data) &&
    value.data.every((r) => Array.isArray(r))
  );
}

function TruncatedNote({ truncated }) {
  return truncated
    ? html`<p class="artifact-note" role="note">Preview truncated: showing the first 1 MB. Download the file to see all of it.</p>`
    : null;
}

function TextPreview({ text, truncated, kind }) {
  return html`<div>
    <${TruncatedNote} truncated=${truncated} />
    <pre class=${`artifact-text artifact-${kind}`}>${text}</pre>
  </div>`;
}

function JsonPreview({ text, truncated }) {
  const parsed = useMemo(() => {
    if (truncated) return { error: true };
    try {
      return { value: JSON.parse(text) };
    } catch {
      return { error: true };
    }
  }, [text, truncated]);
  if (parsed.error) return html`<${TextPreview} text=${text} truncated=${truncated} kind="json" />`;
  if (isLoggedTable(parsed.value)) {
    const { columns, data } = parsed.value;
    const rows = data.slice(0, TABLE_ROW_LIMIT);
    const note = data.length > rows.length ? `Showing the first ${rows.length} of ${data.length} rows.` : null;
    return html`<${DataTable} columns=${columns} rows=${rows} note=${note} />`;
  }
  return html`<${JsonView} value=${parsed.value} />`;
}

function DelimitedPreview({ text, truncated, delimiter }) {
  const { rows, more } = useMemo(() => parseDelimited(text, delimiter, TABLE_ROW_LIMIT + 1), [text, delimiter]);
  if (!rows.length) return html`<p class="artifact-note">The file is empty.</p>`;
  const [header, ...body] = rows;
  const shown = body.slice(0, TABLE_ROW_LIMIT);
  const note =
    more || truncated || body.length > shown.length ? `Showing the first ${shown.length} rows.` : null;
  return html`<${DataTable} columns=${header} rows=${shown} note=${note} />`;
}

function HtmlPreview({ text, truncated, name }) {
  // No allow-scripts and no allow-same-origin: the document can neither run code nor reach
  // this page's origin (and the page's CSP applies to srcdoc documents as well).
  return html`<div>
    <${TruncatedNote} truncated=${truncated} />
    <iframe class="artifact-html" sandbox="" srcdoc=${text} title=${`Preview of ${name}`}></iframe>
  </div>`;
}

function ImagePreview({ source, path }) {
  const [state, setState] = useState({ loading: true });
  useEffect(() => {
    let url = null;
    let cancelled = false;
    (async () => {
      try {
        const response = await fetchArtifact(source, path);
        const bytes = await response.arrayBuffer();
        if (cancelled) return;
        // The server sends every artifact as an attachment (some as text/plain): give the
        // blob the image type so the browser decodes it as an image and nothing else.
        url = URL.createObjectURL(new Blob([bytes], { type: IMAGE_TYPES[extensionOf(path)] }));
        setState({ url });
      } catch (error) {
        if (!cancelled) setState({ error });
      }
    })();
    return () => {
      cancelled = true;
      if (url) URL.revokeObjectURL(url);
    };
  }, [source.key, path]);
  if (state.error) return html`<${ErrorBox} error=${state.error} />`;
  if (state.loading) return html`<${Spinner} />`;
  return html`<img class="artifact-image" src=${state.url} alt=${baseName(path)} />`;
}

function TextualPreview({ source, path, kind }) {
  const [state, setState] = useState({ loading: true });
  useEffect(() => {
    let cancelled = false;
    setState({ loading: true });
    fetchTextHead(source, path).then(
      (result) => !cancelled && setState(result),
      (error) => !cancelled && setState({ error }),
    );
    return () => {
      cancelled = true;
    };
  }, [source.key, path]);
  if (state.error) return html`<${ErrorBox} error=${state.error} />`;
  if (state.loading) return html`<${Spinner} />`;
  const { text, truncated } = state;
  if (kind === "json") return html`<${JsonPreview} text=${text} truncated=${truncated} />`;
  if (kind === "csv") return html`<${DelimitedPreview} text=${text} truncated=${truncated} delimiter="," />`;
  if (kind === "tsv") return html`<${DelimitedPreview} text=${text} truncated=${truncated} delimiter="\t" />`;
  if (kind === "html") return html`<${HtmlPreview} text=${text} truncated=${truncated} name=${baseName(path)} />`;
  return html`<${TextPreview} text=${text} truncated=${truncated} kind=${kind} />`;
}

// Images larger than this are previewed only when asked (the whole file is fetched).
export const IMAGE_LIMIT = 20 * 1024 * 1024;

function PreviewBody({ source, file, kind, onKind }) {
  const name = baseName(file.path);
  if (kind === "none") {
    return html`<p class="artifact-note">No preview for this file type. Use Download to get it, or</p>
      <button type="button" onClick=${() => onKind("text")}>Show ${name} as text</button>`;
  }
  if (kind === "image" && file.file_size > IMAGE_LIMIT) {
    return html`<p class="artifact-note">This image is ${formatSize(file.file_size)}.</p>
      <button type="button" onClick=${() => onKind("image-large")}>Show it anyway</button>`;
  }
  if (kind === "image" || kind === "image-large") {
    return html`<${ImagePreview} key=${file.path} source=${source} path=${file.path} />`;
  }
  return html`<${TextualPreview} key=${`${file.path}:${kind}`} source=${source} path=${file.path} kind=${kind} />`;
}

/** The preview pane of one file: name, size, Download, and the body its type calls for. */
export function Preview({ source, file }) {
  const [kind, setKind] = useState(() => previewKind(file.path));
  const name = baseName(file.path);
  return html`<section class="artifact-preview" aria-label=${`Preview of ${name}`}>
    <header class="artifact-preview-head">
      <h3 class="artifact-name">${file.path}</h3>
      <span class="artifact-size">${formatSize(file.file_size)}</span>
      <a class="button artifact-download" href=${source.url(file.path)} download=${name}>Download</a>
    </header>
    <div class="artifact-preview-body" data-kind=${kind}>
      <${PreviewBody} source=${source} file=${file} kind=${kind} onKind=${setKind} />
    </div>
  </section>`;
}
