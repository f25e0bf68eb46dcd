// WebSockets over HTTP/2 (RFC 8441) with Node's built-in `http2` module and the
// `ws` library's WebSocket running over each HTTP/2 stream: an interop peer for
// wsd-h2, in both roles, over h2c (HTTP/2 without TLS, prior knowledge).
//
// Node has no WebSocket-over-HTTP/2 of its own. `ws` runs a WebSocket over any
// Duplex (`WebSocket#setSocket`, which its server uses after an HTTP/1.1
// upgrade), and an Http2Stream is one: the extended CONNECT is done here with
// `http2`, then the stream is handed to `ws`, permessage-deflate negotiated with
// `ws`'s own PerMessageDeflate, as its server and client do over HTTP/1.1.
//
// Run (after `npm ci` in tests/interop, which `.ci/run` does):
//
//     node tests/interop/node_h2_websocket.js server PORT [--deflate]
//     node tests/interop/node_h2_websocket.js client URL [--deflate] [--sockets N]
//
// The server listens on 127.0.0.1:PORT with SETTINGS_ENABLE_CONNECT_PROTOCOL,
// prints `listening`, and echoes every message with its type. Two text messages
// are commands: `fragment` is answered by `frag`, `men`, `ted` in three frames,
// and `close CODE REASON` by a close frame with that code and reason.
//
// The client opens N WebSockets (1 by default) at once on one connection to URL
// (ws://host:port/path) and on each checks: text, binary, a message it sends in
// three fragments, a ping's pong, a 16 MiB binary message (on the first
// WebSocket), then a close it starts with code 4000 + i (its echo must carry the
// same code and reason). A last WebSocket sends `close 4001 bye` and checks that
// the server closes with 4001. It exits 0 when all held, else prints
// `FAIL: reason` and exits 1.
'use strict';

const http2 = require('http2');
const path = require('path');
const { WebSocket } = require('ws');

// `ws` exports neither module; its server and client use them for the same job.
const wsLib = path.join(path.dirname(require.resolve('ws')), 'lib');
const PerMessageDeflate = require(path.join(wsLib, 'permessage-deflate.js'));
const extension = require(path.join(wsLib, 'extension.js'));

const MAX_PAYLOAD = 64 * 1024 * 1024;
const SIXTEEN_MIB = 16 * 1024 * 1024;
// Node's default (10 MB) counts unacknowledged data: 16 MiB messages need more.
const SESSION_MEMORY_MB = 1024;

/** A `ws` WebSocket over an HTTP/2 stream whose handshake is done. */
function webSocketOver(stream, isServer, extensions) {
  const ws = new WebSocket(null, undefined, {
    autoPong: true,
    closeTimeout: 30000,
    maxPendingAutoPongs: 60,
  });
  // `new WebSocket(null)` is a server's; a client masks what it sends.
  ws._isServer = isServer;
  ws._extensions = extensions;
  ws.setSocket(stream, Buffer.alloc(0), {
    allowSynchronousEvents: true,
    maxBufferedChunks: 256 * 1024,
    maxFragments: 16 * 1024,
    maxPayload: MAX_PAYLOAD,
    skipUTF8Validation: false,
  });
  return ws;
}

function fail(reason) {
  console.log(`FAIL: ${reason}`);
  process.exit(1);
}

// ----- server ----------------------------------------------------------------

function serve(port, deflate) {
  const server = http2.createServer({
    settings: { enableConnectProtocol: true },
    maxSessionMemory: SESSION_MEMORY_MB,
  });
  server.on('stream', (stream, headers) => {
    if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
      stream.respond({ ':status': 404 }, { endStream: true });
      return;
    }
    if (headers['sec-websocket-version'] !== '13') {
      stream.respond({ ':status': 400, 'sec-websocket-version': '13' }, { endStream: true });
      return;
    }
    const response = { ':status': 200 };
    const extensions = {};
    const offer = headers['sec-websocket-extensions'];
    if (deflate && offer !== undefined) {
      const pmd = new PerMessageDeflate({ threshold: 0, isServer: true, maxPayload: MAX_PAYLOAD });
      const offers = extension.parse(offer);
      if (offers[PerMessageDeflate.extensionName]) {
        pmd.accept(offers[PerMessageDeflate.extensionName]);
        extensions[PerMessageDeflate.extensionName] = pmd;
        response['sec-websocket-extensions'] = extension.format({
          [PerMessageDeflate.extensionName]: [pmd.params],
        });
      }
    }
    stream.respond(response);
    const ws = webSocketOver(stream, true, extensions);
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString();
      if (text === 'fragment') {
        ws.send('frag', { fin: false });
        ws.send('men', { fin: false });
        ws.send('ted', { fin: true });
      } else if (text !== null && text.startsWith('close ')) {
        const [, code, ...reason] = text.split(' ');
        ws.close(Number(code), reason.join(' '));
      } else {
        ws.send(data, { binary: isBinary });
      }
    });
    ws.on('error', () => {});
  });
  server.on('sessionError', () => {});
  server.listen(port, '127.0.0.1', () => console.log('listening'));
}

// ----- client ----------------------------------------------------------------

