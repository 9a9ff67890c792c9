#!/usr/bin/env node
// RFC 8489 long-term credentials driven by the npm `stun` package (pinned in
// package.json), for tests/e2e/test_longterm.py:
//
//   node longterm.js HOST PORT USER PASSWORD
//
// 1. A plain Binding Request (stun.createMessage), sent through the package's
//    StunServer (see transact()); the server must answer 401 with REALM and
//    NONCE, read with the package's getRealm() and getNonce().
// 2. The key is MD5(USER ":" REALM ":" PASSWORD) (RFC 8489 §9.2.2; the nonce
//    advertises PASSWORD-ALGORITHMS, and a request carrying neither
//    PASSWORD-ALGORITHM nor PASSWORD-ALGORITHMS uses MD5).
// 3. The package builds the retry: createMessage(), addUsername(), addRealm(),
//    addNonce(), addMessageIntegrity(key), addFingerprint().
// 4. The answer's XOR-MAPPED-ADDRESS and the package's own
//    validateMessageIntegrity(answer, key) and validateFingerprint(answer).
//
// Prints one JSON object on stdout; exit 0 when the flow ran (whatever the
// server answered), 2 on a usage error, 1 on anything unexpected.
'use strict';

const crypto = require('crypto');
const dgram = require('dgram');
const stun = require('stun');

const { STUN_BINDING_REQUEST } = stun.constants;

// ERROR-CODE from the datagram itself (RFC 8489 §14.8: class * 100 + number).
// stun 2.1.0 decodes it as class * (number + 100), so its getError().code
// says 404 for a 401; both are reported.
function wireErrorCode(raw) {
  for (let pos = 20; pos + 4 <= raw.length; ) {
    const type = raw.readUInt16BE(pos);
    const len = raw.readUInt16BE(pos + 2);
    if (type === 0x0009 && len >= 4 && pos + 8 <= raw.length) {
      return (raw[pos + 6] & 0x07) * 100 + raw[pos + 7];
    }
    pos += 4 + len + ((4 - (len % 4)) % 4);
  }
  return null;
}

function describe(msg, raw) {
  if (!msg) return null;
  const err = msg.getError();
  return {
    type: msg.type,
    error: err ? { code: wireErrorCode(raw), package_code: err.code, reason: err.reason } : null,
    realm: msg.getRealm() || null,
    nonce: msg.getNonce() || null,
    xor: msg.getXorAddress() || null,
    integrity: msg.getMessageIntegrity() ? true : false,
    fingerprint: msg.getFingerprint() !== undefined,
  };
}

// One transaction through the package's StunServer: server.send(message)
// with retransmissions (RTO 500 ms doubling, 5 sends at most: RFC 8489
// §6.2.1 style), until a success or error response with the message's
// transaction id arrives (the package's own request() takes any error
// response as its answer, whatever its transaction id, so it is not used).
// Resolves { response, raw, sends } or { timeout: true, sends }.
function transact(server, socket, host, port, message) {
  const tid = message.transactionId;
  return new Promise(resolve => {
    let sends = 0;
    let timer = null;
    let raw = null;
    const onRaw = buf => {
      if (buf.length >= 20 && buf.slice(8, 20).equals(tid)) raw = buf;
    };
    const finish = result => {
      clearTimeout(timer);
      socket.removeListener('message', onRaw);
      server.removeListener('bindingResponse', onAnswer);
      server.removeListener('bindingError', onAnswer);
      resolve(Object.assign(result, { sends }));
    };
    const onAnswer = msg => {
      if (Buffer.compare(msg.transactionId, tid) === 0) finish({ response: msg, raw });
    };
    // The socket's listener is added before the package's: raw is set first.
    socket.prependListener('message', onRaw);
    server.on('bindingResponse', onAnswer);
    server.on('bindingError', onAnswer);
    const send = rto => {
      if (sends === 5) {
        finish({ timeout: true });
        return;
      }
      sends += 1;
      server.send(message, port, host);
      timer = setTimeout(() => send(rto * 2), rto);
    };
    send(500);
  });
}

async function main() {
  const [host, portText, user, password] = process.argv.slice(2);
  if (!host || !portText || !user || password === undefined) {
    process.stderr.write('usage: node longterm.js HOST PORT USER PASSWORD\n');
    process.exit(2);
  }
  const port = Number(portText);
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', resolve);
  });
  const local = socket.address();
  const server = stun.createServer({ type: 'udp4', socket });
  // The package emits 'error' for every error response (and for garbage):
  // answers are matched by transaction id in transact().
  server.on('error', () => {});
  const out = {
    package: require('stun/package.json').version,
    local: { address: local.address, port: local.port },
    sends: {},
  };

  try {
    // 1. The challenge.
    const first = await transact(server, socket, host, port,
                                 stun.createMessage(STUN_BINDING_REQUEST));
    out.sends.challenge = first.sends;
    if (first.timeout) {
      out.result = 'no answer to the first request';
      return;
    }
    out.challenge = describe(first.response, first.raw);
    const realm = first.response.getRealm();
    const nonce = first.response.getNonce();
    if (!out.challenge.error || !realm || !nonce) {
      out.result = 'no challenge with REALM and NONCE';
      return;
    }

    // 2. The long-term key (MD5).
    const key = crypto.createHash('md5').update(`${user}:${realm}:${password}`, 'utf8').digest();

    // 3. The signed request, built by the package.
    const req = stun.createMessage(STUN_BINDING_REQUEST);
    req.addUsername(user);
    req.addRealm(realm);
    req.addNonce(nonce);
    if (!req.addMessageIntegrity(key)) throw new Error('addMessageIntegrity failed');
    if (!req.addFingerprint()) throw new Error('addFingerprint failed');
    const second = await transact(server, socket, host, port, req);
    out.sends.signed = second.sends;
    if (second.timeout) {
      out.result = 'no answer to the signed request';
      return;
    }
    const res = second.response;
    out.answer = describe(res, second.raw);
    if (out.answer.error) {
      out.result = 'error';
      return;
    }

    // 4. The answer, checked by the package.
    out.mapped = res.getXorAddress() || null;
    out.integrity_valid = stun.validateMessageIntegrity(res, key);
    out.integrity_wrong_key_valid = stun.validateMessageIntegrity(
      res, crypto.createHash('md5').update('not the key').digest());
    out.fingerprint_valid = stun.validateFingerprint(res);
    out.result = 'success';
  } finally {
    server.close();
    socket.close();
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
}

main().catch(e => {
  process.stderr.write(`longterm.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
