// app_enclaves.js - an app's enclaves at run time, on the app's page
// (/apps/<id>): the enclaves running now, the secrets they receive, and
// what happened when they attested.
//
// An enclave of the app that attested through its node's agent holds a
// certificate from the account's CA (docs/enclave-attestation.md), so the
// app's certificates (GET /v1/certificates?app_id=) are its enclave
// instances: the valid ones are "Running enclaves", each with the node it
// runs on, the build it is, its names, when its certificate expires (in
// words, the exact time on hover), its serial and the attestation report
// it was issued on. Operators and admins revoke one: a reason and a
// confirmation, since its serial goes on the account's CRL for good (a 409,
// revoked meanwhile, is shown on the form). The revoked and expired ones
// are listed below, dimmed.
//
// Secrets (GET /v1/apps/{id}/secrets) are metadata only: no answer of the
// API carries a value, and neither does this page. Admins set one (its
// value typed into a masked field that is emptied once it is saved), have
// Cloister generate one (random bytes, or a key and a certificate for DNS
// names), export one to another app of the account, or remove one.
//
// The attestation activity is the audit trail's: GET /v1/audit filters by
// one exact target and one action, so it is read as three lists, merged
// newest first by sequence number: the events whose target is app:<id>
// (refusals with their reasons, releases of secrets, changes to secrets),
// and the certificate.issue and certificate.revoke events, whose target is
// the certificate, kept here when they name this app (details.app_id) or
// one of its certificates. Only those who read the audit log (admins and
// auditors) see it.
import * as api from './api.js';
import { busy, capitalise, clearFormErrors, codeList, confirmDialog, dataTable, errorText, field, formMessage,
         h, notify, relativeTime, section, showFormError, time } from './ui.js';

const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const SECRET_NAME_RULE = 'use letters, digits and underscores, not starting with a digit, at most 128 ' +
                         '(it can become an environment variable)';
const KINDS = { value: 'Value', random: 'Random bytes', certificate: 'Key and certificate', exported: 'Exported' };
const LIFETIMES = [[86400, '1 day'], [604800, '7 days'], [2592000, '30 days'], [7776000, '90 days']];
const DEFAULT_LIFETIME = 7776000;
const REASON_MAX = 500;
const ACTIVITY_PAGE = 100;

/* The audit actions of an app's attestation, with what each is called. */
const ACTIVITY = {
  'enclave.attest.refused': 'Refused',
  'certificate.issue': 'Certificate issued',
  'certificate.revoke': 'Certificate revoked',
  'secret.release': 'Secrets released',
  'secret.set': 'Secret set',
  'secret.generate': 'Secret generated',
  'secret.export': 'Secret exported to it',
  'secret.delete': 'Secret removed',
};

const none = (text) => h('span', { class: 'muted' }, text);
const shortId = (id) => h('code', { title: id }, id.slice(0, 8));

/* What the sections share: the nodes, apps and people they name. */
function lookups(nodes, apps, names) {
  return { nodes: new Map(nodes.map((n) => [n.id, n])), apps: new Map(apps.map((a) => [a.id, a])), names };
}

function nodeLink(look, id) {
  if (!id) return none('—');
  const node = look.nodes.get(id);
  return h('a', { href: `/nodes/${id}`, class: 'node-link' }, node ? node.name : shortId(id));
}

function buildLink(id) {
  if (!id) return none('—');
  return h('a', { href: `/builds/${id}`, 'aria-label': `Build ${id.slice(0, 8)}` }, 'build ', shortId(id));
}

function reportLink(id) {
  if (!id) return none('—');
  return h('a', { href: `/attestation/${id}`, 'aria-label': `Report ${id.slice(0, 8)}` }, 'report ', shortId(id));
}

/* An actor as people know it: a member, an API key, a node by its name. */
function actorName(look, actor) {
  if (look.names.has(actor)) return look.names.get(actor);
  if (actor && actor.startsWith('node:')) {
    const node = look.nodes.get(actor.slice('node:'.length));
    return node ? `node ${node.name}` : 'a node';
  }
  return actor || '—';
}