/** Opens a WebSocket on `session` to `path`; resolves with it and its extensions header. */
function open(session, authority, path, deflate) {
  return new Promise((resolve, reject) => {
    const request = {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'http',
      ':path': path,
      ':authority': authority,
      'sec-websocket-version': '13',
    };
    let pmd = null;
    if (deflate) {
      pmd = new PerMessageDeflate({ isServer: false, maxPayload: MAX_PAYLOAD });
      request['sec-websocket-extensions'] = extension.format({
        [PerMessageDeflate.extensionName]: pmd.offer(),
      });
    }
    const stream = session.request(request, { endStream: false });
    stream.on('error', reject);
    stream.on('response', (headers) => {
      if (headers[':status'] !== 200) {
        reject(new Error(`status ${headers[':status']}`));
        return;
      }
      const extensions = {};
      const answer = headers['sec-websocket-extensions'];
      if (answer !== undefined) {
        if (!pmd) {
          reject(new Error(`extensions not offered: ${answer}`));
          return;
        }
        const accepted = extension.parse(answer)[PerMessageDeflate.extensionName];
        pmd.accept(accepted);
        extensions[PerMessageDeflate.extensionName] = pmd;
      } else if (deflate) {
        reject(new Error('permessage-deflate was not accepted'));
        return;
      }
      stream.removeListener('error', reject);
      resolve(webSocketOver(stream, false, extensions));
    });
  });
}

/** Resolves with the next event of `kind` on `ws` ('message', 'pong', 'close'). */
function next(ws, kind) {
  return new Promise((resolve, reject) => {
    const onClose = (code, reason) => {
      if (kind === 'close') {
        resolve({ code, reason: reason.toString() });
      } else {
        reject(new Error(`closed with ${code} while waiting for ${kind}`));
      }
    };
    const onEvent = (...args) => {
      ws.removeListener('close', onClose);
      resolve(args);
    };
    ws.once('close', onClose);
    if (kind !== 'close') {
      ws.once(kind, onEvent);
    }
  });
}

async function expectEcho(ws, data, isBinary, what) {
  ws.send(data, { binary: isBinary });
  const [echo, echoBinary] = await next(ws, 'message');
  if (echoBinary !== isBinary || !Buffer.from(data).equals(echo)) {
    throw new Error(`${what}: the echo differs (${echo.length} bytes, binary ${echoBinary})`);
  }
}

async function exercise(ws, index) {
  await expectEcho(ws, `hello from node over h2, socket ${index}`, false, 'text');
  await expectEcho(ws, Buffer.from([0, 1, 2, 253, 254, 255]), true, 'binary');
  ws.send('frag', { fin: false });
  ws.send('men', { fin: false });
  ws.send('ted', { fin: true });
  const [whole, binary] = await next(ws, 'message');
  if (binary || whole.toString() !== 'fragmented') {
    throw new Error(`fragments came back as ${whole.toString()}`);
  }
  ws.ping('are you there');
  const [pong] = await next(ws, 'pong');
  if (pong.toString() !== 'are you there') {
    throw new Error(`pong payload ${pong.toString()}`);
  }
  if (index === 0) {
    const big = Buffer.alloc(SIXTEEN_MIB);
    for (let i = 0; i < big.length; i += 1) big[i] = i % 251;
    await expectEcho(ws, big, true, '16 MiB');
  }
  const code = 4000 + index;
  ws.close(code, `bye ${index}`);
  const closed = await next(ws, 'close');
  if (closed.code !== code || closed.reason !== `bye ${index}`) {
    throw new Error(`closed with ${closed.code} ${closed.reason}, not ${code}`);
  }
}

async function runClient(url, deflate, sockets) {
  const target = new URL(url);
  const authority = target.host;
  const session = http2.connect(`http://${authority}`, { maxSessionMemory: SESSION_MEMORY_MB });
  session.on('error', (e) => fail(`session: ${e.message}`));
  await new Promise((resolve) => session.once('remoteSettings', resolve));
  if (!session.remoteSettings.enableConnectProtocol) {
    fail('the server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL');
  }
  const targetPath = target.pathname + target.search;
  const all = [];
  for (let i = 0; i < sockets; i += 1) {
    all.push(open(session, authority, targetPath, deflate).then((ws) => exercise(ws, i)));
  }
  await Promise.all(all);

  // The server closes first.
  const last = await open(session, authority, targetPath, deflate);
  last.send('close 4001 server bye');
  const closed = await next(last, 'close');
  if (closed.code !== 4001 || closed.reason !== 'server bye') {
    throw new Error(`server close came as ${closed.code} ${closed.reason}`);
  }
  session.close();
}

// ----- main ------------------------------------------------------------------

const args = process.argv.slice(2);
const deflate = args.includes('--deflate');
const socketsAt = args.indexOf('--sockets');
const sockets = socketsAt === -1 ? 1 : Number(args[socketsAt + 1]);
const [mode, where] = args;
if (mode === 'server' && Number.isInteger(Number(where))) {
  serve(Number(where), deflate);
} else if (mode === 'client' && where && Number.isInteger(sockets)) {
  runClient(where, deflate, sockets).then(
    () => process.exit(0),
    (e) => fail(e.message),
  );
} else {
  console.error('usage: node_h2_websocket.js server PORT [--deflate]');
  console.error('       node_h2_websocket.js client URL [--deflate] [--sockets N]');
  process.exit(2);
}
