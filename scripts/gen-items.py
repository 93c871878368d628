#!/usr/bin/env python3
"""Write N synthetic news items of about 1 KB each as JSON Lines (for scripts/bench-host).

Usage: gen-items.py N OUT.jsonl
The items look like wirepipe items (id, uri, source, language, headline, body, keywords) so
the parser sees realistic strings, numbers and nesting. Deterministic for a given N.
"""
import json
import random
import sys

WORDS = ("military talks ministry defence chief staff agreement border security cooperation "
         "delegation visit regional tensions statement officials meeting forces joint "
         "exercise president foreign minister government sources said reported").split()


def main():
    n = int(sys.argv[1])
    rng = random.Random(7)
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        for i in range(n):
            body = " ".join(rng.choice(WORDS) for _ in range(110))
            item = {
                "id": "sha256:%064x" % (i * 2654435761 % (1 << 256)),
                "uri": "https://example.org/world/%d" % i,
                "source": {"name": "bench", "url": "https://example.org/world/%d" % i,
                           "fetched_at": "2026-11-28T20:00:00Z", "http_status": 200},
                "language": "en",
                "headline": " ".join(rng.choice(WORDS) for _ in range(8)).capitalize(),
                "body": body,
                "keywords": [rng.choice(WORDS) for _ in range(4)],
                "n": i,
            }
            out.write(json.dumps(item, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
