#!/usr/bin/env python3
# `make` with no target, in a clean copy of the tree, builds every program:
# once a rule of an included Makefile became the default goal and `make`
# built mmpd alone, so that `mmpd -d` then failed for want of mmp-ldapd.
# Read from `make -n` (what make would run): make check's own build is the
# real one, in its clean clone in CI.

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

ROOT = T.ROOT
# Every program the design names; `make programs` may list more.
PROGRAMS = ["mmpd/mmpd", "mmp-ldapd/mmp-ldapd", "mmpctl/mmpctl"]

tap = T.Tap()
ok = tap.ok


def run(cmd, cwd, env=None):
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                       timeout=600)
    return p.returncode, p.stdout.decode("utf-8", errors="replace")


def source_files():
    """What a clone would hold: the files git knows, plus new ones not
    ignored (so an uncommitted file is built too)."""
    rc, out = run(["git", "ls-files", "-z", "--cached", "--others",
                   "--exclude-standard"], ROOT)
    if rc != 0:
        return None
    return [f for f in out.split("\0") if f and
            os.path.isfile(os.path.join(ROOT, f))]


def copy_tree(files, dest):
    for f in files:
        os.makedirs(os.path.join(dest, os.path.dirname(f)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, f), os.path.join(dest, f))


def main():
    files = source_files()
    if files is None:
        print("1..0 # SKIP not a git checkout: no way to tell sources "
              "from build products")
        return 0
    with tempfile.TemporaryDirectory(prefix="mmpd-make.") as d:
        copy_tree(files, d)
        rc, out = run(["make", "-pn"], d)
        goal = [ln for ln in out.splitlines()
                if ln.startswith(".DEFAULT_GOAL :=")]
        ok(goal == [".DEFAULT_GOAL := all"], "the default goal is all",
           "\n".join(goal) or "no .DEFAULT_GOAL line")
        # What `make` would run, not a second build of everything: make
        # check has just built the same sources in its own tree.
        rc, out = run(["make", "-n"], d)
        ok(rc == 0, "make -n in a clean copy succeeds", out[-3000:])
        rc, listed = run(["make", "-s", "programs"], d)
        progs = listed.split()
        ok(rc == 0 and set(PROGRAMS) <= set(progs),
           "make programs lists %s" % ", ".join(PROGRAMS), listed)
        links = set()
        for ln in out.splitlines():
            words = ln.split()
            if "-o" in words[:-1]:
                links.add(words[words.index("-o") + 1])
        for p in sorted(set(PROGRAMS) | set(progs)):
            ok(p in links, "make builds and links %s" % p,
               "not linked by make -n: %s" % p)
        ok(not any(x.startswith("regress/") and x.endswith(".t")
                   for x in links),
           "make builds no test (make check does)",
           " ".join(sorted(x for x in links if x.endswith(".t"))))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
