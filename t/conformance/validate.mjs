#!/usr/bin/env node
// Holds api-spec/openapi.yaml against berthd (t/t8001-api-spec.sh).
//
//   node validate.mjs routes SPEC ROUTES    route parity with `berthd --print-routes`
//   node validate.mjs spec SPEC             the spec is valid OpenAPI 3.1 and its
//                                           schemas compile as JSON Schema 2020-12
//   node validate.mjs responses SPEC LOG    every recorded response (NDJSON:
//                                           {"method","path","status","content_type","body"})
//                                           is documented and matches its schema
//
// Each prints one line per problem ("not ok"-free: the shell test owns TAP) and
// exits 1 when there is any, 2 on a usage or input error.
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import YAML from "yaml";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const COMPONENTS_ID = "urn:berth:openapi:components";
// Answers the server gives before a request reaches any operation: they are
// documented once, in components.responses (see the spec's description).
const UNROUTED = {
	"400": "InvalidArgument",
	"401": "Unauthenticated",
	"413": "PayloadTooLarge",
	"503": "Unavailable",
};

function die(msg) {
	console.error(`validate.mjs: ${msg}`);
	process.exit(2);
}

function loadSpec(file) {
	let doc;
	try {
		doc = YAML.parse(readFileSync(file, "utf8"), { uniqueKeys: true });
	} catch (e) {
		die(`${file}: ${e.message}`);
	}
	if (!doc || typeof doc !== "object") die(`${file}: not a YAML mapping`);
	return doc;
}

// RFC 6901 pointer inside the spec ("#/components/schemas/Namespace").
function pointer(doc, ref) {
	if (!ref.startsWith("#/")) return undefined;
	let cur = doc;
	for (const raw of ref.slice(2).split("/")) {
		const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
		if (cur === null || typeof cur !== "object" || !(key in cur)) return undefined;
		cur = cur[key];
	}
	return cur;
}

// Follow $ref chains of non-schema objects (responses, parameters).
function deref(doc, obj) {
	for (let i = 0; obj && typeof obj === "object" && typeof obj.$ref === "string"; i++) {
		if (i > 32) throw new Error(`$ref loop at ${obj.$ref}`);
		const next = pointer(doc, obj.$ref);
		if (next === undefined) throw new Error(`unresolved $ref ${obj.$ref}`);
		obj = next;
	}
	return obj;
}

// A deep copy of a schema with its spec-local $refs made absolute, so that
// ajv resolves them against the components schema registered below.
function absolutise(schema) {
	if (Array.isArray(schema)) return schema.map(absolutise);
	if (schema === null || typeof schema !== "object") return schema;
	const out = {};
	for (const [k, v] of Object.entries(schema)) {
		if (k === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/"))
			out[k] = `${COMPONENTS_ID}#/$defs/${v.slice("#/components/schemas/".length)}`;
		else out[k] = absolutise(v);
	}
	return out;
}

function newAjv(doc) {
	// strict: unknown keywords (typos such as "requird") are errors.
	const ajv = new Ajv2020({ strict: true, strictTypes: false, allErrors: true });
	addFormats(ajv);
	// OpenAPI's own schema keywords, annotations only here.
	for (const kw of ["example", "xml", "externalDocs", "discriminator"]) ajv.addKeyword(kw);
	ajv.addSchema({ $id: COMPONENTS_ID, $defs: absolutise(doc.components?.schemas ?? {}) });
	return ajv;
}

function compile(ajv, schema, cache) {
	if (cache.has(schema)) return cache.get(schema);
	const fn = ajv.compile(absolutise(schema));
	cache.set(schema, fn);
	return fn;
}

function ajvErrors(errors) {
	return (errors ?? [])
		.map((e) => `${e.instancePath || "/"} ${e.message}${e.params && Object.keys(e.params).length ? " " + JSON.stringify(e.params) : ""}`)
		.join("; ");
}

// Every operation of the spec: {method, path, op, pathItem}.
function operations(doc) {
	const ops = [];
	for (const [path, item] of Object.entries(doc.paths ?? {}))
		for (const m of METHODS) if (item[m]) ops.push({ method: m.toUpperCase(), path, op: item[m], item });
	return ops;
}

const normalise = (p) => p.replace(/\{[^}/]*\}/g, "{}");

// ---- routes --------------------------------------------------------------

