// attestation.js - SGX attestation (/attestation and the pages under it):
// the reports of the account the session acts in (/attestation), one report
// (/attestation/<id>), the account's attestation policy
// (/attestation/policy) and the collateral the daemon holds
// (/attestation/collateral).
//
// Cloister judges an SGX DCAP quote (POST /v1/attestation/verify) with
// Intel's collateral for the quote's platform, under the account's policy,
// and keeps the judgement as a report whatever its verdict. A report keeps
// three things apart, and so do these pages: whether the evidence is
// authentic (every check of details.checks passed), where the platform
// stands (its TCB status and advisory IDs: Intel's word, from the TCB Info
// of its FMSPC) and what the policy decided (the verdict and its reasons).
// Evidence that chains to a root other than the Intel SGX Root CA (a
// simulation PKI's, which the daemon's sgx-trust-roots setting trusts) is
// marked simulated wherever it shows: it proves nothing about Intel
// hardware.
//
// The list (GET /v1/attestation-reports) is newest first; its verdict
// filter lives in the URL's query, as the jobs' filters do, and "Load more"
// follows next_cursor. Above it, operators and admins have a quote judged:
// the browser reads the file and sends its bytes in base64, with an
// optional time to judge it as of (the moment it was presented); the new
// report's page follows. A report's page shows the three parts of the
// judgement, every check in order (a failed one marked, and the ones the
// failure left unrun), the decoded quote with its measurements to copy,
// the PCK certificate and the trust root its chain ends in, the collateral
// used, and the evidence to download (GET /v1/attestation-reports/{id}
// gives it in base64). A report of an Azure Attestation token
// (evidence_kind maa, which the API takes but this form does not send)
// shows the checks and claims its verifier gave, and no TCB status, which
// a token does not carry.
//
// The policy (GET /v1/policies/attestation) is read by every role and
// changed by admins (PUT with If-Match, as the approval policy on the
// approvals page): the TCB statuses and advisory IDs it accepts, debug
// enclaves, the lowest ISVSVN. The collateral (GET /v1/collateral) is
// Intel's, public and shared by every account: the daemon fetches what a
// quote needs from the PCS when it can, and instance administrators import
// it from the files the PCS serves (POST /v1/collateral: the JSON and PEM
// files sent as text, the CRLs read here and sent in base64); each document
// says whether it was kept (an older one never replaces a newer).
import * as api from './api.js';
import { shortHash } from './builds.js';
import { busy, capitalise, checkboxField, clearFormErrors, codeList, copyable,
         dataTable, errorPanel, errorText, facts, field, formMessage, formatBytes, fromBase64, h,
         jsonBlock, localToIso, newId, notify, pageHeading, section, showFormError, time, toBase64 } from './ui.js';

/* The verifier's steps, in the order they run (AttestationCheck), with what
 * each one establishes. */
const CHECKS = [
  ['quote', 'The quote is a well-formed SGX ECDSA P-256 quote'],
  ['pck_chain', 'The PCK certificate chains to a trust root and is not revoked'],
  ['pck_extensions', 'The platform’s FMSPC, PCE-ID and TCB are read from the PCK certificate'],
  ['qe_report_signature', 'The Quoting Enclave’s report is signed by the PCK key'],
  ['qe_report_data', 'The Quoting Enclave’s report binds the attestation key'],
  ['quote_signature', 'The quote is signed by the attestation key'],
  ['tcb_info', 'The TCB Info is signed by Intel and valid at the verification time'],
  ['qe_identity', 'The QE identity is signed by Intel and valid at the verification time'],
  ['tcb_level', 'The platform reaches a TCB level of its FMSPC'],
  ['qe_identity_level', 'The Quoting Enclave is the one its identity names'],
];

/* Intel's TCB statuses (TcbStatus), with what each says of a platform. */
const TCB_STATUSES = [
  ['UpToDate', 'The platform is up to date.'],
  ['SWHardeningNeeded', 'Up to date, but software must mitigate known vulnerabilities.'],
  ['ConfigurationNeeded', 'Up to date, but its configuration needs changing.'],
  ['ConfigurationAndSWHardeningNeeded', 'Its configuration needs changing, and software must mitigate known vulnerabilities.'],
  ['OutOfDate', 'Its microcode or firmware needs updating.'],
  ['OutOfDateConfigurationNeeded', 'Out of date, and its configuration needs changing.'],
  ['Revoked', 'Its TCB level is revoked.'],
];
const TCB_CLASS = { UpToDate: 'badge-active', Revoked: 'badge-revoked' };

/* The kinds of evidence: what each is called, and the name its download gets. */
const EVIDENCE = {
  sgx_dcap: { label: 'An SGX DCAP quote', file: (short) => `quote-${short}.bin` },
  maa: { label: 'An Azure Attestation token', file: (short) => `token-${short}.jwt` },
};

const INTEL_ROOT = 'Intel SGX Root CA';
const QUOTE_MAX = 1048576;          /* AttestationVerifyRequest: at most 1 MiB of quote */
const VERDICTS = { accepted: 'Accepted', refused: 'Refused' };

const KINDS = { tcb_info: 'TCB Info', qe_identity: 'QE identity', pck_crl: 'PCK CA CRL', root_ca_crl: 'Root CA CRL' };
const CAS = { processor: 'Processor CA', platform: 'Platform CA' };

/* The files of an import, as the PCS serves them (CollateralImportRequest):
 * the JSON and PEM files go as text, the CRLs (DER, or PEM) in base64. Each
 * `max` is the bytes the API takes of the file. */
