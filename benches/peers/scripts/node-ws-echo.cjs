// The echo server of node's `ws` package, with permessage-deflate on (its defaults:
// zlib level 6 in libuv's thread pool, context takeover, messages below 1 KiB sent
// uncompressed): `node node-ws-echo.cjs PORT`. `cargo xtask bench` finds `ws` in
// tests/interop/node_modules through NODE_PATH.
'use strict';
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const server = new WebSocketServer({
  host: '127.0.0.1',
  port,
  perMessageDeflate: true,
  maxPayload: 64 * 1024 * 1024,
});
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
