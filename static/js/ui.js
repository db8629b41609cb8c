// ui.js - small DOM helpers shared by the pages: an element builder that
// never parses HTML (text is always text), form fields with their labels and
// error slots, tables that turn into cards on a phone, notices in the
// aria-live region, copy buttons and confirmation dialogs.

/**
 * h('button', {class: 'button', type: 'button', onclick: fn}, 'Save')
 * Props: `class`, `text`, `dataset` ({k: v}), `on<event>` (a listener),
 * booleans (true sets the attribute, false leaves it out), anything else a
 * string attribute. Children: nodes, strings (as text), arrays; null and
 * false are skipped.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let uid = 0;
export function newId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/* "2026-11-28 15:20:13 UTC", the same for everyone reading the same log. */
export function formatTime(iso, { seconds = false } = {}) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const s = d.toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, seconds ? 19 : 16)} UTC`;
}

export function time(iso, options) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  // Date and clock each hold together, so a narrow column breaks between them.
  const text = formatTime(iso, options);
  const cut = text.indexOf(' ');
  if (cut < 0) return h('time', { datetime: iso, title: iso }, text);
  return h('time', { datetime: iso, title: iso },
    h('span', { class: 'nowrap' }, text.slice(0, cut)), ' ',
    h('span', { class: 'nowrap' }, text.slice(cut + 1)));
}

/* How far a time is from now, in words: "just now", "3 minutes ago",
 * "in 1 hour", "in 30 days". Each unit is used from a little under one of
 * the next smaller unit's worth up (45 minutes are "1 hour"), rounded. */
const SPANS = [  // [unit, its seconds, used below this many seconds]
  ['minute', 60, 45 * 60], ['hour', 3600, 36 * 3600], ['day', 86400, 60 * 86400],
  ['month', 30 * 86400, 545 * 86400], ['year', 365 * 86400, Infinity],
];

export function relativeText(iso, now = Date.now()) {
  const seconds = (Date.parse(iso) - now) / 1000;
  if (Number.isNaN(seconds)) return iso;
  if (Math.abs(seconds) < 45) return 'just now';
  const [unit, size] = SPANS.find(([, , below]) => Math.abs(seconds) < below);
  return new Intl.RelativeTimeFormat('en', { numeric: 'always' }).format(Math.round(seconds / size), unit);
}

/* A time as how long ago (or until) it is, the exact time on hover; `never`
 * says what no time at all means. */
export function relativeTime(iso, { never = '—' } = {}) {
  if (!iso) return h('span', { class: 'muted' }, never);
  if (Number.isNaN(Date.parse(iso))) return h('span', {}, iso);
  return h('time', { datetime: iso, title: formatTime(iso, { seconds: true }), class: 'relative-time' },
    relativeText(iso));
}

/* A <datetime-local> value (local time) as RFC 3339 UTC, whole seconds. */
export function localToIso(value) {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return '';
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/* RFC 3339 as a <datetime-local> value in the browser's time zone. */
export function isoToLocal(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
         `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/* The page's heading: the target of focus after each navigation. */
export function pageHeading(title, subtitle = null) {
  return h('div', { class: 'page-head' },
    h('h1', { tabindex: '-1', class: 'page-title' }, title),
    subtitle ? h('p', { class: 'page-subtitle' }, subtitle) : null);
}

/**
 * A labelled form field: {wrap, input}. kind is an <input> type, 'select'
 * (with options [{value, label}]) or 'textarea'. The field's error message
 * goes into a slot under it, tied to it by aria-describedby.
 */
export function field({ label, name, kind = 'text', value = '', required = false, hint = null,
                        options = [], autocomplete = null, placeholder = null, attrs = {},
                        markOptional = true }) {
  const id = newId(name);
  const hintId = hint ? `${id}-hint` : null;
  const errorId = `${id}-error`;
  let input;
  if (kind === 'select') {
    input = h('select', { id, name, required, ...attrs },
      options.map((o) => h('option', { value: o.value, selected: o.value === value }, o.label)));
  } else if (kind === 'textarea') {
    input = h('textarea', { id, name, required, ...attrs }, value);
  } else {
    input = h('input', { id, name, type: kind, value, required, autocomplete, placeholder,
                         ...attrs });
  }
  input.dataset.describedby = hintId || '';
  if (hintId) input.setAttribute('aria-describedby', hintId);
  const wrap = h('div', { class: 'field' },
    h('label', { for: id }, label, required || !markOptional ? null : h('span', { class: 'optional' }, ' (optional)')),
    input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: errorId, hidden: true }));
  return { wrap, input };
}

