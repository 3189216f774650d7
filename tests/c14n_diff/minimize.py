#!/usr/bin/env python3
"""Shrinks a failing differential-c14n case to a small document that still fails (delta debugging on
markup tokens, then on characters; every candidate must still be accepted by lxml and be within
assertion-grant's limits).

    cargo build --release --example c14n_diff
    target/release/examples/c14n_diff target/c14n-diff/cases.jsonl --failures target/c14n-diff/failures.jsonl
    python3 tests/c14n_diff/minimize.py target/c14n-diff/failures.jsonl [--line N]

What "still fails" means (--mode, default: from the case):
  ours      our canonical form differs from the expected one (same method, any apex: subset indices
            shift while the document shrinks), and our parser accepts the document;
  refusal   our parser refuses the document (the reason must stay the same);
  oracles   lxml and the libxml2 node-set oracle disagree (for a line of gen.py --disagreements).
Prints the minimised input and, per failing apex, the expected / lxml / node-set / our outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import unicodedata

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOKENS = re.compile(r"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<\?.*?\?>|<(?:[^>\"']|\"[^\"]*\"|'[^']*')*>|[^<]+", re.S)


def show(text):
    """A JSON string with every non-printing or space-like character other than ' ' escaped."""
    out = []
    for ch in json.dumps(text, ensure_ascii=False)[1:-1]:
        cat = unicodedata.category(ch)
        out.append(f"\\u{ord(ch):04x}" if ch != " " and (cat[0] in "CZ" or ch in "\ufeff\u200b") else ch)
    return '"' + "".join(out) + '"'


class Checker:
    def __init__(self, case, mode, binary, nodeset):
        self.case = case
        self.mode = mode
        self.binary = binary
        self.nodeset = nodeset
        self.exclusive = case["exclusive"]
        self.plist = case.get("inclusive_prefixes")
        self.reason = None
        self.runs = 0

    def valid(self, text):
        try:
            data = text.encode("utf-8")
            root = gen.etree.fromstring(data, gen.PARSER)
        except (gen.etree.XMLSyntaxError, ValueError, UnicodeEncodeError):
            return False
        if gen.within_limits(data, root) is not None:
            return False
        try:  # libxml2 refuses to canonicalize relative namespace URIs (a shrunk "urn:a" -> "urn")
            gen.etree.tostring(root, method="c14n")
        except gen.etree.C14NError:
            return False
        return True

    def run_ours(self, lines):
        self.runs += 1
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
            path = f.name
        try:
            r = subprocess.run([self.binary, path, "--show", "1000"], capture_output=True, text=True)
        finally:
            os.unlink(path)
        return r.stdout

    def cases(self, text):
        out = []
        try:
            with gen.Oracle(text, self.nodeset) as orc:
                for apex in [None] + list(range(1, len(orc.elements))):
                    expected, oracle, lx, ns_out = orc.expected(apex, self.exclusive, self.plist)
                    if expected is not None:
                        out.append((gen.case_json(0, text, apex, self.exclusive, self.plist, expected, oracle),
                                    lx, ns_out))
        except ValueError:  # the system libxml2 refused it
            return None
        return out

    def fails(self, text):
        if not self.valid(text):
            return False
        if self.mode == "oracles":
            try:
                with gen.Oracle(text, self.nodeset) as orc:
                    return any(a != b for apex in [None] + list(range(1, len(orc.elements)))
                               for a, b in [orc.both(apex, self.exclusive, self.plist)])
            except ValueError:
                return False
        if self.mode == "refusal":
            out = self.run_ours([{"input": text, "apex_index": None, "exclusive": True, "expected": ""}])
            m = re.search(r"refused a document lxml accepts: (.*)", out)
            if not m:
                return False
            if self.reason is None:
                self.reason = m.group(1)
            return m.group(1) == self.reason
        cases = self.cases(text)
        if not cases:
            return False
        out = self.run_ours([c for c, _, _ in cases])
        return "refused" not in out and not re.search(r" 0 differences$", out.strip())

    def report(self, text):
        print("minimised input:", show(text))
        if self.mode == "refusal":
            print("our parser:", self.reason)
            return
        for c, lx, ns_out in self.cases(text) or []:
            out = self.run_ours([c])
            differs = not re.search(r" 0 differences$", out.strip())
            if self.mode == "oracles":
                differs = lx != ns_out
            if not differs:
                continue
            print(f"apex {c['apex_index']} ({'exclusive' if self.exclusive else 'inclusive'}"
                  f"{' PrefixList ' + ' '.join(self.plist) if self.plist else ''}), expected from {c['oracle']}:")
            print("  expected:", show(c["expected"]))
            print("  lxml:    ", show(lx))
            print("  nodeset: ", show(ns_out) if ns_out is not None else "(no system libxml2)")
            m = re.search(r"\n  ours: +(.*)", out)
            print("  ours:    ", m.group(1) if m else "(same as expected)")


ATTR = re.compile(r"\s+[^\s=/>]+\s*=\s*(?:\"[^\"]*\"|'[^']*')")


def element_spans(tokens):
    """(start, end) token index pairs of every element, outermost first."""
    spans, stack = [], []
    for i, t in enumerate(tokens):
        if t.startswith("<?") or t.startswith("<!") or not t.startswith("<"):
            continue
        if t.startswith("</"):
            if stack:
                spans.append((stack.pop(), i))
        elif t.endswith("/>"):
            spans.append((i, i))
        else:
            stack.append(i)
    return sorted(spans, key=lambda s: (s[0], -s[1]))


def structural(tokens, test):
    """Removes whole elements, unwraps elements, drops attributes, while the test still fails."""
    changed = True
    while changed:
        changed = False
        for start, end in element_spans(tokens):
            cand = tokens[:start] + tokens[end + 1:]
            if test(cand):
                tokens, changed = cand, True
                break
            if end > start:
                cand = tokens[:start] + tokens[start + 1:end] + tokens[end + 1:]
                if test(cand):
                    tokens, changed = cand, True
                    break
        if changed:
            continue
        for i, t in enumerate(tokens):
            if not t.startswith("<") or t.startswith("</") or t.startswith("<?") or t.startswith("<!"):
                continue
            for m in ATTR.finditer(t):
                cand = tokens[:i] + [t[:m.start()] + t[m.end():]] + tokens[i + 1:]
                if test(cand):
                    tokens, changed = cand, True
                    break
            if changed:
                break
    return tokens


def ddmin(units, test):
    n = 2
    while len(units) >= 2:
        chunk = -(-len(units) // n)
        for start in range(0, len(units), chunk):
            candidate = units[:start] + units[start + chunk:]
            if test(candidate):
                units = candidate
                n = max(n - 1, 2)
                break
        else:
            if n >= len(units):
                break
            n = min(2 * n, len(units))
    return units


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", help="JSONL with the failing case (example --failures or gen.py --disagreements)")
    ap.add_argument("--line", type=int, default=1, help="which line of FILE (default 1)")
    ap.add_argument("--mode", choices=["ours", "refusal", "oracles"])
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "examples", "c14n_diff"))
    args = ap.parse_args()
    with open(args.file, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    case = json.loads(lines[args.line - 1])
    try:
        nodeset = gen.NodeSetC14N()
    except OSError:
        nodeset = None
    mode = args.mode or ("oracles" if "lxml" in case and "nodeset" in case else None)
    checker = Checker(case, mode or "ours", args.bin, nodeset)
    text = case["input"]
    if mode is None:
        checker.mode = "refusal"
        if not checker.fails(text):
            checker.mode = "ours"
    if not checker.fails(text):
        sys.exit("minimize.py: the case does not fail (nothing to minimise)")
    print(f"mode {checker.mode}; {len(text)} characters", file=sys.stderr)
    test = lambda units: checker.fails("".join(units))  # noqa: E731
    while True:
        before = text
        tokens = structural(TOKENS.findall(text), test)
        tokens = ddmin(tokens, test)
        text = "".join(tokens)
        if len(text) <= 4000:
            text = "".join(ddmin(list(text), test))
        print(f"{len(text)} characters ({checker.runs} runs)", file=sys.stderr)
        if text == before:
            break
    checker.report(text)


if __name__ == "__main__":
    main()