/* A JSON text list (the audit's reasons and names), as a list; text that is
 * not one, as itself. */
function textList(text) {
  if (Array.isArray(text)) return text.map(String);
  try {
    const v = JSON.parse(text);
    return Array.isArray(v) ? v.map(String) : [String(text)];
  } catch {
    return text ? [String(text)] : [];
  }
}

/**
 * The app's run-time sections, loaded: [Running enclaves, Secrets,
 * Attestation activity]. Each one reloads itself after a change made on it,
 * and the activity with it, before the change is announced.
 */
export async function enclaveSections(ctx, app) {
  const [nodes, apps, names] = await Promise.all([
    api.getAll('/v1/nodes', { max: 2000 }).catch(() => []),
    api.getAll('/v1/apps', { max: 2000 }).catch(() => []),
    api.actorNames(ctx.me, { keys: ctx.can('api_keys.read') }),
  ]);
  const look = lookups(nodes, apps, names);
  const activity = activitySection(ctx, app, look);
  const changed = () => activity.refresh();
  const parts = await Promise.all([
    enclavesSection(ctx, app, look, changed),
    secretsSection(ctx, app, look, changed),
  ]);
  await activity.refresh();
  return [...parts.map((p) => p.element), activity.element];
}

/* ---- running enclaves ------------------------------------------------------ */