const COLLATERAL_FILES = [
  { name: 'tcb_info', file: 'tcb_info.json', label: 'TCB Info', text: true, max: 1048576, accept: '.json,application/json',
    hint: () => ['The body of ', h('code', {}, 'GET /sgx/certification/v4/tcb?fmspc=…'), ' exactly as served.'] },
  { name: 'tcb_info_issuer_chain', file: 'tcb_info_issuer_chain.pem', label: 'TCB Info issuer chain', text: true,
    max: 65536, accept: '.pem',
    hint: () => ['That answer’s ', h('code', {}, 'TCB-Info-Issuer-Chain'), ' header, URL-decoded.'] },
  { name: 'qe_identity', file: 'qe_identity.json', label: 'QE identity', text: true, max: 1048576,
    accept: '.json,application/json',
    hint: () => ['The body of ', h('code', {}, 'GET /sgx/certification/v4/qe/identity'), ' exactly as served.'] },
  { name: 'qe_identity_issuer_chain', file: 'qe_identity_issuer_chain.pem', label: 'QE identity issuer chain',
    text: true, max: 65536, accept: '.pem',
    hint: () => ['That answer’s ', h('code', {}, 'SGX-Enclave-Identity-Issuer-Chain'), ' header, URL-decoded.'] },
  { name: 'pck_crl', file: 'pck_crl.der', label: 'PCK CA CRL', text: false, max: 393216, accept: '.der,.crl,.pem',
    hint: () => ['The CRL of the CA that issues the platforms’ PCK certificates (',
      h('code', {}, 'GET /sgx/certification/v4/pckcrl?ca=…'), '), DER or PEM.'] },
  { name: 'root_ca_crl', file: 'root_ca_crl.der', label: 'Root CA CRL', text: false, max: 393216,
    accept: '.der,.crl,.pem', hint: () => ['The Intel SGX Root CA’s CRL, DER or PEM.'] },
];

/* ---- small pieces -------------------------------------------------------- */





const none = (text) => h('span', { class: 'muted' }, text);

function verdictBadge(verdict) {
  return h('span', { class: `badge badge-verdict ${verdict === 'accepted' ? 'badge-active' : 'badge-revoked'}`,
                     dataset: { verdict } }, VERDICTS[verdict] || capitalise(verdict));
}

function simulatedBadge() {
  return h('span', { class: 'badge badge-simulated',
                     title: 'The evidence chains to a root other than the Intel SGX Root CA: ' +
                            'it proves nothing about Intel hardware.' }, 'Simulated');
}

/* Text with a place to break between the words of Intel's camel-case
 * names (ConfigurationAndSWHardeningNeeded), which a phone cannot fit. */
