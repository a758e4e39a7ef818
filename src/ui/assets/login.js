// The sign-in form: sends the token once, in an Authorization header, to {prefix}/ui/login, which sets
// an HttpOnly cookie. The token is never put in the URL or in storage the page's scripts could read.
const prefix = document.querySelector('meta[name="apimeter-api"]').getAttribute('content');

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

const input = el('input', {
  type: 'password',
  name: 'token',
  id: 'token',
  autocomplete: 'current-password',
  required: true,
});
const message = el('p', { className: 'muted', id: 'login-message' });
message.setAttribute('role', 'status');
const button = el('button', { type: 'submit', className: 'btn' }, 'Sign in');
const form = el('form', {}, el('label', { htmlFor: 'token' }, 'Metrics API token'), input, button, message);
document.body.append(
  el(
    'main',
    { className: 'login panel' },
    el('h1', {}, 'apimeter'),
    el('p', { className: 'muted' }, 'Sign in with the token of the metrics API ([api] metrics_api_token).'),
    form,
  ),
);
input.focus();

form.addEventListener('submit', (event) => {
  event.preventDefault();
  button.disabled = true;
  message.textContent = 'Signing in…';
  fetch(`${prefix}/ui/login`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { authorization: `Bearer ${input.value.trim()}`, 'content-type': 'application/json' },
    body: '{}',
  })
    .then(async (res) => {
      if (res.status === 204) {
        await res.arrayBuffer();
        input.value = '';
        location.reload();
        return;
      }
      const body = await res.json().catch(() => ({}));
      message.textContent =
        res.status === 403 ? 'That token is not valid.' : String(body.detail ?? `HTTP ${res.status}`);
    })
    .catch((error) => {
      message.textContent = `Could not reach the API: ${String(error)}`;
    })
    .finally(() => {
      button.disabled = false;
    });
});
