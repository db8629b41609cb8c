// login.js - the sign-in page (/login?next=<page>).
//
// POST /v1/session with the e-mail address and password. A 401 (wrong
// address or password: the server does not say which) and a 429 (too many
// failed attempts, for Retry-After seconds) are shown in the form's alert;
// on success the shell learns who signed in and shows the page in `next`.
import * as api from './api.js';
import { busy, clearFormErrors, field, formMessage, h, showFormError } from './ui.js';

function waitText(seconds) {
  if (!seconds) return 'a while';
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

export async function render(ctx) {
  const email = field({ label: 'E-mail address', name: 'email', kind: 'email', required: true,
                        autocomplete: 'username' });
  const password = field({ label: 'Password', name: 'password', kind: 'password', required: true,
                           autocomplete: 'current-password' });
  const message = formMessage();
  const submit = h('button', { type: 'submit', class: 'button button-primary button-wide' }, 'Sign in');
  const form = h('form', { class: 'form login-form', novalidate: true, 'aria-labelledby': 'login-title' },
    message, email.wrap, password.wrap, submit);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const missing = {};
    if (!email.input.value.trim()) missing.email = 'enter your e-mail address';
    if (!password.input.value) missing.password = 'enter your password';
    if (Object.keys(missing).length) {
      showFormError(form, { fields: missing });
      return;
    }
    await busy(submit, async () => {
      try {
        const session = await api.post('/v1/session',
          { email: email.input.value.trim(), password: password.input.value },
          { handle401: false });
        password.input.value = '';
        await ctx.signedIn(session);
        await ctx.navigate(ctx.safeNext(ctx.query.get('next')), { replace: true });
      } catch (err) {
        password.input.value = '';
        let text;
        if (err.status === 401) text = 'Wrong e-mail address or password.';
        else if (err.status === 429) text = `Too many attempts. Try again in ${waitText(err.retryAfter)}.`;
        if (text) {
          message.textContent = text;
          message.hidden = false;
          password.input.focus();
        } else {
          showFormError(form, err);
        }
      }
    }, 'Signing in…');
  });

  ctx.main.append(h('div', { class: 'login' },
    h('div', { class: 'login-card' },
      h('div', { class: 'login-brand' },
        h('img', { src: new URL('../img/logo.svg', import.meta.url).pathname, alt: '', width: 40, height: 40 }),
        h('span', {}, 'Cloister')),
      h('h1', { id: 'login-title', tabindex: '-1', class: 'page-title' }, 'Sign in'),
      h('p', { class: 'page-subtitle' }, 'The control plane for confidential containers.'),
      form)));
  email.input.focus();
}
