#!/usr/bin/env python3
"""The latency sink of the benchmark: records when each request arrives, answers 200.

    receiver.py PORT ARRIVALS_FILE [STATUS [RETRY_AFTER]]

Listens on 127.0.0.1 only; HTTP/1.1 keep-alive, one coroutine per connection. Every
request but the control paths is an arrival: its path is `/TAG/KEY` (drive.py puts the
key of each request it enqueues there), and as soon as the whole request is read, one
line is appended to ARRIVALS_FILE:

    <unix time, microseconds> /TAG/KEY

then the answer is empty: 200, or STATUS with a Retry-After header when RETRY_AFTER is
given (the 429 sink of the isolation part, which counts a rate-limited channel's attempts).
The time is the receiver's clock (time.time()), the same clock drive.py reads when a COMMIT
returns, so the difference is the latency.

Control paths (answered at once):
    GET /_stats    JSON: arrivals per TAG so far
    GET /_flush    writes out buffered arrival lines; answers when they are written

Stops on SIGTERM or SIGINT, or after a day.
"""
import asyncio
import http
import json
import sys
import time

import loopback

PORT = int(sys.argv[1])
ARRIVALS = open(sys.argv[2], "a", buffering=1 << 16)
STATUS = int(sys.argv[3]) if len(sys.argv) > 3 else 200
RETRY_AFTER = b"Retry-After: %s\r\n" % sys.argv[4].encode() if len(sys.argv) > 4 else b""
LIFETIME = 86400.0

counts: dict[str, int] = {}


async def answer(writer, body: bytes = b"", status: int = 200, extra: bytes = b""):
    writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s"
                 % (status, http.HTTPStatus(status).phrase.encode(), len(body), extra, body))
    await writer.drain()


async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            end = head.index(b"\r\n")
            parts = head[:end].split(b" ")
            target = parts[1].decode("latin-1") if len(parts) > 1 else "/"
            length = 0
            for line in head[end + 2:].split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            at = time.time()
            if target == "/_stats":
                await answer(writer, json.dumps(counts).encode())
                continue
            if target == "/_flush":
                ARRIVALS.flush()
                await answer(writer, b"flushed\n")
                continue
            ARRIVALS.write("%.6f %s\n" % (at, target))
            tag = target.split("/", 2)[1] if target.count("/") >= 2 else ""
            counts[tag] = counts.get(tag, 0) + 1
            await answer(writer, status=STATUS, extra=RETRY_AFTER)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        writer.close()


loopback.serve(serve, PORT, LIFETIME)
ARRIVALS.flush()
