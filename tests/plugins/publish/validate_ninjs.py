#!/usr/bin/env python3
"""validate_ninjs.py SCHEMA FILE... - check each JSON file against the ninjs 2.1 schema.

Exit status 0 when every file validates, 1 otherwise (each error printed with its path).
Uses Python's jsonschema (Debian: python3-jsonschema), draft 2020-12. The schema's only
remote reference (GeoJSON, under places[].geojson) is replaced by "any object" before
validating, so nothing is ever fetched (tests never leave loopback); publish never writes
geojson.
"""
import json
import sys

import jsonschema


def local_only(node):
    """Replace every $ref to another document by a permissive object schema."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#") and "://" in ref:
            return {"type": "object"}
        return {k: local_only(v) for k, v in node.items()}
    if isinstance(node, list):
        return [local_only(v) for v in node]
    return node


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = local_only(json.load(f))
    # Formats (uri, date-time) are checked where the optional checkers are installed.
    checker = getattr(jsonschema.Draft202012Validator, "FORMAT_CHECKER", None)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=checker or jsonschema.FormatChecker())
    bad = 0
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        for err in validator.iter_errors(doc):
            bad += 1
            where = "/".join(str(p) for p in err.absolute_path)
            print("%s: %s: %s" % (path, where or "(root)", err.message), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
