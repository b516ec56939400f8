// The experiments list: search by name (server-side), create, rename, delete and restore.
import { html, useEffect, useRef, useState } from "../html.js";
import { api } from "../api.js";
import { Dialog, ErrorBox, Spinner, experimentHref, formatTime, useTitle } from "../components.js";

const PAGE_SIZE = 100;

/** A string literal of the search grammar holding `text` as it is. */
export function quoteLiteral(text) {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** The experiments/search filter for the search box: name contains the text, any case. */
export function nameFilter(text) {
  const trimmed = text.trim();
  return trimmed ? `name ILIKE ${quoteLiteral(`%${trimmed}%`)}` : undefined;
}

function useDebounced(value, delay) {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return settled;
}

function useExperiments(search, showDeleted) {
  const [state, setState] = useState({ items: [], next: null, loading: true, error: null });
  const [version, setVersion] = useState(0);
  const generation = useRef(0);
  const load = (pageToken) => {
    const mine = ++generation.current;
    setState((s) => ({ ...s, loading: true, error: null, ...(pageToken ? {} : { items: [], next: null }) }));
    api
      .get("ajax-api/2.0/mlflow/experiments/search", {
        max_results: PAGE_SIZE,
        filter: nameFilter(search),
        view_type: showDeleted ? "ALL" : "ACTIVE_ONLY",
        order_by: "last_update_time DESC",
        page_token: pageToken || undefined,
      })
      .then(
        (answer) => {
          if (mine !== generation.current) return;
          setState((s) => ({
            items: [...(pageToken ? s.items : []), ...(answer.experiments || [])],
            next: answer.next_page_token || null,
            loading: false,
            error: null,
          }));
        },
        (error) => mine === generation.current && setState((s) => ({ ...s, loading: false, error })),
      );
  };
  useEffect(() => load(null), [search, showDeleted, version]);
  return { ...state, loadMore: () => state.next && load(state.next), reload: () => setVersion((v) => v + 1) };
}

/** A dialog asking for one name (create, rename); `submit(name)` returns a promise. */
function NameDialog({ open, title, label, initial, action, submit, onClose }) {
  const [name, setName] = useState(initial || "");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (open) {
      setName(initial || "");
      setError(null);
      setBusy(false);
    }
  }, [open, initial]);
  const onSubmit = (event) => {
    event.preventDefault();
    if (!name.trim()) {
      setError("The name may not be empty.");
      return;
    }
    setBusy(true);
    submit(name.trim()).then(onClose, (e) => {
      setBusy(false);
      setError(e);
    });
  };
  return html`<${Dialog} open=${open} title=${title} onClose=${onClose}>
    <form onSubmit=${onSubmit}>
      <label for="experiment-name-input">${label}</label>
      <input
        id="experiment-name-input"
        type="text"
        value=${name}
        autofocus
        autocomplete="off"
        onInput=${(e) => setName(e.currentTarget.value)}
      />
      <${ErrorBox} error=${error} title="Not saved" />
      <div class="dialog-actions">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class="primary" disabled=${busy}>${action}</button>
      </div>
    </form>
  <//>`;
}

function ConfirmDeleteDialog({ experiment, onClose, onDeleted }) {
  const [error, setError] = useState(null);
  useEffect(() => setError(null), [experiment]);
  const remove = () =>
    api.post("ajax-api/2.0/mlflow/experiments/delete", { experiment_id: experiment.experiment_id }).then(
      () => {
        onClose();
        onDeleted();
      },
      setError,
    );
  return html`<${Dialog} open=${!!experiment} title="Delete experiment" onClose=${onClose}>
    ${experiment
      ? html`<div class="confirm">
          <p>
            Delete <strong>${experiment.name}</strong>? Its runs go with it. You can restore it from
            “Show deleted”.
          </p>
          <${ErrorBox} error=${error} title="Not deleted" />
          <div class="dialog-actions">
            <button type="button" onClick=${onClose}>Cancel</button>
            <button type="button" class="primary" onClick=${remove}>Delete</button>
          </div>
        </div>`
      : null}
  <//>`;
}

