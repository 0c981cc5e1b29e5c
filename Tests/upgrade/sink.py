"""The HTTP server the upgrade check's workers deliver to: 200 to every request, on loopback.

    python3 sink.py PORT_FILE LOG_FILE

Listens on 127.0.0.1 at a free port, writes the port to PORT_FILE once it listens, and
appends each request's method and path to LOG_FILE, one line each, so the check can see
that every request it counts as delivered reached a server.
"""
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive, as the worker expects
    disable_nagle_algorithm = True     # headers and body in two writes would wait on delayed ACKs

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with open(sys.argv[2], "a") as log:
            log.write(f"{self.command} {self.path}\n")
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 128    # the default of 5 drops connections under a burst
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
# Written whole, then renamed: a reader never sees half a port number.
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
