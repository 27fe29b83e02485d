#!/usr/bin/env python3
# mmptest: harness of the mmpd integration tests. Starts a private slapd,
# Dovecot stores on 127.0.0.x and mmpd in a temp dir, offers small IMAP and
# POP3 clients and TAP output; everything is stopped and removed at exit.

import atexit
import base64
import ctypes
import imaplib
import os
import poplib
import pwd
import random
import re
import resource
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MMPD_BIN = os.environ.get("MMPD", os.path.join(ROOT, "mmpd", "mmpd"))
# Where mmpd itself looks first: beside its own build (build-asan/ too).
LDAPD_BIN = os.path.join(os.path.dirname(os.path.dirname(MMPD_BIN)),
                         "mmp-ldapd", "mmp-ldapd")
TLSD_BIN = os.path.join(os.path.dirname(os.path.dirname(MMPD_BIN)),
                        "mmp-tlsd", "mmp-tlsd")
USERS_SH = os.path.join(ROOT, "etc", "users.sh")
SHARED_REF = os.path.join(os.path.dirname(ROOT), "shared", "reference")
SCHEMA_DIR = "/etc/ldap/schema"
SUFFIX = "o=example"
DOMAIN_SUFFIX = "o=internet"	# the hosted domains' tree (DcRoot)
ISP_SUFFIX = "o=isp"		# where hosted domains keep their users
DM_DN = "cn=Directory Manager"
DM_PW = "dm-secret"
CHROOT = "/var/empty"
STORE_ADDRS = {"store1": "127.0.0.11", "store2": "127.0.0.12"}
DOWN_ADDR = "127.0.0.13"		# an address nothing listens on
READY_SEC = 15
# A PROXY protocol v2 header, command LOCAL: a load balancer's health check.
PROXY_V2_LOCAL = b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"
KEEP = os.environ.get("MMPTEST_KEEP") == "1"
# The leak-check build (make leakcheck, lib/leakcheck.h): its binaries run
# only with MMPD_LEAKCHECK=1, and have no sandbox for the tests to see.
LEAKCHECK = os.environ.get("MMPD_LEAKCHECK") == "1"
LEAKCHECK_WHY = "leak-check build: the sandbox is off (make leakcheck)"

AUX_SCHEMA = """\
# Account status attributes of Messaging Server's schema, under a private
# arc here: the tests need their names and syntax, not Sun's OIDs.
attributetype ( 1.3.6.1.4.1.55555.1.2.1 NAME 'inetUserStatus'
	DESC 'mmpd integration tests: user status'
	EQUALITY caseIgnoreMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.2.2 NAME 'mailUserStatus'
	DESC 'mmpd integration tests: mail user status'
	EQUALITY caseIgnoreMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
# Auxiliary class carrying the attributes mmpd reads (mailHost: misc.schema).
objectclass ( 1.3.6.1.4.1.55555.1.1 NAME 'mmpTestMailUser'
	DESC 'mmpd integration tests: mail user'
	SUP top AUXILIARY
	MAY ( mail $ mailHost $ inetUserStatus $ mailUserStatus ) )
# A hosted domain's entry in the domain tree (Messaging Server's Schema 1
# names, a private arc again; associatedDomain: cosine.schema).
attributetype ( 1.3.6.1.4.1.55555.1.2.3 NAME 'inetDomainBaseDN'
	DESC 'mmpd integration tests: where the domain keeps its users'
	EQUALITY distinguishedNameMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.2.4 NAME 'inetDomainStatus'
	DESC 'mmpd integration tests: domain status'
	EQUALITY caseIgnoreMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.2.5 NAME 'inetDomainSearchFilter'
	DESC 'mmpd integration tests: user filter of the domain'
	EQUALITY caseExactMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.2.6 NAME 'mailAccessProxyReplay'
	DESC 'mmpd integration tests: replay format of the domain'
	EQUALITY caseExactMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.2.7 NAME 'mailAccessProxyPreAuth'
	DESC 'mmpd integration tests: PreAuth of the domain'
	EQUALITY caseIgnoreMatch
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.55555.1.3 NAME 'inetDomain'
	DESC 'mmpd integration tests: hosted domain'
	SUP top AUXILIARY
	MAY ( associatedDomain $ inetDomainBaseDN $ inetDomainStatus $
	    inetDomainSearchFilter $ mailAccessProxyReplay $
	    mailAccessProxyPreAuth ) )
"""


# ---------------------------------------------------------------- TAP

class Tap:
    """TAP output: ok/not ok lines, diagnostics, plan at the end."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        self.on_fail = []	# callables printing diagnostics

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            print("# " + line, flush=True)

    def ok(self, cond, name, diag=None):
        self.n += 1
        cond = bool(cond)
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name),
              flush=True)
        if not cond:
            self.failed += 1
            if diag is not None:
                self.diag(diag)
            for fn in self.on_fail:
                try:
                    fn(self)
                except Exception as e:	# diagnostics must not hide results
                    self.diag("diagnostics failed: %r" % e)
        return cond

    def is_(self, got, want, name):
        return self.ok(got == want, name,
                       "got:  %r\nwant: %r" % (got, want))

    def like(self, got, regex, name):
        if isinstance(got, bytes):
            got = got.decode("latin-1")
        return self.ok(got is not None and re.search(regex, got),
                       name, "got:  %r\nwant: /%s/" % (got, regex))

    def skip(self, name, reason):
        self.n += 1
        print("ok %d - %s # SKIP %s" % (self.n, name, reason), flush=True)

    def done(self):
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed else 0


ENVS = []		# every Env of this script, for the checks at its end

# A child that died of anything but the shutdown's SIGTERM/SIGKILL: a
# seccomp kill (SIGSYS), a crash, an abort.
CHILD_CRASH = re.compile(r"killed by signal (?!SIGTERM|SIGKILL)\S+.*")


def check_children(tap):
    """One test per mmpd of the script: no child of it crashed."""
    for env in ENVS:
        for m in env.mmpds:
            found = CHILD_CRASH.findall(m.log())
            tap.ok(not found, "%s: no child process died of a signal" %
                   m.name, "\n".join(found))


def run(main):
    """Runs main(tap); an exception is one failed test with its traceback.
    Exits with the TAP status; atexit handlers clean up."""
    tap = Tap()
    install_signal_handlers()
    try:
        main(tap)
    except SkipAll as e:
        print("1..0 # SKIP %s" % e, flush=True)
        sys.exit(0)
    except Exception:
        tap.ok(False, "test script ran to its end", traceback.format_exc())
    check_leaks(tap)
    check_children(tap)
    sys.exit(tap.done())


# ---------------------------------------------------------------- leak check
# In the leak-check build every process of the script writes its sanitizer
# reports (LeakSanitizer, ASan, UBSan) to SAN_DIR/report.PID, and each one
# whose exit LeakSanitizer checked and found clean leaves
# SAN_DIR/checked.PID (lib/leakcheck.c): no report proves nothing by
# itself, a process that left by _exit() or a signal writes none either.
SAN_DIR = None
# A child mmpd's log says it started (proc.c) ...
CHILD_STARTED = re.compile(r"([\w-]+(?: \d+)?) started, pid (\d+)")


def leakcheck_setup():
    """At import, so that every mmpd, mmp-ldapd and mmp-tlsd the script
    runs (mmpd -n too) reports under SAN_DIR."""
    global SAN_DIR
    if not LEAKCHECK or SAN_DIR is not None:
        return
    SAN_DIR = tempfile.mkdtemp(prefix="mmptest-san.")
    # The children write here as their own users (_mmpd, _mmpldap...).
    os.chmod(SAN_DIR, 0o1777)
    report = os.path.join(SAN_DIR, "report")
    os.environ["MMPD_LEAKCHECK_DIR"] = SAN_DIR
    # Ours last: of a repeated option the last one counts.
    asan = os.environ.get("ASAN_OPTIONS", "")
    os.environ["ASAN_OPTIONS"] = (asan + ":" if asan else "") + \
        "detect_leaks=1:log_path=%s" % report
    os.environ["UBSAN_OPTIONS"] = "print_stacktrace=1:log_path=%s" % report
    atexit.register(leakcheck_cleanup)


def leakcheck_cleanup():
    if SAN_DIR is None:
        return
    if KEEP or sanitizer_reports():
        sys.stderr.write("mmptest: kept %s\n" % SAN_DIR)
    else:
        shutil.rmtree(SAN_DIR, ignore_errors=True)


def sanitizer_reports():
    """[(file, text)] of every report written so far."""
    out = []
    if SAN_DIR is None:
        return out
    for name in sorted(os.listdir(SAN_DIR)):
        if name.startswith("report."):
            path = os.path.join(SAN_DIR, name)
            with open(path, "rb") as f:
                out.append((path, f.read().decode("latin-1")))
    return out


def leak_checked(pid):
    return SAN_DIR is not None and \
        os.path.exists(os.path.join(SAN_DIR, "checked.%d" % pid))


def check_leaks(tap):
    """Leak-check build: every mmpd of the script stopped the normal way
    (SIGTERM), then one test per mmpd that each of its processes went
    through LeakSanitizer's check, and one that no process of the script
    wrote a sanitizer report."""
    if not LEAKCHECK:
        return
    for env in ENVS:
        for m in env.mmpds:
            m.stop()
            tap.ok(not m.leak_findings, "%s: every process left through "
                   "exit() and LeakSanitizer's check" % m.name,
                   "\n".join(m.leak_findings))
    reports = sanitizer_reports()
    tap.ok(not reports, "no sanitizer report (leak, ASan, UBSan) from any "
           "process", "\n".join("%s:\n%s" % (f, t[:6000])
                                for f, t in reports))


class SkipAll(Exception):
    pass


def install_signal_handlers():
    def handler(sig, frame):
        raise SystemExit(128 + sig)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, handler)


def ignore_signals():
    """From here on a second Ctrl-C or SIGTERM cannot cut a cleanup
    short."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        try:
            signal.signal(sig, signal.SIG_IGN)
        except ValueError:	# not the main thread
            pass


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 65536
    if soft == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ---------------------------------------------------------------- processes

