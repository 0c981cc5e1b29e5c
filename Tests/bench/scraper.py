"""Scrapes the worker's /metrics once a second, as Prometheus would, until killed.

Usage: scraper.py PORT FILE. Appends one line per scrape to FILE: the HTTP status and the
body's size, or "error" and why (the worker may not be listening yet).
"""
import sys
import time
import urllib.request

port, path = sys.argv[1], sys.argv[2]
with open(path, "a") as out:
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as response:
                body = response.read()
                out.write(f"{response.status} {len(body)}\n")
        except Exception as error:  # noqa: BLE001 - every failure is a line, the loop goes on
            out.write(f"error {error}\n")
        out.flush()
        time.sleep(1)