function cmdRoutes(specFile, routesFile) {
	const doc = loadSpec(specFile);
	const served = new Map();
	for (const line of readFileSync(routesFile, "utf8").split("\n")) {
		const t = line.trim();
		if (!t) continue;
		const m = /^([A-Z]+)\s+(\/\S*)$/.exec(t);
		if (!m) die(`${routesFile}: cannot read route line \`${t}\``);
		served.set(`${m[1]} ${normalise(m[2])}`, `${m[1]} ${m[2]}`);
	}
	if (served.size === 0) die(`${routesFile}: no routes`);
	const spec = new Map();
	for (const { method, path } of operations(doc)) spec.set(`${method} ${normalise(path)}`, `${method} ${path}`);
	// HEAD is implied by GET on both sides.
	for (const map of [served, spec])
		for (const k of [...map.keys()])
			if (k.startsWith("HEAD ") && map.has(`GET ${k.slice(5)}`)) map.delete(k);
	const problems = [];
	for (const [k, v] of served) if (!spec.has(k)) problems.push(`served but not in the spec: ${v}`);
	for (const [k, v] of spec) if (!served.has(k)) problems.push(`in the spec but not served: ${v}`);
	for (const p of problems) console.log(p);
	console.log(`${served.size} routes served, ${spec.size} operations in the spec, ${problems.length} differences`);
	return problems.length ? 1 : 0;
}

// ---- spec ----------------------------------------------------------------

function walk(node, at, fn) {
	if (node === null || typeof node !== "object") return;
	fn(node, at);
	for (const [k, v] of Object.entries(node)) walk(v, `${at}/${k}`, fn);
}

// The schemas of the spec, with where they are: components and inline ones.
function schemasOf(doc) {
	const out = [];
	for (const [name, s] of Object.entries(doc.components?.schemas ?? {})) out.push([`#/components/schemas/${name}`, s]);
	walk(doc, "#", (node, at) => {
		if (at.startsWith("#/components/schemas")) return;
		if (node.schema && typeof node.schema === "object" && !("$ref" in node.schema && Object.keys(node.schema).length === 1))
			out.push([`${at}/schema`, node.schema]);
	});
	return out;
}

async function cmdSpec(specFile) {
	const doc = loadSpec(specFile);
	const problems = [];
	if (typeof doc.openapi !== "string" || !doc.openapi.startsWith("3.1."))
		problems.push(`openapi is \`${doc.openapi}\`, want 3.1.x`);

	const validator = new Validator();
	const res = await validator.validate(structuredClone(doc));
	if (!res.valid) {
		const errs = Array.isArray(res.errors) ? res.errors : [res.errors];
		for (const e of errs)
			problems.push(`OpenAPI ${validator.version ?? "?"} schema: ${typeof e === "string" ? e : `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`}`);
	}

	walk(doc, "#", (node, at) => {
		if (typeof node.$ref === "string" && pointer(doc, node.$ref) === undefined)
			problems.push(`${at}: unresolved $ref ${node.$ref}`);
	});

	let ajv;
	try {
		ajv = newAjv(doc);
		ajv.getSchema(COMPONENTS_ID);
	} catch (e) {
		problems.push(`components.schemas: ${e.message}`);
	}
	if (ajv)
		for (const [at, s] of schemasOf(doc)) {
			try {
				ajv.compile(absolutise(s));
			} catch (e) {
				problems.push(`${at}: not a valid JSON Schema 2020-12: ${e.message}`);
			}
		}

	const ids = new Map();
	for (const { method, path, op, item } of operations(doc)) {
		const where = `${method} ${path}`;
		if (!op.operationId) problems.push(`${where}: no operationId`);
		else if (ids.has(op.operationId)) problems.push(`${where}: operationId ${op.operationId} also on ${ids.get(op.operationId)}`);
		else ids.set(op.operationId, where);
		const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => {
			try {
				return deref(doc, p);
			} catch {
				return {};
			}
		});
		const declared = new Set(params.filter((p) => p.in === "path").map((p) => p.name));
		const inPath = new Set([...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]));
		for (const n of inPath) if (!declared.has(n)) problems.push(`${where}: path parameter {${n}} is not declared`);
		for (const n of declared) if (!inPath.has(n)) problems.push(`${where}: parameter ${n} is not in the path`);
		if (!op.responses || !Object.keys(op.responses).length) problems.push(`${where}: no responses`);
		for (const [code, r] of Object.entries(op.responses ?? {})) {
			let resp;
			try {
				resp = deref(doc, r);
			} catch (e) {
				problems.push(`${where} ${code}: ${e.message}`);
				continue;
			}
			if (/^[45]/.test(code)) {
				const json = resp.content?.["application/json"]?.schema;
				if (!json || (json.$ref !== "#/components/schemas/Error"))
					problems.push(`${where} ${code}: an error answer must be application/json Error`);
			}
		}
	}
	for (const name of Object.values(UNROUTED).concat(["MethodNotAllowed", "NoRoute"]))
		if (!doc.components?.responses?.[name]) problems.push(`components.responses.${name} is missing`);

	for (const p of problems) console.log(p);
	console.log(`OpenAPI ${validator.version ?? "?"}: ${operations(doc).length} operations, ${Object.keys(doc.components?.schemas ?? {}).length} schemas, ${problems.length} problems`);
	return problems.length ? 1 : 0;
}

