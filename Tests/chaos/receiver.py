#!/usr/bin/env python3
"""The HTTP receiver of the chaos suite: records every arrival, then answers 200.

    receiver.py PORT ARRIVALS_FILE

Listens on 127.0.0.1 only. Every request but the control paths is an arrival: its
path names the request (`/KEY`, where KEY starts with the scenario's name and a dot),
and one line is appended to ARRIVALS_FILE as soon as the request is read, before any
hold, because that is the moment a real receiver would act on it:

    <unix time> <KEY> <arrival number for KEY> <Idempotency-Key header or ->

The query string says how long to hold the answer, in milliseconds:
    ?hold=u50-500          uniformly random between 50 and 500 for every arrival
    ?hold=a1000,60000,0    by arrival number of the KEY: the first 1000, the second
                           60000, the third and later 0 (the last value repeats)
The answer is `200`, with the body `arrival N` and the header `X-Chaos-Arrival: N`, so
the response a worker records names the arrival it answered.

Control paths (answered at once):
    GET /_stats    JSON per scenario: arrivals, held now, most held at once
    GET /_flush    writes out buffered arrival lines; answers when they are on disk

asyncio, one coroutine per connection: a held request costs a socket and a coroutine,
so thousands can be held at once on one core. Stops on SIGTERM, or after a day.
"""
import asyncio
import json
import random
import signal
import sys
import time

PORT = int(sys.argv[1])
ARRIVALS = open(sys.argv[2], "a", buffering=1 << 16)
LIFETIME = 86400.0

arrival_count: dict[str, int] = {}
stats: dict[str, dict[str, int]] = {}


def scenario_stats(key: str) -> dict[str, int]:
    name = key.split(".", 1)[0]
    s = stats.get(name)
    if s is None:
        s = stats[name] = {"arrivals": 0, "held": 0, "held_max": 0}
    return s


def hold_ms(query: str, arrival: int) -> float:
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name != "hold" or not value:
            continue
        if value[0] == "u":
            low, _, high = value[1:].partition("-")
            return random.uniform(float(low), float(high or low))
        if value[0] == "a":
            steps = [float(v) for v in value[1:].split(",")]
            return steps[min(arrival, len(steps)) - 1]
        return float(value)
    return 0.0


async def answer(writer, body: bytes, arrival: int = 0):
    extra = b"X-Chaos-Arrival: %d\r\n" % arrival if arrival else b""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s"
                 % (len(body), extra, body))
    await writer.drain()


async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            target = parts[1] if len(parts) > 1 else "/"
            length, idempotency_key = 0, "-"
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value.strip())
                elif name == "idempotency-key":
                    idempotency_key = value.strip() or "-"
            if length:
                await reader.readexactly(length)
            path, _, query = target.partition("?")
            if path == "/_stats":
                await answer(writer, json.dumps(stats).encode())
                continue
            if path == "/_flush":
                ARRIVALS.flush()
                await answer(writer, b"flushed\n")
                continue
            key = path.lstrip("/")
            arrival = arrival_count.get(key, 0) + 1
            arrival_count[key] = arrival
            ARRIVALS.write("%.6f %s %d %s\n" % (time.time(), key, arrival, idempotency_key))
            s = scenario_stats(key)
            s["arrivals"] += 1
            s["held"] += 1
            s["held_max"] = max(s["held_max"], s["held"])
            try:
                delay = hold_ms(query, arrival)
                if delay > 0:
                    await asyncio.sleep(delay / 1000.0)
            finally:
                s["held"] -= 1
            await answer(writer, b"arrival %d\n" % arrival, arrival)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", PORT, backlog=4096)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("listening", flush=True)
    async with server:
        try:
            await asyncio.wait_for(stop.wait(), LIFETIME)
        except asyncio.TimeoutError:
            pass
    ARRIVALS.flush()


asyncio.run(main())