function ExperimentRow({ experiment, picked, onPick, onRename, onDelete, onRestore }) {
  const deleted = experiment.lifecycle_stage === "deleted";
  return html`<tr class=${deleted ? "deleted" : ""} data-experiment-id=${experiment.experiment_id}>
    <td class="check-cell">
      <input
        type="checkbox"
        checked=${picked}
        aria-label=${`Select experiment ${experiment.name}`}
        onChange=${() => onPick(experiment.experiment_id)}
      />
    </td>
    <td class="experiment-name">
      <a href=${experimentHref(experiment.experiment_id)}>${experiment.name}</a>
      ${deleted ? html` <span class="badge">deleted</span>` : null}
    </td>
    <td class="mono">${experiment.experiment_id}</td>
    <td>${formatTime(experiment.creation_time)}</td>
    <td>${formatTime(experiment.last_update_time)}</td>
    <td class="actions">
      ${deleted
        ? html`<button type="button" onClick=${() => onRestore(experiment)} aria-label=${`Restore ${experiment.name}`}>
            Restore
          </button>`
        : html`<button type="button" onClick=${() => onRename(experiment)} aria-label=${`Rename ${experiment.name}`}>
              Rename
            </button>
            <button
              type="button"
              class="danger"
              onClick=${() => onDelete(experiment)}
              aria-label=${`Delete ${experiment.name}`}
            >
              Delete
            </button>`}
    </td>
  </tr>`;
}

export default function ExperimentsPage({ navigate }) {
  useTitle("Experiments");
  const [text, setText] = useState("");
  const [showDeleted, setShowDeleted] = useState(false);
  const search = useDebounced(text, 250);
  const list = useExperiments(search, showDeleted);
  const [creating, setCreating] = useState(false);
  const [renaming, setRenaming] = useState(null);
  const [deleting, setDeleting] = useState(null);
  const [actionError, setActionError] = useState(null);

  const create = (name) =>
    api.post("ajax-api/2.0/mlflow/experiments/create", { name }).then((answer) => {
      list.reload();
      return answer;
    });
  const rename = (name) =>
    api
      .post("ajax-api/2.0/mlflow/experiments/update", { experiment_id: renaming.experiment_id, new_name: name })
      .then(list.reload);
  const restore = (experiment) =>
    api
      .post("ajax-api/2.0/mlflow/experiments/restore", { experiment_id: experiment.experiment_id })
      .then(list.reload, setActionError);
  const [picked, setPicked] = useState(() => new Set());
  const chosen = list.items.map((e) => e.experiment_id).filter((id) => picked.has(id));
  const togglePick = (id) =>
    setPicked((old) => {
      const next = new Set(old);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  return html`<div class="page experiments-page">
    <div class="page-header">
      <h1>Experiments</h1>
      <button type="button" class="primary" onClick=${() => setCreating(true)}>New experiment</button>
      ${chosen.length > 0
        ? html`<a class="button" href=${`#/runs?experiments=${chosen.map(encodeURIComponent).join(",")}`}
            >Runs of ${chosen.length} selected experiment${chosen.length > 1 ? "s" : ""}</a
          >`
        : null}
    </div>
    <div class="toolbar">
      <input
        type="search"
        class="experiment-search"
        aria-label="Search experiments by name"
        placeholder="Search by name…"
        value=${text}
        onInput=${(e) => setText(e.currentTarget.value)}
      />
      <label class="checkbox-label">
        <input type="checkbox" checked=${showDeleted} onChange=${(e) => setShowDeleted(e.currentTarget.checked)} />
        Show deleted
      </label>
      ${list.loading ? html`<${Spinner} label="Loading experiments…" />` : null}
    </div>
    <${ErrorBox} error=${list.error} title="Could not list the experiments" onRetry=${list.reload} />
    <${ErrorBox} error=${actionError} title="Not restored" />
    <table class="data-table experiments-table">
      <thead>
        <tr>
          <th scope="col" class="check-cell"><span class="visually-hidden">Select</span></th>
          <th scope="col">Name</th>
          <th scope="col">ID</th>
          <th scope="col">Created</th>
          <th scope="col">Last updated</th>
          <th scope="col"><span class="visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        ${list.items.map(
          (experiment) => html`<${ExperimentRow}
            key=${experiment.experiment_id}
            experiment=${experiment}
            picked=${picked.has(experiment.experiment_id)}
            onPick=${togglePick}
            onRename=${setRenaming}
            onDelete=${setDeleting}
            onRestore=${restore}
          />`,
        )}
      </tbody>
    </table>
    ${!list.loading && !list.error && list.items.length === 0
      ? html`<p class="muted empty">${search ? `No experiment name contains “${search}”.` : "No experiments yet."}</p>`
      : null}
    ${list.next
      ? html`<button type="button" class="load-more" onClick=${list.loadMore} disabled=${list.loading}>
          Load more experiments
        </button>`
      : null}
    <${NameDialog}
      open=${creating}
      title="New experiment"
      label="Name"
      action="Create"
      submit=${create}
      onClose=${() => setCreating(false)}
    />
    <${NameDialog}
      open=${!!renaming}
      title="Rename experiment"
      label="New name"
      initial=${renaming ? renaming.name : ""}
      action="Rename"
      submit=${rename}
      onClose=${() => setRenaming(null)}
    />
    <${ConfirmDeleteDialog} experiment=${deleting} onClose=${() => setDeleting(null)} onDeleted=${list.reload} />
  </div>`;
}