async function enclavesSection(ctx, app, look, changed) {
  const canRevoke = ctx.can('certificates.revoke');
  const holder = h('div', { class: 'enclaves' });
  const revokeArea = h('div');
  const element = section('app-enclaves-title', 'Running enclaves',
    h('p', { class: 'hint' }, 'Each enclave of the app that attested on a node holds a certificate from the ',
      'account’s CA for its names; cloister-init renews it before it expires.'),
    holder, revokeArea);
  if (!canRevoke) {
    element.append(h('p', { class: 'note' }, 'Only the account’s operators and admins revoke certificates.'));
  }

  const refresh = async () => {
    let certs;
    try {
      certs = await api.getAll('/v1/certificates', { query: { app_id: app.id } });
    } catch (err) {
      holder.replaceChildren(h('p', { class: 'job-error' }, `Could not load the certificates. ${errorText(err)}`));
      return;
    }
    if (!ctx.current()) return;
    // Newest first: the list comes oldest first.
    certs.reverse();
    const running = certs.filter((c) => c.state === 'valid');
    const ended = certs.filter((c) => c.state !== 'valid');
    holder.replaceChildren(
      dataTable({
        caption: `The running enclaves of ${app.name}, newest first`,
        columns: [{ label: 'Node' }, { label: 'Build' }, { label: 'Names' }, { label: 'Expires' },
                  { label: 'Serial' }, { label: 'Report' }, ...(canRevoke ? [{ label: 'Actions', class: 'actions' }] : [])],
        rows: running.map((c) => {
          const cells = [nodeLink(look, c.node_id), buildLink(c.build_id), codeList(c.names),
                         relativeTime(c.expires_at), h('code', { class: 'cert-serial' }, c.serial),
                         reportLink(c.report_id)];
          if (canRevoke) {
            cells.push(h('button', {
              type: 'button', class: 'button button-danger-quiet button-small',
              'aria-label': `Revoke the certificate ${c.serial}`,
              onclick: () => openRevoke(c),
            }, 'Revoke'));
          }
          cells.attrs = { dataset: { certificateId: c.id, state: c.state } };
          return cells;
        }),
        empty: app.attestation === 'none'
          ? 'None: the app does not attest (its attestation is none).'
          : 'No enclave of the app holds a valid certificate.',
      }),
      ...(ended.length ? [
        h('h3', { class: 'subsection-title' }, `Revoked and expired (${ended.length})`),
        dataTable({
          caption: `The revoked and expired certificates of ${app.name}, newest first`,
          columns: [{ label: 'Node' }, { label: 'Build' }, { label: 'Names' }, { label: 'State' },
                    { label: 'Serial' }, { label: 'Report' }],
          rows: ended.map((c) => {
            const cells = [nodeLink(look, c.node_id), buildLink(c.build_id), codeList(c.names), endedState(c),
                           h('code', { class: 'cert-serial' }, c.serial), reportLink(c.report_id)];
            cells.attrs = { class: 'row-dim', dataset: { certificateId: c.id, state: c.state } };
            return cells;
          }),
        })] : []));
  };

  /* Revoking: a reason, then a confirmation that says what it does. */
  const openRevoke = (cert) => {
    const titleId = 'app-revoke-title';
    const reason = field({ label: 'Reason', name: 'reason', kind: 'textarea', required: true,
                           hint: 'Kept with the certificate and in the audit log.',
                           attrs: { rows: '2', maxlength: String(REASON_MAX) } });
    const submit = h('button', { type: 'submit', class: 'button button-danger' }, 'Revoke certificate');
    const cancel = h('button', { type: 'button', class: 'button button-secondary',
                                 onclick: () => revokeArea.replaceChildren() }, 'Cancel');
    const form = h('form', { class: 'form revoke-form', novalidate: true, 'aria-labelledby': titleId },
      formMessage(), reason.wrap, h('div', { class: 'form-actions' }, submit, cancel));
    const node = look.nodes.get(cert.node_id);
    revokeArea.replaceChildren(h('section', { class: 'card revoke-card', 'aria-labelledby': titleId },
      h('h3', { id: titleId }, `Revoke the certificate ${cert.serial}`),
      h('p', { class: 'hint' }, `Of the enclave on ${node ? node.name : 'its node'}, for `,
        cert.names.length ? cert.names.join(', ') : 'no names', '.'),
      form));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearFormErrors(form);
      const text = reason.input.value.trim();
      if (!text) {
        showFormError(form, { fields: { reason: 'say why the certificate is revoked' } });
        return;
      }
      const ok = await confirmDialog({
        title: 'Revoke this certificate?',
        message: `Its serial ${cert.serial} goes on the account’s CRL for good: nothing that checks the CRL ` +
                 'trusts the certificate from then on. The enclave gets another only by attesting again. ' +
                 'Revoking cannot be undone.',
        confirmLabel: 'Revoke certificate',
      });
      if (!ok) return;
      await busy(submit, async () => {
        try {
          await api.post(`/v1/certificates/${encodeURIComponent(cert.id)}/revoke`, { reason: text });
        } catch (err) {
          showFormError(form, err);
          if (err.status === 409) await refresh();
          return;
        }
        revokeArea.replaceChildren();
        await refresh();
        await changed();
        notify(`The certificate ${cert.serial} was revoked.`);
      }, 'Revoking…');
    });
    reason.input.focus();
  };

  await refresh();
  return { element, refresh };
}

function endedState(c) {
  if (c.state === 'revoked') {
    return h('span', { class: 'key-status' },
      h('span', { class: 'badge badge-revoked' }, 'Revoked'),
      h('span', { class: 'muted small' }, time(c.revoked_at)),
      c.revoke_reason ? h('span', { class: 'reason small' }, c.revoke_reason) : null);
  }
  return h('span', { class: 'key-status' },
    h('span', { class: 'badge badge-expired' }, capitalise(c.state)),
    h('span', { class: 'muted small' }, time(c.expires_at)));
}

/* ---- secrets --------------------------------------------------------------- */