/* The form's own message slot (errors that belong to no one field). */
export function formMessage() {
  return h('div', { class: 'form-message', role: 'alert', hidden: true });
}

export function clearFormErrors(form) {
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) {
    el.removeAttribute('aria-invalid');
    const base = el.dataset.describedby;
    if (base) el.setAttribute('aria-describedby', base);
    else el.removeAttribute('aria-describedby');
  }
  for (const slot of form.querySelectorAll('.field-error')) {
    slot.textContent = '';
    slot.hidden = true;
  }
  const msg = form.querySelector('.form-message');
  if (msg) {
    msg.textContent = '';
    msg.hidden = true;
  }
}

/**
 * Show an error on a form: each of err.fields next to its field (by name),
 * the rest in the form's message slot. Focuses the first invalid field, or
 * the message.
 */
export function showFormError(form, err, fieldNames = {}) {
  clearFormErrors(form);
  const leftover = [];
  let first = null;
  const fields = (err && err.fields) || {};
  for (const [name, message] of Object.entries(fields)) {
    const input = form.querySelector(`[name="${CSS.escape(fieldNames[name] || name)}"]`);
    const slot = input && input.closest('.field') && input.closest('.field').querySelector('.field-error');
    if (!input || !slot) {
      leftover.push(`${name} ${message}`);
      continue;
    }
    slot.textContent = `${capitalise(message)}.`.replace(/\.\.$/, '.');
    slot.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', [input.dataset.describedby, slot.id].filter(Boolean).join(' '));
    first = first || input;
  }
  const msg = form.querySelector('.form-message');
  if (msg) {
    const text = Object.keys(fields).length && !leftover.length
      ? 'Please correct the fields marked below.'
      : [errorText(err), ...leftover].join(' ');
    msg.textContent = text;
    msg.hidden = false;
  }
  if (first) first.focus();
}

export function capitalise(s) {
  return s ? s[0].toUpperCase() + s.slice(1) : s;
}

/* The text to show people for an error: the problem's title and detail. */
export function errorText(err) {
  if (!err) return 'Something went wrong.';
  if (err.name === 'ApiError') {
    const detail = err.detail ? capitalise(err.detail) : '';
    const text = detail ? `${err.title}: ${detail}` : err.title;
    return /[.!?]$/.test(text) ? text : `${text}.`;
  }
  return err.message || String(err);
}

/* A message in the page's aria-live region; replaces the previous one. */
export function notify(message, kind = 'success') {
  const region = document.getElementById('notices');
  if (!region) return;
  region.replaceChildren();
  const text = h('span', { class: 'notice-text' }, message);
  const close = h('button', {
    type: 'button', class: 'notice-close', 'aria-label': 'Dismiss message',
    onclick: () => region.replaceChildren(),
  }, '×');
  region.append(h('div', { class: `notice notice-${kind}`, dataset: { kind } }, text, close));
}

export function clearNotice() {
  const region = document.getElementById('notices');
  if (region) region.replaceChildren();
}

/* An error that stops a page from rendering its content. */
export function errorPanel(err, extra = null) {
  return h('div', { class: 'panel panel-error', role: 'alert' },
    h('p', { class: 'panel-title' }, err && err.status === 403 ? 'Not allowed' : 'Could not load this page'),
    h('p', {}, errorText(err)),
    extra);
}

/**
 * A table that becomes a list of cards on narrow screens: each cell carries
 * its column's label for the CSS to show.
 */