// ---- responses -----------------------------------------------------------

function splitPath(p) {
	return p.split("/").slice(1);
}

// Which path template a request path falls on (literal segments win over
// parameters, as in berthd's router); null when none.
function matchPath(doc, rawPath) {
	const segs = splitPath(rawPath);
	let best = null;
	for (const tmpl of Object.keys(doc.paths ?? {})) {
		const ts = splitPath(tmpl);
		if (ts.length !== segs.length) continue;
		const params = {};
		let literals = 0;
		let ok = true;
		for (let i = 0; i < ts.length && ok; i++) {
			const m = /^\{([^}]+)\}$/.exec(ts[i]);
			if (m) {
				if (segs[i] === "") ok = false;
				else {
					try {
						params[m[1]] = decodeURIComponent(segs[i]);
					} catch {
						params[m[1]] = segs[i];
					}
				}
			} else if (ts[i] === segs[i]) literals++;
			else ok = false;
		}
		if (ok && (!best || literals > best.literals)) best = { tmpl, params, literals };
	}
	return best;
}

// A long request path (a test of the URL limit) shortened for the report.
const short = (p) => {
	const s = String(p ?? "");
	return s.length > 160 ? `${s.slice(0, 120)}…(${s.length} bytes)` : s;
};

const essence = (ct) => (ct ?? "").split(";")[0].trim().toLowerCase();

// Find the media type object of a response for a Content-Type.
function mediaFor(content, ct) {
	if (!content) return null;
	const want = essence(ct);
	for (const [k, v] of Object.entries(content)) if (essence(k) === want) return v;
	const [type] = want.split("/");
	for (const [k, v] of Object.entries(content)) if (essence(k) === `${type}/*` || essence(k) === "*/*") return v;
	return null;
}

// Check an SSE body: known fields only, numeric ids, each data line a JSON
// document valid against the media type's x-berth-sse-data schema.
function checkSse(body, validateData) {
	const errs = [];
	const text = String(body ?? "").replace(/\r\n?/g, "\n");
	const frames = text.split("\n\n");
	// the last piece is an unfinished frame when the client cut the stream
	frames.pop();
	for (const frame of frames) {
		let event = null;
		const data = [];
		for (const line of frame.split("\n")) {
			if (line === "" || line.startsWith(":")) continue;
			const m = /^([^:]*)(?::\s?(.*))?$/.exec(line);
			const [field, value = ""] = [m[1], m[2]];
			if (field === "id") {
				if (!/^[0-9]+$/.test(value)) errs.push(`id \`${value}\` is not a number`);
			} else if (field === "retry") {
				if (!/^[0-9]+$/.test(value)) errs.push(`retry \`${value}\` is not a number`);
			} else if (field === "event") event = value;
			else if (field === "data") data.push(value);
			else errs.push(`unknown SSE field \`${field}\``);
		}
		if (!data.length) continue;
		let obj;
		try {
			obj = JSON.parse(data.join("\n"));
		} catch (e) {
			errs.push(`data is not JSON: ${e.message}`);
			continue;
		}
		if (validateData && !validateData(obj)) errs.push(`data ${JSON.stringify(obj).slice(0, 200)}: ${ajvErrors(validateData.errors)}`);
		if (event !== null && obj && obj.topic !== undefined && obj.topic !== event)
			errs.push(`event \`${event}\` differs from data topic \`${obj.topic}\``);
	}
	return errs;
}

