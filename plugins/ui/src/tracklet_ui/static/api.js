// The UI's only way to the server: MLflow's REST API (ajax-api/...), get-artifact and
// tracklet-ui's own routes. Paths are RELATIVE to the page's base: the page lives at
// <base>/ui/, so "ajax-api/2.0/mlflow/runs/get" is fetched from <base>/ajax-api/...,
// which keeps a server behind a path prefix working.

/** An error answer from the server, or a failure to reach it. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the server could not be reached)
   * @param {string} code MLflow's error_code (INVALID_PARAMETER_VALUE, ...)
   * @param {string} message the server's message, meant for a person
   */
  constructor(status, code, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

const BASE = new URL("../", document.baseURI);

function appendParams(url, params) {
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null) continue;
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) url.searchParams.append(key, String(v));
  }
  return url;
}

/** The absolute URL of a server path (for links and downloads), with query params. */
function url(path, params) {
  return appendParams(new URL(path, BASE), params).href;
}

async function readAnswer(response) {
  const text = await response.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (response.ok) {
    if (body === null && text) {
      throw new ApiError(response.status, "BAD_RESPONSE", "The server answered with something other than JSON.");
    }
    return body || {};
  }
  const code = (body && body.error_code) || `HTTP_${response.status}`;
  const message = (body && body.message) || `${response.status} ${response.statusText || "error"}`.trim();
  throw new ApiError(response.status, code, message);
}

async function send(href, init) {
  let response;
  try {
    response = await fetch(href, { credentials: "same-origin", ...init });
  } catch (error) {
    throw new ApiError(0, "NETWORK_ERROR", `Could not reach the tracklet server (${error.message}).`);
  }
  return readAnswer(response);
}

/** GET a JSON endpoint; params become the query string (arrays repeat the key). */
function get(path, params) {
  return send(url(path, params), { headers: { Accept: "application/json" } });
}

/** Send a JSON body with a method (MLflow's REST API reads bodies on PATCH and DELETE too). */
function sendJson(method, path, body) {
  return send(url(path), {
    method,
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body || {}),
  });
}

/** POST a JSON body to an endpoint. */
function post(path, body) {
  return sendJson("POST", path, body);
}

/** PATCH a JSON body to an endpoint (registered-models/update, model-versions/update). */
function patch(path, body) {
  return sendJson("PATCH", path, body);
}

/** DELETE with a JSON body (MLflow's delete-tag and alias endpoints take their fields in it). */
function del(path, body) {
  return sendJson("DELETE", path, body);
}

/**
 * MLflow's runs/search. Returns {runs: [...], next_page_token}.
 * @param {{experimentIds: string[], filter?: string, orderBy?: string[], maxResults?: number,
 *          pageToken?: string, runViewType?: "ACTIVE_ONLY"|"DELETED_ONLY"|"ALL"}} options
 */
async function searchRuns({ experimentIds, filter, orderBy, maxResults, pageToken, runViewType }) {
  const body = { experiment_ids: experimentIds, max_results: maxResults || 100 };
  if (filter) body.filter = filter;
  if (orderBy && orderBy.length) body.order_by = orderBy;
  if (pageToken) body.page_token = pageToken;
  if (runViewType) body.run_view_type = runViewType;
  const answer = await post("ajax-api/2.0/mlflow/runs/search", body);
  return { runs: answer.runs || [], next_page_token: answer.next_page_token || null };
}

/** The URL downloading one artifact file of a run. */
function artifactUrl(runId, path) {
  return url("get-artifact", { run_id: runId, path });
}

export const api = { get, post, patch, del, url, searchRuns, artifactUrl };
export { get, post, patch, del, url, searchRuns, artifactUrl };
export default api;
