#!/usr/bin/env python3
"""webhook_receiver.py - a loopback webhook for tests: records every POST, answers 2xx,
and can be told at runtime to be down, slow or to refuse documents.

Usage:
    python3 tests/servers/webhook_receiver.py --log POSTS.jsonl [--control CONTROL.json]
                                              [--mode up|down|close|slow|reject]
                                              [--port 0] [--verbose]

It binds 127.0.0.1 only, prints the chosen port as the first line of stdout (then nothing
else) and serves until SIGTERM or SIGINT (exit status 0). Standard library only. The log
survives kill -9 of the client and of this server: each line is written and flushed before
the reply goes out.

The log: one JSON line per POST (any path but /_control), written once the request is read
and its answer decided, before any delay:
    {"time": <unix seconds>, "path", "key": <Idempotency-Key or null>,
     "headers": {...}, "body": <text>, "status": <the status answered, 0 for a closed
     connection>, "mode": <the mode then>, "seq": <1-based POST number>,
     "client_port": <the client's TCP port>}
A document counts as delivered when a line with its key has a 2xx status; the same key
delivered twice is a duplicate.

Modes (state is one JSON object; unknown fields are ignored):
    {"mode": "up"}                      200 {"ok": true} to every POST (the default)
    {"mode": "down", "status": 503, "retry_after": 1}
                                        refuse with status (default 503); Retry-After sent
                                        unless retry_after is null (default 1 second)
    {"mode": "close"}                   close the connection without a reply
    {"mode": "slow", "delay_ms": 500}   wait delay_ms, then 200
    {"mode": "reject", "status": 422, "keys": ["id-1"], "every": 0}
                                        refuse documents with status (default 422) and a
                                        JSON reason: those whose Idempotency-Key is in keys,
                                        or every Nth POST when every > 0, or all of them
                                        when neither is given; the rest get 200
    "for_ms": N (with any mode)         go back to {"mode": "up"} after N milliseconds
    "delay_ms" also applies to up, down and reject (a slow answer of that kind).

Change the mode at runtime either way:
  - the control endpoint:  curl -s -X POST -d '{"mode":"down"}' http://127.0.0.1:PORT/_control
    (GET /_control answers the state and counters: {"state", "posts", "delivered",
    "unique_delivered", "duplicates"});
  - the control file given with --control: write the JSON object (or just a mode name)
    to it; it is read again whenever its modification time or size changes. Write it
    atomically (to a temporary file, then mv) so the server never reads half of it.

From a POSIX sh test:

    python3 "$WP_TEST_SERVERS/webhook_receiver.py" --log "$work/posts.jsonl" \\
        --control "$work/ctl.json" >"$work/port" &
    hook_pid=$!
    trap 'kill $hook_pid 2>/dev/null; wait $hook_pid 2>/dev/null' EXIT
    while [ ! -s "$work/port" ]; do sleep 0.05; done   # bound this loop in a real test
    read -r port <"$work/port"
    echo '{"mode": "down", "for_ms": 30000}' >"$work/ctl.tmp" && mv "$work/ctl.tmp" "$work/ctl.json"
    ... run wirepipe with url http://127.0.0.1:$port/hook ...
    python3 - "$work/posts.jsonl" <<'PY'   # count deliveries per key
    ...
"""

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("up", "down", "close", "slow", "reject")


def parse_state(text):
    """A state from control text: a JSON object, or a bare mode name."""
    text = text.strip()
    if not text:
        return None
    if text in MODES:
        return {"mode": text}
    state = json.loads(text)
    if not isinstance(state, dict) or state.get("mode", "up") not in MODES:
        raise ValueError("control: expected {\"mode\": one of %s}" % "|".join(MODES))
    return state


