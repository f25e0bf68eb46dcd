"""Echo server built on python `websockets` (asyncio API), an interop peer for wsd.

Run (from the workspace root, after `.ci/run` or `cargo xtask autobahn` made `.venv`):

    .venv/bin/python tests/interop/python_echo_server.py PORT [--deflate]

It listens on 127.0.0.1:PORT, prints `listening` on stdout once it accepts
connections, and echoes every message back with its type (text stays text, binary
stays binary), with permessage-deflate only when given `--deflate`. It also stands in for `wsd serve` to prove the Autobahn harness:

    cargo xtask autobahn --server-cmd '.venv/bin/python tests/interop/python_echo_server.py {port}'
"""

import asyncio
import sys

from websockets.asyncio.server import serve

# Autobahn's 9.x cases send messages up to 16 MiB; the interop clients send 16 MiB too.
MAX_SIZE = 64 * 1024 * 1024


async def echo(websocket):
    # Iteration ends quietly when the peer closes; a protocol error ends the
    # connection, which is what a fuzzing peer expects, so it is not re-raised.
    try:
        async for message in websocket:
            await websocket.send(message)
    except Exception:
        pass


async def main():
    args = sys.argv[1:]
    deflate = "--deflate" in args
    if deflate:
        args.remove("--deflate")
    if len(args) != 1:
        sys.exit("usage: python_echo_server.py PORT [--deflate]")
    port = int(args[0])
    # Compression off by default, as `wsd serve` without --deflate.
    compression = "deflate" if deflate else None
    async with serve(
        echo,
        "127.0.0.1",
        port,
        max_size=MAX_SIZE,
        compression=compression,
        ping_interval=None,
    ) as server:
        print("listening", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
