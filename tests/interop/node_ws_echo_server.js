// Echo server built on node `ws`, an interop peer for wsd.
//
// Run (after `npm ci` in tests/interop, which `.ci/run` does):
//
//     node tests/interop/node_ws_echo_server.js PORT [--deflate]
//
// It listens on 127.0.0.1:PORT, prints `listening` on stdout once it accepts
// connections, and echoes every message back with its type (text stays text,
// binary stays binary). Compression is off, as in the Autobahn runs without --deflate;
// `--deflate` turns permessage-deflate on (compressing every message whatever its size).
'use strict';

const { WebSocketServer } = require('ws');

// Autobahn's 9.x cases and the interop clients send messages up to 16 MiB.
const MAX_PAYLOAD = 64 * 1024 * 1024;

const args = process.argv.slice(2);
const deflate = args.includes('--deflate');
const [portArg, ...rest] = args.filter((arg) => arg !== '--deflate');
const port = Number(portArg);
if (!Number.isInteger(port) || rest.length !== 0) {
  console.error('usage: node_ws_echo_server.js PORT [--deflate]');
  process.exit(2);
}

const server = new WebSocketServer({
  host: '127.0.0.1',
  port,
  maxPayload: MAX_PAYLOAD,
  // threshold 0: ws leaves messages under 1 KiB uncompressed by default.
  perMessageDeflate: deflate ? { threshold: 0 } : false,
});

server.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  // A fuzzing peer breaks the protocol on purpose; ws closes the connection
  // itself, so the error needs no more than to be kept from crashing the server.
  socket.on('error', () => {});
});

server.on('listening', () => console.log('listening'));
