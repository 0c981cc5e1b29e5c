#!/usr/bin/env python3
"""The black hole of the isolation part: accepts every connection and never answers.

    black_hole.py PORT

Listens on 127.0.0.1 only, with asyncio: one coroutine per connection reads whatever
the client sends and drops it until the client closes, so every attempt sent here ends
in the client's own time-out, which is what a destination that has gone dark costs a
worker. A held connection costs a coroutine and a socket, no thread.

One request is answered: GET /_stats, at once, with JSON: connections that sent a
request, how many of them are open now, and the most open at once (the attempts in flight
here: the worker closes a connection whose attempt timed out). Stops on SIGTERM or SIGINT, or
after a day.
"""
import asyncio
import json
import sys

import loopback

PORT = int(sys.argv[1])
LIFETIME = 86400.0

stats = {"accepted": 0, "open": 0, "open_max": 0}


async def serve(reader, writer):
    counted = False
    try:
        data = await reader.read(65536)
        if data.startswith(b"GET /_stats "):
            body = json.dumps(stats).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            return
        stats["accepted"] += 1
        stats["open"] += 1
        stats["open_max"] = max(stats["open_max"], stats["open"])
        counted = True
        while data:
            data = await reader.read(65536)
    except ConnectionError:
        pass
    finally:
        if counted:
            stats["open"] -= 1
        writer.close()


loopback.serve(serve, PORT, LIFETIME)
