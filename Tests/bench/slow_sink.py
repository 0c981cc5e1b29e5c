#!/usr/bin/env python3
"""A slow HTTP sink for the footprint test: every request is answered after a delay.

nginx cannot wait before answering without a module nginx-light lacks, so this sink
does it with asyncio: one coroutine per connection, HTTP/1.1 keep-alive, the request
body read and dropped, then `asyncio.sleep(delay)` and a 200. A sleeping request costs
a coroutine and a socket, no thread, so 1,000 or more are held at once on one core.

    slow_sink.py PORT [DELAY_SECONDS]

GET /stats answers at once with JSON: requests answered, the most held at once, and
how many are held now. The process stops on SIGTERM or after an hour at most.
"""
import asyncio
import json
import sys

import loopback

PORT = int(sys.argv[1])
DELAY = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
LIFETIME = 3600.0

stats = {"answered": 0, "held": 0, "held_max": 0, "connections": 0, "connections_max": 0}


async def answer(writer, status, body):
    writer.write(b"HTTP/1.1 %d OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                 % (status, len(body), body))
    await writer.drain()


async def serve(reader, writer):
    stats["connections"] += 1
    stats["connections_max"] = max(stats["connections_max"], stats["connections"])
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            target = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            if target == "/stats":
                await answer(writer, 200, json.dumps(stats).encode())
                continue
            stats["held"] += 1
            stats["held_max"] = max(stats["held_max"], stats["held"])
            try:
                await asyncio.sleep(DELAY)
            finally:
                stats["held"] -= 1
            await answer(writer, 200, b"ok\n")
            stats["answered"] += 1
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        stats["connections"] -= 1
        writer.close()


loopback.serve(serve, PORT, LIFETIME)