function breakable(text) {
  return text.split(/(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/)
    .flatMap((part, i) => (i ? [h('wbr'), part] : [part]));
}

/* A platform's TCB status, Intel's name for it as it stands. */
function tcbBadge(status) {
  if (!status) return none('Not known');
  return h('span', { class: `badge badge-tcb ${TCB_CLASS[status] || 'badge-waiting'}`, dataset: { status } },
    breakable(status));
}

function yesNo(yes) {
  return h('span', { class: `badge ${yes ? 'badge-active' : 'badge-revoked'}` }, yes ? 'Yes' : 'No');
}

function failedCheck(report) {
  const checks = (report.details && report.details.checks) || [];
  return checks.find((c) => !c.ok) || null;
}

/* The sub-pages, as tabs under the page's heading. */
function tabs(current) {
  const pages = [['/attestation', 'Reports'], ['/attestation/policy', 'Policy'],
                 ['/attestation/collateral', 'Collateral']];
  return h('nav', { class: 'subnav', 'aria-label': 'Attestation' },
    h('ul', { class: 'subnav-list' }, pages.map(([href, label]) =>
      h('li', {}, h('a', { href, class: 'subnav-link', 'aria-current': href === current ? 'page' : null }, label)))));
}

/* ---- the pages ----------------------------------------------------------- */

export async function render(ctx) {
  if (!ctx.sub.length) return renderList(ctx);
  if (ctx.sub.length === 1) {
    if (ctx.sub[0] === 'policy') return renderPolicy(ctx);
    if (ctx.sub[0] === 'collateral') return renderCollateral(ctx);
    return renderReport(ctx, ctx.sub[0]);
  }
  ctx.main.append(pageHeading('Page not found'),
    h('p', {}, 'There is no page at this address. ', h('a', { href: '/attestation' }, 'See the attestation reports'),
      '.'));
  return null;
}

/* ---- the reports --------------------------------------------------------- */

async function renderList(ctx) {
  const query = {};
  const verdict = ctx.query.get('verdict');
  if (verdict) query.verdict = verdict;
  const limit = /^\d+$/.test(ctx.query.get('limit') || '') ? Number(ctx.query.get('limit')) : null;
  const filtered = Boolean(verdict);
  ctx.main.append(
    pageHeading('Attestation',
      `The attestation evidence judged for ${ctx.me.account.name}, newest first. Each report keeps apart whether the ` +
      'evidence is authentic, where the platform stands, and what the account’s policy decided.'),
    tabs('/attestation'));
  if (ctx.can('attestation.verify')) {
    ctx.main.append(verifyCard(ctx));
  } else {
    ctx.main.append(h('p', { class: 'note' }, 'Only the account’s operators and admins have quotes judged.'));
  }

  const form = filterForm(ctx, query, limit);
  const listArea = h('section', { class: 'section', 'aria-labelledby': 'reports-list-title' },
    h('h2', { id: 'reports-list-title' }, 'Reports'), form);
  ctx.main.append(listArea);
  const pages = api.pager('/v1/attestation-reports', { query, limit });
  let reports;
  try {
    reports = await pages.next();
  } catch (err) {
    // A limit or cursor the server refuses: said on the form.
    if (err.status === 400 && Object.keys(err.fields).length) {
      showFormError(form, err);
      listArea.append(h('p', { class: 'empty' }, 'Correct the address to see reports.'));
      return null;
    }
    throw err;
  }
  if (!ctx.current()) return null;

  const summary = h('p', { class: 'list-summary', 'aria-live': 'polite' });
  const holder = h('div');
  const more = h('button', { type: 'button', class: 'button button-secondary' }, 'Load more');
  listArea.append(summary, holder, h('div', { class: 'list-footer' }, more));
  const columns = [
    { label: 'Report' }, { label: 'Verdict' }, { label: 'Authentic' }, { label: 'TCB status' },
    { label: 'MRENCLAVE' }, { label: 'FMSPC' }, { label: 'Verified as of' }, { label: 'Judged' },
  ];
  const draw = () => {
    holder.replaceChildren(dataTable({
      caption: 'Attestation reports, newest first',
      columns,
      rows: reports.map(reportRow),
      empty: filtered ? 'No reports match this filter.' : 'No quote has been judged yet.',
    }));
    const n = reports.length;
    summary.textContent = `${n} report${n === 1 ? '' : 's'}${pages.done ? '' : ' so far'}` +
      `${filtered ? ' matching the filter' : ''}.`;
    more.hidden = pages.done;
  };
  more.addEventListener('click', () => busy(more, async () => {
    try {
      reports.push(...await pages.next());
      draw();
    } catch (err) {
      notify(`Could not load more reports. ${errorText(err)}`, 'error');
    }
  }, 'Loading…'));
  draw();
  return null;
}

function reportRow(r) {
  const short = r.id.slice(0, 8);
  const failed = r.authentic ? null : failedCheck(r);
  const cells = [
    h('a', { href: `/attestation/${r.id}`, class: 'strong', 'aria-label': `Report ${short}` }, h('code', {}, short)),
    verdictBadge(r.verdict),
    h('span', { class: 'reference-line' }, yesNo(r.authentic),
      failed ? h('span', { class: 'muted small' }, h('code', {}, failed.name), ' failed') : null,
      r.simulated ? simulatedBadge() : null),
    r.tcb_status ? tcbBadge(r.tcb_status) : none('—'),
    r.mrenclave ? shortHash(r.mrenclave) : none('—'),
    r.fmspc ? h('code', {}, r.fmspc) : none('—'),
    time(r.verified_at, { seconds: true }),
    time(r.created_at),
  ];
  cells.attrs = { dataset: { reportId: r.id, verdict: r.verdict, authentic: String(r.authentic),
                             simulated: String(r.simulated) } };
  return cells;
}

function filterForm(ctx, query, limit) {
  const options = [{ value: '', label: 'Any verdict' },
    ...Object.entries(VERDICTS).map(([value, label]) => ({ value, label }))];
  // A value the API does not know matches nothing; it stays chosen, as given.
  if (query.verdict && !VERDICTS[query.verdict]) options.push({ value: query.verdict, label: query.verdict });
  const verdict = field({ label: 'Verdict', name: 'verdict', kind: 'select', value: query.verdict || '',
                          markOptional: false, options });
  const apply = h('button', { type: 'submit', class: 'button button-primary' }, 'Apply filter');
  const clear = h('a', { href: '/attestation', class: 'button button-secondary' }, 'Clear filter');
  const form = h('form', { class: 'form filters', role: 'search', 'aria-label': 'Filter the reports', novalidate: true },
    formMessage(),
    h('div', { class: 'filter-grid' }, verdict.wrap),
    h('div', { class: 'form-actions' }, apply, clear));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    if (verdict.input.value) params.set('verdict', verdict.input.value);
    if (limit) params.set('limit', String(limit));
    const qs = params.toString();
    ctx.navigate(`/attestation${qs ? `?${qs}` : ''}`);
  });
  return form;
}

/* Have a quote judged: its file, read here and sent in base64, and the time
 * to judge it as of. The new report's page follows. */
