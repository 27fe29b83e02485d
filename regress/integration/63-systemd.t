#!/usr/bin/env python3
# The systemd unit (etc/mmpd.service) and make install. systemd does not
# run on these machines, so: `make install DESTDIR=...` puts every file
# where it belongs with its mode; `systemd-analyze verify` accepts the
# installed unit; `systemd-analyze security --offline=true` scores it no
# worse than README.md says; and mmpd runs (a login on a port below 1024,
# a reload, a stop that leaves no child) with nothing but the unit's
# CapabilityBoundingSet and NoNewPrivileges (setpriv), while each of
# those capabilities taken away breaks something; and every system call
# mmpd and its children make (traced with strace: logins over IMAP, POP3
# and TLS, a reload, a stop) is one the unit's SystemCallFilter allows.

import os
import re
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
UNIT = os.path.join(TOP, "etc", "mmpd.service")
BUILD = os.path.dirname(os.path.dirname(T.MMPD_BIN))
MMPCTL = os.path.join(BUILD, "mmpctl", "mmpctl")
MAX_EXPOSURE = 2.4	# README.md, "systemd"
PREFIX = "/usr/local"


def unit_value(key):
    with open(UNIT) as f:
        for line in f:
            if line.startswith(key + "="):
                return line.split("=", 1)[1].strip()
    return None


