// The services' HTTP API on this origin. The session is an HttpOnly cookie the browser sends by itself: no
// token ever passes through this code. Errors arrive as problem+json and become ApiError with its stable code.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || problem.code);
    this.status = status;
    this.code = problem.code;
    this.problem = problem;
  }
}

function parseBody(text) {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

function failure(status, text, statusText) {
  const body = parseBody(text);
  return new ApiError(status, body && body.code ? body : { code: `http_${status}`, title: statusText });
}

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, { code: "network" });
  }
  const text = await response.text();
  if (!response.ok) throw failure(response.status, text, response.statusText);
  return parseBody(text);
}

export const api = {
  session: () => request("GET", "/session"),
  signIn: (email, password) => request("POST", "/session", { email, password }),
  refresh: () => request("POST", "/session/refresh"),
  signOut: () => request("DELETE", "/session"), // revokes the session's token on every service
  changePassword: (current, next) => request("POST", "/password", { current_password: current, new_password: next }),
  deleteAccount: (password) => request("DELETE", "/account", { password }),
  register: (email, password, name) => request("POST", "/register", { email, password, name: name || null }),
  limits: () => request("GET", "/video/limits"),
  videos: (cursor) => request("GET", `/video?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`),
  video: (id) => request("GET", `/video/${encodeURIComponent(id)}`),
  remove: (id) => request("DELETE", `/video/${encodeURIComponent(id)}`),
};

export function downloadUrl(id) {
  return `/video/${encodeURIComponent(id)}/download`;
}

export function previewUrl(id, number) {
  return `/video/${encodeURIComponent(id)}/previews/${number}`;
}

// A random UUID without crypto.randomUUID, which only secure contexts have (a LAN address over HTTP is not one).
function uuid4() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// One file per request, so each has its own progress and can be cancelled alone. XMLHttpRequest, because fetch
// reports no upload progress. The options go before the file: the server checks them before storing a byte.
export function uploadFile(file, options, onProgress) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    xhr.open("POST", "/video");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Idempotency-Key", uuid4()); // a retried request is answered, never stored twice
    xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size));
    xhr.addEventListener("load", () => {
      if (xhr.status === 202) resolve(parseBody(xhr.responseText).items[0]);
      else reject(failure(xhr.status, xhr.responseText, xhr.statusText));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { code: "network" })));
    xhr.addEventListener("abort", () => reject(new ApiError(0, { code: "cancelled" })));
    const form = new FormData();
    for (const [name, value] of Object.entries(options)) form.append(name, value);
    form.append("file", file, file.name);
    xhr.send(form);
  });
  return { done, cancel: () => xhr.abort() };
}