function verifyCard(ctx) {
  const quote = field({ label: 'Quote', name: 'quote', kind: 'file', required: true,
                        hint: 'An SGX DCAP quote (version 3 or 4) as the enclave produced it, such as quote.bin: ' +
                              'the browser reads the file and sends its bytes.' });
  const at = field({ label: 'As of', name: 'at', kind: 'datetime-local', attrs: { step: '1' },
                     hint: 'In your time zone, to the second. Certificates, CRLs and collateral are judged valid ' +
                           'or not at this time, so that a quote can be judged as of when it was presented. ' +
                           'Leave it empty for now.' });
  const message = formMessage();
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Verify quote');
  const form = h('form', { class: 'form form-inline verify-form', novalidate: true, 'aria-labelledby': 'verify-title' },
    message, quote.wrap, at.wrap, h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const chosen = quote.input.files && quote.input.files[0];
    const problems = {};
    if (!chosen) problems.quote = 'choose the quote’s file';
    else if (chosen.size > QUOTE_MAX) {
      problems.quote = `${chosen.name} holds ${formatBytes(chosen.size)}, more than the 1 MiB a quote may have`;
    }
    const body = {};
    if (at.input.value) {
      body.at = localToIso(at.input.value);
      if (!body.at) problems.at = 'enter a date and time, or leave it empty';
    }
    if (Object.keys(problems).length) {
      showFormError(form, { fields: problems });
      return;
    }
    await busy(submit, async () => {
      try {
        body.quote = toBase64(new Uint8Array(await chosen.arrayBuffer()));
      } catch (err) {
        showFormError(form, { fields: { quote: `could not read ${chosen.name}: ${errorText(err)}` } });
        return;
      }
      let report;
      try {
        report = await api.post('/v1/attestation/verify', body, { idempotent: true });
      } catch (err) {
        showFormError(form, err);
        // No collateral for the quote's platform: the detail names what is
        // missing; the collateral page is where it is imported.
        if (err.status === 503) {
          form.querySelector('.form-message').append(' ',
            h('a', { href: '/attestation/collateral' }, 'See the collateral the daemon holds'), '.');
        }
        return;
      }
      await ctx.navigate(`/attestation/${report.id}`);
      notify(`The quote is ${report.authentic ? 'authentic' : 'not authentic'}` +
             `${report.simulated ? ' (simulated)' : ''}, and the policy ${report.verdict} it.`);
    }, 'Verifying…');
  });

  return h('section', { class: 'section card', 'aria-labelledby': 'verify-title' },
    h('h2', { id: 'verify-title' }, 'Verify a quote'),
    h('p', { class: 'hint' }, 'Cloister judges it with Intel’s collateral for the quote’s platform, under ',
      h('a', { href: '/attestation/policy' }, 'the account’s policy'), ', and keeps the report whatever the verdict.'),
    form);
}

/* ---- one report ---------------------------------------------------------- */