def install(tap, env):
    """make install into a DESTDIR: (destdir, output)."""
    dest = env.path("dest")
    r = subprocess.run(["make", "-s", "-C", TOP, "install",
                        "DESTDIR=" + dest], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    out = r.stdout.decode("latin-1")
    tap.ok(r.returncode == 0, "make install DESTDIR=... exits 0", out)
    return dest, out


def test_install(tap, env):
    dest, out = install(tap, env)
    want = {
        PREFIX + "/sbin/mmpd": 0o755,
        PREFIX + "/sbin/mmpctl": 0o755,
        PREFIX + "/libexec/mmpd/mmp-ldapd": 0o755,
        PREFIX + "/libexec/mmpd/mmp-tlsd": 0o755,
        PREFIX + "/share/man/man8/mmpd.8": 0o644,
        PREFIX + "/share/man/man8/mmpctl.8": 0o644,
        PREFIX + "/share/man/man5/mmpd.conf.5": 0o644,
        "/etc/mmpd/AService.cfg": 0o644,
        "/etc/mmpd/ImapProxyAService.cfg": 0o640,
        "/etc/mmpd/PopProxyAService.cfg": 0o640,
        "/lib/systemd/system/mmpd.service": 0o644,
        "/lib/systemd/system/mmpd@.service": 0o644,
        "/var/log/mmpd": 0o750,
    }
    bad = []
    for path, mode in sorted(want.items()):
        try:
            st = os.lstat(dest + path)
        except OSError as e:
            bad.append("%s: %s" % (path, e.strerror))
            continue
        if stat.S_IMODE(st.st_mode) != mode or st.st_uid != 0:
            bad.append("%s: mode %o uid %d, want %o root" %
                       (path, stat.S_IMODE(st.st_mode), st.st_uid, mode))
    tap.ok(not bad, "install: %d files and directories in place with "
           "their modes" % len(want), "\n".join(bad) + "\n" + out)
    unit = open(dest + "/lib/systemd/system/mmpd.service").read()
    tap.ok(not re.search(r"@[A-Z]+@", unit) and
           "ExecStart=%s/sbin/mmpd -d -f /etc/mmpd" % PREFIX in unit and
           "ExecReload=%s/sbin/mmpctl -f /etc/mmpd reload" % PREFIX in unit,
           "install: the unit's paths filled in", unit)
    tmpl = open(dest + "/lib/systemd/system/mmpd@.service").read()
    tap.ok("ExecStart=%s/sbin/mmpd -d -f /etc/mmpd-%%i" % PREFIX in tmpl and
           "ExecReload=%s/sbin/mmpctl -f /etc/mmpd-%%i reload" % PREFIX
           in tmpl, "install: mmpd@.service runs /etc/mmpd-INSTANCE", tmpl)
    for p in (dest + PREFIX + "/sbin/mmpd", dest + PREFIX + "/sbin/mmpctl"):
        r = subprocess.run([p, "-f", "/nonexistent", "status"] if
                           p.endswith("mmpctl") else [p, "-n", "-f",
                                                      dest + "/etc/mmpd"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=30)
        o = r.stdout.decode("latin-1")
        tap.ok("not running" in o if p.endswith("mmpctl") else
               "configuration OK" in o,
               "install: %s runs from its place" % os.path.basename(p), o)
    # An operator's file survives a second install.
    cfg = dest + "/etc/mmpd/AService.cfg"
    with open(cfg, "a") as f:
        f.write("# the operator's\n")
    _, out2 = install(tap, env)
    tap.ok(open(cfg).read().endswith("# the operator's\n") and
           "AService.cfg exists, kept" in out2,
           "install again: the operator's AService.cfg is kept", out2)
    return dest


def test_verify(tap, env, dest, name="mmpd.service", as_name=None):
    """The installed unit, its paths pointed into DESTDIR."""
    unit = open(dest + "/lib/systemd/system/" + name).read()
    unit = unit.replace(PREFIX + "/sbin/", dest + PREFIX + "/sbin/")
    path = env.path(as_name or name)
    with open(path, "w") as f:
        f.write(unit)
    e = dict(os.environ, MANPATH=dest + PREFIX + "/share/man")
    r = subprocess.run(["systemd-analyze", "verify", path], env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    out = r.stdout.decode("utf-8", "replace")
    tap.ok(r.returncode == 0 and out.strip() == "",
           "systemd-analyze verify %s: no error, no warning" %
           os.path.basename(path), out)
    r = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        path], env=e, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    out = r.stdout.decode("utf-8", "replace")
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", out)
    score = float(m.group(1)) if m else None
    tap.ok(score is not None and score <= MAX_EXPOSURE,
           "systemd-analyze security --offline=true %s: exposure %s, at "
           "most %.1f" % (os.path.basename(path), score, MAX_EXPOSURE),
           out[-3000:])


def low_port():
    """A free port below 1024, or None."""
    for p in range(990, 900, -1):
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    return None


def caps_of_unit():
    v = unit_value("CapabilityBoundingSet")
    return [c.lower().replace("cap_", "", 1) for c in v.split()]


def wrapper(env, caps, tag):
    """A script that runs mmpd as the unit would: these capabilities
    only, no new privileges."""
    path = env.path("mmpd-%s.sh" % tag)
    bset = ",".join(["-all"] + ["+" + c for c in caps])
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec setpriv --bounding-set=%s --inh-caps=-all "
                "--no-new-privs %s \"$@\"\n" % (bset, T.MMPD_BIN))
    os.chmod(path, 0o755)
    return path


def run_with(env, caps, tag, port):
    """mmpd under setpriv with caps: (login ok, reload ok, stop clean,
    diagnostics)."""
    real = T.MMPD_BIN
    T.MMPD_BIN = wrapper(env, caps, tag)
    m = env.mmpd(name="caps-" + tag, imap_ports=[port],
                 imap={"ConnLimits": "0.0.0.0|0.0.0.0:200"})
    login = reload_ok = stop_ok = False
    diag = ""
    try:
        try:
            m.start()
        except RuntimeError as e:
            return False, False, False, str(e)[-1500:]
        t, subj, diag = T.imap_route(m, "alice", "alice-pw")
        login = t.startswith(b"t1 OK") and subj == ["alice's mail"]
        r = subprocess.run([MMPCTL, "-f", m.confdir, "reload"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        reload_ok = r.returncode == 0
        kids = m.children()
        m.known_children.update(kids)
        rc = m.stop(15)
        time.sleep(0.5)
        left = [k for k in kids if T.pid_alive(k)]
        # Without CAP_KILL the children (other users) ignore the parent's
        # signals: it waits out its grace time and cannot kill them.
        stop_ok = rc == 0 and not left and \
            "still running after" not in m.log()
        diag += "\nreload: %r\nstop: %r, left %r\n%s" % (
            r.stdout, rc, left, m.log()[-1500:])
    finally:
        T.MMPD_BIN = real
        m.stop()
        # A capability taken away breaks the stop on purpose (no kill):
        # the leak check of the end of the script is for the others.
        if T.LEAKCHECK and tag != "all":
            env.mmpds.remove(m)
    return login, reload_ok, stop_ok, diag


def test_caps(tap, env):
    caps = caps_of_unit()
    port = low_port()
    if port is None:
        tap.skip("mmpd with the unit's capabilities", "no free port < 1024")
        return
    login, rel, stop, d = run_with(env, caps, "all", port)
    tap.ok(login and rel and stop,
           "with only %s and no new privileges: a login on port %d, a "
           "reload, a clean stop" % (" ".join(caps), port), d)
    for c in caps:
        if T.LEAKCHECK and c == "sys_chroot":
            tap.skip("without sys_chroot something breaks", T.LEAKCHECK_WHY)
            continue
        rest = [x for x in caps if x != c]
        login, rel, stop, d = run_with(env, rest, "no-" + c, port)
        tap.ok(not (login and rel and stop),
               "without %s something breaks (login %s, reload %s, stop %s)"
               % (c, login, rel, stop), d)


def syscall_set(spec):
    """The system calls of a SystemCallFilter= value, groups expanded."""
    names = set()
    for tok in spec.split():
        if not tok.startswith("@"):
            names.add(tok)
            continue
        r = subprocess.run(["systemd-analyze", "syscall-filter", tok],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=60)
        for line in r.stdout.decode("latin-1").splitlines()[1:]:
            t = line.strip()
            if t and not t.startswith("#"):
                names |= syscall_set(t)
    return names


def unit_filter():
    """(allowed, denied) by the unit's SystemCallFilter= lines."""
    allowed, denied = set(), set()
    with open(UNIT) as f:
        for line in f:
            if line.startswith("SystemCallFilter="):
                v = line.split("=", 1)[1].strip()
                if v.startswith("~"):
                    denied |= syscall_set(v[1:])
                else:
                    allowed |= syscall_set(v)
    return allowed, denied


def test_syscalls(tap, env):
    trace = env.path("strace.out")
    path = env.path("mmpd-strace.sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nexec strace -f -qq -o %s %s \"$@\"\n" %
                (trace, T.MMPD_BIN))
    os.chmod(path, 0o755)
    real = T.MMPD_BIN
    T.MMPD_BIN = path
    try:
        m = env.mmpd(name="traced", tls=True,
                     imap={"ConnLimits": "0.0.0.0|0.0.0.0:200"})
        m.start()
        t, subj, d = T.imap_route(m, "alice", "alice-pw")
        r, _ = T.pop_route(m, "alice", "alice-pw")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection((m.host, m.imaps_ports[0]), 10) as s:
            with ctx.wrap_socket(s) as ts:
                g = ts.recv(100)
        subprocess.run([MMPCTL, "-f", m.confdir, "reload"],
                       stdout=subprocess.DEVNULL, timeout=60)
        m.stop(20)
    finally:
        T.MMPD_BIN = real
    used = set()
    with open(trace, errors="replace") as f:
        for line in f:
            mt = re.match(r"\d+\s+([a-z_0-9]+)\(", line)
            if mt:
                used.add(mt.group(1))
    allowed, denied = unit_filter()
    out = sorted(x for x in used if x not in allowed or x in denied)
    tap.ok(t.startswith(b"t1 OK") and r.startswith(b"+OK") and
           g.startswith(b"* OK") and len(used) > 40 and not out,
           "all %d system calls of a traced run (IMAP, POP3, TLS, reload, "
           "stop) are in the unit's SystemCallFilter" % len(used),
           "outside: %r\n%s" % (out, d))


def main(tap):
    if shutil.which("systemd-analyze") is None:
        raise T.SkipAll("systemd-analyze is not installed")
    if os.geteuid() != 0:
        raise T.SkipAll("make install and capabilities need root")
    env = T.Env("systemd", tap).setup()
    env.user("alice", "alice-pw", "store1")
    env.stores["store1"].seed("alice", T.message("alice's mail"))
    env.start_backends()
    dest = test_install(tap, env)
    test_verify(tap, env, dest)
    # The template as one of its instances.
    test_verify(tap, env, dest, "mmpd@.service", "mmpd@b.service")
    if shutil.which("setpriv") is None:
        tap.skip("capabilities", "setpriv is not installed")
    else:
        test_caps(tap, env)
    if shutil.which("strace") is None:
        tap.skip("system calls", "strace is not installed")
    elif os.path.realpath(T.MMPD_BIN) != os.path.join(TOP, "mmpd", "mmpd"):
        # A sanitizer's runtime makes system calls of its own.
        tap.skip("system calls", "not the plain build: %s" % T.MMPD_BIN)
    else:
        test_syscalls(tap, env)


T.run(main)
