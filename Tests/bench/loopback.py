"""The serving loop the benchmark's sinks share: an asyncio server on 127.0.0.1 only.

    loopback.serve(handler, port, lifetime)

Runs `handler(reader, writer)` for each connection until SIGTERM or SIGINT, or until
`lifetime` seconds have passed, so a sink left behind by an interrupted run still ends.
"""
import asyncio
import signal


async def _main(handler, port, lifetime):
    server = await asyncio.start_server(handler, "127.0.0.1", port, backlog=4096)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    async with server:
        try:
            await asyncio.wait_for(stop.wait(), lifetime)
        except asyncio.TimeoutError:
            pass


def serve(handler, port, lifetime):
    asyncio.run(_main(handler, port, lifetime))