async function renderReport(ctx, id) {
  let report;
  try {
    report = await api.get(`/v1/attestation-reports/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err.status === 404) {
      ctx.main.append(pageHeading('Report not found'), errorPanel(err),
        h('p', {}, h('a', { href: '/attestation' }, 'See all attestation reports'), '.'));
      return null;
    }
    throw err;
  }
  const names = await api.actorNames(ctx.me, { keys: ctx.can('api_keys.read') });
  if (!ctx.current()) return null;
  const short = report.id.slice(0, 8);
  const d = report.details || {};
  const by = names.get(report.created_by) || report.created_by;
  const kind = EVIDENCE[report.evidence_kind] || { label: `Evidence (${report.evidence_kind})`,
                                                  file: (s) => `evidence-${s}.bin` };
  const sgx = report.evidence_kind === 'sgx_dcap';
  ctx.setTitle(`Report ${short}`);
  const urls = [];

  ctx.main.append(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/attestation' }, 'Attestation'), ' / ', h('code', {}, short)),
    pageHeading(`Report ${short}`,
      h('span', {}, `${kind.label} sent by `, by, ', ', time(report.created_at), ', and judged as of ',
        time(report.verified_at, { seconds: true }), '.')));
  if (report.simulated) {
    ctx.main.append(h('div', { class: 'panel panel-warning simulated-warning' },
      h('p', { class: 'panel-title' }, 'Simulated evidence'),
      h('p', { class: 'simulated-why' }, `The evidence chains to ${d.trust_root || 'a root other than Intel’s'}, ` +
        `not the ${INTEL_ROOT}: it proves nothing about Intel hardware.`),
      h('p', { class: 'hint' }, 'The daemon trusts that root through its sgx-trust-roots setting, as machines ' +
        'without SGX and tests do.')));
  }
  ctx.main.append(...[
    h('div', { class: 'judgement' }, verdictPart(report), authenticPart(report), platformPart(report)),
    checksSection(d.checks || [], sgx),
    quoteSection(report, kind, urls),
    // An SGX quote's chain and collateral; what another kind of evidence
    // adds to the verdict, as the verifier gave it.
    sgx ? pckSection(d) : null,
    sgx ? collateralUsedSection(d) : null,
    !sgx && d.maa ? section('report-token-title', 'Token', jsonBlock(d.maa, 'What the token says')) : null,
    section('report-record-title', 'Record', facts([
      ['Verified as of', time(report.verified_at, { seconds: true })],
      ['Judged', time(report.created_at)],
      ['By', by],
      ['Evidence', kind.label],
      ['Subject', report.subject],
      ['ID', h('code', {}, report.id)],
    ])),
  ].filter(Boolean));
  return () => urls.forEach((u) => URL.revokeObjectURL(u));
}

function part(id, title, hint, ...content) {
  return h('section', { class: 'card judgement-part', 'aria-labelledby': id },
    h('h2', { id }, title), content, h('p', { class: 'hint' }, hint));
}

/* What the policy decided, apart from what the evidence is. */
function verdictPart(r) {
  return part('report-verdict-title', 'Policy verdict',
    ['What the account’s ', h('a', { href: '/attestation/policy' }, 'attestation policy'),
      ' decided when the quote was judged; a later change to the policy does not change it.'],
    facts([
      ['Verdict', verdictBadge(r.verdict)],
      ['Reasons', r.reasons.length
        ? h('ul', { class: 'reasons' }, r.reasons.map((reason) => h('li', {}, breakable(reason))))
        : none('None: the policy accepts it.')],
    ]));
}

/* Whether the evidence holds: its signatures, chains and collateral. */
function authenticPart(r) {
  const d = r.details || {};
  const checks = d.checks || [];
  const failed = failedCheck(r);
  const outcome = failed
    ? h('span', {}, h('a', { href: `#check-${failed.name}` }, h('code', {}, failed.name)), ' failed: ', failed.detail)
    : `All ${checks.length} passed.`;
  return part('report-authentic-title', 'Authenticity',
    'Authentic when every check below passes: the evidence’s signatures and certificate chains hold, and what ' +
    'it was checked with was valid at the verification time.',
    facts([
      ['Authentic', yesNo(r.authentic)],
      ['Checks', outcome],
      ['Trust root', d.trust_root
        ? h('span', { class: 'reference-line' }, d.trust_root, r.simulated ? simulatedBadge() : null)
        : none('Not reached')],
    ]));
}

/* Where the platform stands, by Intel's TCB Info: the policy's to judge. */
function platformPart(r) {
  const d = r.details || {};
  return part('report-platform-title', 'Platform TCB',
    'Where the platform stands by Intel’s TCB Info for its FMSPC, converged with its Quoting Enclave’s level; ' +
    'whether that is good enough is the policy’s to say.',
    facts([
      ['TCB status', r.tcb_status ? tcbBadge(r.tcb_status)
        : r.authentic ? none('None: this kind of evidence carries no TCB status.')
          : none('Not known: the checks stopped before the platform’s level was found.')],
      ['Advisories', r.tcb_status ? codeList(r.advisory_ids) : none('—')],
      d.platform_tcb_status ? ['Platform level', h('span', {}, breakable(d.platform_tcb_status))] : null,
      d.qe ? ['Quoting Enclave', h('span', {}, breakable(d.qe.tcb_status), ` (ISVSVN ${d.qe.isvsvn})`)] : null,
    ]));
}

/* Every check, in order; a failed one marked and, for an SGX quote, those
 * it left unrun. */
function checksSection(checks, sgx) {
  const ran = new Map(checks.map((c) => [c.name, c]));
  const failed = checks.some((c) => !c.ok);
  const items = (sgx ? CHECKS : []).map(([name, what], i) => {
    const c = ran.get(name);
    const outcome = !c ? 'skipped' : c.ok ? 'ok' : 'failed';
    const badge = { ok: h('span', { class: 'badge badge-active' }, 'OK'),
                    failed: h('span', { class: 'badge badge-revoked' }, 'Failed'),
                    skipped: h('span', { class: 'badge badge-expired' }, 'Not run') }[outcome];
    return h('li', { class: ['check', `check-${outcome}`], id: `check-${name}`, dataset: { check: name, outcome } },
      h('span', { class: 'check-step', 'aria-hidden': 'true' }, String(i + 1)),
      h('div', { class: 'check-main' },
        h('p', { class: 'check-head' }, h('code', { class: 'check-name' }, name), ' ', badge),
        h('p', { class: 'check-what' }, what),
        c ? h('p', { class: 'check-detail' }, c.detail) : null));
  });
  // Another kind of evidence's checks, or one this page does not know yet:
  // shown as the verifier gave them.
  for (const c of checks) {
    if (sgx && CHECKS.some(([name]) => name === c.name)) continue;
    items.push(h('li', { class: ['check', c.ok ? 'check-ok' : 'check-failed'], id: `check-${c.name}`,
                         dataset: { check: c.name, outcome: c.ok ? 'ok' : 'failed' } },
      h('span', { class: 'check-step', 'aria-hidden': 'true' }, String(items.length + 1)),
      h('div', { class: 'check-main' },
        h('p', { class: 'check-head' }, h('code', { class: 'check-name' }, c.name), ' ',
          h('span', { class: `badge ${c.ok ? 'badge-active' : 'badge-revoked'}` }, c.ok ? 'OK' : 'Failed')),
        h('p', { class: 'check-detail' }, c.detail))));
  }
  return section('report-checks-title', 'Checks',
    h('p', { class: 'hint' }, failed
      ? 'They run in this order, and the first failure ends them: what follows depends on it.'
      : 'They run in this order; the evidence is authentic when every one passes.'),
    h('ol', { class: 'checks', 'aria-label': 'Checks, in the order they run' }, items));
}

/* What the evidence says of the enclave, and the evidence itself to download. */
function quoteSection(r, kind, urls) {
  const q = (r.details && r.details.quote) || {};
  const mrenclave = q.mrenclave || r.mrenclave;
  const mrsigner = q.mrsigner || r.mrsigner;
  const debug = q.debug !== undefined ? q.debug : r.debug;
  const isvprodid = q.isvprodid !== undefined ? q.isvprodid : r.isvprodid;
  const isvsvn = q.isvsvn !== undefined ? q.isvsvn : r.isvsvn;
  const reportData = q.report_data || r.report_data;
  let evidence = null;
  if (r.evidence) {
    const bytes = fromBase64(r.evidence);
    const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
    urls.push(url);
    const filename = kind.file(r.id.slice(0, 8));
    evidence = h('span', { class: 'reference-line' },
      h('a', { href: url, download: filename, class: 'button button-secondary', dataset: { file: filename } },
        'Download the evidence'),
      h('span', { class: 'muted' }, `${formatBytes(bytes.length)} (${bytes.length.toLocaleString('en')} bytes)`));
  }
  return section('report-quote-title', r.evidence_kind === 'sgx_dcap' ? 'The quote' : 'The enclave', facts([
    ['Version', q.version !== undefined ? `${q.version} (${q.tee || 'SGX'})` : null],
    ['MRENCLAVE', mrenclave ? copyable(mrenclave, 'MRENCLAVE', 'mrenclave') : null],
    ['MRSIGNER', mrsigner ? copyable(mrsigner, 'MRSIGNER', 'mrsigner') : null],
    ['Product ID (ISVPRODID)', isvprodid === null || isvprodid === undefined ? null : String(isvprodid)],
    ['Security version (ISVSVN)', isvsvn === null || isvsvn === undefined ? null : String(isvsvn)],
    ['Debug', debug === null || debug === undefined ? null
      : debug ? h('span', { class: 'badge badge-revoked' }, 'Debug enclave: its memory can be read') : 'No'],
    ['Attributes', q.attributes
      ? h('span', {}, 'flags ', h('code', {}, q.attributes.flags), ', XFRM ', h('code', {}, q.attributes.xfrm))
      : null],
    q.miscselect !== undefined ? ['MISCSELECT', h('code', {}, `0x${q.miscselect.toString(16)}`)] : null,
    q.cpusvn ? ['CPUSVN', h('code', {}, q.cpusvn)] : null,
    q.qe_svn !== undefined ? ['QE and PCE SVN', `${q.qe_svn} and ${q.pce_svn}`] : null,
    ['Report data', reportData ? h('code', { class: 'hash report-data' }, reportData) : null],
    ['Evidence', evidence],
  ]));
}

/* The platform's PCK certificate, and the root its chain ends in. */
function pckSection(d) {
  const p = d.pck;
  if (!p) {
    return section('report-pck-title', 'PCK certificate',
      h('p', { class: 'empty' }, 'Not read: the checks stopped before the PCK certificate’s SGX extension was read.'),
      d.trust_root ? facts([['Trust root', d.trust_root]]) : null);
  }
  return section('report-pck-title', 'PCK certificate', facts([
    ['FMSPC', h('code', {}, p.fmspc)],
    ['PCE-ID', h('code', {}, p.pce_id)],
    ['Issued by', p.issuer],
    ['Trust root', d.trust_root
      ? h('span', { class: 'reference-line' }, d.trust_root, d.simulated ? simulatedBadge() : null) : null],
    ['TCB components', h('code', { class: 'tcb-components' }, p.tcb_components.join(' '))],
    ['PCESVN', String(p.pcesvn)],
    ['CPUSVN', h('code', {}, p.cpusvn)],
    ['SGX type', capitalise(p.sgx_type)],
  ]));
}

/* The TCB Info and QE identity the verification used. */
function collateralUsedSection(d) {
  const c = d.collateral;
  if (!c) {
    return section('report-collateral-title', 'Collateral used',
      h('p', { class: 'empty' }, 'None: the checks stopped before the collateral was used.'));
  }
  const columns = [{ label: 'Document' }, { label: 'Version' }, { label: 'TCB evaluation' }, { label: 'Issued' },
                   { label: 'Next update' }];
  const row = (kind, doc) => {
    const cells = [KINDS[kind], String(doc.version), String(doc.tcb_evaluation_data_number),
                   time(doc.issue_date, { seconds: true }), time(doc.next_update, { seconds: true })];
    cells.attrs = { dataset: { kind } };
    return cells;
  };
  return section('report-collateral-title', 'Collateral used',
    h('p', { class: 'hint' }, 'Intel’s signed documents the checks read, as they stood at the verification time. ',
      h('a', { href: '/attestation/collateral' }, 'The collateral the daemon holds now'), '.'),
    dataTable({ caption: 'Collateral used', columns,
                rows: [row('tcb_info', c.tcb_info), row('qe_identity', c.qe_identity)] }));
}

/* ---- the policy ---------------------------------------------------------- */

async function renderPolicy(ctx) {
  ctx.setTitle('Policy');
  ctx.main.append(
    pageHeading('Attestation policy',
      `What authentic evidence must also be for ${ctx.me.account.name} to accept it. Evidence that is not ` +
      'authentic is always refused.'),
    tabs('/attestation/policy'));
  const { body: policy, etag } = await api.getVersioned('/v1/policies/attestation');
  if (!ctx.current()) return null;

  const inForce = h('div');
  const show = (p) => inForce.replaceChildren(policyFacts(p));
  show(policy);
  ctx.main.append(h('section', { class: 'section card', 'aria-labelledby': 'policy-now-title' },
    h('h2', { id: 'policy-now-title' }, 'In force'),
    inForce,
    h('p', { class: 'hint policy-note' }, 'A change decides the verifications made from then on; the reports made ' +
      'before keep their verdicts.')));
  if (ctx.can('policies.write')) {
    ctx.main.append(policyForm(policy, etag, show));
  } else {
    ctx.main.append(h('p', { class: 'note' }, 'Only the account’s admins change the attestation policy.'));
  }
  return null;
}

function policyFacts(p) {
  return facts([
    ['Accepted TCB statuses', p.accepted_statuses.length ? codeList(p.accepted_statuses)
      : none('None: every quote is refused.')],
    ['Accepted advisories', p.accepted_advisories.length ? codeList(p.accepted_advisories)
      : none('None: a platform with any advisory is refused.')],
    ['Debug enclaves', p.allow_debug ? 'Accepted' : 'Refused'],
    ['Lowest ISVSVN', p.min_isvsvn ? String(p.min_isvsvn) : '0 (any)'],
  ], { cls: 'policy-facts' });
}

/* The statuses as checkboxes in one group, which takes the field's error. */
function statusGroup(accepted) {
  const inputs = [];
  const rows = TCB_STATUSES.map(([status, what]) => {
    const id = newId('status');
    const input = h('input', { id, name: 'accepted_statuses', type: 'checkbox', value: status,
                               checked: accepted.includes(status), 'aria-describedby': `${id}-hint` });
    input.dataset.describedby = `${id}-hint`;
    inputs.push(input);
    return h('div', { class: 'status-option' },
      h('div', { class: 'check-row' }, input, h('label', { for: id }, breakable(status))),
      h('p', { class: 'hint', id: `${id}-hint` }, what));
  });
  const wrap = h('fieldset', { class: 'field field-check status-group' },
    h('legend', {}, 'Accepted TCB statuses'),
    h('p', { class: 'hint' }, 'Authentic evidence whose platform has another status is refused.'),
    h('div', { class: 'status-options' }, rows),
    h('p', { class: 'field-error', id: newId('statuses-error'), hidden: true }));
  return { wrap, inputs };
}

function policyForm(policy, etag, show) {
  let version = etag;
  const statuses = statusGroup(policy.accepted_statuses);
  const advisories = field({ label: 'Accepted advisory IDs', name: 'accepted_advisories', kind: 'textarea',
                             value: policy.accepted_advisories.join('\n'), markOptional: false,
                             hint: 'Intel security advisories the platform may have, one per line ' +
                                   '(e.g. INTEL-SA-00615); evidence with any other is refused. At most 32.',
                             attrs: { rows: '3', spellcheck: 'false', autocomplete: 'off' } });
  const debug = checkboxField({ label: 'Accept debug enclaves', name: 'allow_debug', checked: policy.allow_debug,
                                hint: 'A debug enclave’s memory can be read: accept them only for development.' });
  const minimum = field({ label: 'Lowest ISVSVN', name: 'min_isvsvn', kind: 'number',
                          value: String(policy.min_isvsvn), required: true,
                          hint: 'The enclave’s security version must be at least this, from 0 (any) to 65535.',
                          attrs: { min: '0', max: '65535', step: '1', inputmode: 'numeric' } });
  minimum.wrap.classList.add('field-narrow');
  const save = h('button', { type: 'submit', class: 'button button-primary' }, 'Save policy');
  const form = h('form', { class: 'form policy-form', novalidate: true, 'aria-labelledby': 'policy-edit-title' },
    formMessage(), statuses.wrap, advisories.wrap, debug.wrap, minimum.wrap,
    h('div', { class: 'form-actions' }, save));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    const text = minimum.input.value.trim();
    if (!text) {
      showFormError(form, { fields: { min_isvsvn: 'enter the lowest ISVSVN accepted, 0 for any' } });
      return;
    }
    const body = {
      accepted_statuses: statuses.inputs.filter((i) => i.checked).map((i) => i.value),
      accepted_advisories: [...new Set(advisories.input.value.split(/[\s,]+/).filter(Boolean))],
      allow_debug: debug.input.checked,
      // Not a whole number: sent as it is, for the server to say what it wants.
      min_isvsvn: /^\d+$/.test(text) ? Number(text) : text,
    };
    await busy(save, async () => {
      try {
        const res = await api.request('PUT', '/v1/policies/attestation',
          { body, headers: api.ifMatch(version), full: true });
        version = res.etag;
        show(res.body);
        advisories.input.value = res.body.accepted_advisories.join('\n');
        notify('The attestation policy was saved: it decides the verifications made from now on.');
      } catch (err) {
        showFormError(form, err);
      }
    }, 'Saving…');
  });
  return h('section', { class: 'section card', 'aria-labelledby': 'policy-edit-title' },
    h('h2', { id: 'policy-edit-title' }, 'Change the policy'), form);
}

