#!/usr/bin/env python3
"""scrape.py - read wirepipe's metrics endpoint for the service tests.

Usage:
    scrape.py check                 exit 0 when prometheus_client is installed, else 1
    scrape.py free-port             print a loopback TCP port that was free just now
    scrape.py metrics PORT          GET /metrics, parse it with prometheus_client's text
                                    parser and print one "KEY VALUE" line per sample, KEY
                                    being the sample name and its labels sorted:
                                    wirepipe_stage_items_total{outcome=in,stage=src}
    scrape.py health PORT           GET /health: print "STATUS BODY"

metrics exits 2 when the answer is not what the exposition format promises: a status
other than 200, a Content-Type other than text/plain; version=0.0.4, a parse error, a
family without HELP, a histogram whose buckets decrease or whose +Inf bucket differs from
its count.
"""

import socket
import sys
import urllib.error
import urllib.request


def get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode("utf-8")
    except (urllib.error.URLError, OSError) as e:
        return 0, "", str(e)  # not listening (yet, or any more)


def bad(why):
    print("scrape.py: " + why, file=sys.stderr)
    sys.exit(2)


def metrics(port):
    from prometheus_client.parser import text_string_to_metric_families

    status, ctype, text = get(port, "/metrics")
    if status != 200:
        bad("/metrics answered %d" % status)
    if not ctype.startswith("text/plain; version=0.0.4"):
        bad("Content-Type %r" % ctype)
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and others
        bad("parse error: %s" % e)
    out = []
    for fam in families:
        if not fam.documentation:
            bad("no HELP for %s" % fam.name)
        if fam.type == "histogram":
            buckets = [s for s in fam.samples if s.name.endswith("_bucket")]
            counts = [s.value for s in buckets]
            if counts != sorted(counts):
                bad("%s buckets decrease" % fam.name)
            inf = [s.value for s in buckets if s.labels.get("le") == "+Inf"]
            count = [s.value for s in fam.samples if s.name.endswith("_count")]
            if inf != count:
                bad("%s: +Inf bucket %s, count %s" % (fam.name, inf, count))
        for s in fam.samples:
            labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
            key = "%s{%s}" % (s.name, labels) if labels else s.name
            value = int(s.value) if float(s.value).is_integer() else s.value
            out.append("%s %s" % (key, value))
    print("\n".join(out))


def main():
    cmd = sys.argv[1]
    if cmd == "check":
        try:
            import prometheus_client.parser  # noqa: F401
        except ImportError:
            sys.exit(1)
    elif cmd == "free-port":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            print(s.getsockname()[1])
    elif cmd == "metrics":
        metrics(int(sys.argv[2]))
    elif cmd == "health":
        status, _, body = get(int(sys.argv[2]), "/health")
        print(status, body.strip())
    else:
        sys.exit("usage: scrape.py check|free-port|metrics PORT|health PORT")


if __name__ == "__main__":
    main()