async function secretsSection(ctx, app, look, changed) {
  const admin = ctx.can('secrets.write');
  const base = `/v1/apps/${encodeURIComponent(app.id)}/secrets`;
  const holder = h('div');
  const element = section('app-secrets-title', 'Secrets',
    h('p', { class: 'hint' }, 'Released only to the app’s attested enclaves, encrypted to each enclave’s key. ',
      'Nobody sees a value again once it is set: Cloister shows names, versions and kinds.'),
    holder);
  let secrets = [];
  let exportForm = null;

  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: `The secrets of ${app.name}`,
      columns: [{ label: 'Name' }, { label: 'Version' }, { label: 'Kind' }, { label: 'Source' }, { label: 'Set by' },
                { label: 'Set' }, ...(admin ? [{ label: 'Actions', class: 'actions' }] : [])],
      rows: secrets.map((s) => {
        const cells = [h('code', { class: 'strong' }, s.name), String(s.version), KINDS[s.kind] || s.kind,
                       sourceOf(look, s.source), actorName(look, s.created_by), time(s.created_at)];
        if (admin) {
          cells.push(h('button', {
            type: 'button', class: 'button button-danger-quiet button-small', 'aria-label': `Remove ${s.name}`,
            onclick: (event) => remove(event.currentTarget, s),
          }, 'Remove'));
        }
        cells.attrs = { dataset: { secret: s.name, kind: s.kind } };
        return cells;
      }),
      empty: admin ? 'No secrets yet. Set or generate the first one below.' : 'The app has no secrets.',
    }));
    if (exportForm) exportForm.update(secrets);
  };

  const refresh = async () => {
    try {
      secrets = (await api.get(base)).items;
    } catch (err) {
      holder.replaceChildren(h('p', { class: 'job-error' }, `Could not load the secrets. ${errorText(err)}`));
      return;
    }
    if (ctx.current()) draw();
  };
  const after = async (message) => {
    await refresh();
    await changed();
    notify(message);
  };

  const remove = async (button, s) => {
    const ok = await confirmDialog({
      title: `Remove ${s.name}?`,
      message: `Enclaves of ${app.name} no longer receive ${s.name} when they attest. Its versions are kept, ` +
               'sealed; setting it again makes a new version.',
      confirmLabel: 'Remove secret',
    });
    if (!ok) return;
    await busy(button, async () => {
      try {
        await api.del(`${base}/${encodeURIComponent(s.name)}`);
      } catch (err) {
        notify(`Could not remove ${s.name}. ${errorText(err)}`, 'error');
        return;
      }
      await after(`The secret ${s.name} was removed.`);
    });
  };

  await refresh();
  if (!admin) {
    element.append(h('p', { class: 'note' }, 'Only the account’s admins set, generate, export or remove secrets.'));
    return { element, refresh };
  }
  const others = [...look.apps.values()].filter((a) => a.id !== app.id);
  exportForm = exportSecretForm(base, others, after);
  exportForm.update(secrets);
  element.append(h('div', { class: 'secret-forms' },
    setSecretForm(base, after), generateSecretForm(base, after), exportForm.element));
  return { element, refresh };
}

/* Where an exported secret came from: "app:<id>/<NAME>". */
function sourceOf(look, source) {
  if (!source) return none('—');
  const m = /^app:([^/]+)\/(.+)$/.exec(source);
  if (!m) return h('code', {}, source);
  const from = look.apps.get(m[1]);
  return h('span', {}, h('code', {}, m[2]), ' of ',
    from ? h('a', { href: `/apps/${from.id}` }, from.name) : h('span', { class: 'muted' }, 'an app since deleted'));
}

function secretForm(title, id, hint, ...content) {
  const form = h('form', { class: 'form secret-form', novalidate: true, 'aria-labelledby': id },
    h('h3', { id }, title), hint ? h('p', { class: 'hint' }, hint) : null, formMessage(), content);
  return form;
}

function nameField(label = 'Name') {
  return field({ label, name: 'name', required: true, autocomplete: 'off', placeholder: 'DB_PASSWORD',
                 attrs: { maxlength: '128', spellcheck: 'false' } });
}

/* The name typed, or a field error on the form. */
function checkedName(form, input) {
  const name = input.value.trim();
  if (!name) {
    showFormError(form, { fields: { [input.name]: 'enter the secret’s name' } });
    return null;
  }
  if (!SECRET_NAME.test(name)) {
    showFormError(form, { fields: { [input.name]: SECRET_NAME_RULE } });
    return null;
  }
  return name;
}

