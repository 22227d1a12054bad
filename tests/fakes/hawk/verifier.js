'use strict';

// Test-only HTTP server that checks Hawk Authorization headers with @hapi/hawk, so the runner's
// signing is verified by an implementation other than its own.
//
// Usage: node verifier.js <clients.json>
//   clients.json: {"<client id>": {"key": "<access token>", "temporary": true|false}, ...}
//   A temporary client must send a certificate in ext; a permanent one must not. For temporary
//   clients `key` is the temporary access token itself (the verifier does not derive it).
//
// Listens on 127.0.0.1 with a kernel-chosen port and writes that port, then a newline, to stdout.
// Every request gets 200 {"verified":true,...} or 401 {"verified":false,"reason":...}.

const Fs = require('fs');
const Http = require('http');
const Hawk = require('@hapi/hawk');

const clients = JSON.parse(Fs.readFileSync(process.argv[2], 'utf8'));
const seenNonces = new Set();

const lookup = async (id) => {
    const client = Object.prototype.hasOwnProperty.call(clients, id) ? clients[id] : null;
    return client ? { id, key: client.key, algorithm: 'sha256', temporary: !!client.temporary } : null;
};

const rejectReplay = async (key, nonce, ts) => {
    const entry = `${ts}:${nonce}`;
    if (seenNonces.has(entry)) {
        throw new Error('nonce reused');
    }
    seenNonces.add(entry);
};

// Returns the decoded ext object, or throws with a reason.
const decodeExt = (ext) => {
    if (!ext) {
        return {};
    }
    const parsed = JSON.parse(Buffer.from(ext, 'base64').toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new Error('ext is not a JSON object');
    }
    return parsed;
};

const checkCertificate = (credentials, ext) => {
    const certificate = ext.certificate;
    if (!credentials.temporary) {
        if (certificate !== undefined) {
            throw new Error('certificate sent with permanent credentials');
        }
        return;
    }
    if (certificate === null || typeof certificate !== 'object' || Array.isArray(certificate)) {
        throw new Error('temporary credentials without a certificate object');
    }
    for (const field of ['version', 'scopes', 'start', 'expiry', 'seed', 'signature']) {
        if (!(field in certificate)) {
            throw new Error(`certificate lacks ${field}`);
        }
    }
};

const reply = (res, status, body) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
};

const server = Http.createServer((req, res) => {
    req.resume();
    req.on('end', async () => {
        try {
            const { credentials, artifacts } = await Hawk.server.authenticate(req, lookup, { nonceFunc: rejectReplay });
            const ext = decodeExt(artifacts.ext);
            checkCertificate(credentials, ext);
            reply(res, 200, {
                verified: true,
                id: credentials.id,
                certificate: ext.certificate !== undefined,
                authorizedScopes: ext.authorizedScopes || null
            });
        }
        catch (err) {
            reply(res, 401, { verified: false, reason: err.message || String(err) });
        }
    });
});

server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${server.address().port}\n`);
});
