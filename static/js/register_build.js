// register_build.js — /apps/<id>/register: a build made with another
// runtime's tools (Occlum, SCONE, the SGX SDK, EDP, or Gramine signed
// elsewhere), registered by its SIGSTRUCT (POST /v1/apps/{id}/builds with
// {sigstruct, image, runtime_config}). The .sig is read in the browser
// and sent as base64; the enclave itself is never uploaded. A signed SDK
// enclave or an EDP .sgxs is read by `cloister build register`, which the
// page names, since reading them here would mean uploading megabytes.
// What the runtime needs to start the image (runtime_config) starts from
// a template of the app's runtime (docs/runtimes.md); the server checks it
// by the runtime's rules and its refusals show under the fields.

import * as api from './api.js';
import { busy, clearFormErrors, field, formMessage, h, notify, pageHeading, showFormError,
         toBase64 } from './ui.js';

const SIGSTRUCT_SIZE = 1808;
const PINNED = /^[^\s@]+@sha256:[0-9a-f]{64}$/;
const NEEDS_CONFIG = new Set(['occlum', 'edp']);   // lib/runtime/: their images cannot start without one

/* A starting runtime_config for each runtime (null: none is taken). */
function template(app) {
  switch (app.runtime) {
    case 'occlum':
      return {
        instance_dir: '/occlum_instance',
        entrypoint: ['/bin/app'],
        occlum_json: {
          resource_limits: { user_space_size: '256MB', kernel_space_heap_size: '32MB',
                             kernel_space_stack_size: '1MB', max_num_of_threads: 32 },
          metadata: { product_id: app.isvprodid, version_number: 0, debuggable: false },
          entry_points: ['/bin'],
          env: { default: [`CLOISTER_APP_ID=${app.id}`], untrusted: ['CLOISTER_NODE_IP'] },
        },
      };
    case 'edp': return { sgxs: '/app/app.sgxs', args: [] };
    case 'sgx-sdk': return { quoting: 'aesmd' };
    case 'scone': return {};
    default: return null;
  }
}

/* The chosen file's bytes, or an error message. */
async function sigstructOf(input) {
  const file = input.files && input.files[0];
  if (!file) return { error: 'choose the .sig file' };
  if (file.size !== SIGSTRUCT_SIZE) {
    return { error: `a .sig is ${SIGSTRUCT_SIZE} bytes and this file is ${file.size}: for an SGX SDK ` +
                    'signed enclave or an EDP .sgxs, use cloister build register' };
  }
  return { value: toBase64(new Uint8Array(await file.arrayBuffer())) };
}

export async function renderRegister(ctx, app) {
  ctx.setTitle(`Register a build of ${app.name}`);
  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/apps' }, 'Apps'), ' / ',
      h('a', { href: `/apps/${app.id}` }, app.name), ' / Register a build'),
    pageHeading(`Register a build of ${app.name}`,
      'A build made with the runtime’s own tools, by its SIGSTRUCT and the image that carries it. ' +
      'It then awaits approval like any other build.'));
  if (!ctx.can('builds.create')) {
    ctx.main.append(h('p', { class: 'note' }, 'Only the account’s operators and admins can register builds.'));
    return null;
  }
  const starting = template(app);
  const sig = field({ label: 'SIGSTRUCT (.sig)', name: 'sigstruct', kind: 'file', required: true,
                      hint: `The ${SIGSTRUCT_SIZE}-byte .sig (sgx_sign -cssfile, sgxs-sign, gramine-sgx-sign). ` +
                            'From a signed SDK enclave or an EDP .sgxs: cloister build register --enclave ' +
                            'or --sig with --sgxs.',
                      attrs: { accept: '.sig,application/octet-stream' } });
  const image = field({ label: 'Image', name: 'image', required: true, autocomplete: 'off',
                        hint: 'The image that carries the enclave, pinned by digest: REPOSITORY[:TAG]@sha256:…',
                        attrs: { spellcheck: 'false', maxlength: '700' } });
  const config = starting === null ? null
    : field({ label: 'Runtime configuration (JSON)', name: 'runtime_config', kind: 'textarea',
              value: JSON.stringify(starting, null, 2), required: NEEDS_CONFIG.has(app.runtime),
              hint: 'How the image starts under this runtime; docs/runtimes.md says what each runtime takes.',
              attrs: { rows: '14', spellcheck: 'false', class: 'code-input' } });
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Register');
  const form = h('form', { class: 'form register-form', novalidate: true, 'aria-label': 'Register a build' },
    formMessage(), sig.wrap, image.wrap, config ? config.wrap : null,
    h('div', { class: 'form-actions' }, submit,
      h('a', { href: `/apps/${app.id}`, class: 'button button-secondary' }, 'Cancel')));
  ctx.main.append(h('section', { class: 'section card' }, form));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const problems = {};
    const body = { image: image.input.value.trim(), measured_from: 'sigstruct' };
    const read = await sigstructOf(sig.input);
    if (read.error) problems.sigstruct = read.error;
    else body.sigstruct = read.value;
    if (!PINNED.test(body.image)) problems.image = 'enter the image pinned by digest: REPOSITORY[:TAG]@sha256:…';
    if (config && config.input.value.trim()) {
      try {
        body.runtime_config = JSON.parse(config.input.value);
      } catch (err) {
        problems.runtime_config = `is not JSON: ${err.message}`;
      }
    }
    if (Object.keys(problems).length) {
      showFormError(form, { fields: problems });
      return;
    }
    await busy(submit, async () => {
      try {
        const build = await api.post(`/v1/apps/${encodeURIComponent(app.id)}/builds`, body, { idempotent: true });
        await ctx.navigate(`/builds/${build.id}`);
        notify(`A build of ${app.name} was registered; it awaits approval.`);
      } catch (err) {
        showFormError(form, err);
      }
    });
  });
  return null;
}
