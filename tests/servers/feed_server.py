#!/usr/bin/env python3
"""feed_server.py - a loopback news site for tests: one generated RSS feed and its pages.

Usage:
    python3 tests/servers/feed_server.py --entries 200 [--page-bytes 2000]
        [--delay-ms 0[:MAX]] [--slow-page I --slow-ms MS] [--seed S] [--log REQUESTS.jsonl]
        [--control CONTROL.json] [--port 0]

Binds 127.0.0.1 only, prints the chosen port as the first line of stdout (then nothing
else) and serves until SIGTERM or SIGINT. Standard library only. scripted_http.py answers
from fixed replies; this server generates a feed of any size and honours conditional GETs,
which is what the acknowledged-delivery tests need (a rerun must not be told "304" while
entries of the feed are still undelivered).

    GET /feed.xml     RSS 2.0, entries 1..N: title "Story <i>", link /page/<i>, guid
                      "story-<i>" (not a permalink), description. ETag "feed-<N>" and a
                      Last-Modified that moves with N; If-None-Match / If-Modified-Since
                      that match get 304 with no body.
    GET /page/<i>     an HTML article of about --page-bytes bytes (title, h1, paragraphs),
                      after a delay: --slow-ms for page --slow-page, else uniform in
                      --delay-ms MIN:MAX (seeded, so the same page always waits as long).
    GET /_count       {"feed": n, "feed_304": n, "feed_down": n, "pages": n, "entries": N}:
                      requests served so far, and the entries the feed has now.
    GET /_control     the control state; POST /_control with a JSON object changes it.

The feed can change while the server runs (a feed that gains entries, a site that goes
down), through POST /_control or the file given with --control, which is read again
whenever its modification time or size changes (write it atomically: to a temporary file,
then mv). Both take one JSON object; fields left out keep their value:
    {"entries": 12}              the feed now lists entries 1..12 (new ETag, Last-Modified)
    {"mode": "down", "status": 503}
                                 /feed.xml and the pages answer that status (default 503)
    {"mode": "close"}            /feed.xml and the pages close the connection, no reply
    {"mode": "up"}               back to normal

--log appends one JSON line per request when it has been read (before any delay):
{"time": <unix seconds>, "method", "path", "if_none_match", "status"}.
"""

import argparse
import json
import os
import random
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED_BASE = 1796385600  # Fri, 04 Dec 2026 12:00:00 GMT
WORDS = ("military talks ministry defence chief staff agreement border security cooperation "
         "delegation visit regional tensions statement officials meeting forces joint "
         "exercise president foreign minister government sources said reported").split()


