// Interop client built on node `ws`: checks that a WebSocket echo server returns
// every message of a scripted sequence unchanged and closes cleanly.
//
// Run (after `npm ci` in tests/interop, which `.ci/run` does):
//
//     node tests/interop/node_ws_client.js ws://127.0.0.1:PORT/ [--deflate]
//
// The sequence: a text message, a binary message, a text message sent as three
// fragments (`fin: false` on all but the last), and a 16 MiB binary message; each
// echo must equal what was sent, with the same type. Then it closes with 1000 and
// expects the server's close frame to answer with 1000. Exit status 0 means all of
// that held; otherwise it prints `FAIL: <reason>` on stderr and exits 1. With
// `--deflate` it offers permessage-deflate (`perMessageDeflate: true`, compressing
// every message whatever its size) and fails unless the server accepted it.
'use strict';

const WebSocket = require('ws');

const args = process.argv.slice(2);
const deflate = args.includes('--deflate');
const [url, ...rest] = args.filter((arg) => arg !== '--deflate');
if (!url || rest.length !== 0) {
  console.error('usage: node_ws_client.js ws://HOST:PORT/PATH [--deflate]');
  process.exit(2);
}

const BIG = 16 * 1024 * 1024;
const TIMEOUT_MS = 60_000;

function fail(reason) {
  console.error(`FAIL: ${reason}`);
  process.exit(1);
}

// Deterministic, non-repeating-looking payloads, so a byte shuffled in the echo shows.
function pattern(length, seed) {
  const out = Buffer.alloc(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

const fragments = ['fragmented ', 'text with ünïcödé ', 'in three frames'];
const expected = [
  { name: 'text', binary: false, data: Buffer.from('hello from node ws: héllo wörld ✓') },
  { name: 'binary', binary: true, data: pattern(1000, 1) },
  { name: 'fragmented text', binary: false, data: Buffer.from(fragments.join('')) },
  { name: '16 MiB binary', binary: true, data: pattern(BIG, 2) },
];

const timer = setTimeout(() => fail(`timed out after ${TIMEOUT_MS} ms`), TIMEOUT_MS);
// threshold 0: ws leaves messages under 1 KiB uncompressed by default.
const perMessageDeflate = deflate ? { threshold: 0 } : false;
const ws = new WebSocket(url, { perMessageDeflate, maxPayload: 64 * 1024 * 1024 });
let received = 0;

ws.on('error', (err) => fail(`connection error: ${err.message}`));

ws.on('open', () => {
  if (deflate && !ws.extensions.startsWith('permessage-deflate')) {
    fail(`permessage-deflate was not negotiated (extensions: "${ws.extensions}")`);
  }
  // Send one message at a time and wait for its echo, so a mismatch names its message.
  sendNext();
});

function sendNext() {
  const message = expected[received];
  if (message.name === 'fragmented text') {
    fragments.forEach((part, i) => ws.send(part, { binary: false, fin: i === fragments.length - 1 }));
  } else {
    ws.send(message.data, { binary: message.binary });
  }
}

ws.on('message', (data, isBinary) => {
  const message = expected[received];
  if (!message) fail(`unexpected extra message (${data.length} bytes)`);
  if (isBinary !== message.binary) {
    fail(`${message.name}: echoed as ${isBinary ? 'binary' : 'text'}`);
  }
  if (!Buffer.from(data).equals(message.data)) {
    fail(`${message.name}: echo differs (sent ${message.data.length} bytes, got ${data.length})`);
  }
  received += 1;
  if (received < expected.length) {
    sendNext();
  } else {
    ws.close(1000, 'done');
  }
});

ws.on('close', (code, reason) => {
  clearTimeout(timer);
  if (received < expected.length) {
    fail(`closed (code ${code}) after ${received} of ${expected.length} echoes`);
  }
  if (code !== 1000) fail(`close code ${code} (${reason}), expected 1000`);
  console.log(`ok: ${expected.length} echoes matched, closed with 1000`);
  process.exit(0);
});