def pid_alive(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except OSError:
        return False
    return True


def poll(fn, ok, timeout=10, step=0.05):
    """fn()'s first value that ok() accepts, or its last one after timeout:
    for what another process writes some time after the event (Dovecot's
    log process, a child's counters)."""
    end = time.time() + timeout
    while True:
        v = fn()
        if ok(v) or time.time() > end:
            return v
        time.sleep(step)


def wait_pid_gone(pid, timeout):
    return poll(lambda: not pid_alive(pid), bool, timeout)


def stopped(pid):
    """Whether every thread of pid is stopped (state T), False if gone."""
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
        for t in tasks:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                if f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
                    return False
    except (OSError, IndexError):
        return False
    return bool(tasks)


def stop(pid, timeout=10):
    """SIGSTOP pid and wait until every thread of it has stopped: kill(2)
    returns before that, and a busy or multi-threaded process (slapd)
    may answer one more request meanwhile. True once stopped."""
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return False
    end = time.time() + timeout
    while not stopped(pid):
        if time.time() > end:
            return False
        time.sleep(0.01)
    return True


def proc_status(pid):
    """Fields of /proc/PID/status as a dict of strings, {} if gone."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
    except OSError:
        pass
    return out


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("latin-1").strip()
    except OSError:
        return ""


def child_kind(pid):
    """(kind, index) of an mmpd child, from the command line mmpd/proc.c
    gives it: ("relay", 0) for "mmpd -P relay -i 0", ("stats", None),
    ("mmp-ldapd", None), ("mmp-tlsd", 1). A forked child that has not
    run its program yet is ("mmpd", None); a pid gone, (None, None)."""
    argv = proc_cmdline(pid).split()
    if not argv:
        return None, None
    idx = argv.index("-i") if "-i" in argv[:-1] else -1
    index = int(argv[idx + 1]) if idx >= 0 and argv[idx + 1].isdigit() \
        else None
    prog = os.path.basename(argv[0])
    if prog == "mmpd" and len(argv) > 2 and argv[1] == "-P":
        return argv[2], index
    return prog, index


MEMSCAN_CHUNK = 1 << 20
MEMSCAN_REGION_MAX = 1 << 30


def memory_holds(pid, needles):
    """Which of needles (bytes) are in the writable memory of pid: its
    heap, stacks and data, read through /proc/PID/mem (root reads a
    non-dumpable process too)."""
    found = set()
    try:
        maps = open("/proc/%d/maps" % pid).read().splitlines()
        mem = open("/proc/%d/mem" % pid, "rb", buffering=0)
    except OSError:
        return None
    longest = max(len(n) for n in needles)
    with mem:
        for line in maps:
            f = line.split()
            if "w" not in f[1] or (len(f) > 5 and f[5] in ("[vvar]",
                                                           "[vsyscall]")):
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if hi - lo > MEMSCAN_REGION_MAX:
                continue	# a sanitizer's reserved shadow, not data
            tail = b""
            while lo < hi:
                try:
                    mem.seek(lo)
                    data = tail + mem.read(min(hi - lo, MEMSCAN_CHUNK))
                except (OSError, OverflowError, ValueError):
                    break
                found |= set(n for n in needles if n in data)
                tail = data[-longest:]
                lo += MEMSCAN_CHUNK
    return found


class _UserRegs(ctypes.Structure):
    """struct user_regs_struct of x86_64 (sys/user.h)."""
    _fields_ = [(n, ctypes.c_ulonglong) for n in (
        "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi "
        "orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs").split()]


def force_syscall(pid, nr, args=()):
    """Makes the stopped-in-a-system-call process pid (a child waiting in
    epoll_wait) run system call nr with args once it goes on: ptrace
    attach, the registers rewound onto its syscall instruction, detach.
    Returns None, or why it could not."""
    if os.uname().machine != "x86_64":
        return "only on x86_64"
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = (ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                            ctypes.c_void_p)
    PT_ATTACH, PT_GETREGS, PT_SETREGS, PT_DETACH = 16, 12, 13, 17
    if libc.ptrace(PT_ATTACH, pid, None, None) != 0:
        return "PTRACE_ATTACH: %s" % os.strerror(ctypes.get_errno())
    try:
        os.waitpid(pid, 0x40000000)	# __WALL: a tracee, not our child
        regs = _UserRegs()
        if libc.ptrace(PT_GETREGS, pid, None, ctypes.byref(regs)) != 0:
            return "PTRACE_GETREGS: %s" % os.strerror(ctypes.get_errno())
        with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
            mem.seek(regs.rip - 2)
            insn = mem.read(2)
        if insn != b"\x0f\x05":
            return "not stopped after a syscall instruction: %r" % insn
        regs.rip -= 2
        regs.rax = nr
        regs.orig_rax = (1 << 64) - 1	# no restart of the interrupted call
        for name, v in zip(("rdi", "rsi", "rdx", "r10", "r8", "r9"), args):
            setattr(regs, name, v & ((1 << 64) - 1))
        if libc.ptrace(PT_SETREGS, pid, None, ctypes.byref(regs)) != 0:
            return "PTRACE_SETREGS: %s" % os.strerror(ctypes.get_errno())
    finally:
        libc.ptrace(PT_DETACH, pid, None, None)
    return None


def limit(pid, name):
    """[soft, hard] of a line of /proc/PID/limits, e.g. "Max processes"."""
    try:
        with open("/proc/%d/limits" % pid) as f:
            for line in f:
                if line.startswith(name + " "):
                    return line[len(name):].split()[0:2]
    except OSError:
        pass
    return None


def status_owner(pid):
    """Owner of /proc/PID/status: root when the process is not dumpable
    (/proc/PID itself stays the effective uid's, for ps)."""
    try:
        return os.stat("/proc/%d/status" % pid).st_uid
    except OSError as e:
        return repr(e)


def directory_fds(pid):
    """Descriptors that are directories: a path relative to one would get
    past the newfstatat rule of the filter, so there must be none."""
    d = "/proc/%d/fd" % pid
    found = []
    for fd in os.listdir(d):
        try:
            if stat.S_ISDIR(os.stat(os.path.join(d, fd)).st_mode):
                found.append(fd)
        except OSError:
            pass
    return found


def check_sandboxed(tap, pid, want_uid, what):
    """The tests of one sandboxed child of mmpd (70-sandbox.t, 72-tlsd-sandbox.t)."""
    st = proc_status(pid)
    uids = st.get("Uid", "").split()
    gids = st.get("Gid", "").split()
    tap.ok(len(uids) == 4 and all(u == str(want_uid) for u in uids),
           "%s runs as uid %d (real, effective, saved, fs)" %
           (what, want_uid), "Uid: %r" % uids)
    tap.ok(len(gids) == 4 and "0" not in gids,
           "%s has no root group id" % what, "Gid: %r" % gids)
    groups = st.get("Groups", "").split()
    tap.ok("0" not in groups, "%s has no root supplementary group" % what,
           "Groups: %r" % groups)
    try:
        root = os.readlink("/proc/%d/root" % pid)
    except OSError as e:
        root = repr(e)
    if LEAKCHECK:
        tap.skip("%s is chrooted to %s" % (what, CHROOT), LEAKCHECK_WHY)
        tap.skip("%s: Seccomp 2 (filter)" % what, LEAKCHECK_WHY)
    else:
        tap.is_(root, CHROOT, "%s is chrooted to %s" % (what, CHROOT))
        tap.is_(st.get("Seccomp"), "2", "%s: Seccomp 2 (filter)" % what)
    tap.is_(st.get("NoNewPrivs"), "1", "%s: NoNewPrivs 1" % what)
    tap.is_(st.get("CapEff"), "0000000000000000",
            "%s: no effective capabilities" % what)
    # The tests start mmpd as root with CAP_SETPCAP: the drop empties it.
    tap.is_(st.get("CapBnd"), "0000000000000000",
            "%s: empty capability bounding set" % what)
    if LEAKCHECK:
        tap.skip("%s: RLIMIT_NPROC 0 (cannot fork)" % what, LEAKCHECK_WHY)
        tap.skip("%s: not dumpable" % what, LEAKCHECK_WHY)
    else:
        tap.is_(limit(pid, "Max processes"), ["0", "0"],
                "%s: RLIMIT_NPROC 0 (cannot fork)" % what)
        tap.is_(status_owner(pid), 0,
                "%s: not dumpable (/proc/PID/status belongs to root)" %
                what)
    tap.is_(limit(pid, "Max core file size"), ["0", "0"],
            "%s: RLIMIT_CORE 0 (no core file)" % what)
    tap.is_(directory_fds(pid), [], "%s holds no directory descriptor" % what)


def flood_client(m, i, ctx=None, rcvbuf=0, sources=40):
    """The i-th client of a flood of m's IMAP port, from 127.0.0.2 and
    up (sources addresses, for ConnLimits); ctx: on the IMAPS port, its
    handshake done; rcvbuf: SO_RCVBUF, 0 the system's."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind(("127.0.0.%d" % (2 + i % sources), 0))
    s.settimeout(10)
    if ctx is None:
        s.connect((m.host, m.imap_ports[0]))
        return s
    s.connect((m.host, m.imaps_ports[0]))
    return ctx.wrap_socket(s, server_hostname="localhost")


METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$',
                       re.M)
LABEL_RE = re.compile(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"')


def metrics(port, host="127.0.0.1"):
    """mmpd's statistics page (StatsListen) as {(name, labels): value},
    labels a sorted tuple of (label, value) pairs. Reads samples only;
    58-stats.t checks the page's format itself."""
    import urllib.request
    with urllib.request.urlopen("http://%s:%d/metrics" % (host, port),
                                timeout=10) as r:
        body = r.read().decode("utf-8")
    out = {}
    for m in METRIC_RE.finditer(body):
        labels = tuple(sorted(LABEL_RE.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def private_kib(pid):
    """What the process alone holds (Private_Clean + Private_Dirty): Pss
    also moves when another process maps or drops a shared library."""
    kib = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    kib += int(line.split()[1])
    except OSError:
        pass
    return kib


def sanitized(pid):
    """Runs pid under AddressSanitizer? Its freed memory waits in a
    quarantine, so its RSS says nothing about what it holds."""
    try:
        with open("/proc/%d/maps" % pid) as f:
            return "libasan" in f.read()
    except OSError:
        return False


def children_of(ppid):
    """Pids whose parent is ppid."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = proc_status(int(d))
        if st.get("PPid") == str(ppid):
            kids.append(int(d))
    return sorted(kids)


def kill_pid(pid, sig=signal.SIGTERM, timeout=5):
    if pid is None or not pid_alive(pid):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    if not wait_pid_gone(pid, timeout):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        wait_pid_gone(pid, 2)


# ---------------------------------------------------------------- ports

_ports_taken = set()


def port_free(port, hosts):
    for h in hosts:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((h, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port(hosts=("127.0.0.1",)):
    """A port below the ephemeral range that every one of hosts can bind."""
    for _ in range(500):
        port = random.randint(20000, 32000)
        if port in _ports_taken:
            continue
        if port_free(port, hosts):
            _ports_taken.add(port)
            return port
    raise RuntimeError("no free port found")


def wait_listen(host, port, timeout=READY_SEC, proc=None):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection((host, port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


# ---------------------------------------------------------------- environment

def need_root():
    if os.geteuid() != 0:
        raise SkipAll("integration tests need root (slapd, Dovecot, "
                      "mmpd's sandbox)")


def ensure_users():
    """The sandbox users and /var/empty, created by etc/users.sh."""
    missing = False
    for u in ("_mmpd", "_mmpldap", "_mmptls", "_mmpstat"):
        try:
            pwd.getpwnam(u)
        except KeyError:
            missing = True
    if missing or not os.path.isdir(CHROOT):
        r = subprocess.run(["sh", USERS_SH], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           errors="replace")
        if r.returncode != 0:
            raise RuntimeError("etc/users.sh failed:\n" + r.stdout)


def need_binaries():
    for b in (MMPD_BIN, LDAPD_BIN, TLSD_BIN):
        if not os.access(b, os.X_OK):
            raise RuntimeError("%s is not built (make all)" % b)


def need_tlsd():
    """A TLS test fails, never skips, without mmp-tlsd: it is part of the
    tree, and a test that passes because a program is missing proves
    nothing."""
    if not os.access(TLSD_BIN, os.X_OK):
        raise RuntimeError("%s is not built (make all)" % TLSD_BIN)


class Env:
    """One temp dir with everything one test script runs."""

    def __init__(self, name, tap=None):
        self.name = name
        self.tap = tap
        self.dir = tempfile.mkdtemp(prefix="mmptest-%s." % name)
        # Dovecot's mail processes (uid mail) reach their homes in here.
        os.chmod(self.dir, 0o755)
        self.cleanups = []
        self.users = {}
        self.slapd = None
        self.stores = {}
        self.mmpds = []
        ENVS.append(self)
        self.hosts_file = os.path.join(self.dir, "hosts")
        atexit.register(self.cleanup)
        raise_nofile()
        if tap is not None:
            tap.on_fail.append(self.diagnostics)

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def get_pki(self):
        """The test PKI (regress/integration/pki.py), made once per
        process."""
        if getattr(self, "pki", None) is None:
            import pki as pkimod
            self.pki = pkimod.pki()
        return self.pki

    def cleanup(self):
        ignore_signals()
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception as e:
                sys.stderr.write("mmptest cleanup: %r\n" % e)
        self.cleanups = []
        if self.dir and os.path.isdir(self.dir):
            if KEEP:
                sys.stderr.write("mmptest: kept %s\n" % self.dir)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def diagnostics(self, tap):
        for m in self.mmpds:
            lines = m.log().splitlines()[-30:]
            tap.diag("last %d lines of %s:" % (len(lines), m.logpath))
            for line in lines:
                tap.diag("  " + line)

    # --- setup of the usual world: LDAP, two stores, hosts file

    def setup(self, stores=("store1", "store2"), imap_port=None,
              pop_port=None, store_tuning=None, store_tls=False,
              store_master=None):
        """store_tls: the stores also speak IMAPS and POP3S (on
        store_imaps_port / store_pop3s_port) and offer STARTTLS/STLS, with
        certificates of the test PKI (self.pki). store_master: (user,
        password) of a Dovecot master user on every store."""
        need_root()
        need_binaries()
        ensure_users()
        addrs = [STORE_ADDRS[s] for s in stores] + [DOWN_ADDR]
        self.store_imap_port = imap_port or free_port(addrs)
        self.store_pop_port = pop_port or free_port(addrs)
        if store_tls:
            self.store_imaps_port = free_port(addrs)
            self.store_pop3s_port = free_port(addrs)
        self.slapd = Slapd(self)
        for s in stores:
            tls = None
            if store_tls:
                tls = (self.get_pki().store(s), self.store_imaps_port,
                       self.store_pop3s_port)
            self.stores[s] = Store(self, s, STORE_ADDRS[s],
                                   self.store_imap_port, self.store_pop_port,
                                   tuning=store_tuning, tls=tls,
                                   master=store_master)
        with open(self.hosts_file, "w") as f:
            f.write("# mmptest: names of the stores\n")
            for s, a in sorted(STORE_ADDRS.items()):
                f.write("%s\t%s.mmp.test %s\n" % (a, s, s))
            f.write("%s\tdown.mmp.test down\n" % DOWN_ADDR)
            f.write("127.0.0.1\tldap.mmp.test\n")
        return self

    def user(self, uid, password, store=None, mailhost=None, ldap=True,
             stores_pw=None, mail=True, attrs=()):
        """A user: LDAP entry (mailHost given, or the store's name or IP;
        attrs: more (name, value) pairs) and a passwd line on its store
        (stores_pw: on these stores too)."""
        if mailhost is None and store is not None:
            mailhost = "%s.mmp.test" % store
        if ldap:
            self.slapd.add_user(uid, password, mailhost, mail=mail,
                                attrs=attrs)
        for s in set(([store] if store in self.stores else []) +
                     list(stores_pw or [])):
            self.stores[s].add_user(uid, password)
        self.users[uid] = (password, store)

    def start_backends(self):
        self.slapd.start()
        for s in self.stores.values():
            s.start()

    def mmpd(self, name="mmpd", **kw):
        m = Mmpd(self, name, **kw)
        self.mmpds.append(m)
        return m


# ---------------------------------------------------------------- slapd

def ssha(password):
    r = subprocess.run(["slappasswd", "-h", "{SSHA}", "-s", password],
                       stdout=subprocess.PIPE, check=True, text=True,
                       errors="replace")
    return r.stdout.strip()


def dn_escape(v):
    """RFC 4514 escaping of an attribute value (tests use ASCII)."""
    out = []
    for i, c in enumerate(v):
        if c in ',+"\\<>;=' or (i == 0 and c in "# ") or \
           (i == len(v) - 1 and c == " "):
            out.append("\\%02X" % ord(c))
        else:
            out.append(c)
    return "".join(out)


def ldif_attr(name, value):
    if re.match(r'^[\x01-\x09\x0b\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f]'
                r'[\x01-\x09\x0b\x0c\x0e-\x7f]*$', value) and \
       not value.endswith(" "):
        return "%s: %s\n" % (name, value)
    return "%s:: %s\n" % (name, base64.b64encode(
        value.encode()).decode())


class Slapd:
    def __init__(self, env, port=None, name="ldap"):
        """name: its directory in env (a replica needs its own)."""
        self.env = env
        self.port = port or free_port()
        self.tls = None		# (cert, key): see use_tls()
        self.dir = env.path(name)
        os.makedirs(os.path.join(self.dir, "dm"))
        os.makedirs(os.path.join(self.dir, "data"))
        self.conf = os.path.join(self.dir, "slapd.conf")
        self.logpath = os.path.join(self.dir, "slapd.log")
        self.url = "ldap://127.0.0.1:%d" % self.port
        self.url_by_name = "ldap://ldap.mmp.test:%d" % self.port
        self.entries = []
        # the domain tree and the hosted domains' users: two more
        # databases, made when add_domain() is first called
        self.domain_entries = []
        self.isp_entries = []
        self.made = set()
        self.proc = None
        self.loaded = False
        self._hashes = {}
        env.cleanups.append(self.stop)

    def use_tls(self, cert, key):
        """Before start(): StartTLS on the ldap:// port and ldaps:// on
        tls_port (url_tls), with this certificate."""
        self.tls = (cert, key)
        self.tls_port = free_port()
        self.url_tls = "ldaps://127.0.0.1:%d" % self.tls_port

    def add_domain(self, name, basedn, status=None, searchfilter=None,
                   replay=None, aliases=()):
        """A hosted domain: its inetDomain entry dc=..,o=internet (with
        the dc entries above it) pointing at basedn (None: no
        inetDomainBaseDN); basedn o=X,o=isp is made too. status, searchfilter, replay: inetDomainStatus,
        inetDomainSearchFilter, mailAccessProxyReplay; aliases: more
        associatedDomain values."""
        labels = name.split(".")
        for i in range(len(labels) - 1, -1, -1):
            dn = ",".join("dc=%s" % dn_escape(x) for x in labels[i:]) + \
                "," + DOMAIN_SUFFIX
            if dn in self.made:
                continue
            self.made.add(dn)
            e = "dn: %s\nobjectClass: domain\n" % dn
            if i == 0:
                e += "objectClass: inetDomain\n"
            e += ldif_attr("dc", labels[i])
            if i == 0:
                for a in (name,) + tuple(aliases):
                    e += ldif_attr("associatedDomain", a)
                if basedn is not None:
                    e += ldif_attr("inetDomainBaseDN", basedn)
                for attr, v in (("inetDomainStatus", status),
                                ("inetDomainSearchFilter", searchfilter),
                                ("mailAccessProxyReplay", replay)):
                    if v is not None:
                        e += ldif_attr(attr, v)
            self.domain_entries.append(e)
        m = re.match(r"^o=([^,]+),%s$" % re.escape(ISP_SUFFIX),
                     basedn or "")
        if m and basedn not in self.made:
            self.made.add(basedn)
            # before the users below it, whenever they were added
            self.isp_entries.insert(0, "dn: %s\nobjectClass: organization\n"
                                       "o: %s\n" % (basedn, m.group(1)))

    def add_user(self, uid, password, mailhost, mail=True, attrs=(),
                 base=None, userpassword=None):
        """base: the entry's parent (ou=people,o=example by default; a
        hosted domain's below o=isp). userpassword: the userPassword
        value as is (a clear-text "{CLEARTEXT}secret" for CRAMs), instead
        of password's {SSHA}."""
        if userpassword is None and password not in self._hashes:
            self._hashes[password] = ssha(password)
        e = "dn: uid=%s,%s\n" % (dn_escape(uid),
                                 base or "ou=people," + SUFFIX)
        e += "objectClass: inetOrgPerson\nobjectClass: mmpTestMailUser\n"
        e += ldif_attr("uid", uid) + ldif_attr("cn", uid)
        e += ldif_attr("sn", uid)
        if mail:
            e += ldif_attr("mail", "%s@example.test" %
                           re.sub(r"[^A-Za-z0-9.-]", "_", uid))
        if mailhost:
            e += ldif_attr("mailHost", mailhost)
        for name, value in attrs:
            e += ldif_attr(name, value)
        e += ldif_attr("userPassword", userpassword
                       if userpassword is not None
                       else self._hashes[password])
        if base is not None and base.endswith(ISP_SUFFIX):
            self.isp_entries.append(e)
        else:
            self.entries.append(e)

    def write_conf(self):
        with open(os.path.join(self.dir, "mmptest.schema"), "w") as f:
            f.write(AUX_SCHEMA)
        dm_hash = ssha(DM_PW)
        conf = ""
        for s in ("core", "cosine", "inetorgperson", "misc"):
            conf += "include %s/%s.schema\n" % (SCHEMA_DIR, s)
        if self.tls is not None:
            conf += "TLSCertificateFile %s\nTLSCertificateKeyFile %s\n" % \
                self.tls
        conf += """include {d}/mmptest.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
sizelimit 500

# Owns the Sun-style "cn=Directory Manager" DN the product's files bind as.
database mdb
suffix "{dm}"
rootdn "{dm}"
rootpw {dmhash}
directory {d}/dm
maxsize 10485760

database mdb
suffix "{suffix}"
rootdn "cn=admin,{suffix}"
directory {d}/data
maxsize 104857600
index uid eq
access to attrs=userPassword
	by dn.exact="{dm}" manage
	by anonymous auth
	by * none
access to *
	by dn.exact="{dm}" manage
	by * read
""".format(d=self.dir, dm=DM_DN, dmhash=dm_hash, suffix=SUFFIX)
        for suffix, sub in ((DOMAIN_SUFFIX, "internet"), (ISP_SUFFIX, "isp")):
            if not self.domain_entries:
                break
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
            conf += """
database mdb
suffix "{suffix}"
rootdn "cn=admin,{suffix}"
directory {d}/{sub}
maxsize 104857600
index uid,associatedDomain eq
access to attrs=userPassword
	by dn.exact="{dm}" manage
	by anonymous auth
	by * none
access to *
	by dn.exact="{dm}" manage
	by * read
""".format(d=self.dir, dm=DM_DN, suffix=suffix, sub=sub)
        with open(self.conf, "w") as f:
            f.write(conf)
        r = subprocess.run(["slaptest", "-Q", "-u", "-f", self.conf],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, errors="replace")
        if r.returncode != 0:
            raise RuntimeError("slaptest: " + r.stdout)

    def load(self):
        ldif = "dn: %s\nobjectClass: organization\no: example\n\n" % SUFFIX
        ldif += "dn: ou=people,%s\nobjectClass: organizationalUnit\n" \
                "ou: people\n\n" % SUFFIX
        ldif += "\n".join(self.entries)
        self._slapadd(SUFFIX, "data.ldif", ldif)
        if self.domain_entries:
            self._slapadd(DOMAIN_SUFFIX, "internet.ldif",
                          "dn: %s\nobjectClass: organization\n"
                          "o: internet\n\n" % DOMAIN_SUFFIX +
                          "\n".join(self.domain_entries))
            self._slapadd(ISP_SUFFIX, "isp.ldif",
                          "dn: %s\nobjectClass: organization\no: isp\n\n" %
                          ISP_SUFFIX + "\n".join(self.isp_entries))
        self.loaded = True

    def _slapadd(self, suffix, name, ldif):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(ldif)
        r = subprocess.run(["slapadd", "-q", "-f", self.conf, "-b", suffix,
                            "-l", path], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           errors="replace")
        if r.returncode != 0:
            raise RuntimeError("slapadd %s: %s" % (suffix, r.stdout))

    def start(self):
        if not self.loaded:
            self.write_conf()
            self.load()
        log = open(self.logpath, "ab")
        urls = "ldap://127.0.0.1:%d/" % self.port
        if self.tls is not None:
            urls += " ldaps://127.0.0.1:%d/" % self.tls_port
        self.proc = subprocess.Popen(
            ["slapd", "-d", "stats", "-f", self.conf, "-h", urls],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        end = time.time() + READY_SEC
        while time.time() < end:
            if self.proc.poll() is not None:
                break
            r = subprocess.run(["ldapwhoami", "-x", "-H", self.url,
                                "-D", DM_DN, "-w", DM_PW],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("slapd did not start:\n" + self.log()[-3000:])

    def stop(self, sig=signal.SIGTERM):
        if self.proc is not None:
            kill_pid(self.proc.pid, sig)
            self.proc.wait()
            self.proc = None

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("latin-1")
        except OSError:
            return ""

    def search(self, filt, attrs=()):
        r = subprocess.run(["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no",
                            "-H", self.url, "-D", DM_DN, "-w", DM_PW,
                            "-b", SUFFIX, filt] + list(attrs),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, errors="replace")
        return r.returncode, r.stdout


# ---------------------------------------------------------------- Dovecot

class Store:
    """One Dovecot instance on its own 127.0.0.x address."""

    def __init__(self, env, name, addr, imap_port, pop_port, tuning=None,
                 tls=None, master=None):
        """tls: ((cert, key), imaps port, pop3s port); master: (user,
        password) of a master user (passdb master = yes, pass = yes)."""
        self.env = env
        self.tls = tls
        # {name: (cert, key)}: served instead of tls's to a client asking
        # for name by SNI (Dovecot local_name); set before start().
        self.sni_certs = {}
        self.master = master
        self.name = name
        self.addr = addr
        self.imap_port = imap_port
        self.pop_port = pop_port
        self.dir = env.path(name)
        self.home_base = os.path.join(self.dir, "home")
        self.passwd = os.path.join(self.dir, "passwd")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.logpath = os.path.join(self.dir, "dovecot.log")
        self.tuning = tuning or {}
        self.users = {}
        self.pid = None
        self.seq = 0
        os.makedirs(self.home_base)
        os.makedirs(os.path.join(self.dir, "state"))
        env.cleanups.append(self.stop)

    def add_user(self, user, password):
        self.users[user] = password
        self._write_passwd()
        self.home(user)

    def _write_passwd(self):
        with open(self.passwd, "w") as f:
            # passwd-file unescapes a backslash in the user name only.
            for u, p in self.users.items():
                f.write("%s:{PLAIN}%s::::::\n" % (u.replace("\\", "\\\\"),
                                                p))
        os.chmod(self.passwd, 0o644)

    def home(self, user):
        h = os.path.join(self.home_base, user)
        mail = pwd.getpwnam("mail")
        for d in (h, os.path.join(h, "new"), os.path.join(h, "cur"),
                  os.path.join(h, "tmp")):
            if not os.path.isdir(d):
                os.mkdir(d, 0o700)
                os.chown(d, mail.pw_uid, mail.pw_gid)
        return h

    def seed(self, user, data):
        """Puts a message (bytes, LF or CRLF lines) into user's ~/new/."""
        self.seq += 1
        mail = pwd.getpwnam("mail")
        name = "%d.M%dP%d.mmptest" % (time.time(), self.seq, os.getpid())
        path = os.path.join(self.home(user), "new", name)
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, mail.pw_uid, mail.pw_gid)
        return path

    def write_conf(self):
        t = {"process_limit": 256, "client_limit": 256,
             "auth_failure_delay": 0}
        t.update(self.tuning)
        conf = """# mmptest store {name}
instance_name = mmptest-{name}-{pid}
base_dir = {d}/run
state_dir = {d}/state
listen = {addr}
protocols = imap pop3
{ssl}
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
auth_verbose = yes
{trusted}auth_failure_delay = {afd}s
auth_mechanisms = plain login
auth_username_chars =
disable_plaintext_auth = no
login_greeting = {name} ready.
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~
default_client_limit = {cl}
default_process_limit = {pl}
default_vsz_limit = 512M
{masterdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/passwd
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={d}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {addr}
    port = {ip}
  }}
  inet_listener imaps {{
    address = {addr}
    port = {isp}
  }}
  service_count = 0
  process_min_avail = 1
  process_limit = 4
  client_limit = {cl}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = {addr}
    port = {pp}
  }}
  inet_listener pop3s {{
    address = {addr}
    port = {psp}
  }}
  service_count = 0
  process_limit = 4
  client_limit = {cl}
}}
service imap {{
  process_limit = {pl}
}}
service pop3 {{
  process_limit = {pl}
}}
service imap-urlauth-login {{
  process_limit = 1
}}
service auth {{
  client_limit = {cl3}
}}
# Every mail process keeps a connection to stats-writer.
service stats {{
  client_limit = {cl3}
}}
# All logins come from mmpd's address: no per-IP auth penalty (auth, which
# runs as user dovecot, cannot open this socket).
service anvil {{
  client_limit = {cl3}
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = {pl}
}}
protocol pop3 {{
  mail_max_userip_connections = {pl}
{pop3lock}}}
""".format(name=self.name, pid=os.getpid(), d=self.dir, addr=self.addr,
           ip=self.imap_port, pp=self.pop_port, pl=t["process_limit"],
           cl=t["client_limit"], cl3=t["client_limit"] * 10 + 100,
           afd=t["auth_failure_delay"], ssl=self._ssl_conf(),
           trusted="login_trusted_networks = %s\n" %
           t["login_trusted_networks"] if t.get("login_trusted_networks")
           else "",
           pop3lock="  pop3_lock_session = yes\n"
           if t.get("pop3_lock_session") else "",
           masterdb=self._master_conf(),
           isp=self.tls[1] if self.tls else 0,
           psp=self.tls[2] if self.tls else 0)
        with open(self.conf, "w") as f:
            f.write(conf)

    def _ssl_conf(self):
        if not self.tls:
            return "ssl = no"
        (cert, key), _, _ = self.tls
        # ssl = yes: STARTTLS/STLS on the plain ports too; plaintext logins
        # stay allowed there (disable_plaintext_auth = no).
        sni = "".join("\nlocal_name %s {\n  ssl_cert = <%s\n  ssl_key = <%s\n}"
                      % (n, c, k) for n, (c, k) in self.sni_certs.items())
        return ("ssl = yes\nssl_cert = <%s\nssl_key = <%s\n"
                "ssl_min_protocol = TLSv1.2" % (cert, key)) + sni

    def _master_conf(self):
        if not self.master:
            return ""
        path = os.path.join(self.dir, "masters")
        with open(path, "w") as f:
            f.write("%s:{PLAIN}%s::::::\n" % self.master)
        os.chmod(path, 0o644)
        # pass = yes: the user logged in as must exist in the next passdb.
        return ("auth_master_user_separator = *\n"
                "passdb {\n  driver = passwd-file\n"
                "  args = scheme=PLAIN %s\n  master = yes\n"
                "  pass = yes\n}\n" % path)

    def ports(self):
        """Every port this store listens on."""
        p = [self.imap_port, self.pop_port]
        if self.tls:
            p += [self.tls[1], self.tls[2]]
        return p

    def start(self):
        self.write_conf()
        self._write_passwd()
        # The daemon keeps the descriptors it was started with: a file,
        # not a pipe, or the wait for the starter's exit never ends.
        out = os.path.join(self.dir, "start.out")
        with open(out, "wb") as f:
            r = subprocess.run(["dovecot", "-c", self.conf],
                               stdin=subprocess.DEVNULL, stdout=f, stderr=f)
        if r.returncode != 0:
            with open(out, "rb") as f:
                raise RuntimeError("dovecot %s: %s" % (self.name, f.read()))
        pidfile = os.path.join(self.dir, "run", "master.pid")
        end = time.time() + READY_SEC
        while time.time() < end and self.pid is None:
            try:
                with open(pidfile) as f:
                    self.pid = int(f.read().strip())
            except (OSError, ValueError):
                time.sleep(0.05)
        for port in self.ports():
            if not wait_listen(self.addr, port):
                raise RuntimeError("dovecot %s not listening on %s:%d\n%s" %
                                   (self.name, self.addr, port,
                                    self.log()[-3000:]))

    def stop(self):
        if self.pid is None:	# start failed half-way
            try:
                with open(os.path.join(self.dir, "run", "master.pid")) as f:
                    self.pid = int(f.read().strip())
            except (OSError, ValueError):
                return
        kill_pid(self.pid, signal.SIGTERM, 10)
        self.pid = None

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("latin-1")
        except OSError:
            return ""

    def wait_log(self, regex, timeout=10):
        """The first match of regex in the store's log, waiting for it:
        Dovecot's log process writes a line some time after the event."""
        return poll(lambda: re.search(regex, self.log()), bool, timeout)


def message(subject, body="Hello.\n", size=None, crlf=False):
    """A small RFC 5322 message; size pads the body with text lines (some
    begin with a dot, for POP3's dot-stuffing)."""
    head = ("From: mmptest <mmptest@example.test>\n"
            "To: user@example.test\n"
            "Subject: %s\n"
            "Date: Mon, 23 Nov 2026 10:00:00 +0000\n"
            "Message-ID: <%d.%d@mmptest>\n\n" %
            (subject, random.getrandbits(48), os.getpid()))
    data = (head + body).encode()
    if size is not None:
        rnd = random.Random(size)
        lines = []
        total = len(data)
        n = 0
        while total < size:
            n += 1
            line = b"%s%07d %s\n" % (b"." if n % 1000 == 0 else b"", n,
                                     base64.b64encode(rnd.randbytes(48)))
            lines.append(line)
            total += len(line)
        data += b"".join(lines)
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    return data


# ---------------------------------------------------------------- mmpd

def conf_quote(v):
    v = str(v)
    if v == "" or re.search(r'[\s"\\#]', v):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return v


class Mmpd:
    """One mmpd instance: its config dir, log and process."""

    def __init__(self, env, name="mmpd", imap_ports=None, pop_ports=None,
                 aservice=None, imap=None, pop=None, host="127.0.0.1",
                 tls=False, imaps_ports=None, pop3s_ports=None):
        """tls: IMAPS and POP3S listeners too (imaps_ports, pop3s_ports,
        one free port each by default) and STARTTLS/STLS, with the test
        PKI's localhost certificate; imap/pop override any key."""
        self.env = env
        self.name = name
        self.host = host
        self.imaps_ports = []
        self.pop3s_ports = []
        if tls:
            self.imaps_ports = imaps_ports or [free_port()]
            self.pop3s_ports = pop3s_ports or [free_port()]
        self.confdir = env.path(name + "-conf")
        self.logpath = env.path(name + ".log")
        os.makedirs(self.confdir)
        self.imap_ports = imap_ports if imap_ports is not None else \
            [free_port()]
        self.pop_ports = pop_ports if pop_ports is not None else \
            [free_port()]
        self.proc = None
        self.known_children = set()
        # Leak-check build: pids of the parent, each start; what
        # _leak_check found wrong; pids it has looked at.
        self.parent_pids = []
        self.leak_findings = []
        self.leak_seen = set()
        # Pids a test put in place of a program of mmpd's (75-trust.t).
        self.leak_exempt = set()
        # Listeners of ProxyProtocolPorts: wait_ready sends them a PROXY
        # v2 LOCAL header (127.0.0.1 must be in ProxyProtocolNetworks).
        self.proxy_ports = set()
        ldap = env.slapd.url + "/" + SUFFIX if env.slapd else \
            "ldap://127.0.0.1:389/" + SUFFIX
        self.conf_a = {"ServiceList": None, "HostsFile": env.hosts_file,
                         "Workers": 2, "ChrootDir": CHROOT,
                         "DrainTimeout": 2, "LogLevel": 6,
                         # In the test's directory, not /run/mmpd.
                         "PidFile": env.path(name + ".pid"),
                         "ControlSocket": env.path(name + ".sock")}
        # The single-tree model unless a test asks for hosted domains
        # (mmpd's default, HostedDomains yes, needs a domain tree).
        common = {"LdapUrl": ldap, "BindDN": DM_DN, "BindPass": DM_PW,
                  "SearchFormat": "(uid=%s)", "HostedDomains": "no",
                  "AuthFailureDelay": 0,
                  # BadGuy off unless a test turns it on: one test's
                  # failed logins from 127.0.0.1 must not slow the next.
                  "BGPenalty": 0,
                  "LdapTimeout": 5, "ConnectTimeout": 5,
                  "StoreNetworks": "127.0.0.0/8",
                  "LoginTimeout": 30, "Timeout": 120, "LogLevel": 6,
                  # The product default, written out: a test that holds
                  # more than 20 connections from one address sets its own.
                  "ConnLimits": "0.0.0.0|0.0.0.0:20"}
        self.conf_imap = dict(common)
        self.conf_imap.update({
            "BacksidePort": getattr(env, "store_imap_port", 143),
            "Capability": "IMAP4rev1 LITERAL+",
            "ServerDownAlert": "mmptest: IMAP store is down"})
        self.conf_pop = dict(common)
        self.conf_pop.update({
            "BacksidePort": getattr(env, "store_pop_port", 110),
            "ServerDownAlert": "mmptest: POP store is down"})
        if tls:
            cert, key = env.get_pki().server()
            for conf, ports in ((self.conf_imap, self.imaps_ports),
                                (self.conf_pop, self.pop3s_ports)):
                conf.update({"SSLEnable": "yes",
                             "SSLPorts": " ".join(str(p) for p in ports),
                             "SSLCertFile": cert, "SSLKeyFile": key})
        self.conf_a.update(aservice or {})
        self.conf_imap.update(imap or {})
        self.conf_pop.update(pop or {})
        self.extra_lines = {}	# file -> raw lines appended

    def servicelist(self):
        ent = []
        imap = self.imap_ports + self.imaps_ports
        pop = self.pop_ports + self.pop3s_ports
        if imap:
            ent.append("ImapProxyAService@" + "|".join(
                "%s:%d" % (self.host, p) for p in imap))
        if pop:
            ent.append("PopProxyAService@" + "|".join(
                "%s:%d" % (self.host, p) for p in pop))
        return " ".join(ent)

    def write_config(self):
        """Writes the three files; returns {file: {key: line number}}."""
        a = dict(self.conf_a)
        if a.get("ServiceList") is None:
            a["ServiceList"] = self.servicelist()
        lines = {}
        for fname, kv in (("AService.cfg", a),
                          ("ImapProxyAService.cfg", self.conf_imap),
                          ("PopProxyAService.cfg", self.conf_pop)):
            text = "# mmptest %s\n" % fname
            where = {}
            n = 1
            for k, v in kv.items():
                if v is None:
                    continue
                n += 1
                where[k] = n
                text += "default:%s %s\n" % (k, conf_quote(v))
            for raw in self.extra_lines.get(fname, []):
                n += 1
                where[raw] = n
                text += raw + "\n"
            path = os.path.join(self.confdir, fname)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o600)
            lines[fname] = where
        return lines

    def check(self, extra=()):
        """mmpd -n: (exit status, output)."""
        r = subprocess.run([MMPD_BIN, "-n", "-f", self.confdir] +
                           list(extra), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=30)
        return r.returncode, r.stdout.decode("latin-1")

    def start(self, wait=True):
        self.write_config()
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen([MMPD_BIN, "-d", "-f", self.confdir],
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log)
        log.close()
        self.parent_pids.append(self.proc.pid)
        self.env.cleanups.append(self.stop)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=READY_SEC):
        """Every listener greets (a relay worker accepts on it)."""
        end = time.time() + timeout
        todo = [(p, b"* OK", False) for p in self.imap_ports] + \
               [(p, b"+OK", False) for p in self.pop_ports] + \
               [(p, b"* OK", True) for p in self.imaps_ports] + \
               [(p, b"+OK", True) for p in self.pop3s_ports]
        # Readiness only: the tests verify certificates themselves.
        anyctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        anyctx.check_hostname = False
        anyctx.verify_mode = ssl.CERT_NONE
        while todo and time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("mmpd exited with %s:\n%s" %
                                   (self.proc.returncode,
                                    self.log()[-3000:]))
            port, want, tls = todo[0]
            try:
                with socket.create_connection((self.host, port), 1) as s:
                    s.settimeout(2)
                    if port in self.proxy_ports:
                        s.sendall(PROXY_V2_LOCAL)
                    if tls:
                        s = anyctx.wrap_socket(s)
                    if s.recv(512).startswith(want):
                        todo.pop(0)
                        continue
            except (OSError, ssl.SSLError):
                pass
            time.sleep(0.1)
        if todo:
            raise RuntimeError("mmpd not ready on port %d:\n%s" %
                               (todo[0][0], self.log()[-3000:]))
        self.known_children.update(self.children())
        # The probes' own lines may come in a batch up to 20 ms later
        # (lib/logsink.h): a test's log offset starts after them.
        self.wait_log_still()

    def wait_log_still(self, still=0.1, timeout=3):
        """Until the log has not grown for `still` seconds."""
        end = time.time() + timeout
        last, since = self.log_size(), time.time()
        while time.time() < end:
            time.sleep(0.02)
            n = self.log_size()
            if n != last:
                last, since = n, time.time()
            elif time.time() - since >= still:
                return

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def children(self):
        return children_of(self.pid) if self.alive() else []

    def child_pids(self, *kinds):
        """The pids of the children of those kinds (child_kind), sorted."""
        return [p for p in self.children() if child_kind(p)[0] in kinds]

    def child_pid(self, kind, index=None):
        """The pid of a child of kind (of that index, if given), or
        None."""
        for p in self.children():
            k, i = child_kind(p)
            if k == kind and index in (None, i):
                return p
        return None

    def child_index(self, kind):
        """{index: pid} of the children of kind (relays, mmp-tlsd)."""
        out = {}
        for p in self.children():
            k, i = child_kind(p)
            if k == kind and i is not None:
                out[i] = p
        return out

    def reload(self):
        self.known_children.update(self.children())
        os.kill(self.pid, signal.SIGHUP)

    def stop(self, timeout=10):
        if self.proc is None:
            return None
        self.known_children.update(self.children())
        killed = False	# by a test before, not by this stop
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.leak_findings.append("mmpd pid %d: still running %d s "
                                          "after SIGTERM, killed" %
                                          (self.proc.pid, timeout))
        else:
            killed = self.proc.returncode == -signal.SIGKILL
        rc = self.proc.returncode
        if LEAKCHECK:
            self._leak_check(self.proc.pid, killed)
        # Children left behind by a crashed parent: kill them by pid, if
        # the pid still belongs to an mmpd program.
        for pid in self.known_children:
            cmd = proc_cmdline(pid)
            if "mmpd" in cmd or "mmp-ldapd" in cmd or "mmp-tlsd" in cmd:
                kill_pid(pid, signal.SIGKILL, 2)
        self.proc = None
        return rc

    def _leak_check(self, parent, parent_killed):
        """Leak-check build, after a stop: the parent and every child its
        log says it started left through LeakSanitizer's check at exit(),
        unless killed by SIGKILL (a test's or mmpd's kill of a child that
        broke its protocol: such a process is never checked, and is
        listed, not failed). A child the parent killed at the end of its
        stop grace time, or that left by a signal or _exit(), fails."""
        log = self.log()
        procs = [("mmpd", parent)]
        procs += [(what, int(pid)) for what, pid in
                  CHILD_STARTED.findall(log)]
        for what, pid in procs:
            if pid in self.leak_seen:
                continue
            self.leak_seen.add(pid)
            if leak_checked(pid):
                continue
            if pid in self.leak_exempt:
                sys.stdout.write("# %s pid %d is a test's stand-in: not "
                                 "leak-checked\n" % (what, pid))
                continue
            if (pid == parent and parent_killed) or re.search(
                    r"\(pid %d\) killed by signal SIGKILL" % pid, log):
                sys.stdout.write("# %s pid %d was killed by SIGKILL: not "
                                 "leak-checked\n" % (what, pid))
                continue
            died = re.search(r"\(pid %d\) ([^\n]*)" % pid, log)
            self.leak_findings.append(
                "%s pid %d left without LeakSanitizer's check (%s)" %
                (what, pid, died.group(1) if died else "no end logged"))
        for line in re.findall(r".*still running after .*killing them.*",
                               log):
            if line not in self.leak_findings:
                self.leak_findings.append(line)

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("latin-1")
        except OSError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.logpath)
        except OSError:
            return 0

    def log_since(self, offset):
        return self.log().encode("latin-1")[offset:].decode("latin-1")

    def wait_log(self, regex, offset=0, timeout=10):
        return poll(lambda: re.search(regex, self.log_since(offset)), bool,
                    timeout, 0.1)

    def imap(self, port=None, timeout=10, source=None):
        """source: the client's own address (127.0.0.x), for limits."""
        return Imap(self.host, port or self.imap_ports[0], timeout,
                    source=source)

    def pop3(self, port=None, timeout=10, rcvbuf=None, source=None):
        return Pop(self.host, port or self.pop_ports[0], timeout, rcvbuf,
                   source=source)

    # --- TLS clients. ctx: an ssl.SSLContext (tls_context() by default:
    # the test CA, host name checked); server_hostname "localhost" (SNI and
    # the name checked); session: a session to resume.

    def _tls(self, ctx, server_hostname, session):
        return (ctx or tls_context(self.env.get_pki()), server_hostname,
                session)

    def imap_tls(self, port=None, ctx=None, server_hostname="localhost",
                 session=None, timeout=10):
        """The raw Imap client on an IMAPS port."""
        return Imap(self.host, port or self.imaps_ports[0], timeout,
                    tls=self._tls(ctx, server_hostname, session))

    def pop3_tls(self, port=None, ctx=None, server_hostname="localhost",
                 session=None, timeout=10):
        return Pop(self.host, port or self.pop3s_ports[0], timeout,
                   tls=self._tls(ctx, server_hostname, session))

    def imaps(self, port=None, ctx=None, server_hostname="localhost",
              session=None, timeout=10):
        """imaplib's IMAP4_SSL on an IMAPS port."""
        return ImapLibTLS(self.host, port or self.imaps_ports[0],
                          *self._tls(ctx, server_hostname, session),
                          timeout=timeout)

    def pop3s(self, port=None, ctx=None, server_hostname="localhost",
              session=None, timeout=10):
        """poplib's POP3_SSL on a POP3S port."""
        return PopLibTLS(self.host, port or self.pop3s_ports[0],
                         *self._tls(ctx, server_hostname, session),
                         timeout=timeout)


# ---------------------------------------------------------------- clients

class Conn:
    """A line-oriented TCP client with timeouts and raw access."""

    def __init__(self, host, port, timeout=10, rcvbuf=None, tls=None,
                 source=None, pre=None):
        """tls: (ssl context, server_hostname, session or None): TLS from
        the first byte. source: the local address to connect from; pre:
        bytes sent first (a PROXY protocol header), before any TLS."""
        if rcvbuf is None:
            self.sock = socket.create_connection(
                (host, port), timeout,
                source_address=(source, 0) if source else None)
        else:
            # Before connect, so that the window is small from the start.
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                 rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        self.sock.settimeout(timeout)
        self.buf = b""
        self.eof = False
        self.plain = self.sock
        if pre:
            self.sock.sendall(pre)
        if tls is not None:
            self.starttls(*tls)

    def starttls(self, ctx, server_hostname="localhost", session=None):
        """TLS on this connection from here on. Bytes already read are
        the plaintext's and are dropped (the server must not have sent
        any): they are returned."""
        left, self.buf = self.buf, b""
        self.sock = ctx.wrap_socket(self.plain,
                                    server_hostname=server_hostname,
                                    session=session)
        return left

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        try:
            d = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError):
            d = b""
        if not d:
            self.eof = True
        self.buf += d
        return bool(d)

    def readline(self):
        """One line including CRLF; b"" at EOF. socket.timeout if none."""
        while b"\n" not in self.buf:
            if self.eof or not self._fill():
                line, self.buf = self.buf, b""
                return line
        i = self.buf.index(b"\n") + 1
        line, self.buf = self.buf[:i], self.buf[i:]
        return line

    def read_exact(self, n):
        while len(self.buf) < n:
            if self.eof or not self._fill():
                raise EOFError("connection closed in a literal")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def settimeout(self, t):
        self.sock.settimeout(t)

    def wait_closed(self, timeout):
        """True when the peer closes within timeout (data is discarded)."""
        end = time.time() + timeout
        saved = self.sock.gettimeout()
        self.buf = b""
        try:
            while time.time() < end:
                self.sock.settimeout(max(0.05, end - time.time()))
                try:
                    if not self.sock.recv(65536):
                        self.eof = True
                        return True
                except socket.timeout:
                    return False
                except ConnectionResetError:
                    self.eof = True
                    return True
            return False
        finally:
            self.sock.settimeout(saved)

    def pending(self, wait=0.3):
        """Bytes that arrive within wait seconds (nothing expected)."""
        saved = self.sock.gettimeout()
        self.sock.settimeout(wait)
        try:
            self._fill()
        except socket.timeout:
            pass
        finally:
            self.sock.settimeout(saved)
        data, self.buf = self.buf, b""
        return data


def imap_quote(s):
    if isinstance(s, str):
        s = s.encode()
    return b'"' + s.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class Imap(Conn):
    def __init__(self, host, port, timeout=10, tls=None, source=None,
                 pre=None):
        super().__init__(host, port, timeout, tls=tls, source=source,
                         pre=pre)
        self.tagn = 0
        self.greeting = self.readline()

    def tag(self):
        self.tagn += 1
        return "t%d" % self.tagn

    def read_response(self):
        """One response line, literals included; b"" at EOF."""
        out = b""
        while True:
            line = self.readline()
            out += line
            m = re.search(rb"\{(\d+)\+?\}\r\n$", line)
            if not line or not m:
                return out
            out += self.read_exact(int(m.group(1)))

    def read_until_tagged(self, tag):
        """(tagged line, [untagged responses]); tagged is b"" at EOF."""
        untagged = []
        t = tag.encode() + b" "
        while True:
            r = self.read_response()
            if not r:
                return b"", untagged
            if r.startswith(t):
                return r, untagged
            untagged.append(r)

    def cmd(self, text):
        """Sends "TAG text"; returns (tagged, untagged)."""
        tag = self.tag()
        if isinstance(text, str):
            text = text.encode()
        self.send(tag.encode() + b" " + text + b"\r\n")
        return self.read_until_tagged(tag)

    def login(self, user, password):
        return self.cmd(b"LOGIN " + imap_quote(user) + b" " +
                        imap_quote(password))


def strip_tag(line):
    """The text of a tagged response after its tag."""
    if isinstance(line, bytes):
        line = line.decode("latin-1")
    return line.split(" ", 1)[1].rstrip("\r\n") if " " in line else line


class Pop(Conn):
    def __init__(self, host, port, timeout=10, rcvbuf=None, tls=None,
                 source=None, pre=None):
        super().__init__(host, port, timeout, rcvbuf, tls=tls,
                         source=source, pre=pre)
        self.greeting = self.readline()

    def cmd(self, text):
        if isinstance(text, str):
            text = text.encode()
        self.send(text + b"\r\n")
        return self.readline()

    def multiline(self):
        """Lines of a multi-line answer after its +OK, dot-unstuffed,
        with their CRLF; None at EOF before the final dot."""
        lines = []
        while True:
            line = self.readline()
            if not line:
                return None
            if line == b".\r\n":
                return lines
            if line.startswith(b".."):
                line = line[1:]
            lines.append(line)

    def login(self, user, password):
        r = self.cmd(b"USER " + (user.encode() if isinstance(user, str)
                                  else user))
        if not r.startswith(b"+OK"):
            return r
        return self.cmd(b"PASS " + (password.encode()
                                    if isinstance(password, str)
                                    else password))


# ---------------------------------------------------------------- TLS clients

def tls_context(pki, version=None, cert=None, ca=None):
    """A client context that verifies against the test CA (or ca) with the
    host name checked; version: ssl.TLSVersion to pin; cert: (cert, key)
    of a client certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca or pki.ca())
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    if version is not None:
        ctx.minimum_version = version
        ctx.maximum_version = version
    if cert is not None:
        ctx.load_cert_chain(*cert)
    return ctx


class ImapLibTLS(imaplib.IMAP4_SSL):
    """IMAP4_SSL to an address with a name of our choice for SNI and the
    certificate check, and a session to resume."""

    def __init__(self, host, port, ctx, server_hostname, session=None,
                 timeout=10):
        self._sni = server_hostname
        self._session = session
        super().__init__(host, port, ssl_context=ctx, timeout=timeout)

    def _create_socket(self, timeout):
        sock = imaplib.IMAP4._create_socket(self, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self._sni,
                                            session=self._session)


class PopLibTLS(poplib.POP3_SSL):
    def __init__(self, host, port, ctx, server_hostname, session=None,
                 timeout=10):
        self._sni = server_hostname
        self._session = session
        super().__init__(host, port, context=ctx, timeout=timeout)

    def _create_socket(self, timeout):
        sock = poplib.POP3._create_socket(self, timeout)
        return self.context.wrap_socket(sock, server_hostname=self._sni,
                                        session=self._session)


def s_client(port, pki, data=b"", starttls=None, servername="localhost",
             cafile=None, extra=(), timeout=30, host="127.0.0.1"):
    """openssl s_client to host:port verifying against the test CA (fails
    on a bad certificate), data sent to it; (exit status, output)."""
    cmd = ["openssl", "s_client", "-connect", "%s:%d" % (host, port),
           "-CAfile", cafile or pki.ca(), "-verify_return_error",
           "-verify_hostname", servername, "-servername", servername,
           "-quiet"]
    if starttls:
        cmd += ["-starttls", starttls]
    cmd += list(extra)
    r = subprocess.run(cmd, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return r.returncode, r.stdout.decode("latin-1")


def imap_subjects(c):
    """(tagged, [subjects]) of the messages in c's selected mailbox."""
    t, un = c.cmd("FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
    subj = re.findall(rb"Subject: ([^\r\n]*)", b"".join(un))
    return t, [x.decode("latin-1") for x in subj]


class At:
    """mmpd m as seen on one of its local addresses (a virtual domain's),
    for imap_route and friends."""

    def __init__(self, m, host):
        self.m = m
        self.host = host

    def imap(self, port=None, timeout=10):
        return Imap(self.host, port or self.m.imap_ports[0], timeout)


def imap_route(m, user, password, port=None):
    """Logs user in through mmpd, selects INBOX: (login answer,
    [subjects], diagnostics)."""
    with m.imap(port) as c:
        t, _ = c.login(user, password)
        if not re.match(rb"t\d+ OK", t):
            return t, [], "LOGIN answered %r" % t
        s, un = c.cmd("SELECT INBOX")
        if not re.match(rb"t\d+ OK", s):
            return t, [], "SELECT answered %r %r" % (s, un)
        f, subj = imap_subjects(c)
        c.cmd("LOGOUT")
        return t, subj, "FETCH answered %r, subjects %r" % (f, subj)


def pop_subjects(p):
    """Subjects of every message of a logged-in POP3 session."""
    st = p.cmd("STAT")
    m = re.match(rb"\+OK (\d+) ", st)
    if not m:
        return None
    subj = []
    for i in range(1, int(m.group(1)) + 1):
        if not p.cmd("TOP %d 0" % i).startswith(b"+OK"):
            return None
        for line in p.multiline() or []:
            if line.lower().startswith(b"subject: "):
                subj.append(line[9:].rstrip(b"\r\n").decode("latin-1"))
    return subj


def pop_route(m, user, password, port=None):
    """(PASS answer, [subjects]) of user's mailbox through mmpd."""
    with m.pop3(port) as p:
        r = p.login(user, password)
        if not r.startswith(b"+OK"):
            return r, []
        subj = pop_subjects(p)
        p.cmd("QUIT")
        return r, subj


def sasl_plain(authcid, password, authzid=""):
    raw = b"\0".join(x.encode() if isinstance(x, str) else x
                     for x in (authzid, authcid, password))
    return base64.b64encode(raw)


def timed(fn, *a, **kw):
    t0 = time.monotonic()
    r = fn(*a, **kw)
    return r, time.monotonic() - t0


def in_threads(n, fn, timeout=120):
    """Runs fn(i) for i in range(n) in n threads; returns [(ok, result)]."""
    results = [None] * n

    def wrap(i):
        try:
            results[i] = (True, fn(i))
        except Exception as e:
            results[i] = (False, "%s: %s" % (type(e).__name__, e))
    ts = [threading.Thread(target=wrap, args=(i,), daemon=True)
          for i in range(n)]
    for t in ts:
        t.start()
    end = time.time() + timeout
    for t in ts:
        t.join(max(0.1, end - time.time()))
    return [r if r is not None else (False, "thread did not finish")
            for r in results]



def read_text(path):
    """A file's text as it is now (latin-1: a log may hold any byte), ""
    where it cannot be read (not written yet)."""
    try:
        with open(path, encoding="latin-1") as f:
            return f.read()
    except OSError:
        return ""


leakcheck_setup()

if __name__ == "__main__":
    sys.stderr.write("mmptest.py is a module for regress/integration/*.t "
                     "and etc/demo/demo.py\n")
    sys.exit(2)