function checkRecord(doc, ajv, cache, rec) {
	const method = String(rec.method ?? "").toUpperCase();
	const status = String(rec.status ?? "");
	const url = String(rec.path ?? "");
	const path = url.split(/[?#]/)[0];
	const match = matchPath(doc, path);
	const item = match ? doc.paths[match.tmpl] : null;
	let op = item ? item[method.toLowerCase()] : null;
	if (!op && method === "HEAD" && item) op = item.get;

	let respDef = null;
	let where;
	if (op) {
		where = `${method} ${match.tmpl}`;
		const responses = op.responses ?? {};
		respDef = responses[status] ?? responses[`${status[0]}XX`] ?? responses[`${status[0]}xx`] ?? responses.default;
		if (!respDef) return [`status ${status} is not documented for ${where} (documented: ${Object.keys(responses).join(", ")})`];
		// a 2xx for a path parameter the spec forbids: the server accepted too much
		if (/^2/.test(status))
			for (const p of [...(item.parameters ?? []), ...(op.parameters ?? [])]) {
				const param = deref(doc, p);
				if (param.in !== "path" || !param.schema || !(param.name in match.params)) continue;
				const v = compile(ajv, param.schema, cache);
				if (!v(match.params[param.name]))
					return [`answered ${status} for path parameter ${param.name}=\`${short(match.params[param.name])}\` that the spec forbids: ${ajvErrors(v.errors)}`];
			}
	} else {
		where = item ? `${method} on ${match.tmpl} (not an operation)` : "a path no route matches";
		const name = status === "405" && item ? "MethodNotAllowed" : status === "404" && !item ? "NoRoute" : UNROUTED[status];
		if (!name) return [`status ${status} for ${where}: want ${item ? 405 : 404}`];
		respDef = doc.components.responses[name];
	}
	const resp = deref(doc, respDef);
	const body = rec.body ?? "";
	const bodyText = typeof body === "string" ? body : JSON.stringify(body);
	const content = resp.content;

	if (!content || !Object.keys(content).length) {
		if (bodyText !== "") return [`${status} for ${where} must have no body, got ${bodyText.slice(0, 120)}`];
		return [];
	}
	const media = mediaFor(content, rec.content_type);
	if (!media)
		return [`Content-Type \`${rec.content_type ?? ""}\` is not documented for ${status} of ${where} (want ${Object.keys(content).join(" or ")})`];
	if (method === "HEAD") return bodyText === "" ? [] : [`HEAD answered with a body`];
	// the recorder left out a large non-JSON body
	if (rec.truncated) return [];

	const ct = essence(rec.content_type);
	if (ct === "text/event-stream") {
		const dataSchema = media["x-berth-sse-data"];
		return checkSse(bodyText, dataSchema ? compile(ajv, dataSchema, cache) : null);
	}
	if (!media.schema) return [];
	let value = body;
	if (ct === "application/json" || ct.endsWith("+json")) {
		if (typeof body === "string") {
			try {
				value = JSON.parse(body);
			} catch (e) {
				return [`body is not JSON (${e.message}): ${body.slice(0, 120)}`];
			}
		}
	} else if (typeof body !== "string") value = bodyText;
	const v = compile(ajv, media.schema, cache);
	if (!v(value)) return [`${ajvErrors(v.errors)} in ${JSON.stringify(value).slice(0, 300)}`];
	return [];
}

// The spec's x-berth-known-deviations entry a response matches, if any.
function knownDeviation(doc, rec) {
	for (const d of doc["x-berth-known-deviations"] ?? []) {
		if (!(d.statuses ?? []).map(String).includes(String(rec.status))) continue;
		if (d.content_type !== undefined && essence(d.content_type) !== essence(rec.content_type)) continue;
		return d;
	}
	return null;
}

function cmdResponses(specFile, logFile) {
	const doc = loadSpec(specFile);
	const ajv = newAjv(doc);
	const cache = new Map();
	let n = 0;
	let failed = 0;
	let skipped = 0;
	let known = 0;
	const lines = readFileSync(logFile, "utf8").split("\n");
	lines.forEach((line, i) => {
		if (!line.trim()) return;
		let rec;
		try {
			rec = JSON.parse(line);
		} catch (e) {
			console.log(`${logFile}:${i + 1}: not JSON: ${e.message}`);
			failed++;
			return;
		}
		const st = Number(rec.status);
		if (!st) {
			// curl got no HTTP answer at all (timeout, reset): nothing to validate
			skipped++;
			return;
		}
		n++;
		let errs;
		try {
			errs = checkRecord(doc, ajv, cache, rec);
		} catch (e) {
			errs = [`validator error: ${e.message}`];
		}
		const dev = errs.length ? knownDeviation(doc, rec) : null;
		if (dev) {
			known++;
			console.log(`known deviation: ${rec.method} ${short(rec.path)} -> ${rec.status}: ${dev.description.trim().split("\n")[0]}…`);
			return;
		}
		for (const e of errs) {
			failed++;
			const src = rec.test ? ` [${rec.test}]` : "";
			console.log(`${rec.method} ${short(rec.path)} -> ${rec.status}${src}: ${e}`);
		}
	});
	console.log(`${n} responses checked, ${failed} failures${known ? `, ${known} known deviations` : ""}${skipped ? `, ${skipped} records without an HTTP status skipped` : ""}`);
	if (n === 0) {
		console.log("no responses recorded");
		return 1;
	}
	return failed ? 1 : 0;
}

const [cmd, ...args] = process.argv.slice(2);
let rc;
if (cmd === "routes" && args.length === 2) rc = cmdRoutes(...args);
else if (cmd === "spec" && args.length === 1) rc = await cmdSpec(...args);
else if (cmd === "responses" && args.length === 2) rc = cmdResponses(...args);
else die("usage: validate.mjs routes SPEC ROUTES | spec SPEC | responses SPEC LOG");
process.exit(rc);
