#!/usr/bin/env python3
"""Compares LeanJSON's accept/reject (and accepted values) with Python's json module on a corpus.

Usage: compare-json.py FUZZ_JSON_BINARY FILE_OR_DIR...

The reference is Python's json in strict mode: the bytes must be UTF-8 (no BOM, no surrogates), no NaN or
Infinity, no control characters in strings, and no duplicate keys (exact code points). LeanJSON then has
four documented rules of its own on top of that (Fuzz/README.md); a file that one of them rejects is an
intentional difference and is counted, not failed:

  depth      more than 32 nested arrays/objects (LeanJSON's default maxDepth; Python allows ~1000)
  range      a number that is not a finite double (1e400; Python returns inf for floats and an int for 1e400-style integers)
  surrogate  an escaped lone surrogate ("\\ud800"; Python returns a str with a surrogate, Swift's String cannot hold one)
  equivalent two keys of one object that are canonically equivalent but differ in bytes ("K" and KELVIN SIGN):
             LeanJSON's objects are [String: JSON] and Swift's String == is canonical equivalence, so it
             refuses the text (equivalentKeys) rather than drop one (see the README's byte-exact rule)

Every other difference, in the verdict or in the accepted value, is a failure. Exit status 0 when all agree.
"""
import json
import math
import os
import subprocess
import sys
import unicodedata

MAX_DEPTH = 32


class Reject(Exception):
    pass


def no_constants(name):
    raise Reject(f"constant {name}")


def unique_pairs(pairs):
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise Reject(f"duplicate key {key!r}")
        seen.add(key)
    return dict(pairs)


def reference(data: bytes):
    """Strict Python json: the value, or raises Reject."""
    try:
        text = data.decode("utf-8")  # strict: rejects overlongs, encoded surrogates, truncation
    except UnicodeDecodeError as error:
        raise Reject(f"utf-8: {error}")
    if text.startswith("\ufeff"):
        raise Reject("BOM")
    try:
        return json.loads(text, strict=True, parse_constant=no_constants, object_pairs_hook=unique_pairs)
    except (ValueError, RecursionError) as error:
        raise Reject(str(error))


def leanjson_rule(value):
    """The first LeanJSON-only rule that rejects an accepted reference value, or None."""
    def depth(item):
        if isinstance(item, dict):
            return 1 + max((depth(v) for v in item.values()), default=0)
        if isinstance(item, list):
            return 1 + max((depth(v) for v in item), default=0)
        return 0

    def walk(item):
        yield item
        if isinstance(item, dict):
            for key, member in item.items():
                yield key
                yield from walk(member)
        elif isinstance(item, list):
            for element in item:
                yield from walk(element)

    if depth(value) > MAX_DEPTH:
        return "depth"
    for item in walk(value):
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            try:
                if not math.isfinite(float(item)):
                    return "range"
            except OverflowError:
                return "range"
        if isinstance(item, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in item):
            return "surrogate"
        if isinstance(item, dict):
            normalized = [unicodedata.normalize("NFC", k) for k in item]
            if len(set(normalized)) != len(normalized):
                return "equivalent"
    return None


def as_floats(item):
    """Numbers as doubles, as LeanJSON holds them."""
    if isinstance(item, bool) or item is None or isinstance(item, str):
        return item
    if isinstance(item, (int, float)):
        return float(item)
    if isinstance(item, list):
        return [as_floats(v) for v in item]
    return {k: as_floats(v) for k, v in item.items()}


def main() -> int:
    if len(sys.argv) < 3 or sys.argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help") else 64
    binary, targets = sys.argv[1], sys.argv[2:]
    files = []
    for target in targets:
        if not os.path.exists(target):
            continue
        if os.path.isdir(target):
            files += sorted(os.path.join(target, name) for name in os.listdir(target))
        else:
            files.append(target)
    verdicts = {}
    for start in range(0, len(files), 500):
        output = subprocess.run([binary, "--verdicts", *files[start:start + 500]], check=True, capture_output=True).stdout
        for line in output.decode("utf-8").split("\n"):
            if not line:
                continue
            fields = line.split("\t", 2)
            if len(fields) != 3 or fields[0] not in ("accept", "reject"):
                print(f"compare-json.py: unreadable verdict line from {binary}: {line[:200]!r}", file=sys.stderr)
                return 1
            verdict, path, detail = fields
            verdicts[path] = (verdict, json.loads(detail) if verdict == "reject" else detail)
    failures, intentional = [], {}
    for path in files:
        data = open(path, "rb").read()
        verdict, detail = verdicts[path]
        try:
            value = reference(data)
        except Reject as why:
            if verdict != "reject":
                failures.append(f"{path}: LeanJSON accepts, Python rejects ({why})")
            continue
        rule = leanjson_rule(value)
        if rule:
            if verdict == "reject":
                intentional.setdefault(rule, []).append(os.path.basename(path))
            else:
                failures.append(f"{path}: LeanJSON accepts what its own rule '{rule}' should reject")
            continue
        if verdict != "accept":
            failures.append(f"{path}: Python accepts, LeanJSON rejects ({detail})")
            continue
        written = json.loads(detail)
        if as_floats(written) != as_floats(value):
            failures.append(f"{path}: the values differ: LeanJSON {detail[:200]!r}, Python {json.dumps(value)[:200]!r}")
    for rule, names in sorted(intentional.items()):
        print(f"intentional ({rule}): {len(names)} file(s), e.g. {', '.join(names[:3])}")
    for failure in failures:
        print("DISAGREE " + failure, file=sys.stderr)
    print(f"compare-json: {len(files)} file(s), {len(files) - len(failures)} agree, {len(failures)} disagree")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
