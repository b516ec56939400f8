// Placeholder: the experiments page is being written.
import { html } from "../html.js";

export default function Page() {
  return html`<div class="page"><h1>experiments</h1><p class="muted">Coming shortly.</p></div>`;
}
