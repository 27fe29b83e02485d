#!/usr/bin/env python3
# The leak-check build (make leakcheck, lib/leakcheck.h) has no sandbox, so
# it must never pass for an installable one: its daemons refuse to start
# without MMPD_LEAKCHECK=1 and etc/install.sh refuses to install them,
# while a normal build carries no such mark and installs. In the
# leak-check build, a daemon that leaves through exit() leaves the proof
# that LeakSanitizer checked it (SAN_DIR/checked.PID). The same holds for
# the sandbox's debug mode (make SANDBOX_DEBUG=1, lib/sandbox.h): no build
# under test has it, and install.sh refuses a program that does.

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

MARK = b"MMP_LEAKCHECK_BUILD"
DEBUG_MARK = b"MMP_SANDBOX_DEBUG_BUILD"
# What etc/install.sh wants to find besides the programs.
TREE_FILES = ["doc/mmpd.8", "doc/mmpctl.8", "doc/mmpd.conf.5",
              "etc/mmpd.service", "etc/mmpd.logrotate",
              "etc/mmpd/AService.cfg", "etc/mmpd/ImapProxyAService.cfg",
              "etc/mmpd/PopProxyAService.cfg"]


def marked(path, mark=MARK):
    with open(path, "rb") as f:
        return mark in f.read()


def without_switch():
    e = dict(os.environ)
    e.pop("MMPD_LEAKCHECK", None)
    return e


def test_refuses_to_start(tap):
    for b in (T.MMPD_BIN, T.LDAPD_BIN, T.TLSD_BIN):
        r = subprocess.run([b, "-n", "-f", "/nonexistent"] if
                           b == T.MMPD_BIN else [b],
                           env=without_switch(), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        out = r.stdout.decode("latin-1")
        tap.ok(r.returncode == 1 and "leak-check build" in out and
               "MMPD_LEAKCHECK=1" in out,
               "%s without MMPD_LEAKCHECK=1: refuses to start" %
               os.path.basename(b), "exit %d: %s" % (r.returncode, out))


def install_tree(tmp, debug_mark=None):
    """A tree for etc/install.sh with the programs under test in it (that
    program with the sandbox debug build's string added, if named)."""
    top = os.path.join(tmp, "tree")
    for rel in TREE_FILES + ["etc/install.sh"]:
        os.makedirs(os.path.dirname(os.path.join(top, rel)), exist_ok=True)
        shutil.copy(os.path.join(T.ROOT, rel), os.path.join(top, rel))
    for rel, src in (("mmpd/mmpd", T.MMPD_BIN),
                     ("mmp-ldapd/mmp-ldapd", T.LDAPD_BIN),
                     ("mmp-tlsd/mmp-tlsd", T.TLSD_BIN),
                     ("mmpctl/mmpctl", T.MMPD_BIN)):
        os.makedirs(os.path.join(top, os.path.dirname(rel)), exist_ok=True)
        shutil.copy(src, os.path.join(top, rel))
        if rel == debug_mark:
            with open(os.path.join(top, rel), "ab") as f:
                f.write(b"\0" + DEBUG_MARK + b": test\0")
    return top


def test_install(tap):
    tmp = tempfile.mkdtemp(prefix="mmptest-lsaninst.")
    try:
        top = install_tree(tmp)
        dest = os.path.join(tmp, "dest")
        r = subprocess.run(["sh", os.path.join(top, "etc", "install.sh"),
                            dest, "/usr/local/sbin", "/usr/local/libexec/mmpd",
                            "/usr/local/share/man", "/etc/mmpd"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode("latin-1")
        installed = os.path.exists(dest + "/usr/local/sbin/mmpd")
        if T.LEAKCHECK:
            tap.ok(r.returncode != 0 and "leak-check build" in out and
                   not installed, "install.sh refuses a leak-check build "
                   "and installs nothing", out)
        else:
            tap.ok(r.returncode == 0 and installed,
                   "install.sh installs a normal build", out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_install_debug(tap):
    """A program of a sandbox debug build is refused, whichever it is."""
    for rel in ("mmpd/mmpd", "mmp-ldapd/mmp-ldapd", "mmp-tlsd/mmp-tlsd"):
        tmp = tempfile.mkdtemp(prefix="mmptest-dbginst.")
        try:
            top = install_tree(tmp, rel)
            dest = os.path.join(tmp, "dest")
            r = subprocess.run(["sh", os.path.join(top, "etc",
                                "install.sh"), dest, "/usr/local/sbin",
                                "/usr/local/libexec/mmpd",
                                "/usr/local/share/man", "/etc/mmpd"],
                               stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            out = r.stdout.decode("latin-1")
            tap.ok(r.returncode != 0 and "sandbox debug build" in out and
                   not os.path.exists(dest + "/usr/local/sbin/mmpd"),
                   "install.sh refuses %s of a sandbox debug build and "
                   "installs nothing" % rel, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def test_marker(tap):
    """mmpd -n that fails leaves through exit() and LeakSanitizer."""
    p = subprocess.Popen([T.MMPD_BIN, "-n", "-f", "/nonexistent"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    out = p.communicate(timeout=60)[0].decode("latin-1")
    tap.ok(p.returncode == 1 and T.leak_checked(p.pid),
           "mmpd -n of a missing directory: exit 1, checked by "
           "LeakSanitizer at its exit", "exit %d: %s" % (p.returncode, out))


def main(tap):
    T.need_binaries()
    for b in (T.MMPD_BIN, T.LDAPD_BIN, T.TLSD_BIN):
        tap.is_(marked(b), T.LEAKCHECK, "%s: leak-check mark %s" %
                (os.path.basename(b), "present (make leakcheck)" if
                 T.LEAKCHECK else "absent (not make leakcheck)"))
        tap.ok(not marked(b, DEBUG_MARK), "%s: no sandbox debug mode" %
               os.path.basename(b))
    test_install(tap)
    if not T.LEAKCHECK:
        test_install_debug(tap)
    if not T.LEAKCHECK:
        tap.skip("the leak-check build refuses to start without its "
                 "switch", "not the leak-check build")
        tap.skip("the leak-check build marks a checked exit",
                 "not the leak-check build")
        return
    test_refuses_to_start(tap)
    test_marker(tap)


T.run(main)
