#!/usr/bin/env python3
"""scripted_http.py - a loopback HTTP server that answers from a script, for tests.

Usage:
    python3 tests/servers/scripted_http.py --routes ROUTES.json [--log REQUESTS.jsonl]
                                           [--port 0] [--verbose]
                                           [--tls-cert CERT.pem --tls-key KEY.pem]

With --tls-cert/--tls-key it speaks HTTPS (for tests that TLS verification fails closed).
It binds 127.0.0.1 only, prints the chosen port as the first line of stdout (then nothing
else) and serves until SIGTERM or SIGINT (exit status 0). Standard library only.

ROUTES.json maps a path to a list of responses, served in sequence for that path; the last
one repeats forever. The query string is ignored unless the key itself contains '?'
(an exact key with the query wins over the bare path). The key "*" answers every path
that has no key of its own. Unknown paths get 404. Every method (GET, POST, PUT, DELETE,
HEAD, ...) is answered the same way; HEAD gets no body.

    {
      "/feed":  [{"status": 503, "headers": {"Retry-After": "1"}},
                 {"status": 200, "headers": {"Content-Type": "application/rss+xml"},
                  "body_file": "feed.xml", "gzip": true}],
      "/echo":  [{"echo": true}],
      "/loop":  [{"status": 302, "headers": {"Location": "/loop"}}]
    }

Fields of one response (all optional):
    status            int, default 200
    headers           {"Name": "value" | ["v1", "v2"]}, sent as given
    body              text (UTF-8)
    body_file         file path, relative to the folder of ROUTES.json (absolute is fine)
    body_b64          base64 bytes
    repeat_body       N: the body repeated N times (large bodies without large files)
    gzip              true: gzip the body and send Content-Encoding: gzip
    truncate_gzip     true: like gzip, but only the first half of the compressed bytes
    delay_ms          wait before sending the status line
    drip_bytes_per_s  send the body slowly, at about this rate (1 means 1 byte per second)
    chunked           true: Transfer-Encoding: chunked instead of Content-Length
    echo              true: reply with JSON {method, path, headers, body} of the request
                      (status and headers still apply; Content-Type defaults to JSON)
    close             true: close the connection without any reply (a reset for the client)
    times             N: serve this entry N times before moving to the next (default 1)

--log appends one JSON line per request, written when the request has been read (before any
delay): {"time": <unix seconds, float>, "method", "path" (with query), "headers": {...},
"body": <text, invalid UTF-8 replaced>, "index": <which response was chosen, 0-based>,
"client_port": <the client's TCP port: equal ports mean a reused (kept-alive) connection>}.

How a test uses it (C: tests/support/test_server.h does exactly this):

    proc = subprocess.Popen([sys.executable, "tests/servers/scripted_http.py",
                             "--routes", routes, "--log", log], stdout=subprocess.PIPE)
    port = int(proc.stdout.readline())
    ... requests to http://127.0.0.1:<port>/path ...
    proc.terminate(); proc.wait()

or from a POSIX sh script, with tests/servers/serve.sh:

    . "$WP_TEST_SERVERS/serve.sh"
    wp_serve routes.json requests.jsonl || exit 1     # sets WP_SERVER_PORT, WP_SERVER_PID
    trap wp_serve_stop EXIT
    curl -s "http://127.0.0.1:$WP_SERVER_PORT/feed"
"""

import argparse
import base64
import gzip
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Script:
    """The routes and, per route key, how far along its response list we are."""

    def __init__(self, routes_path):
        with open(routes_path, "r", encoding="utf-8") as f:
            routes = json.load(f)
        if not isinstance(routes, dict):
            raise SystemExit("scripted_http: routes must be a JSON object")
        self.base = os.path.dirname(os.path.abspath(routes_path))
        self.routes = {}
        for key, value in routes.items():
            if isinstance(value, dict):
                value = [value]
            if not isinstance(value, list) or not value:
                raise SystemExit("scripted_http: route '%s' needs a list of responses" % key)
            expanded = []
            for entry in value:
                times = int(entry.get("times", 1))
                expanded.extend([entry] * max(times, 1))
            self.routes[key] = expanded
        self.next = {}
        self.lock = threading.Lock()

    def pick(self, raw_path):
        """Return (key, index, response) for a request path, or (None, -1, None)."""
        bare = raw_path.split("?", 1)[0]
        if raw_path in self.routes:
            key = raw_path
        elif bare in self.routes:
            key = bare
        elif "*" in self.routes:
            key = "*"
        else:
            return None, -1, None
        with self.lock:
            i = self.next.get(key, 0)
            entries = self.routes[key]
            if i < len(entries) - 1:
                self.next[key] = i + 1
            else:
                i = len(entries) - 1
        return key, i, entries[i]

    def body_of(self, spec):
        if "body_b64" in spec:
            body = base64.b64decode(spec["body_b64"])
        elif "body_file" in spec:
            with open(os.path.join(self.base, spec["body_file"]), "rb") as f:
                body = f.read()
        else:
            body = str(spec.get("body", "")).encode("utf-8")
        repeat = int(spec.get("repeat_body", 1))
        if repeat > 1:
            body = body * repeat
        return body