export function dataTable({ caption, columns, rows, empty = 'Nothing here yet.' }) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  const table = h('table', { class: 'data' },
    caption ? h('caption', { class: 'sr-only' }, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) =>
      h('th', { scope: 'col', class: c.class || null }, c.label)))),
    h('tbody', {}, rows.map((cells) => tableRow(columns, cells))));
  return h('div', { class: 'table-wrap' }, table);
}

export function tableRow(columns, cells) {
  const attrs = cells.attrs || {};
  return h('tr', attrs, cells.map((cell, i) =>
    h('td', { class: columns[i].class || null, dataset: { label: columns[i].label } }, cell)));
}

/**
 * A button that copies text to the clipboard, saying whether it did. Without
 * the clipboard (an insecure origin), it selects the text in `selectEl` so
 * that the person can copy it by hand, and says so as a failure. `name` is
 * the button's accessible name when its label alone would not tell it from
 * its neighbours ("Copy" in every row of a table).
 */
export function copyButton(text, { label = 'Copy', name = null, selectEl = null, what = 'the text' } = {}) {
  const status = h('span', { class: 'copy-status', role: 'status' });
  const button = h('button', {
    type: 'button', class: 'button button-secondary', 'aria-label': name,
    onclick: async () => {
      try {
        if (!navigator.clipboard) throw new Error('no clipboard');
        await navigator.clipboard.writeText(text);
        status.className = 'copy-status copy-done';
        status.textContent = 'Copied.';
      } catch {
        if (selectEl) {
          selectEl.focus();
          selectEl.select();
        }
        status.className = 'copy-status copy-failed';
        status.textContent = `Copying failed: select ${what} and copy it yourself.`;
      }
    },
  }, label);
  return h('span', { class: 'copy' }, button, status);
}

/**
 * Ask before doing something that cannot be undone. Answers true when
 * confirmed. A modal <dialog>: focus stays inside, Escape cancels.
 */
export function confirmDialog({ title, message, confirmLabel, danger = true, cancelLabel = 'Cancel' }) {
  return new Promise((resolve) => {
    const titleId = newId('dialog-title');
    const bodyId = newId('dialog-body');
    const cancel = h('button', { type: 'button', class: 'button button-secondary', value: 'cancel' }, cancelLabel);
    const confirm = h('button', {
      type: 'button', class: ['button', danger ? 'button-danger' : 'button-primary'], value: 'confirm',
    }, confirmLabel);
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId, 'aria-describedby': bodyId },
      h('h2', { id: titleId, class: 'dialog-title' }, title),
      h('p', { id: bodyId, class: 'dialog-body' }, message),
      h('div', { class: 'dialog-actions' }, cancel, confirm));
    let answer = false;
    cancel.addEventListener('click', () => dialog.close());
    confirm.addEventListener('click', () => {
      answer = true;
      dialog.close();
    });
    const opener = document.activeElement;
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/* A button in its busy state while an action runs. */
export async function busy(button, work, busyLabel = null) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  if (busyLabel) button.textContent = busyLabel;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    if (busyLabel) button.textContent = label;
  }
}

export const ROLES = [
  { value: 'admin', label: 'Admin' },
  { value: 'operator', label: 'Operator' },
  { value: 'auditor', label: 'Auditor' },
];

export function roleLabel(role) {
  const r = ROLES.find((x) => x.value === role);
  return r ? r.label : role || '—';
}

export function roleBadge(role) {
  if (!role) return h('span', { class: 'muted' }, 'not a member');
  return h('span', { class: `badge badge-role badge-${role}` }, roleLabel(role));
}

/**
 * A labelled checkbox: {wrap, input}. The label follows the box and the hint
 * sits under both; the error slot works as field()'s does.
 */
export function checkboxField({ label, name, checked = false, hint = null, attrs = {} }) {
  const id = newId(name);
  const hintId = hint ? `${id}-hint` : null;
  const input = h('input', { id, name, type: 'checkbox', checked, ...attrs });
  input.dataset.describedby = hintId || '';
  if (hintId) input.setAttribute('aria-describedby', hintId);
  const wrap = h('div', { class: 'field field-check' },
    h('div', { class: 'check-row' }, input, h('label', { for: id }, label)),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: `${id}-error`, hidden: true }));
  return { wrap, input };
}

