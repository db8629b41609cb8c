#!/usr/bin/env node
// routes.mjs - check that api/openapi.yaml describes exactly the routes the
// daemon serves.
//
//   node tests/openapi/routes.mjs CLOISTERD_BINARY SPEC_PATH
//
// Runs `CLOISTERD_BINARY routes` (the route table as JSON:
// [{"method","path","public","json_body","session_only","instance_admin",
// "idempotent","join_token","node_signed","roles"}], roles being null or a list of role names) and
// compares it with the operations of the OpenAPI document at SPEC_PATH:
//
//   - every route is an operation of the spec, and every operation of the
//     spec is a route (route patterns and OpenAPI paths both write
//     parameters as {name});
//   - a json_body route has a requestBody with application/json content;
//   - a public route has `security: []`, and a route that is not public a
//     non-empty `security` (on the operation, or inherited from the
//     top-level `security`);
//   - a session_only route's security names the `session` scheme only,
//     and a security that names only `session` belongs to a session_only
//     route;
//   - a join_token route's security names `joinToken`, and no other's does;
//     a node_signed route's names `nodeSignature`, and no other's does;
//   - the operation's `x-roles` is the route's roles (the same names, in
//     any order, none twice), and is absent when roles is null;
//   - `x-instance-admin: true` is there exactly when instance_admin is
//     true, and `x-idempotent: true` exactly when idempotent is true (the
//     extensions are absent otherwise, never `false`).
//
// The server answers HEAD for every GET, so the spec lists no HEAD
// operations; one that it does list is reported.  Prints every mismatch and exits 1 if there
// is any, otherwise prints a one-line summary and exits 0.  Exits 2 on usage
// errors or when either side cannot be read.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function die(message) {
    console.error(`routes.mjs: ${message}`);
    process.exit(2);
}

if (process.argv.length !== 4)
    die('usage: node routes.mjs CLOISTERD_BINARY SPEC_PATH');
const [binary, specPath] = process.argv.slice(2);

