/*
 * Validates real answers (capture.c's OUT.json) against the OpenAPI
 * description the server itself served: first the description against
 * the OpenAPI 3.1 schema (@seriousme/openapi-schema-validator), then
 * every answer against the response its path, method and status name
 * (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses it, with formats): the
 * status must be documented, the content type too, and a JSON body must
 * match its schema. Also: every path of the description was answered 200
 * at least once, and every error class was met.
 *
 *   node validate.mjs OUT.json
 */
import fs from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const answers = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let passed = 0, failed = 0;
function check(cond, what) {
  if (cond) { passed++; return true; }
  failed++;
  console.log(`FAIL ${what}`);
  return false;
}

const served = answers.find((a) => a.path === '/api/v1/openapi.json' && a.status === 200);
if (!check(served, 'GET /api/v1/openapi.json answered 200')) process.exit(1);
const doc = JSON.parse(served.body);
const res = await new Validator().validate(doc);
check(res.valid, `the served description is valid OpenAPI 3.1${res.valid ? '' : `: ${JSON.stringify(res.errors).slice(0, 2000)}`}`);
check(/^\d+\.\d+/.test(doc.info.version), `info.version is portwatch's version (${doc.info.version})`);

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, 'openapi.json');

const pointer = (parts) => parts.map((p) => encodeURIComponent(String(p).replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

/* The path template of a request path, or null. */
function template(path) {
  for (const t of Object.keys(doc.paths)) {
    const re = new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (re.test(path)) return t;
  }
  return null;
}

/* The response object for an answer, and its location (JSON pointer
 * parts) in the description, following a $ref to components. */
function responseOf(a) {
  const path = a.path.split('?')[0];
  const tpl = template(path);
  const method = a.method === 'HEAD' ? 'get' : a.method.toLowerCase();
  let where = null;
  if (tpl && doc.paths[tpl][method]) where = ['paths', tpl, method, 'responses', String(a.status)];
  else if (a.status === 405) where = ['components', 'responses', 'MethodNotAllowed'];
  else if (!tpl && a.status === 404) where = ['components', 'responses', 'NotFound'];
  if (!where) return null;
  let obj = where.reduce((o, k) => (o ? o[k] : undefined), doc);
  if (obj && obj.$ref) {
    where = obj.$ref.slice(2).split('/');
    obj = where.reduce((o, k) => (o ? o[k] : undefined), doc);
  }
  return obj ? { obj, where } : null;
}

const ok200 = new Set(), classes = new Set();
for (const a of answers) {
  const what = `[${a.server}] ${a.method} ${a.path} -> ${a.status}`;
  const r = responseOf(a);
  if (!check(r, `${what}: the status is documented for this path and method`)) continue;
  if (a.status === 304 || a.method === 'HEAD') {
    check(a.body === '', `${what}: no body`);
    if (a.status === 304) classes.add(304);
    continue;
  }
  const type = a.content_type.split(';')[0].trim();
  const media = r.obj.content && r.obj.content[type];
  if (!check(media, `${what}: content type ${type} is documented (${Object.keys(r.obj.content || {})})`)) continue;
  if (a.status === 200 && r.obj.headers && r.obj.headers.ETag) check(a.etag !== '', `${what}: has an ETag`);
  if (type === 'application/json') {
    let body;
    try { body = JSON.parse(a.body); } catch (e) { check(false, `${what}: JSON body (${e.message})`); continue; }
    const validate = ajv.compile({ $ref: `openapi.json#/${pointer([...r.where, 'content', type, 'schema'])}` });
    check(validate(body), `${what}: matches its schema: ${ajv.errorsText(validate.errors)}`);
  } else {
    check(typeof a.body === 'string' && a.body.length > 0, `${what}: a text body`);
  }
  if (a.status === 200) ok200.add(template(a.path.split('?')[0]));
  else classes.add(a.status);
}
for (const t of Object.keys(doc.paths)) check(ok200.has(t), `${t} was answered 200 at least once`);
/* And the other way round: every route the server has (its 404 lists
 * them from the route table) is described. */
const lost = answers.find((a) => a.path === '/api/v1/nothing' && a.status === 404);
const routes = lost ? JSON.parse(lost.body).detail.split('endpoints: ')[1].split(', ') : [];
check(routes.length > 0, 'the 404 names the endpoints');
for (const r of routes) check(r in doc.paths, `the route ${r} is in the description`);
for (const c of [304, 400, 401, 404, 405, 414, 431, 503]) check(classes.has(c), `an answer of class ${c} was validated`);
console.log(`${answers.length} answers`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
