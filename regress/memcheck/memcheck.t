#!/usr/bin/env python3
# Valgrind memcheck over every unit test (but the sandbox test: valgrind
# does not know the seccomp and Landlock calls) and over `mmpd -n` / `-nn`,
# also as on a machine where the users and ChrootDir do not exist yet.
# memcheck sees what ASan and UBSan do not, such as a read of uninitialized
# stack bytes: once `mmpd -nn` printed such bytes on every new machine.
# Any memcheck error fails (leaks included); the unit tests must still pass.

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "integration"))
import mmptest as T  # noqa: E402

ROOT = T.ROOT
MMPD = os.environ.get("MMPD", os.path.join(ROOT, "mmpd", "mmpd"))
FRESH = os.path.join(ROOT, "regress", "tools", "fresh-machine")
# libldap.supp: a library's own leaks, each with its reason.
VALGRIND = ["valgrind", "-q", "--error-exitcode=99", "--track-origins=yes",
            "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
            "--suppressions=" + os.path.join(ROOT, "regress", "memcheck",
                                             "libldap.supp")]
PARALLEL = 2

tap = T.Tap()
lock = threading.Lock()


def ok(cond, name, diag=None):
    """tap.ok for the worker threads; long diagnostics keep their end."""
    if diag is not None:
        diag = "\n".join(str(diag).splitlines()[-60:])
    with lock:
        return tap.ok(cond, name, diag)


def unit_tests():
    """make check names them (MMP_UNIT_TESTS); by hand, find the built
    ones."""
    names = os.environ.get("MMP_UNIT_TESTS")
    if names is not None:
        tests = names.split()
    else:
        tests = []
        for top in ("lib", "mmpd", "mmp-ldapd"):
            base = os.path.join("regress", top)
            for d in sorted(os.listdir(os.path.join(ROOT, base))):
                tests += [os.path.join(base, d, f) for f in sorted(
                    os.listdir(os.path.join(ROOT, base, d)))
                    if f.endswith(".t")]
    return [t for t in tests if "sandbox" not in t]


def memcheck(cmd, name, tap=False, wrap=()):
    p = subprocess.run(list(wrap) + VALGRIND + cmd, cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL, timeout=300)
    out = p.stdout.decode("utf-8", errors="replace")
    err = p.stderr.decode("utf-8", errors="replace")
    errors = [ln for ln in err.splitlines() if re.match(r"==\d+==", ln)]
    ok(p.returncode != 99 and not errors, "%s: no memcheck error" % name,
       "\n".join(errors))
    if tap:
        bad = [ln for ln in out.splitlines() if ln.startswith("not ok")]
        ok(p.returncode == 0 and not bad and re.search(r"^1\.\.\d+$", out,
                                                       re.M),
           "%s: passes under valgrind" % name,
           "exit %d\n%s" % (p.returncode, "\n".join(bad) or out[-2000:]))
    return p.returncode, out, err


def run_units(tests):
    todo = list(tests)

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                t = todo.pop(0)
            path = os.path.join(ROOT, t)
            if not os.access(path, os.X_OK):
                ok(False, "%s is built" % t)
                continue
            memcheck([path], t, tap=True)
    ts = [threading.Thread(target=worker) for _ in range(PARALLEL)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def config_dir(d):
    """The sample configuration with the two log directories it names
    pointed at a temp dir, so that every check runs to its end."""
    for f in ("AService.cfg", "ImapProxyAService.cfg",
              "PopProxyAService.cfg"):
        with open(os.path.join(ROOT, "etc", "mmpd", f)) as src:
            text = src.read().replace("/var/log/mmpd", d)
        with open(os.path.join(d, f), "w") as dst:
            dst.write(text)


def minimal_dir(d):
    """Every key at its default but the two a service needs."""
    with open(os.path.join(d, "AService.cfg"), "w") as f:
        f.write('default:ServiceList "ImapProxyAService@1143 '
                'PopProxyAService@1110"\n')
    for f in ("ImapProxyAService.cfg", "PopProxyAService.cfg"):
        with open(os.path.join(d, f), "w") as dst:
            dst.write("default:LdapUrl ldap://127.0.0.1/o=example\n")


def run_checks():
    fresh = [([], "")]
    if os.geteuid() == 0:
        fresh.append(([FRESH], ", no users, no ChrootDir"))
    for what, fill in (("sample", config_dir), ("defaults", minimal_dir)):
        with tempfile.TemporaryDirectory(prefix="mmpd-memcheck.") as d:
            fill(d)
            for wrap, how in fresh:
                for flag in ("-n", "-nn"):
                    name = "mmpd %s (%s configuration%s)" % (flag, what, how)
                    rc, out, err = memcheck([MMPD, flag, "-f", d], name,
                                            wrap=wrap)
                    ok(rc == 0, "%s exits 0" % name, err)


def main():
    if shutil.which("valgrind") is None:
        print("Bail out! valgrind is not installed (make deps)")
        return 1
    run_units(unit_tests())
    run_checks()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