// ---- the daemon's routes ---------------------------------------------------
let routes;
try {
    const out = execFileSync(binary, ['routes'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    routes = JSON.parse(out);
} catch (e) {
    die(`could not get the route table from "${binary} routes": ${e.message}`);
}
if (!Array.isArray(routes))
    die(`"${binary} routes" did not print a JSON array`);
for (const route of routes) {
    const flags = ['public', 'json_body', 'session_only', 'instance_admin', 'idempotent',
                   'join_token', 'node_signed'];
    const bad = flags.filter((f) => typeof route?.[f] !== 'boolean');
    if (typeof route?.method !== 'string' || typeof route?.path !== 'string' || bad.length > 0 ||
        !(route.roles === null || Array.isArray(route.roles)))
        die(`"${binary} routes" printed a route without method, path, boolean ` +
            `${flags.join(', ')} and roles (null or a list): ${JSON.stringify(route)}`);
}

// ---- the spec's operations ---------------------------------------------------
let spec;
try {
    const doc = YAML.parseDocument(readFileSync(specPath, 'utf8'), { uniqueKeys: true });
    if (doc.errors.length > 0)
        throw new Error(doc.errors.map((e) => e.message).join('; '));
    spec = doc.toJS();
} catch (e) {
    die(`could not read the OpenAPI document "${specPath}": ${e.message}`);
}
if (spec === null || typeof spec !== 'object' || typeof spec.paths !== 'object' || spec.paths === null)
    die(`"${specPath}" has no paths object`);

const operations = new Map();   // "GET /v1/x" -> operation object
for (const [path, item] of Object.entries(spec.paths)) {
    if (item === null || typeof item !== 'object')
        continue;
    for (const method of METHODS)
        if (item[method] !== undefined)
            operations.set(`${method.toUpperCase()} ${path}`, item[method] ?? {});
}

// ---- compare ---------------------------------------------------------------

// Does a requestBody (inline, or a $ref into components.requestBodies) have
// application/json content?
function hasJsonBody(body) {
    if (body?.$ref !== undefined) {
        const prefix = '#/components/requestBodies/';
        body = body.$ref.startsWith(prefix)
            ? spec.components?.requestBodies?.[body.$ref.slice(prefix.length)]
            : undefined;
    }
    const content = body?.content;
    return content !== null && typeof content === 'object' && 'application/json' in content;
}

const problems = [];
const routeKeys = new Set();

for (const route of routes) {
    const key = `${route.method} ${route.path}`;

    if (routeKeys.has(key))
        problems.push(`${key}: listed twice by the daemon`);
    routeKeys.add(key);

    const op = operations.get(key);
    if (op === undefined) {
        problems.push(`${key}: served by the daemon but missing from the spec`);
        continue;
    }
    if (route.json_body && !hasJsonBody(op.requestBody))
        problems.push(`${key}: the route takes a JSON body but the spec has no requestBody with application/json content`);
    const security = op.security !== undefined ? op.security : spec.security;
    const specPublic = Array.isArray(security) && security.length === 0;
    if (route.public && !specPublic)
        problems.push(`${key}: the route is public but the spec does not say security: []`);
    if (!route.public && !(Array.isArray(security) && security.length > 0))
        problems.push(`${key}: the route needs credentials but the spec names no security requirement`);

    // session_only <-> every security requirement names `session` and nothing else
    if (!route.public && Array.isArray(security) && security.length > 0) {
        const specSessionOnly = security.every((req) =>
            req !== null && typeof req === 'object' &&
            Object.keys(req).length === 1 && 'session' in req);
        if (route.session_only && !specSessionOnly)
            problems.push(`${key}: the route is session_only but the spec's security is ` +
                          `${JSON.stringify(security)}, not [{"session": []}]`);
        if (!route.session_only && specSessionOnly)
            problems.push(`${key}: the spec's security names only session, but the route ` +
                          'is not session_only (it also takes API keys)');
    }

    // join_token <-> some security requirement names `joinToken`
    const takesJoinToken = Array.isArray(security) && security.some((req) =>
        req !== null && typeof req === 'object' && 'joinToken' in req);
    if (route.join_token && !takesJoinToken)
        problems.push(`${key}: the route takes a join token but the spec's security does not ` +
                      'name joinToken');
    if (!route.join_token && takesJoinToken)
        problems.push(`${key}: the spec's security names joinToken, but the route takes none`);

    // node_signed <-> some security requirement names `nodeSignature`
    const takesNodeSignature = Array.isArray(security) && security.some((req) =>
        req !== null && typeof req === 'object' && 'nodeSignature' in req);
    if (route.node_signed !== takesNodeSignature)
        problems.push(`${key}: the route ${route.node_signed ? 'takes' : 'takes no'} node ` +
                      `signatures but the spec's security ${takesNodeSignature ? 'names' :
                      'does not name'} nodeSignature`);

    // x-roles <-> roles
    const specRoles = op['x-roles'];
    if (route.roles === null) {
        if (specRoles !== undefined)
            problems.push(`${key}: the spec says x-roles ${JSON.stringify(specRoles)} but the ` +
                          'route has no role requirement (x-roles must be absent)');
    } else if (specRoles === undefined) {
        problems.push(`${key}: the route needs one of the roles ${JSON.stringify(route.roles)} ` +
                      'but the spec has no x-roles');
    } else if (!Array.isArray(specRoles) || specRoles.some((r) => typeof r !== 'string')) {
        problems.push(`${key}: x-roles must be a list of role names, not ${JSON.stringify(specRoles)}`);
    } else {
        const want = new Set(route.roles), have = new Set(specRoles);
        const missing = [...want].filter((r) => !have.has(r));
        const extra = [...have].filter((r) => !want.has(r));
        if (have.size !== specRoles.length)
            problems.push(`${key}: x-roles ${JSON.stringify(specRoles)} names a role twice`);
        if (missing.length > 0)
            problems.push(`${key}: x-roles lacks ${JSON.stringify(missing)}, which the route allows`);
        if (extra.length > 0)
            problems.push(`${key}: x-roles names ${JSON.stringify(extra)}, which the route does not allow`);
    }

    // x-instance-admin <-> instance_admin, x-idempotent <-> idempotent
    for (const [flag, ext] of [['instance_admin', 'x-instance-admin'], ['idempotent', 'x-idempotent']]) {
        const value = op[ext];
        if (route[flag] && value !== true)
            problems.push(`${key}: the route is ${flag} but the spec does not say ${ext}: true` +
                          (value === undefined ? '' : ` (it says ${JSON.stringify(value)})`));
        if (!route[flag] && value !== undefined)
            problems.push(`${key}: the route is not ${flag} but the spec says ${ext}: ` +
                          `${JSON.stringify(value)} (it must be absent)`);
    }
}

for (const key of operations.keys()) {
    if (key.startsWith('HEAD '))
        problems.push(`${key}: HEAD is answered for every GET and is not listed in the spec`);
    else if (!routeKeys.has(key))
        problems.push(`${key}: in the spec but not served by the daemon`);
}

if (problems.length > 0) {
    console.error(`routes.mjs: ${problems.length} mismatch(es) between "${binary} routes" and ${specPath}:`);
    for (const p of problems)
        console.error(`  - ${p}`);
    process.exit(1);
}
console.log(`routes.mjs: ok: the ${routes.length} routes of the daemon match the ${operations.size} operations of ${specPath}`);
