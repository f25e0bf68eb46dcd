"""Interop client built on python `websockets`: checks that a WebSocket echo server
returns every message of a scripted sequence unchanged and closes cleanly.

Run (from the workspace root, with `.venv` made by `.ci/run` or `cargo xtask autobahn`):

    .venv/bin/python tests/interop/python_client.py ws://127.0.0.1:PORT/ [--deflate]

The sequence: a text message, a binary message, a text message sent as three
fragments (websockets fragments a message given as an iterable), and a 16 MiB
binary message; each echo must equal what was sent, with the same type. Then it
closes with 1000 and expects the server's close frame to answer with 1000. Exit
status 0 means all of that held; otherwise it prints `FAIL: <reason>` on stderr
and exits 1. With `--deflate` it offers permessage-deflate (websockets' default
offer) and fails unless the server accepted it.
"""

import argparse
import asyncio
import random
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException

BIG = 16 * 1024 * 1024
TIMEOUT = 60


class Failure(Exception):
    """A mismatch or an unclean close: the reason is printed and the exit status is 1."""


def fail(reason):
    raise Failure(reason)


async def exchange(url, deflate):
    fragments = ["fragmented ", "text with ünïcödé ", "in three frames"]
    # Seeded, so a failure reproduces; random-looking, so a shuffled byte shows.
    rng = random.Random(6455)
    script = [
        ("text", "hello from python websockets: héllo wörld ✓", None),
        ("binary", rng.randbytes(1000), None),
        ("fragmented text", "".join(fragments), fragments),
        ("16 MiB binary", rng.randbytes(BIG), None),
    ]
    compression = "deflate" if deflate else None
    async with connect(url, max_size=64 * 1024 * 1024, compression=compression, ping_interval=None) as ws:
        negotiated = [extension.name for extension in ws.protocol.extensions]
        if deflate and negotiated != ["permessage-deflate"]:
            fail(f"permessage-deflate was not negotiated (extensions: {negotiated})")
        for name, message, parts in script:
            await ws.send(parts if parts is not None else message)
            try:
                echo = await ws.recv()
            except ConnectionClosed as closed:
                fail(f"{name}: connection closed before the echo ({closed})")
            if type(echo) is not type(message):
                fail(f"{name}: sent {type(message).__name__}, echoed as {type(echo).__name__}")
            if echo != message:
                fail(f"{name}: echo differs (sent {len(message)}, got {len(echo)})")
        await ws.close(1000, "done")
        # close() returns once the closing handshake finished or timed out; the
        # server's close frame says which.
        close_rcvd = ws.protocol.close_rcvd
        if close_rcvd is None:
            fail("the server did not answer the close frame")
        if close_rcvd.code != 1000:
            fail(f"the server closed with {close_rcvd.code}, expected 1000")
    print(f"ok: {len(script)} echoes matched, closed with 1000, extensions {negotiated}", flush=True)


def main():
    parser = argparse.ArgumentParser(description="Scripted echo check of a WebSocket server.")
    parser.add_argument("url", help="ws://HOST:PORT/PATH")
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    args = parser.parse_args()
    try:
        asyncio.run(asyncio.wait_for(exchange(args.url, args.deflate), TIMEOUT))
        return
    except Failure as failure:
        reason = str(failure)
    except asyncio.TimeoutError:
        reason = f"timed out after {TIMEOUT} s"
    except (WebSocketException, OSError) as error:
        reason = f"connection error: {error!r}"
    print(f"FAIL: {reason}", file=sys.stderr, flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