/* A fieldset with a legend, for long forms. */
export function fieldset(legend, ...children) {
  return h('fieldset', { class: 'fieldset' }, h('legend', {}, legend), children);
}

/* "1 node", "3 nodes": a count and its noun, singular or plural. */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/* 536870912 → "512 MiB"; 353 → "353 bytes". */
export function formatBytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  const text = i === 0 || Number.isInteger(v) ? String(v) : v.toFixed(1);
  return `${text} ${units[i]}`;
}

/**
 * A description list of facts: [[term, value], ...]; a value of null or
 * undefined shows as a dash, and a row given as null is left out.
 */
export function facts(rows, { cls = null } = {}) {
  return h('dl', { class: ['facts', cls] }, rows.filter(Boolean).map(([term, value]) => [
    h('dt', {}, term),
    h('dd', {}, value === null || value === undefined || value === ''
      ? h('span', { class: 'muted' }, '—') : value),
  ]));
}

/* Text with a place to break between the words of a camel-case name
 * (Intel's ConfigurationAndSWHardeningNeeded), which a phone cannot fit. */
export function breakable(text) {
  return text.split(/(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/)
    .flatMap((part, i) => (i ? [h('wbr'), part] : [part]));
}

/* NAME=value lines (environment, labels) as an object: {value}, or {error}
 * naming the line that is not one. `what` is the left side's name. */
export function parsePairs(text, what) {
  const out = {};
  const all = text.split('\n');
  for (let i = 0; i < all.length; i++) {
    const line = all[i].replace(/\r$/, '');
    if (!line.trim()) continue;
    const cut = line.indexOf('=');
    const key = cut > 0 ? line.slice(0, cut).trim() : '';
    if (!key) return { error: `line ${i + 1} must be ${what}=value` };
    if (Object.prototype.hasOwnProperty.call(out, key)) return { error: `line ${i + 1} repeats ${key}` };
    out[key] = line.slice(cut + 1);
  }
  return { value: out };
}

/* A list of code strings (paths, domains, arguments), or a muted word. */
export function codeList(items, { empty = 'None' } = {}) {
  if (!items || !items.length) return h('span', { class: 'muted' }, empty);
  return h('ul', { class: 'code-list' }, items.map((i) => h('li', {}, h('code', {}, i))));
}

/* Any JSON value, pretty-printed, in a block that scrolls sideways. */
export function jsonBlock(value, label = null) {
  return h('pre', { class: 'json', tabindex: '0', 'aria-label': label },
    h('code', {}, JSON.stringify(value, null, 2)));
}

/* ---- bytes and detail pages ------------------------------------------------ */

export function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/* In slices: String.fromCharCode takes only so many arguments at once. */
export function toBase64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/* A section of a detail page, titled. */
export function section(id, title, ...content) {
  return h('section', { class: 'section detail-section', 'aria-labelledby': id },
    h('h2', { id }, title), content);
}

/* A value to copy: read-only, so that without a clipboard the copy button
 * can select it for the person to copy by hand. The button says "Copy
 * <what>", or, `short`, "Copy" with "Copy <what>" as its accessible name.
 * `wrap` shows a long value (a command to run) whole, over as many lines as
 * it takes. */
export function copyable(value, what, name, cls = 'copy-hash', { short = false, wrap = false } = {}) {
  const attrs = { readonly: true, 'aria-label': what, spellcheck: 'false', autocomplete: 'off',
                  dataset: { field: name } };
  const input = wrap
    ? h('textarea', { ...attrs, class: ['copy-value', 'copy-wrap', cls],
                      rows: String(Math.min(Math.max(Math.ceil(value.length / 80), 1), 6)) }, value)
    : h('input', { ...attrs, type: 'text', class: ['copy-value', cls], value });
  return h('div', { class: 'copy-row' }, input,
    copyButton(value, { label: short ? 'Copy' : `Copy ${what}`, name: short ? `Copy ${what}` : null,
                        selectEl: input, what: `the ${what}` }));
}
