// The runs table's search box: tracklet's filter grammar (AND, OR, parentheses), applied on
// Enter; a parse error from the server is shown with its position marked.
import { html, useEffect, useRef, useState } from "../html.js";

const EXAMPLE = "metrics.loss < 0.5 AND (params.optimizer = 'adam' OR tags.team = 'vision')";

/** The 0-based position the server's message names ("... at position 12; ..."), or null. */
export function errorPosition(error) {
  if (!error || error.code !== "INVALID_PARAMETER_VALUE") return null;
  const match = /at position (\d+)/.exec(error.message || "");
  return match ? Number(match[1]) : null;
}

function PositionMarker({ filter, position }) {
  const at = Math.min(position, filter.length);
  const before = filter.slice(0, at);
  const char = filter.slice(at, at + 1);
  const after = filter.slice(at + 1);
  return html`<pre class="filter-marker" data-position=${at}><code>${before}<mark>${char || " "}</mark>${after}</code>${"\n"}<span class="filter-caret">${" ".repeat(at)}^ position ${at}</span></pre>`;
}

/**
 * @param {{value: string, onApply: (text: string) => void, error: any}} props
 *   value: the filter last applied; error: the ApiError of the last search, if any.
 */
export function FilterBox({ value, onApply, error }) {
  const [draft, setDraft] = useState(value);
  const input = useRef(null);
  useEffect(() => setDraft(value), [value]);
  const position = errorPosition(error);
  const invalid = error && error.code === "INVALID_PARAMETER_VALUE";
  useEffect(() => {
    if (position === null || !input.current) return;
    // Put the caret on the offending character, so fixing it is one keystroke away.
    input.current.focus();
    input.current.setSelectionRange(position, Math.min(position + 1, input.current.value.length));
  }, [error]);
  const onSubmit = (event) => {
    event.preventDefault();
    onApply(draft.trim());
  };
  const clear = () => {
    setDraft("");
    onApply("");
  };
  return html`<form class="filter-box" role="search" onSubmit=${onSubmit}>
    <div class="filter-row">
      <input
        ref=${input}
        type="text"
        class="filter-input mono"
        aria-label="Filter runs"
        aria-invalid=${invalid ? "true" : "false"}
        aria-describedby=${invalid ? "filter-error" : "filter-help"}
        placeholder=${EXAMPLE}
        spellcheck="false"
        autocomplete="off"
        value=${draft}
        onInput=${(e) => setDraft(e.currentTarget.value)}
      />
      <button type="submit" class="primary">Search</button>
      ${value || draft ? html`<button type="button" onClick=${clear}>Clear</button>` : null}
    </div>
    ${invalid
      ? html`<div class="filter-error" id="filter-error" role="alert">
          <p class="filter-error-message">${error.message}</p>
          ${position !== null ? html`<${PositionMarker} filter=${value} position=${position} />` : null}
        </div>`
      : html`<p class="filter-help muted" id="filter-help">
          <code>metrics.</code>, <code>params.</code>, <code>tags.</code>, <code>attributes.</code> with
          <code>${"= != < <= > >= LIKE ILIKE IN"}</code>, joined by <code>AND</code>/<code>OR</code> and
          parentheses. Enter to search.
        </p>`}
  </form>`;
}
