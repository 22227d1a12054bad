'use strict';

// Test-only stand-in for the worker-manager and secrets services. Hawk signatures are checked with
// @hapi/hawk, so the runner's signing is verified by an implementation other than its own.
//
// Usage: node fake_taskcluster.js <scenario.json> <record.jsonl>
//
// Listens on 127.0.0.1 with a kernel-chosen port and prints `port=<n>` as the first stdout line.
// The scenario file is read again for every request, so a test may replace it while the fake runs
// (replace it atomically: write elsewhere, then rename). Every request is appended to the record
// file as one JSON line before it is answered. See fake_taskcluster_process.h for the scenario
// format.

const Crypto = require('crypto');
const Fs = require('fs');
const Http = require('http');
const Path = require('path');
const Util = require('util');

const Hawk = require(Path.join(__dirname, '..', 'hawk', 'node_modules', '@hapi', 'hawk'));

const scenarioPath = process.argv[2];
const recordPath = process.argv[3];
if (!scenarioPath || !recordPath) {
    process.stderr.write('usage: node fake_taskcluster.js <scenario.json> <record.jsonl>\n');
    process.exit(2);
}

const WM = '/api/worker-manager/v1/';
const SECRETS = '/api/secrets/v1/';

// Temporary credentials handed out so far: clientId -> {accessToken, certificate (object)}.
const issued = new Map();
// The last one-time secret and the provider of each worker, keyed by `<pool>/<group>/<id>`.
const workerSecrets = new Map();
const workerProviders = new Map();
// Position in each route's scripted responses: route -> {script (JSON text), next}.
const scriptState = new Map();
const seenNonces = new Set();
let errorCount = 0;

const has = (object, key) => object !== null && typeof object === 'object' &&
    Object.prototype.hasOwnProperty.call(object, key);
const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

const loadScenario = () => JSON.parse(Fs.readFileSync(scenarioPath, 'utf8'));

// 44 characters of [A-Za-z0-9_-], the shape of Taskcluster access tokens and worker secrets.
const randomToken = () => Crypto.randomBytes(33).toString('base64url');

const errorBody = (code, message) => ({ code, message, requestInfo: { fake: true } });

// Picks the scripted response for `route`, or null when the route is not scripted. A script that
// changed since the last request starts again from its first entry; the last entry repeats.
const nextScripted = (scenario, route) => {
    const scripts = isObject(scenario.responses) ? scenario.responses : {};
    const script = scripts[route];
    if (!Array.isArray(script) || script.length === 0) {
        scriptState.delete(route);
        return null;
    }
    const text = JSON.stringify(script);
    let state = scriptState.get(route);
    if (!state || state.script !== text) {
        state = { script: text, next: 0 };
        scriptState.set(route, state);
    }
    const entry = script[Math.min(state.next, script.length - 1)];
    state.next += 1;
    return entry;
};

// Finds the route for a request: {name, params} or null.
const route = (method, path) => {
    const parts = (prefix) => path.slice(prefix.length).split('/');
    if (path.startsWith(WM)) {
        const p = parts(WM);
        if (method === 'POST' && p.length === 2 && p[0] === 'worker' && p[1] === 'register') {
            return { name: 'registerWorker', params: {} };
        }
        if (method === 'POST' && p.length === 2 && p[0] === 'worker' && p[1] === 'reregister') {
            return { name: 'reregisterWorker', params: {} };
        }
        if (method === 'DELETE' && p.length === 4 && p[0] === 'workers') {
            return { name: 'removeWorker', params: { workerPoolId: p[1], workerGroup: p[2], workerId: p[3] } };
        }
        if (method === 'POST' && p.length === 2 && p[0] === 'worker-pool-errors') {
            return { name: 'reportWorkerError', params: { workerPoolId: p[1] } };
        }
    }
    if (path.startsWith(SECRETS)) {
        const p = parts(SECRETS);
        if (method === 'GET' && p.length === 2 && p[0] === 'secret') {
            return { name: 'getSecret', params: { name: p[1] } };
        }
    }
    return null;
};

// The credentials @hapi/hawk checks against: scenario clients plus everything issued here.
// Scenario clients are either "<accessToken>" (permanent) or {"accessToken", "certificate"}
// (temporary; certificate as an object or its JSON text).
const lookupCredentials = (scenario, id) => {
    const clients = isObject(scenario.clients) ? scenario.clients : {};
    if (has(clients, id)) {
        const client = clients[id];
        if (typeof client === 'string') {
            return { id, key: client, algorithm: 'sha256', certificate: null };
        }
        let certificate = client.certificate === undefined ? null : client.certificate;
        if (typeof certificate === 'string') {
            certificate = JSON.parse(certificate);
        }
        return { id, key: client.accessToken, algorithm: 'sha256', certificate };
    }
    if (issued.has(id)) {
        const entry = issued.get(id);
        return { id, key: entry.accessToken, algorithm: 'sha256', certificate: entry.certificate };
    }
    return null;
};