class RequestLog:
    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8") if path else None
        self.lock = threading.Lock()

    def write(self, record):
        if not self.file:
            return
        line = json.dumps(record, ensure_ascii=False)
        with self.lock:
            self.file.write(line + "\n")
            self.file.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "scripted_http/1"
    # headers and body go out in separate writes: without this, Nagle and delayed ACKs
    # add 40 ms to every request on a kept-alive connection
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("scripted_http: " + (fmt % args) + "\n")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size_line = self.rfile.readline()
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until the empty line
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def handle_any(self):
        body = self.read_body()
        script = self.server.script
        key, index, spec = script.pick(self.path)
        self.server.log.write({
            "time": time.time(),
            "method": self.command,
            "path": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body.decode("utf-8", errors="replace"),
            "index": index,
            "client_port": self.client_address[1],
        })
        if spec is None:
            self.reply(404, {"Content-Type": "text/plain"}, b"no route\n", {})
            return
        if spec.get("delay_ms"):
            time.sleep(int(spec["delay_ms"]) / 1000.0)
        if spec.get("close"):
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        headers = dict(spec.get("headers", {}))
        if spec.get("echo"):
            payload = {
                "method": self.command,
                "path": self.path,
                "headers": {k: v for k, v in self.headers.items()},
                "body": body.decode("utf-8", errors="replace"),
            }
            out = json.dumps(payload).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        else:
            out = script.body_of(spec)
        if spec.get("gzip") or spec.get("truncate_gzip"):
            out = gzip.compress(out)
            if spec.get("truncate_gzip"):
                out = out[: max(len(out) // 2, 1)]
            headers["Content-Encoding"] = "gzip"
        self.reply(int(spec.get("status", 200)), headers, out, spec)

    def reply(self, status, headers, body, spec):
        chunked = bool(spec.get("chunked"))
        no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        self.send_response(status)
        for name, value in headers.items():
            for v in value if isinstance(value, list) else [value]:
                self.send_header(name, str(v))
        if chunked and not no_body:
            self.send_header("Transfer-Encoding", "chunked")
        elif "Content-Length" not in headers and status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if no_body:
            return
        rate = int(spec.get("drip_bytes_per_s", 0) or 0)
        try:
            self.send_body(body, chunked, rate)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_body(self, body, chunked, rate):
        if rate > 0:
            # 10 writes a second at most, so a 1 B/s drip sends 1 byte each second
            step = max(rate // 10, 1)
            pause = step / float(rate)
        else:
            step, pause = 64 * 1024, 0
        for off in range(0, len(body), step):
            piece = body[off:off + step]
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            else:
                self.wfile.write(piece)
            self.wfile.flush()
            if pause:
                time.sleep(pause)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def __getattr__(self, name):
        # do_GET, do_POST, do_HEAD, ... all go to one handler
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # clients that give up (timeouts, body limits, cancellation, refused certificates)
        # are part of the tests
        import ssl
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description="scripted loopback HTTP server for tests")
    ap.add_argument("--routes", required=True, help="JSON file: path -> list of responses")
    ap.add_argument("--log", help="append one JSON line per request to this file")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    ap.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate")
    ap.add_argument("--tls-key", help="private key (PEM) for --tls-cert")
    args = ap.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        import ssl
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.script = Script(args.routes)
    server.log = RequestLog(args.log)
    server.verbose = args.verbose

    def stop(signum, frame):
        # request log lines are flushed as written, so leaving at once loses nothing
        sys.stdout.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
