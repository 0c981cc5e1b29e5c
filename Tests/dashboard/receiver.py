"""The HTTP server the dashboard check's worker delivers to, on loopback.

    python3 receiver.py PORT_FILE

Answers by path:
    /ok/...       200 with a short JSON body naming the path
    /flaky/...    503 the first time a path is seen, then 200 (one retry, then delivered)
    /decline/...  422 with a JSON error: dead after one attempt
    /down/...     503 always: retried until the channel's circuit breaker opens
    /hostile/...  400 with markup in its body and in a header: dead, and the dashboard must
                  show that markup as text
    /slow/...     200 after 0.05 to 0.4 seconds, for latencies worth a screenshot
Writes the port to PORT_FILE once it listens.
"""
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOSTILE = "<script>document.title='owned'</script><img src=x onerror=alert(1)>"
seen = set()
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive, as the worker expects
    disable_nagle_algorithm = True     # headers and body in two writes would wait on delayed ACKs

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        headers = {"Content-Type": "application/json"}
        if self.path.startswith("/flaky/"):
            with lock:
                first = self.path not in seen
                seen.add(self.path)
            status, body = (503, {"error": "warming up"}) if first else (200, {"received": self.path})
        elif self.path.startswith("/down/"):
            status, body = 503, {"error": "down for maintenance"}
        elif self.path.startswith("/decline/"):
            status, body = 422, {"error": "card declined", "path": self.path}
        elif self.path.startswith("/hostile/"):
            status, body = 400, HOSTILE
            headers = {"Content-Type": "text/html", "X-Note": HOSTILE}
        elif self.path.startswith("/slow/"):
            time.sleep(random.uniform(0.05, 0.4))
            status, body = 200, {"received": self.path}
        else:
            status, body = 200, {"received": self.path}
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = answer

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