const decodeExt = (ext) => {
    if (!ext) {
        return {};
    }
    const parsed = JSON.parse(Buffer.from(ext, 'base64').toString('utf8'));
    if (!isObject(parsed)) {
        throw new Error('ext is not a JSON object');
    }
    return parsed;
};

// Verifies the Authorization header; fills the hawk* fields of `record`. Returns an error
// message, or null when the request is authentic.
const authenticate = async (req, scenario, record) => {
    record.hawkVerified = false;
    if (!req.headers.authorization) {
        record.hawkError = 'missing Authorization header';
        return record.hawkError;
    }
    try {
        const rejectReplay = async (key, nonce, ts) => {
            const entry = `${ts}:${nonce}`;
            if (seenNonces.has(entry)) {
                throw new Error('nonce reused');
            }
            seenNonces.add(entry);
        };
        const lookup = async (id) => lookupCredentials(scenario, id);
        const { credentials, artifacts } = await Hawk.server.authenticate(req, lookup,
            { nonceFunc: rejectReplay, timestampSkewSec: 15 * 60 });
        record.hawkClientId = credentials.id;
        const ext = decodeExt(artifacts.ext);
        record.certificateInExt = isObject(ext.certificate);
        if (credentials.certificate !== null) {
            if (!record.certificateInExt) {
                throw new Error('temporary credentials without a certificate in ext');
            }
            if (!Util.isDeepStrictEqual(ext.certificate, credentials.certificate)) {
                throw new Error('certificate in ext differs from the one issued');
            }
        }
        else if (ext.certificate !== undefined) {
            throw new Error('certificate sent with permanent credentials');
        }
        record.hawkVerified = true;
        return null;
    }
    catch (err) {
        if (err.artifacts && err.artifacts.id) {
            record.hawkClientId = err.artifacts.id;
        }
        record.hawkError = err.message || String(err);
        return record.hawkError;
    }
};

// Fresh temporary credentials for a worker, remembered so later calls can be verified.
const issueCredentials = (scenario, body, providerId) => {
    const now = Date.now();
    const lifetime = Number.isFinite(scenario.credentialLifetimeSeconds) ?
        scenario.credentialLifetimeSeconds : 3600;
    const expires = now + lifetime * 1000;
    const pool = body.workerPoolId;
    const group = body.workerGroup;
    const id = body.workerId;
    const clientId = `worker/${providerId}/${pool}/${group}/${id}`;
    const certificate = {
        version: 1,
        scopes: [
            `assume:worker-pool:${pool}`,
            `assume:worker-id:${group}/${id}`,
            `queue:claim-work:${pool}`,
            `secrets:get:worker-pool:${pool}`,
            `secrets:get:worker-type:${pool}`,
            `worker-manager:remove-worker:${pool}/${group}/${id}`,
            `worker-manager:reregister-worker:${pool}/${group}/${id}`
        ],
        start: now - 15 * 60 * 1000,
        expiry: expires,
        seed: randomToken(),
        signature: Crypto.randomBytes(32).toString('base64'),
        issuer: 'static/taskcluster/worker-manager'
    };
    const accessToken = randomToken();
    const secret = randomToken();
    issued.set(clientId, { accessToken, certificate });
    workerSecrets.set(`${pool}/${group}/${id}`, secret);
    workerProviders.set(`${pool}/${group}/${id}`, providerId);
    return {
        expires: new Date(expires).toISOString(),
        credentials: { clientId, accessToken, certificate: JSON.stringify(certificate) },
        secret
    };
};

const missingStrings = (body, fields) => fields.filter((f) => !has(body, f) || typeof body[f] !== 'string');

