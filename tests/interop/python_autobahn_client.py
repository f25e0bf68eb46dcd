"""Autobahn fuzzing-server client built on python `websockets`: the stand-in that
proves `cargo xtask autobahn`'s client mode until `wsd autobahn-client` exists.

Run (from the workspace root, with `.venv` made by `.ci/run` or `cargo xtask autobahn`):

    .venv/bin/python tests/interop/python_autobahn_client.py ws://127.0.0.1:9001 [AGENT]

or through the harness, which starts the fuzzing server and fills in `{url}`:

    cargo xtask autobahn --client-only \
        --client-cmd '.venv/bin/python tests/interop/python_autobahn_client.py {url}'

It follows the Autobahn client protocol: ask `/getCaseCount`, then for each case
connect to `/runCase?case=N&agent=AGENT` and echo every message until the server
closes, then call `/updateReports?agent=AGENT` so the server writes its report.
"""

import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

MAX_SIZE = 64 * 1024 * 1024


async def run_case(url, case, agent):
    # Each case may fail the connection on purpose; the verdict is the server's to
    # give, so errors end this case and the run moves on to the next one.
    try:
        async with connect(
            f"{url}/runCase?case={case}&agent={agent}",
            max_size=MAX_SIZE,
            compression=None,
            ping_interval=None,
            open_timeout=30,
        ) as ws:
            async for message in ws:
                await ws.send(message)
    except (WebSocketException, OSError, asyncio.TimeoutError):
        pass


async def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: python_autobahn_client.py ws://HOST:PORT [AGENT]")
    url = sys.argv[1].rstrip("/")
    agent = sys.argv[2] if len(sys.argv) == 3 else "python-websockets"
    async with connect(f"{url}/getCaseCount") as ws:
        count = int(await ws.recv())
    print(f"running {count} cases as {agent}", flush=True)
    for case in range(1, count + 1):
        await run_case(url, case, agent)
    async with connect(f"{url}/updateReports?agent={agent}") as ws:
        try:
            await ws.recv()
        except WebSocketException:
            pass
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