/* ---- the collateral ------------------------------------------------------ */

async function renderCollateral(ctx) {
  ctx.setTitle('Collateral');
  ctx.main.append(
    pageHeading('SGX collateral',
      'Intel’s documents that quotes are judged with: the TCB Info of each platform family (FMSPC), the Quoting ' +
      'Enclave’s identity and the CRLs, public and shared by every account. The daemon fetches what a quote ' +
      'needs from Intel’s PCS when it is set up to; where it cannot reach it, it is imported here.'),
    tabs('/attestation/collateral'));
  const listArea = h('section', { class: 'section', 'aria-labelledby': 'collateral-list-title' },
    h('h2', { id: 'collateral-list-title' }, 'Held by the daemon'));
  const holder = h('div');
  listArea.append(
    h('p', { class: 'hint' }, 'A document past its next update is marked expired: quotes judged now fail the check ',
      'that needs it, while quotes judged as of an earlier time may still pass. Import the one Intel serves now.'),
    holder);

  async function refresh() {
    const { items } = await api.get('/v1/collateral');
    if (!ctx.current()) return;
    holder.replaceChildren(collateralTable(items));
  }

  if (ctx.can('collateral.import')) {
    ctx.main.append(importCard(refresh));
  } else {
    ctx.main.append(h('p', { class: 'note' }, 'Only instance administrators import collateral.'));
  }
  ctx.main.append(listArea);
  await refresh();
  return null;
}

