#!/usr/bin/env node
// routes.mjs - check that api/openapi.yaml describes exactly the routes the
// daemon serves.
//
//   node tests/openapi/routes.mjs CLOISTERD_BINARY SPEC_PATH
//
// Runs `CLOISTERD_BINARY routes` (the route table as JSON:
// [{"method","path","public","json_body"}]) and compares it with the
// operations of the OpenAPI document at SPEC_PATH:
//
//   - every route is an operation of the spec, and every operation of the
//     spec is a route (route patterns and OpenAPI paths both write
//     parameters as {name});
//   - a json_body route has a requestBody with application/json content;
//   - a public route has `security: []`, and a route that is not public a
//     non-empty `security` (on the operation, or inherited from the
//     top-level `security`).
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
