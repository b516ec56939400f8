// The model registry's pages: #/models (search), #/models/:name (a model and its versions),
// #/models/:name/versions/:version (one version). Names, descriptions, tags and aliases are
// user data: shown as text only. Descriptions, tags and aliases are editable through
// MLflow's REST API.
import { html, useState } from "../html.js";
import { api } from "../api.js";
import { ArtifactBrowser, LoggedModelArtifacts } from "./artifacts.js";
import { ErrorBox, KeyValueTable, Pager, Spinner, formatTime, formatValue, runHref, useAsync, useTitle } from "../components.js";

const API = "ajax-api/2.0/mlflow";
const PAGE_SIZE = 50;

/** A string literal of the registry's filter grammar. */
export function quoted(value) {
  return `'${String(value).replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

export const modelHref = (name) => `#/models/${encodeURIComponent(name)}`;
export const versionHref = (name, version) =>
  `#/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`;

function Tags({ tags }) {
  if (!tags || !tags.length) return null;
  return html`<ul class="model-tags">
    ${tags.map((t) => html`<li key=${t.key} class="chip"><span class="chip-key">${t.key}</span>: ${t.value}</li>`)}
  </ul>`;
}

function Aliases({ name, aliases }) {
  if (!aliases || !aliases.length) return null;
  return html`<ul class="model-aliases">
    ${aliases.map(
      (a) =>
        html`<li key=${a.alias} class="chip alias">
          <span>@${a.alias}</span> → <a href=${versionHref(name, a.version)}>v${a.version}</a>
        </li>`,
    )}
  </ul>`;
}

// -- the models list -----------------------------------------------------------------------

function ModelsList({ query, navigate }) {
  useTitle("Models");
  const search = query.get("q") || "";
  const [text, setText] = useState(search);
  const [tokens, setTokens] = useState([null]);
  const token = tokens[tokens.length - 1];
  const answer = useAsync(() => {
    const params = { max_results: PAGE_SIZE, order_by: "name ASC", page_token: token || undefined };
    if (search) params.filter = `name ILIKE ${quoted(`%${search}%`)}`;
    return api.get(`${API}/registered-models/search`, params);
  }, [search, token]);
  const onSubmit = (event) => {
    event.preventDefault();
    setTokens([null]);
    navigate(text ? `#/models?q=${encodeURIComponent(text)}` : "#/models");
  };
  const models = (answer.data && answer.data.registered_models) || [];
  return html`<div class="page models-page">
    <h1>Registered models</h1>
    <form class="models-search" role="search" onSubmit=${onSubmit}>
      <label for="model-search">Search models by name</label>
      <input id="model-search" type="search" value=${text} onInput=${(e) => setText(e.target.value)} />
      <button type="submit">Search</button>
    </form>
    ${answer.error && html`<${ErrorBox} error=${answer.error} onRetry=${answer.reload} />`}
    ${answer.loading && html`<${Spinner} />`}
    ${!answer.loading && !answer.error && !models.length && html`<p class="muted">No registered models${search ? ` match “${search}”` : ""}.</p>`}
    ${models.length > 0 &&
    html`<table class="data-table models-table">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Latest versions</th>
          <th scope="col">Aliases</th>
          <th scope="col">Tags</th>
          <th scope="col">Last modified</th>
        </tr>
      </thead>
      <tbody>
        ${models.map(
          (m) => html`<tr key=${m.name}>
            <td><a href=${modelHref(m.name)}>${m.name}</a></td>
            <td>
              ${(m.latest_versions || []).map(
                (v) =>
                  html`<a class="version-link" href=${versionHref(m.name, v.version)}
                    >v${v.version}${v.current_stage && v.current_stage !== "None" ? ` (${v.current_stage})` : ""}</a
                  > `,
              )}
            </td>
            <td><${Aliases} name=${m.name} aliases=${m.aliases} /></td>
            <td><${Tags} tags=${m.tags} /></td>
            <td>${formatTime(m.last_updated_timestamp)}</td>
          </tr>`,
        )}
      </tbody>
    </table>`}
    <${Pager} tokens=${tokens} setTokens=${setTokens} nextToken=${answer.data && answer.data.next_page_token} />
  </div>`;
}

// -- editors -------------------------------------------------------------------------------

function DescriptionEditor({ description, save }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(description || "");
  const [error, setError] = useState(null);
  if (!editing) {
    return html`<section class="model-description">
      <h2>Description</h2>
      ${description ? html`<p class="description-text">${description}</p>` : html`<p class="muted">No description.</p>`}
      <button type="button" onClick=${() => (setText(description || ""), setEditing(true))}>Edit description</button>
    </section>`;
  }
  const onSubmit = (event) => {
    event.preventDefault();
    save(text).then(() => setEditing(false), setError);
  };
  return html`<form class="model-description" onSubmit=${onSubmit}>
    <h2>Description</h2>
    <label for="description-input">Description</label>
    <textarea id="description-input" rows="5" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
    <${ErrorBox} error=${error} />
    <button type="submit">Save</button>
    <button type="button" onClick=${() => setEditing(false)}>Cancel</button>
  </form>`;
}

function TagEditor({ tags, setTag, deleteTag, idPrefix }) {
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [error, setError] = useState(null);
  const onSubmit = (event) => {
    event.preventDefault();
    setError(null);
    setTag(key, value).then(() => (setKey(""), setValue("")), setError);
  };
  return html`<section class="tag-editor">
    <h2>Tags</h2>
    ${tags && tags.length
      ? html`<table class="kv-table">
          <tbody>
            ${tags.map(
              (t) => html`<tr key=${t.key}>
                <th scope="row">${t.key}</th>
                <td>${t.value}</td>
                <td>
                  <button type="button" aria-label=${`Delete tag ${t.key}`} onClick=${() => deleteTag(t.key).catch(setError)}>
                    Delete
                  </button>
                </td>
              </tr>`,
            )}
          </tbody>
        </table>`
      : html`<p class="muted">No tags.</p>`}
    <form class="inline-form" onSubmit=${onSubmit}>
      <label for=${`${idPrefix}-tag-key`}>Tag key</label>
      <input id=${`${idPrefix}-tag-key`} required value=${key} onInput=${(e) => setKey(e.target.value)} />
      <label for=${`${idPrefix}-tag-value`}>Value</label>
      <input id=${`${idPrefix}-tag-value`} value=${value} onInput=${(e) => setValue(e.target.value)} />
      <button type="submit">Add tag</button>
    </form>
    <${ErrorBox} error=${error} />
  </section>`;
}

function AliasEditor({ name, aliases, reload, defaultVersion }) {
  const [alias, setAlias] = useState("");
  const [version, setVersion] = useState(defaultVersion || "");
  const [error, setError] = useState(null);
  const onSubmit = (event) => {
    event.preventDefault();
    setError(null);
    api.post(`${API}/registered-models/alias`, { name, alias, version }).then(() => (setAlias(""), reload()), setError);
  };
  const remove = (a) => api.del(`${API}/registered-models/alias`, { name, alias: a }).then(reload, setError);
  return html`<section class="alias-editor">
    <h2>Aliases</h2>
    ${aliases && aliases.length
      ? html`<ul class="model-aliases">
          ${aliases.map(
            (a) => html`<li key=${a.alias} class="chip alias">
              <span>@${a.alias}</span> → <a href=${versionHref(name, a.version)}>v${a.version}</a>
              <button type="button" class="chip-remove" aria-label=${`Remove alias ${a.alias}`} onClick=${() => remove(a.alias)}>
                ×
              </button>
            </li>`,
          )}
        </ul>`
      : html`<p class="muted">No aliases.</p>`}
    <form class="inline-form" onSubmit=${onSubmit}>
      <label for="alias-name">Alias</label>
      <input id="alias-name" required value=${alias} onInput=${(e) => setAlias(e.target.value)} />
      <label for="alias-version">Version</label>
      <input id="alias-version" required inputmode="numeric" value=${version} onInput=${(e) => setVersion(e.target.value)} />
      <button type="submit">Set alias</button>
    </form>
    <${ErrorBox} error=${error} />
  </section>`;
}

// -- one model -----------------------------------------------------------------------------

function VersionsTable({ name, versions, aliasesByVersion }) {
  if (!versions.length) return html`<p class="muted">This model has no versions.</p>`;
  return html`<table class="data-table versions-table">
    <thead>
      <tr>
        <th scope="col">Version</th>
        <th scope="col">Stage</th>
        <th scope="col">Aliases</th>
        <th scope="col">Source run</th>
        <th scope="col">Status</th>
        <th scope="col">Created</th>
      </tr>
    </thead>
    <tbody>
      ${versions.map(
        (v) => html`<tr key=${v.version}>
          <td><a href=${versionHref(name, v.version)}>Version ${v.version}</a></td>
          <td>${v.current_stage || "None"}</td>
          <td>${(aliasesByVersion[v.version] || []).map((a) => html`<span class="chip alias">@${a}</span> `)}</td>
          <td>${v.run_id ? html`<a href=${runHref(null, v.run_id)}>${v.run_id}</a>` : html`<span class="muted">${v.source || ""}</span>`}</td>
          <td>${v.status || ""}</td>
          <td>${formatTime(v.creation_timestamp)}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

async function loadModel(name) {
  const [model, versions] = await Promise.all([
    api.get(`${API}/registered-models/get`, { name }),
    api.get(`${API}/model-versions/search`, {
      filter: `name = ${quoted(name)}`,
      order_by: "version_number DESC",
      max_results: 1000,
    }),
  ]);
  return { model: model.registered_model, versions: versions.model_versions || [] };
}

function ModelPage({ name }) {
  useTitle(name);
  const answer = useAsync(() => loadModel(name), [name]);
  if (answer.error) return html`<div class="page"><${ErrorBox} error=${answer.error} onRetry=${answer.reload} /></div>`;
  if (!answer.data) return html`<div class="page"><${Spinner} /></div>`;
  const { model, versions } = answer.data;
  const aliasesByVersion = {};
  for (const a of model.aliases || []) (aliasesByVersion[a.version] ||= []).push(a.alias);
  const setTag = (key, value) => api.post(`${API}/registered-models/set-tag`, { name, key, value }).then(answer.reload);
  const deleteTag = (key) => api.del(`${API}/registered-models/delete-tag`, { name, key }).then(answer.reload);
  const saveDescription = (description) =>
    api.patch(`${API}/registered-models/update`, { name, description }).then(answer.reload);
  return html`<div class="page model-page">
    <nav class="breadcrumbs" aria-label="Breadcrumbs"><a href="#/models">Models</a>${" › "}<span>${name}</span></nav>
    <h1 class="model-name">${name}</h1>
    <${KeyValueTable}
      rows=${[
        ["Created", formatTime(model.creation_timestamp)],
        ["Last modified", formatTime(model.last_updated_timestamp)],
        ["Versions", String(versions.length)],
      ]}
    />
    <${DescriptionEditor} description=${model.description} save=${saveDescription} />
    <section>
      <h2>Versions</h2>
      <${VersionsTable} name=${name} versions=${versions} aliasesByVersion=${aliasesByVersion} />
    </section>
    <${AliasEditor} name=${name} aliases=${model.aliases} reload=${answer.reload} />
    <${TagEditor} tags=${model.tags} setTag=${setTag} deleteTag=${deleteTag} idPrefix="model" />
  </div>`;
}

// -- one version ---------------------------------------------------------------------------

function RunSummary({ runId }) {
  const answer = useAsync(() => api.get(`${API}/runs/get`, { run_id: runId }), [runId]);
  if (answer.error) return html`<p class="muted">The source run could not be read: ${answer.error.message}</p>`;
  if (!answer.data) return html`<${Spinner} />`;
  const run = answer.data.run;
  const metrics = (run.data && run.data.metrics) || [];
  return html`<section class="run-summary">
    <h2>Source run</h2>
    <p>
      <a href=${runHref(run.info.experiment_id, run.info.run_id)}>${run.info.run_name || run.info.run_id}</a>
      <span class="muted"> (${run.info.status})</span>
    </p>
    <${KeyValueTable}
      caption="Metrics (latest values)"
      rows=${metrics.slice(0, 50).map((m) => [m.key, formatValue(m.value)])}
      empty="The run logged no metrics."
    />
  </section>`;
}

const STAGES = ["None", "Staging", "Production", "Archived"];

/** Move a version to another stage (deprecated in MLflow in favour of aliases, still shown). */
function StageEditor({ name, version, stage, reload }) {
  const [target, setTarget] = useState(stage || "None");
  const [archive, setArchive] = useState(false);
  const [error, setError] = useState(null);
  const onSubmit = (event) => {
    event.preventDefault();
    setError(null);
    const body = { name, version, stage: target, archive_existing_versions: archive };
    api.post(`${API}/model-versions/transition-stage`, body).then(reload, setError);
  };
  return html`<form class="inline-form stage-editor" onSubmit=${onSubmit}>
    <label for="stage-select">Stage</label>
    <select id="stage-select" value=${target} onChange=${(e) => setTarget(e.target.value)}>
      ${STAGES.map((s) => html`<option value=${s}>${s}</option>`)}
    </select>
    <label><input type="checkbox" checked=${archive} onChange=${(e) => setArchive(e.target.checked)} /> Archive the
      versions now in that stage</label>
    <button type="submit" disabled=${target === (stage || "None")}>Move to stage</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

/** The version's files: its logged model's artifacts (MLflow 3), or the folder of its source
 * run that ``runs:/<run id>/<path>`` names. */
function ModelFiles({ version }) {
  const fromRun = /^runs:\/([^/]+)\/?(.*)$/.exec(version.source || "");
  let browser = null;
  if (version.model_id) browser = html`<${LoggedModelArtifacts} modelId=${version.model_id} />`;
  else if (fromRun) browser = html`<${ArtifactBrowser} runId=${fromRun[1]} initialPath=${fromRun[2] || undefined} />`;
  if (!browser) return null;
  return html`<section class="model-files">
    <h2>Model files</h2>
    ${browser}
  </section>`;
}

function VersionPage({ name, version }) {
  useTitle(`${name} v${version}`);
  const answer = useAsync(
    () => api.get(`${API}/model-versions/get`, { name, version }).then((a) => a.model_version),
    [name, version],
  );
  if (answer.error) return html`<div class="page"><${ErrorBox} error=${answer.error} onRetry=${answer.reload} /></div>`;
  if (!answer.data) return html`<div class="page"><${Spinner} /></div>`;
  const v = answer.data;
  const aliases = (v.aliases || []).map((alias) => ({ alias, version: v.version }));
  const setTag = (key, value) =>
    api.post(`${API}/model-versions/set-tag`, { name, version, key, value }).then(answer.reload);
  const deleteTag = (key) => api.del(`${API}/model-versions/delete-tag`, { name, version, key }).then(answer.reload);
  const saveDescription = (description) =>
    api.patch(`${API}/model-versions/update`, { name, version, description }).then(answer.reload);
  return html`<div class="page model-version-page">
    <nav class="breadcrumbs" aria-label="Breadcrumbs">
      <a href="#/models">Models</a>${" › "}<a href=${modelHref(name)}>${name}</a>${" › "}<span>Version ${version}</span>
    </nav>
    <h1><span class="model-name">${name}</span> <span class="muted">version ${version}</span></h1>
    <${KeyValueTable}
      rows=${[
        ["Stage", v.current_stage || "None"],
        ["Status", v.status || ""],
        ["Source", v.source || ""],
        ["Source run", v.run_id ? html`<a href=${runHref(null, v.run_id)}>${v.run_id}</a>` : ""],
        ["Created", formatTime(v.creation_timestamp)],
        ["Last modified", formatTime(v.last_updated_timestamp)],
      ]}
    />
    <${StageEditor} key=${v.current_stage} name=${name} version=${version} stage=${v.current_stage} reload=${answer.reload} />
    <${DescriptionEditor} description=${v.description} save=${saveDescription} />
    <${AliasEditor} name=${name} aliases=${aliases} reload=${answer.reload} defaultVersion=${version} />
    <${TagEditor} tags=${v.tags} setTag=${setTag} deleteTag=${deleteTag} idPrefix="version" />
    ${v.run_id && html`<${RunSummary} runId=${v.run_id} />`}
    <${ModelFiles} version=${v} />
  </div>`;
}

/** #/models, #/models/:name, #/models/:name/versions/:version. */
export default function Page({ params, query, navigate }) {
  if (params.name && params.version) return html`<${VersionPage} name=${params.name} version=${params.version} />`;
  if (params.name) return html`<${ModelPage} name=${params.name} />`;
  return html`<${ModelsList} query=${query} navigate=${navigate} />`;
}