/* Set a value: typed into a masked field, sent once, then emptied. */
function setSecretForm(base, after) {
  const name = nameField();
  const value = field({ label: 'Value', name: 'value', kind: 'textarea', required: true,
                        hint: 'Sealed at rest and sent only to attested enclaves. It is never shown again: ' +
                              'this field is emptied once it is saved.',
                        attrs: { rows: '3', class: 'secret-input', autocomplete: 'off', spellcheck: 'false',
                                 autocapitalize: 'off' } });
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Set secret');
  const form = secretForm('Set a value', 'secret-set-title',
    'A new version of the secret, or the first one.', name.wrap, value.wrap,
    h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const n = checkedName(form, name.input);
    if (!n) return;
    if (!value.input.value) {
      showFormError(form, { fields: { value: 'enter the value' } });
      return;
    }
    await busy(submit, async () => {
      let saved;
      try {
        saved = await api.request('PUT', `${base}/${encodeURIComponent(n)}`, { body: { value: value.input.value } });
      } catch (err) {
        showFormError(form, err);
        return;
      }
      value.input.value = '';
      name.input.value = '';
      await after(`The secret ${saved.name} was set: version ${saved.version}.`);
    }, 'Setting…');
  });
  return form;
}

/* Generate: random bytes, or a key and a certificate for DNS names. */
function generateSecretForm(base, after) {
  const name = nameField();
  const kind = field({ label: 'Kind', name: 'kind', kind: 'select', value: 'random', required: true,
                       options: [{ value: 'random', label: 'Random bytes' },
                                 { value: 'certificate', label: 'A key and a certificate from the account’s CA' }] });
  const bytes = field({ label: 'Bytes', name: 'bytes', kind: 'number', value: '32', required: true,
                        hint: 'From 16 to 512; the enclave receives them in base64.',
                        attrs: { min: '16', max: '512', step: '1', inputmode: 'numeric' } });
  const names = field({ label: 'DNS names', name: 'names', kind: 'textarea', required: true,
                        hint: 'One per line, at most 16; the enclave receives the key, the certificate and ' +
                              'the CA’s, as PEM.',
                        attrs: { rows: '2', spellcheck: 'false', autocomplete: 'off' } });
  const lifetime = field({ label: 'Valid for', name: 'lifetime', kind: 'select', value: String(DEFAULT_LIFETIME),
                           required: true, options: LIFETIMES.map(([s, label]) => ({ value: String(s), label })) });
  const show = () => {
    const random = kind.input.value === 'random';
    bytes.wrap.hidden = !random;
    names.wrap.hidden = random;
    lifetime.wrap.hidden = random;
  };
  kind.input.addEventListener('change', show);
  show();
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Generate secret');
  const form = secretForm('Generate', 'secret-generate-title', 'Cloister makes the value; nobody ever sees it.',
    name.wrap, kind.wrap, bytes.wrap, names.wrap, lifetime.wrap, h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const n = checkedName(form, name.input);
    if (!n) return;
    const body = { kind: kind.input.value };
    if (body.kind === 'random') {
      const count = bytes.input.value.trim();
      // Not a whole number: sent as it is, for the server to say what it wants.
      body.bytes = /^\d+$/.test(count) ? Number(count) : count;
    } else {
      body.names = names.input.value.split('\n').map((l) => l.trim()).filter(Boolean);
      if (!body.names.length) {
        showFormError(form, { fields: { names: 'enter the names the certificate is for, one per line' } });
        return;
      }
      body.lifetime = Number(lifetime.input.value);
    }
    await busy(submit, async () => {
      let made;
      try {
        made = await api.post(`${base}/${encodeURIComponent(n)}/generate`, body);
      } catch (err) {
        showFormError(form, err);
        return;
      }
      name.input.value = '';
      names.input.value = '';
      await after(`Cloister generated the secret ${made.name}: version ${made.version}.`);
    }, 'Generating…');
  });
  return form;
}

/* Export: the newest value of one secret becomes a version of a secret of
 * another app of the account. */