class Site:
    def __init__(self, args):
        self.entries = args.entries
        self.page_bytes = args.page_bytes
        lo, _, hi = args.delay_ms.partition(":")
        self.delay_lo = int(lo or 0)
        self.delay_hi = int(hi or lo or 0)
        self.slow_page = args.slow_page
        self.slow_ms = args.slow_ms
        self.seed = args.seed
        self.port = args.port_for_links
        self.lock = threading.Lock()
        self.counts = {"feed": 0, "feed_304": 0, "feed_down": 0, "pages": 0}
        self.log = open(args.log, "a", encoding="utf-8") if args.log else None
        self.mode = {"mode": "up", "status": 503}
        self.control_path = args.control
        self.control_stamp = None
        self.set_entries(self.entries)
        self.filler = self.make_filler()

    def set_entries(self, n):
        """The feed lists entries 1..n from now on. Called with self.lock held (or alone)."""
        self.entries = n
        self.etag = '"feed-%d"' % n
        self.last_modified = time.strftime(
            "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(LAST_MODIFIED_BASE + 60 * n))
        self.feed = self.make_feed(self.port)

    def apply(self, state):
        """Apply one control object (see the module comment)."""
        if not isinstance(state, dict):
            return
        with self.lock:
            if isinstance(state.get("entries"), int) and state["entries"] >= 0 \
                    and state["entries"] != self.entries:
                self.set_entries(state["entries"])
            for key in ("mode", "status"):
                if key in state:
                    self.mode[key] = state[key]

    def poll_control(self):
        """Read the control file again when it changed."""
        if not self.control_path:
            return
        try:
            st = os.stat(self.control_path)
        except OSError:
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self.control_stamp:
            return
        self.control_stamp = stamp
        try:
            with open(self.control_path, encoding="utf-8") as f:
                self.apply(json.load(f))
        except (OSError, ValueError):
            self.control_stamp = None  # half-written: read it again next time

    def state(self):
        with self.lock:
            return dict(self.mode, entries=self.entries)

    def make_feed(self, port):
        base = "http://127.0.0.1:%d" % port
        items = []
        for i in range(1, self.entries + 1):
            items.append(
                "<item><title>Story %d</title><link>%s/page/%d</link>"
                "<guid isPermaLink=\"false\">story-%d</guid>"
                "<pubDate>Fri, 04 Dec 2026 %02d:%02d:00 GMT</pubDate>"
                "<description>Summary of story %d.</description></item>"
                % (i, base, i, i, (i // 60) % 24, i % 60, i))
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
                "<title>Loopback wire</title><link>%s/</link><language>en</language>"
                "<description>generated for tests</description>%s</channel></rss>\n"
                % (base, "".join(items))).encode("utf-8")

    def make_filler(self):
        rng = random.Random(self.seed)
        paras = []
        size = 0
        while size < self.page_bytes:
            p = " ".join(rng.choice(WORDS) for _ in range(60)).capitalize() + "."
            paras.append("<p>%s</p>\n" % p)
            size += len(paras[-1]) + 1
        return "".join(paras)

    def page(self, i):
        head = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>Story %d</title></head><body><article><h1>Story %d</h1>\n"
                "<p>Story %d begins: the minister said the talks went well.</p>\n" % (i, i, i))
        return (head + self.filler + "</article></body></html>\n").encode("utf-8")

    def delay_of(self, i):
        if i == self.slow_page:
            return self.slow_ms / 1000.0
        if self.delay_hi <= 0:
            return 0.0
        return random.Random("%d-%d" % (self.seed, i)).uniform(self.delay_lo, self.delay_hi) / 1000.0

    def note(self, key, record):
        with self.lock:
            self.counts[key] += 1
            if self.log:
                self.log.write(json.dumps(record) + "\n")
                self.log.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "feed_server/1"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, ctype, body, headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if status != 304:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304 and self.command != "HEAD":
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def do_POST(self):
        site = self.server.site
        if self.path.split("?", 1)[0] != "/_control":
            self.reply(404, "text/plain", b"no such page\n")
            return
        try:
            n = int(self.headers.get("Content-Length") or 0)
            site.apply(json.loads(self.rfile.read(min(n, 65536)) or b"{}"))
        except ValueError:
            self.reply(400, "text/plain", b"expected a JSON object\n")
            return
        self.reply(200, "application/json", json.dumps(site.state()).encode("utf-8"))

    def down(self, site, path, record):
        """Answer as the control mode says; True when the site is not up."""
        mode = site.mode.get("mode")
        if mode not in ("down", "close") or path.startswith("/_"):
            return False
        record["status"] = 0 if mode == "close" else int(site.mode.get("status") or 503)
        site.note("feed_down", record)
        if mode == "close":
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
        else:
            self.reply(record["status"], "text/plain", b"down for maintenance\n")
        return True

    def do_GET(self):
        site = self.server.site
        site.poll_control()
        path = self.path.split("?", 1)[0]
        record = {"time": time.time(), "method": self.command, "path": self.path,
                  "if_none_match": self.headers.get("If-None-Match")}
        if self.down(site, path, record):
            return
        if path == "/feed.xml":
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            with site.lock:
                etag, last_modified, feed = site.etag, site.last_modified, site.feed
            fresh = (inm is not None and etag in [t.strip() for t in inm.split(",")]) or \
                    (inm is None and ims == last_modified)
            record["status"] = 304 if fresh else 200
            record["entries"] = site.entries
            site.note("feed_304" if fresh else "feed", record)
            self.reply(record["status"], "application/rss+xml; charset=utf-8",
                       b"" if fresh else feed,
                       {"ETag": etag, "Last-Modified": last_modified})
            return
        m = re.fullmatch(r"/page/(\d+)", path)
        if m and 1 <= int(m.group(1)) <= site.entries:
            i = int(m.group(1))
            record["status"] = 200
            site.note("pages", record)
            time.sleep(site.delay_of(i))
            self.reply(200, "text/html; charset=utf-8", site.page(i))
            return
        if path == "/_count":
            with site.lock:
                body = json.dumps(dict(site.counts, entries=site.entries)).encode("utf-8")
            self.reply(200, "application/json", body)
            return
        if path == "/_control":
            self.reply(200, "application/json", json.dumps(site.state()).encode("utf-8"))
            return
        self.reply(404, "text/plain", b"no such page\n")

    do_HEAD = do_GET


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # clients killed mid-request are part of the tests
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description="generated loopback RSS feed and pages")
    ap.add_argument("--entries", type=int, default=200)
    ap.add_argument("--page-bytes", type=int, default=2000)
    ap.add_argument("--delay-ms", default="0", help="page delay, MIN[:MAX] milliseconds")
    ap.add_argument("--slow-page", type=int, default=0, help="this page waits --slow-ms")
    ap.add_argument("--slow-ms", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--log", help="append one JSON line per request to this file")
    ap.add_argument("--control", help="a JSON control file, read again when it changes")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    server = Server(("127.0.0.1", args.port), Handler)
    args.port_for_links = server.server_address[1]
    server.site = Site(args)

    def stop(signum, frame):
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