/* How the daemon got a document: imported, or fetched from the PCS (or
 * PCCS) at the address it names. */
function sourceText(source) {
  if (source === 'import') return 'Imported';
  if (/^https?:\/\//.test(source)) return h('span', {}, 'Fetched from ', h('code', { class: 'target' }, source));
  return source;
}

function collateralTable(items) {
  const now = Date.now();
  const columns = [{ label: 'Kind' }, { label: 'Key' }, { label: 'Version' }, { label: 'Issued' },
                   { label: 'Next update' }, { label: 'Source' }, { label: 'Updated' }];
  return dataTable({
    caption: 'Collateral held by the daemon',
    columns,
    rows: items.map((c) => {
      const expired = new Date(c.next_update).getTime() <= now;
      const key = c.kind === 'tcb_info' ? h('span', {}, 'FMSPC ', h('code', {}, c.key))
        : c.kind === 'pck_crl' ? CAS[c.key] || c.key : none('—');
      const cells = [
        KINDS[c.kind] || c.kind,
        key,
        c.version || none('—'),
        time(c.issue_date, { seconds: true }),
        h('span', { class: 'reference-line' }, time(c.next_update, { seconds: true }),
          expired ? h('span', { class: 'badge badge-revoked' }, 'Expired') : null),
        sourceText(c.source),
        time(c.updated_at),
      ];
      cells.attrs = { class: expired ? 'row-expired' : null,
                      dataset: { kind: c.kind, key: c.key, expired: String(expired) } };
      return cells;
    }),
    empty: 'No collateral yet: quotes cannot be judged until an instance administrator imports it.',
  });
}

/* An instance administrator imports what the PCS serves, any of the files. */
function importCard(refresh) {
  const fields = COLLATERAL_FILES.map((f) => ({
    ...f,
    ...field({ label: `${f.label} (${f.file})`, name: f.name, kind: 'file', hint: f.hint(), markOptional: false,
               attrs: { accept: f.accept } }),
  }));
  const ca = field({ label: 'Which PCK CA', name: 'pck_crl_ca', kind: 'select', value: 'processor', markOptional: false,
                     hint: 'The CA whose CRL it is: the one that issued the platforms’ PCK certificates.',
                     options: Object.entries(CAS).map(([value, label]) => ({ value, label })) });
  const result = h('div', { class: 'import-result', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Import collateral');
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]));
  const form = h('form', { class: 'form form-grid import-form', novalidate: true, 'aria-labelledby': 'import-title' },
    formMessage(),
    byName.tcb_info.wrap, byName.tcb_info_issuer_chain.wrap,
    byName.qe_identity.wrap, byName.qe_identity_issuer_chain.wrap,
    byName.pck_crl.wrap, ca.wrap,
    byName.root_ca_crl.wrap,
    h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearFormErrors(form);
    result.replaceChildren();
    const chosen = fields.filter((f) => f.input.files && f.input.files[0]);
    if (!chosen.length) {
      showFormError(form, { fields: { tcb_info: 'choose at least one of the files' } });
      return;
    }
    const tooBig = {};
    for (const f of chosen) {
      const file = f.input.files[0];
      if (file.size > f.max) tooBig[f.name] = `${file.name} holds ${formatBytes(file.size)}, more than ${formatBytes(f.max)}`;
    }
    if (Object.keys(tooBig).length) {
      showFormError(form, { fields: tooBig });
      return;
    }
    await busy(submit, async () => {
      const body = {};
      for (const f of chosen) {
        const file = f.input.files[0];
        try {
          body[f.name] = await readCollateral(file, f.text);
        } catch (err) {
          showFormError(form, { fields: { [f.name]: `could not read ${file.name}: ${errorText(err)}` } });
          return;
        }
      }
      if (body.pck_crl) body.pck_crl_ca = ca.input.value;
      let imported;
      try {
        ({ imported } = await api.post('/v1/collateral', body));
      } catch (err) {
        showFormError(form, err);
        return;
      }
      form.reset();
      const kept = imported.filter((i) => i.kept).length;
      result.replaceChildren(importedPanel(imported));
      notify(`Imported ${imported.length} document${imported.length === 1 ? '' : 's'}; ` +
             `${kept === imported.length ? 'all' : kept} kept.`);
      await refresh();
    }, 'Importing…');
  });

  return h('section', { class: 'section card', 'aria-labelledby': 'import-title' },
    h('h2', { id: 'import-title' }, 'Import collateral'),
    h('p', { class: 'hint' }, 'Any of the files Intel’s Provisioning Certification Service (or a PCCS) serves for ' +
      'the platforms, at least one; a TCB Info or QE identity goes with its issuer chain. Each is checked before ',
      'anything is kept, and replaces the one held of its kind unless that one was issued later. With the CLI: ',
      h('code', {}, 'cloister collateral import DIR --ca processor'), '.'),
    form, result);
}