class Receiver:
    """The current state, its expiry, the control file and the counters, under one lock."""

    def __init__(self, log_path, control_path, mode):
        self.lock = threading.Lock()
        self.log = open(log_path, "a", encoding="utf-8")
        self.control_path = control_path
        self.control_stamp = None
        self.state = {"mode": mode}
        self.until = None
        self.posts = 0
        self.delivered = {}

    def set_state(self, state):
        # caller holds the lock
        self.state = state
        for_ms = state.get("for_ms")
        self.until = time.monotonic() + float(for_ms) / 1000.0 if for_ms else None

    def refresh(self):
        # caller holds the lock
        if self.until is not None and time.monotonic() >= self.until:
            self.state, self.until = {"mode": "up"}, None
        if not self.control_path:
            return
        try:
            st = os.stat(self.control_path)
        except FileNotFoundError:
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self.control_stamp:
            return
        self.control_stamp = stamp
        try:
            with open(self.control_path, "r", encoding="utf-8") as f:
                state = parse_state(f.read())
        except (OSError, ValueError) as e:
            sys.stderr.write("webhook_receiver: ignoring control file: %s\n" % e)
            return
        if state is not None:
            self.set_state(state)

    def decide(self, key):
        """(status or 0 for close, headers, body, delay seconds, mode) for the next POST."""
        with self.lock:
            self.refresh()
            self.posts += 1
            seq = self.posts
            s = dict(self.state)
        mode = s.get("mode", "up")
        delay = float(s.get("delay_ms", 0) or 0) / 1000.0
        ok = (200, {"Content-Type": "application/json"}, b'{"ok": true}')
        if mode == "down":
            headers = {"Content-Type": "application/json"}
            retry_after = s.get("retry_after", 1)
            if retry_after is not None:
                headers["Retry-After"] = str(retry_after)
            answer = (int(s.get("status", 503)), headers, b'{"error": "down for a test"}')
        elif mode == "close":
            answer = (0, {}, b"")
        elif mode == "slow":
            delay = float(s.get("delay_ms", 500)) / 1000.0
            answer = ok
        elif mode == "reject":
            keys = s.get("keys") or []
            every = int(s.get("every", 0) or 0)
            hit = (key in keys) if keys else (seq % every == 0 if every > 0 else True)
            if hit:
                reason = json.dumps({"error": "rejected by webhook_receiver", "key": key})
                answer = (int(s.get("status", 422)), {"Content-Type": "application/json"},
                          reason.encode("utf-8"))
            else:
                answer = ok
        else:
            answer = ok
        return answer + (delay, mode, seq)

    def record(self, entry):
        line = json.dumps(entry, ensure_ascii=False)
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()
            if 200 <= entry["status"] <= 299:
                key = entry["key"]
                self.delivered[key] = self.delivered.get(key, 0) + 1

    def stats(self):
        with self.lock:
            self.refresh()
            counts = self.delivered.values()
            return {
                "state": self.state,
                "posts": self.posts,
                "delivered": sum(counts),
                "unique_delivered": len(self.delivered),
                "duplicates": sum(c - 1 for c in counts),
            }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "webhook_receiver/1"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("webhook_receiver: " + (fmt % args) + "\n")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send(self, status, headers, body):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def control(self, body):
        rx = self.server.receiver
        if self.command == "POST":
            try:
                state = parse_state(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                self.send(400, {"Content-Type": "text/plain"}, str(e).encode("utf-8"))
                return
            if state is not None:
                with rx.lock:
                    rx.set_state(state)
        out = json.dumps(rx.stats()).encode("utf-8")
        self.send(200, {"Content-Type": "application/json"}, out)

    def do_GET(self):
        if self.path.split("?", 1)[0] == "/_control":
            self.control(b"")
        else:
            self.send(405, {"Content-Type": "text/plain", "Allow": "POST"}, b"POST only\n")

    def do_POST(self):
        body = self.read_body()
        if self.path.split("?", 1)[0] == "/_control":
            self.control(body)
            return
        rx = self.server.receiver
        key = self.headers.get("Idempotency-Key")
        status, headers, out, delay, mode, seq = rx.decide(key)
        rx.record({
            "time": time.time(),
            "path": self.path,
            "key": key,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body.decode("utf-8", errors="replace"),
            "status": status,
            "mode": mode,
            "seq": seq,
            "client_port": self.client_address[1],
        })
        if delay > 0:
            time.sleep(delay)
        if status == 0:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send(status, headers, out)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # clients that give up (timeouts, cancellation, kill -9) are part of the tests
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description="loopback webhook receiver for tests")
    ap.add_argument("--log", required=True, help="append one JSON line per POST to this file")
    ap.add_argument("--control", help="JSON control file, read again when it changes")
    ap.add_argument("--mode", default="up", choices=MODES, help="initial mode (default up)")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr")
    args = ap.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    server.receiver = Receiver(args.log, args.control, args.mode)
    server.verbose = args.verbose

    def stop(signum, frame):
        # log lines are flushed as written, so leaving at once loses nothing
        sys.stdout.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