function exportSecretForm(base, others, after) {
  const secret = field({ label: 'Secret', name: 'name', kind: 'select', required: true, options: [] });
  const to = field({ label: 'To the app', name: 'to_app', kind: 'select', required: true,
                     options: others.map((a) => ({ value: a.id, label: a.name })) });
  const as = field({ label: 'As', name: 'as', autocomplete: 'off',
                     hint: 'Its name there; empty: the same name.', attrs: { maxlength: '128', spellcheck: 'false' } });
  const submit = h('button', { type: 'submit', class: 'button button-secondary' }, 'Export secret');
  const empty = h('p', { class: 'note' });
  const form = secretForm('Export to another app', 'secret-export-title',
    'Its enclaves then receive the same value, so that two services share it.',
    empty, secret.wrap, to.wrap, as.wrap, h('div', { class: 'form-actions' }, submit));
  const update = (secrets) => {
    const chosen = secret.input.value;
    secret.input.replaceChildren(...secrets.map((s) =>
      h('option', { value: s.name, selected: s.name === chosen }, s.name)));
    const missing = !secrets.length ? 'There is no secret to export yet.'
      : !others.length ? 'The account has no other app to export to.' : '';
    empty.textContent = missing;
    empty.hidden = !missing;
    for (const w of [secret.wrap, to.wrap, as.wrap, submit]) w.hidden = Boolean(missing);
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const n = secret.input.value;
    const body = { to_app: to.input.value };
    const rename = as.input.value.trim();
    if (rename) {
      if (!SECRET_NAME.test(rename)) {
        showFormError(form, { fields: { as: SECRET_NAME_RULE } });
        return;
      }
      body.as = rename;
    }
    const target = others.find((a) => a.id === body.to_app);
    await busy(submit, async () => {
      let made;
      try {
        made = await api.post(`${base}/${encodeURIComponent(n)}/export`, body);
      } catch (err) {
        showFormError(form, err);
        return;
      }
      as.input.value = '';
      await after(`${n} was exported to ${target ? target.name : 'the app'} as ${made.name}: version ${made.version}.`);
    }, 'Exporting…');
  });
  return { element: form, update };
}

/* ---- attestation activity -------------------------------------------------- */

/*
 * Lists of audit events, each newest first, read as one: `next()` answers
 * the events that are now certain to come before any not yet read, newest
 * first. An event below the oldest one read of a list that goes on could
 * still be preceded by one of that list's unread events, so it waits.
 */
function mergedFeed(streams) {
  const lists = streams.map((s) => ({ ...s, held: [], oldest: Infinity }));
  return {
    get done() {
      return lists.every((l) => l.pager.done && !l.held.length);
    },
    async next() {
      await Promise.all(lists.filter((l) => !l.pager.done).map(async (l) => {
        const items = await l.pager.next();
        if (items.length) l.oldest = Number(items[items.length - 1].seq);
        l.held.push(...items.filter(l.keep));
      }));
      const open = lists.filter((l) => !l.pager.done).map((l) => l.oldest);
      const cutoff = open.length ? Math.max(...open) : -Infinity;
      const out = [];
      for (const l of lists) {
        out.push(...l.held.filter((e) => Number(e.seq) >= cutoff));
        l.held = l.held.filter((e) => Number(e.seq) < cutoff);
      }
      return out.sort((a, b) => Number(b.seq) - Number(a.seq));
    },
  };
}

