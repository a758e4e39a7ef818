// Reads the metrics API with the page's cookie (same origin, HttpOnly: the scripts never see the token).

export const prefix = document.querySelector('meta[name="apimeter-api"]').getAttribute('content');
export const traceTemplate = document.querySelector('meta[name="apimeter-trace-url"]')?.getAttribute('content') ?? '';

/** An API answer: `{ status, body }`; 401 sends the browser back to the login page. */
export async function get(path, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') query.set(k, String(v));
  const qs = query.toString();
  const res = await fetch(`${prefix}${path}${qs ? `?${qs}` : ''}`, {
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
  });
  if (res.status === 401) {
    location.reload();
    throw new Error('signed out');
  }
  const body = await res.json().catch(() => null);
  return { status: res.status, body };
}

/** `get` that throws the API's `detail` unless the answer is 200. */
export async function getOk(path, params) {
  const answer = await get(path, params);
  if (answer.status !== 200) throw new Error(answer.body?.detail ?? `HTTP ${answer.status}`);
  return answer.body;
}

export function csvUrl(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') query.set(k, String(v));
  query.set('format', 'csv');
  return `${prefix}${path}?${query}`;
}

export async function logout() {
  await fetch(`${prefix}/ui/logout`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  location.reload();
}
