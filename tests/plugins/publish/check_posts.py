#!/usr/bin/env python3
"""check_posts.py - check a webhook_receiver.py log against the documents expected.

    python3 check_posts.py POSTS.jsonl KEY... [--any-order] [--dead DEAD.jsonl --dead-count N]

Every KEY must have been delivered (a 2xx line) exactly once, the first deliveries must come
in the order given (unless --any-order), and nothing else may have been delivered. With --dead, the dead-letter
file must hold N records (0: the file is missing or empty). Prints a one-line summary.
"""
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("keys", nargs="*")
    ap.add_argument("--any-order", action="store_true")
    ap.add_argument("--dead")
    ap.add_argument("--dead-count", type=int, default=0)
    args = ap.parse_args()
    posts = [json.loads(line) for line in open(args.log, encoding="utf-8") if line.strip()]
    delivered = [p["key"] for p in posts if 200 <= p["status"] <= 299]
    problems = []
    counts = {}
    for k in delivered:
        counts[k] = counts.get(k, 0) + 1
    dups = {k: c for k, c in counts.items() if c > 1}
    if dups:
        problems.append("delivered more than once: %s" % dups)
    missing = [k for k in args.keys if k not in counts]
    if missing:
        problems.append("never delivered: %s" % missing)
    extra = [k for k in counts if k not in args.keys]
    if extra:
        problems.append("not expected: %s" % extra)
    first = []
    for k in delivered:
        if k not in first:
            first.append(k)
    if not args.any_order and not missing and not extra and first != args.keys:
        problems.append("out of order: %s" % first)
    dead = 0
    if args.dead and os.path.exists(args.dead):
        dead = sum(1 for line in open(args.dead, encoding="utf-8") if line.strip())
    if args.dead is not None and dead != args.dead_count:
        problems.append("%d dead letter(s), expected %d" % (dead, args.dead_count))
    print("check_posts: %d POST(s), %d delivered, %d distinct, %d duplicate(s), %d dead letter(s)"
          % (len(posts), len(delivered), len(counts), sum(c - 1 for c in counts.values()), dead))
    for p in problems:
        print("check_posts: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