/* A file as the API takes it: JSON and PEM as their text, exactly (a TCB
 * Info's signature covers its bytes); a CRL as PEM text or DER in base64. */
async function readCollateral(file, text) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const decoded = new TextDecoder().decode(bytes);
  if (text || decoded.startsWith('-----BEGIN')) return decoded;
  return toBase64(bytes);
}

function importedPanel(imported) {
  const columns = [{ label: 'Document' }, { label: 'Key' }, { label: 'Issued' }, { label: 'Next update' },
                   { label: 'Kept' }];
  return h('div', { class: 'panel import-panel' },
    h('p', { class: 'panel-title' }, 'Imported'),
    dataTable({
      caption: 'The documents imported',
      columns,
      rows: imported.map((i) => {
        const cells = [
          KINDS[i.kind] || i.kind,
          i.kind === 'tcb_info' ? h('code', {}, i.key) : i.kind === 'pck_crl' ? CAS[i.key] || i.key : none('—'),
          time(i.issue_date, { seconds: true }),
          time(i.next_update, { seconds: true }),
          i.kept ? h('span', { class: 'badge badge-active' }, 'Kept')
            : h('span', { class: 'reference-line' }, h('span', { class: 'badge badge-expired' }, 'Not kept'),
              h('span', { class: 'muted small' }, 'the one held was issued later')),
        ];
        cells.attrs = { dataset: { kind: i.kind, kept: String(i.kept) } };
        return cells;
      }),
    }));
}
