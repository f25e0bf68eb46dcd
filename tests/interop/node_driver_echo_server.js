// Echo server built on node `websocket-driver` (the library wsd ports), over a
// bare TCP server as its README's "Server-side with TCP" example does.
//
// Run (after `npm ci` in tests/interop, which `.ci/run` does):
//
//     node tests/interop/node_driver_echo_server.js PORT
//
// It listens on 127.0.0.1:PORT, prints `listening` on stdout once it accepts
// connections, and echoes every message back with its type.
'use strict';

const net = require('net');
const websocket = require('websocket-driver');

// Autobahn's 9.x cases and the interop clients send messages up to 16 MiB.
const MAX_LENGTH = 64 * 1024 * 1024;

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || process.argv.length !== 3) {
  console.error('usage: node_driver_echo_server.js PORT');
  process.exit(2);
}

const server = net.createServer((connection) => {
  const driver = websocket.server({ maxLength: MAX_LENGTH });

  driver.on('connect', () => {
    if (websocket.isWebSocket(driver)) {
      driver.start();
    } else {
      connection.end();
    }
  });
  driver.on('close', () => connection.end());
  connection.on('error', () => {});

  connection.pipe(driver.io).pipe(connection);

  // The README's `driver.messages.pipe(driver.messages)` turns every message into
  // a text frame; echoing through text()/binary() keeps binary messages binary.
  driver.on('message', (event) => {
    if (typeof event.data === 'string') {
      driver.text(event.data);
    } else {
      driver.binary(event.data);
    }
  });
});

server.listen(port, '127.0.0.1', () => console.log('listening'));
