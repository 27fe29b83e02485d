#!/usr/bin/env python3
"""Saved runs of bench.py (--json) of two builds of one target, figure by
figure: is the newer build worse than the older by more than the rule
allows?

    python3 bench/compare.py OLD.json[,OLD2.json...] NEW.json[,NEW2.json...]
        [--target mmpd] [--markdown]

The rule (the issues' benchmark rule): no figure may get worse by more than
5 % or the noise measured for it, whichever is larger. The noise of a
figure is the largest of:
  * its spread inside each invocation, (max - min) / median of its runs;
  * for a figure computed from two others, their noise: a TLS handshake's
    CPU is a TLS login's minus a plain login's, so their ranges add up; a
    resumed handshake over a full one adds both handshakes' relative noise;
  * with several invocations of one build (comma-separated), how far their
    figures lie apart, (max - min) / median: what a build measures against
    itself at another time. On a virtual machine whose speed drifts, this
    is the noise that matters; a figure measured once in each invocation
    (idle 10,000, the system call counts) has only this one.
A build's figure is the median of its invocations' figures. Only figures
with a direction count (a cost that must not rise, a rate that must not
fall); the others are shown for reading. Exit 1 if any figure is worse
than allowed, 2 on bad input."""

import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

ALLOWED_PCT = 5.0


def range_of(results, target, sc, key):
    """max - min of the figure's runs in one invocation, or None."""
    lo_hi = results["targets"][target].get(sc, {}).get("spread", {}).get(key)
    return lo_hi[1] - lo_hi[0] if lo_hi else None


def own_spread(results, target, sc, key):
    """The figure's (max - min) / median in one invocation, in %."""
    width = range_of(results, target, sc, key)
    med = results["targets"][target].get(sc, {}).get(key)
    if width is None or not med:
        return None
    return 100.0 * width / abs(med)


def derived_spread(results, target, sc, key):
    """The noise of a TLS figure computed from two others, in %; None for
    any other figure."""
    v = results["targets"][target].get(sc, {}).get(key)
    if not v or not sc.startswith("tls_"):
        return None
    if key == "cpu_us_per_handshake":
        a = range_of(results, target, sc, "cpu_us_per_login")
        b = range_of(results, target, "login_imap", "cpu_us_per_login")
        if a is None or b is None:
            return None
        return 100.0 * (a + b) / abs(v)
    if key == "ratio_to_full":
        full = sc.replace("_resumed", "_full")
        a = derived_spread(results, target, sc, "cpu_us_per_handshake")
        b = derived_spread(results, target, full, "cpu_us_per_handshake")
        if a is None or b is None:
            return None
        return a + b
    return None


def side(runs, target, sc, key):
    """(the median of the invocations' figures or None, [noise in %])."""
    vals = [v for v in (bench.value(r, target, sc, key) for r in runs)
            if v is not None]
    noise = []
    for r in runs:
        for f in (own_spread, derived_spread):
            s = f(r, target, sc, key)
            if s is not None:
                noise.append(s)
    if not vals:
        return None, noise
    med = statistics.median(vals)
    if len(vals) > 1 and med:
        noise.append(100.0 * (max(vals) - min(vals)) / abs(med))
    return med, noise


def compare(old, new, target):
    """[(label, old, new, worse_pct or None, allowed_pct, verdict)] for the
    lists of invocations old and new: worse_pct > 0 means the new build is
    worse; verdict "worse" when it is by more than allowed_pct."""
    out = []
    for label, sc, key, better in bench.rows(new[0]):
        a, na = side(old, target, sc, key)
        b, nb = side(new, target, sc, key)
        if a is None and b is None:
            continue
        allowed = max([ALLOWED_PCT] + na + nb)
        worse = None
        verdict = ""
        if better is None:
            pass
        elif a is None or b is None:
            verdict = "only new" if a is None else "only old"
        elif a:
            change = 100.0 * (b - a) / abs(a)
            worse = change if better == "low" else -change
            verdict = "worse" if worse > allowed else "ok"
        out.append((label.strip(), a, b, worse, allowed, verdict))
    return out


def table(rows, names, markdown):
    head = ("figure", names[0], names[1], "worse%", "allowed%", "verdict")
    if markdown:
        lines = ["| " + " | ".join(head) + " |",
                 "|---|" + "---|" * (len(head) - 1)]
    else:
        lines = ["%-34s%17s%17s%9s%10s  %s" % head]
    for label, a, b, worse, allowed, verdict in rows:
        cells = (label, bench.fmt(a), bench.fmt(b),
                 "-" if worse is None else "%+.1f" % (worse + 0.0),
                 "%.1f" % allowed, verdict or "-")
        if markdown:
            lines.append("| " + " | ".join(cells) + " |")
        else:
            lines.append("%-34s%17s%17s%9s%10s  %s" % cells)
    return "\n".join(lines)


def load(paths, target):
    runs = []
    for path in paths.split(","):
        try:
            with open(path) as f:
                results = json.load(f)
        except (OSError, ValueError) as e:
            print("compare: %s: %s" % (path, e), file=sys.stderr)
            sys.exit(2)
        if target not in results.get("targets", {}):
            print("compare: %s has no target %r" % (path, target),
                  file=sys.stderr)
            sys.exit(2)
        runs.append(results)
    return runs


def name(paths):
    first = os.path.basename(paths.split(",")[0])
    n = paths.count(",") + 1
    return first if n == 1 else "%s+%d" % (first, n - 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old", help="JSON of the older build, comma-separated")
    ap.add_argument("new", help="JSON of the newer build, comma-separated")
    ap.add_argument("--target", default="mmpd")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    old, new = load(args.old, args.target), load(args.new, args.target)
    rows = compare(old, new, args.target)
    print(table(rows, (name(args.old), name(args.new)), args.markdown))
    worse = [r[0] for r in rows if r[5] == "worse"]
    for label in worse:
        print("compare: worse beyond the allowance: " + label,
              file=sys.stderr)
    sys.exit(1 if worse else 0)


if __name__ == "__main__":
    main()