function activitySection(ctx, app, look) {
  const element = section('app-activity-title', 'Attestation activity');
  if (!ctx.can('audit.read')) {
    element.append(h('p', { class: 'note' }, 'The attestation activity is kept in the audit log, which the ',
      'account’s admins and auditors read.'));
    return { element, refresh: async () => {} };
  }
  const holder = h('div');
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');
  element.append(
    h('p', { class: 'hint' }, 'Newest first, from the audit log: each refusal with its reasons, each certificate ',
      'issued or revoked, each release and change of the secrets.'),
    holder, h('div', { class: 'list-footer' }, more));
  let feed = null;
  let events = [];
  const mine = new Set();     // the app's certificates, by id, to know their revocations

  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: `The attestation activity of ${app.name}, newest first`,
      columns: [{ label: 'Time' }, { label: 'Event' }, { label: 'By' }, { label: 'Details', class: 'details' }],
      rows: events.map((e) => {
        const cells = [time(e.at, { seconds: true }), eventLabel(e.action), actorName(look, e.actor),
                       eventDetails(look, e)];
        cells.attrs = { dataset: { action: e.action, eventId: e.id } };
        return cells;
      }),
      empty: 'Nothing yet: no enclave of the app has attested, and its secrets are unchanged.',
    }));
    more.hidden = feed.done;
  };

  const refresh = async () => {
    const query = (q) => api.pager('/v1/audit', { query: q, limit: ACTIVITY_PAGE });
    feed = mergedFeed([
      { pager: query({ target: `app:${app.id}` }), keep: (e) => e.action in ACTIVITY },
      { pager: query({ action: 'certificate.issue' }),
        keep: (e) => {
          if (!e.details || e.details.app_id !== app.id) return false;
          mine.add(e.target.slice('certificate:'.length));
          return true;
        } },
      { pager: query({ action: 'certificate.revoke' }),
        keep: (e) => mine.has(e.target.slice('certificate:'.length)) },
    ]);
    try {
      // The certificates the app has, for the revocations of older ones.
      const certs = await api.getAll('/v1/certificates', { query: { app_id: app.id } }).catch(() => []);
      certs.forEach((c) => mine.add(c.id));
      const first = await feed.next();
      if (!ctx.current()) return;
      events = first;
      draw();
    } catch (err) {
      holder.replaceChildren(h('p', { class: 'job-error' }, `Could not load the activity. ${errorText(err)}`));
      more.hidden = true;
    }
  };
  more.addEventListener('click', () => busy(more, async () => {
    try {
      events.push(...await feed.next());
      draw();
    } catch (err) {
      notify(`Could not load more activity. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));
  return { element, refresh };
}

function eventLabel(action) {
  const label = ACTIVITY[action] || action;
  if (action === 'enclave.attest.refused') return h('span', { class: 'badge badge-revoked' }, label);
  if (action === 'certificate.issue') return h('span', { class: 'badge badge-active' }, label);
  return h('span', { class: 'strong' }, label);
}

function secretVersion(d) {
  return [h('code', {}, d.name || '?'), ` version ${d.version || '?'}`];
}

function eventDetails(look, e) {
  const d = e.details || {};
  switch (e.action) {
    case 'enclave.attest.refused':
      return h('div', { class: 'activity-details activity-refusal' },
        h('span', {}, 'On ', nodeLink(look, d.node_id), ', ', reportLink(d.report_id), ':'),
        h('ul', { class: 'reasons' }, textList(d.reasons).map((r) => h('li', { class: 'reason' }, r))));
    case 'certificate.issue':
      return h('span', { class: 'activity-details' }, 'Serial ', h('code', {}, d.serial || '?'), ' on ',
        nodeLink(look, d.node_id), ', ', buildLink(d.build_id), ', ', reportLink(d.report_id));
    case 'certificate.revoke':
      return h('span', { class: 'activity-details' }, 'Serial ', h('code', {}, d.serial || '?'),
        d.reason ? [': ', h('span', { class: 'reason' }, d.reason)] : null);
    case 'secret.release': {
      const names = textList(d.names);
      return h('span', { class: 'activity-details' }, names.length
        ? names.flatMap((n, i) => [i ? ', ' : null, h('code', {}, n)]) : none('None'));
    }
    case 'secret.generate':
      return h('span', {}, secretVersion(d), d.kind ? `, ${(KINDS[d.kind] || d.kind).toLowerCase()}` : null);
    case 'secret.export':
      return h('span', {}, secretVersion(d), ', from another app');
    default:
      return h('span', {}, secretVersion(d));
  }
}
