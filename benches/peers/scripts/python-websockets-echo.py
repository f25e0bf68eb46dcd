"""The echo server of python's `websockets` (asyncio), permessage-deflate on with its
defaults: `python python-websockets-echo.py PORT`."""

import asyncio
import sys

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main(port):
    async with serve(echo, "127.0.0.1", port, compression="deflate", max_size=64 << 20):
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