// Default behaviour of each route: [status, body].
const defaults = {
    registerWorker: (scenario, body) => {
        const missing = missingStrings(body, ['workerPoolId', 'providerId', 'workerGroup', 'workerId']);
        if (missing.length > 0 || !isObject(body.workerIdentityProof)) {
            return [400, errorBody('InputError', 'invalid registerWorker payload')];
        }
        const result = issueCredentials(scenario, body, body.providerId);
        if (scenario.workerConfig !== undefined) {
            result.workerConfig = scenario.workerConfig;
        }
        return [200, result];
    },
    reregisterWorker: (scenario, body) => {
        const missing = missingStrings(body, ['workerPoolId', 'workerGroup', 'workerId', 'secret']);
        const key = `${body.workerPoolId}/${body.workerGroup}/${body.workerId}`;
        const seeded = isObject(scenario.workerSecrets) && has(scenario.workerSecrets, key) ?
            scenario.workerSecrets[key] : undefined;
        const expected = workerSecrets.has(key) ? workerSecrets.get(key) : seeded;
        if (missing.length > 0 || expected === undefined || body.secret !== expected) {
            return [400, errorBody('InputError', 'Could not generate credentials for this secret')];
        }
        const providerId = workerProviders.get(key) || scenario.providerId || 'fake-provider';
        return [200, issueCredentials(scenario, body, providerId)];
    },
    removeWorker: () => [200, {}],
    reportWorkerError: (scenario, body, params) => {
        const valid = isObject(body) &&
            typeof body.workerGroup === 'string' && typeof body.workerId === 'string' &&
            typeof body.kind === 'string' && body.kind.length <= 128 && /[-a-z0-9]+/.test(body.kind) &&
            typeof body.title === 'string' && body.title.length <= 128 &&
            typeof body.description === 'string' && body.description.length <= 10240 &&
            isObject(body.extra);
        if (!valid) {
            return [400, errorBody('InputError', 'invalid reportWorkerError payload')];
        }
        errorCount += 1;
        return [200, {
            errorId: `error-${errorCount}`,
            workerPoolId: decodeURIComponent(params.workerPoolId),
            reported: new Date().toISOString(),
            ...body
        }];
    },
    getSecret: (scenario, body, params) => {
        const name = decodeURIComponent(params.name);
        const forbidden = Array.isArray(scenario.forbiddenSecrets) ? scenario.forbiddenSecrets : [];
        if (forbidden.includes(name)) {
            return [403, errorBody('InsufficientScopes', `no access to secret ${name}`)];
        }
        const secrets = isObject(scenario.secrets) ? scenario.secrets : {};
        if (!has(secrets, name)) {
            return [404, errorBody('ResourceNotFound', `secret ${name} not found`)];
        }
        const expires = new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString();
        return [200, { secret: secrets[name], expires }];
    }
};

const send = (res, status, body, raw) => {
    const text = raw !== undefined ? String(raw) : JSON.stringify(body);
    const headers = { 'Content-Length': Buffer.byteLength(text) };
    if (raw === undefined) {
        headers['Content-Type'] = 'application/json';
    }
    res.writeHead(status, headers);
    res.end(text);
};

const handle = async (req, rawBody) => {
    const queryAt = req.url.indexOf('?');
    const path = queryAt < 0 ? req.url : req.url.slice(0, queryAt);
    let body = null;
    if (rawBody.length > 0) {
        try {
            body = JSON.parse(rawBody);
        }
        catch (err) {
            body = null;
        }
    }
    const record = {
        method: req.method,
        path,
        query: queryAt < 0 ? '' : req.url.slice(queryAt + 1),
        body,
        authorization: Boolean(req.headers.authorization),
        hawkVerified: null,
        hawkClientId: null,
        hawkError: null,
        certificateInExt: false,
        time: new Date().toISOString()
    };

    let scenario;
    try {
        scenario = loadScenario();
    }
    catch (err) {
        return { record, status: 500, body: errorBody('InternalServerError', `scenario: ${err.message}`) };
    }

    const found = route(req.method, path);
    if (!found) {
        return { record, status: 404, body: errorBody('ResourceNotFound', `no route for ${req.method} ${path}`) };
    }

    if (found.name === 'registerWorker') {
        if (record.authorization) {
            return { record, status: 400, body: errorBody('InputError', 'registerWorker must not be authenticated') };
        }
    }
    else {
        const failure = await authenticate(req, scenario, record);
        if (failure !== null) {
            return { record, status: 401, body: errorBody('AuthenticationFailed', failure) };
        }
    }

    const scripted = nextScripted(scenario, found.name);
    const delayMs = scripted && Number.isFinite(scripted.delayMs) ? scripted.delayMs : 0;
    if (scripted && !scripted.default) {
        return { record, status: scripted.status || 200, body: scripted.body === undefined ? {} : scripted.body,
            raw: scripted.rawBody, delayMs };
    }
    const [status, answer] = defaults[found.name](scenario, isObject(body) ? body : {}, found.params);
    return { record, status, body: answer, delayMs };
};

const server = Http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
        let outcome;
        try {
            outcome = await handle(req, Buffer.concat(chunks).toString('utf8'));
        }
        catch (err) {
            outcome = { record: { method: req.method, path: req.url, error: String(err) }, status: 500,
                body: errorBody('InternalServerError', String(err)) };
        }
        // Recorded before answering, so a caller that got its response finds the line.
        Fs.appendFileSync(recordPath, `${JSON.stringify(outcome.record)}\n`);
        const reply = () => send(res, outcome.status, outcome.body, outcome.raw);
        if (outcome.delayMs > 0) {
            setTimeout(reply, outcome.delayMs);
        }
        else {
            reply();
        }
    });
});

server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`port=${server.address().port}\n`);
});
