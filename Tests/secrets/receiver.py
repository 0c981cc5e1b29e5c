#!/usr/bin/env python3
"""The HTTP server of the secrets check, on 127.0.0.1, and the questions asked of what it received.

  receiver.py serve PORT_FILE LOG KEYS LIFETIME
      Serves on 127.0.0.1 (a free port, written to PORT_FILE) for LIFETIME seconds, then exits.
      Every request gets 200 "ok" (never an echo of what it carried) and one JSON line in LOG:
      {"path", "authorization", "webhook_id", "signatures": [...], "verified": {name: bool},
       "errors": {name: why}}. KEYS is a JSON file {name: "whsec_..."}, read for each request:
      a signed request is verified with each key alone, with the standardwebhooks package.
  receiver.py count LOG PATH          how many requests came to PATH
  receiver.py get LOG PATH FIELD [KEY]
      FIELD of the last request to PATH (KEY: one entry of an object field; a list prints its
      length). Exits 1 when nothing came to PATH or the field is missing.
"""
import http.server
import json
import os
import sys
import threading


def verify(keys, body, headers):
    from standardwebhooks.webhooks import Webhook

    verified, errors = {}, {}
    for name, key in sorted(keys.items()):
        try:
            Webhook(key).verify(body, headers, json_parse=False)
            verified[name] = True
        except Exception as e:  # WebhookVerificationError, or a malformed header
            verified[name] = False
            errors[name] = f"{type(e).__name__}: {e}"
    return verified, errors


def serve(port_file, log, keys_file, lifetime):
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle_one(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            record = {
                "path": self.path,
                "method": self.command,
                "authorization": headers.get("authorization"),
                "webhook_id": headers.get("webhook-id"),
                "signatures": headers["webhook-signature"].split(" ") if "webhook-signature" in headers else [],
                "verified": {},
                "errors": {},
            }
            if "webhook-signature" in headers:
                with open(keys_file) as f:
                    keys = json.load(f)
                record["verified"], record["errors"] = verify(keys, body, headers)
            with lock, open(log, "a") as f:
                f.write(json.dumps(record) + "\n")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_POST = do_PUT = do_GET = handle_one

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Timer(lifetime, lambda: os._exit(0)).start()
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


def records(log, path):
    try:
        with open(log) as f:
            return [r for r in map(json.loads, f) if r["path"] == path]
    except FileNotFoundError:
        return []


def main(argv):
    if argv[:1] == ["serve"] and len(argv) == 5:
        serve(argv[1], argv[2], argv[3], float(argv[4]))
    elif argv[:1] == ["count"] and len(argv) == 3:
        print(len(records(argv[1], argv[2])))
    elif argv[:1] == ["get"] and len(argv) in (4, 5):
        found = records(argv[1], argv[2])
        if not found or argv[3] not in found[-1]:
            return 1
        value = found[-1][argv[3]]
        if len(argv) == 5:
            if argv[4] not in value:
                return 1
            value = value[argv[4]]
        if isinstance(value, list):
            value = len(value)
        print("true" if value is True else "false" if value is False else value)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
