#!/usr/bin/env python3
# Trust between processes. A child that sends the parent a TCP socket set
# to linger on close (SO_LINGER 30 s, unsent data, a peer that never
# reads) is killed, and the parent does not block in close(2): it goes on
# writing log lines, restarts the child, reloads, logins work. An
# mmp-ldapd that garbles every relay channel makes the relays ask for new
# ones without end: they get one a second each, not thousands. A parent
# that stops reading its relay's log lines (SIGSTOP) costs the relay a
# bounded queue: the lines beyond it are counted, the count is logged once
# the parent reads again, and the relay lives on.

import os
import re
import select
import shutil
import signal
import socket
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

LINGER_SEC = 30		# what the hostile child asks its socket to linger
QUICK_SEC = 2		# a parent that does not block answers within this
# More log lines than the relay may queue (lib/logsink.h, 10000) plus
# what the socket to the parent holds: two lines per connection.
FLOOD_CONNS = 7000
# The queue holds at most 10000 lines of at most 2 KiB; two lines of a
# session are ~200 bytes with the queue's overhead: a few MiB.
RSS_GROWTH_KIB = 16 * 1024
RELAYS = 2		# relays whose mmp-ldapd channel is garbled
LOST_SEC = 4		# watched this long

# A hostile mmp-ldapd: the parent finds mmp-ldapd next to its own
# program (proc_find_ldapd), so a copy of mmpd finds this script. What it
# does is in the file "mode" next to it (see below); started again after
# the parent killed it, it is the real mmp-ldapd.
FAKE_LDAPD = r'''#!/usr/bin/python3
import array, os, signal, socket, struct, sys, time
HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.exists(os.path.join(HERE, "misbehaved")):
    os.execv(%(real)r, [%(real)r] + sys.argv[1:])
# mmpd starts its children with SIGTERM blocked (lib/childsig.h): the
# parent's stop must end this stand-in as it ends a real child.
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
open(os.path.join(HERE, "misbehaved"), "w").close()
with open(os.path.join(HERE, "fake-pid"), "w") as f:
    f.write(str(os.getpid()))
with open(os.path.join(HERE, "mode")) as f:
    mode = f.read().strip()
chan = socket.socket(fileno=3)
chan.setblocking(True)


def lingering_socket():
    # A window its peer (the test) keeps full, and SO_LINGER: a plain
    # close of this socket waits %(linger)d s.
    with open(os.path.join(HERE, "peer-port")) as f:
        port = int(f.read())
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    try:
        while True:
            s.send(b"x" * 4096)
    except BlockingIOError:
        pass
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, %(linger)d))
    return s


def send_socket():
    # The socket with the first byte of a header; once the parent holds
    # it, the rest: length 0, garbage. mmpd once closed what it held
    # before it sent the kill, so no SIGCHLD of the killed child cut the
    # lingering close short.
    end = time.time() + 60
    while not os.path.exists(os.path.join(HERE, "go")) and \
            time.time() < end:
        time.sleep(0.05)
    s = lingering_socket()
    hdr = struct.pack("=IIII", %(imsg_log)d, 0, 1, 0)
    chan.sendmsg([hdr[:1]], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                              struct.pack("i", s.fileno()))])
    s.close()
    time.sleep(0.5)
    chan.sendall(hdr[1:])
    time.sleep(600)


def garbage_to_relays():
    # Garbage on every relay channel: each relay drops it and asks the
    # parent for a new one (IMSG_LDAPD_LOST), again and again.
    buf, fds, n = b"", [], 0
    while True:
        msg, anc, _, _ = chan.recvmsg(65536, socket.CMSG_SPACE(253 * 4))
        if not msg:
            sys.exit(0)
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(data[:len(data) - len(data) %% 4])
                fds.extend(a)
        buf += msg
        while len(buf) >= 16:
            kind, length, flags, _ = struct.unpack("=IIII", buf[:16])
            if len(buf) < length:
                break
            buf = buf[length:]
            fd = fds.pop(0) if flags & 1 else -1
            if kind == %(imsg_relay_channel)d and fd != -1:
                try:
                    os.write(fd, bytes(16))
                except OSError:
                    pass
                n += 1
                with open(os.path.join(HERE, "count.new"), "w") as f:
                    f.write(str(n))
                os.rename(os.path.join(HERE, "count.new"),
                          os.path.join(HERE, "count"))
            if fd != -1:
                os.close(fd)


send_socket() if mode == "socket" else garbage_to_relays()
'''


def imsg_type(name):
    """The number of an imsg type: its place in lib/msg.h's enum."""
    with open(os.path.join(T.ROOT, "lib", "msg.h")) as f:
        text = f.read()
    body = text[text.index("enum mmp_imsg {"):]
    body = body[:body.index("};")]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    names = re.findall(r"\b(IMSG_[A-Z_]+)\s*,", body)
    return names.index(name)


def setup(tap):
    env = T.Env("trust", tap).setup()
    env.user("alice", "alice-pw", "store1")
    env.stores["store1"].seed("alice", T.message("alice on store1"))
    env.start_backends()
    return env


def hostile_mmpd(env, name, mode, **kw):
    """A running mmpd whose first mmp-ldapd acts as mode says, and the
    directory of that mmp-ldapd."""
    tree = env.path(name + "-tree")
    fakedir = os.path.join(tree, "mmp-ldapd")
    os.makedirs(os.path.join(tree, "mmpd"))
    os.makedirs(fakedir)
    shutil.copy2(T.MMPD_BIN, os.path.join(tree, "mmpd", "mmpd"))
    fake = os.path.join(fakedir, "mmp-ldapd")
    with open(fake, "w") as f:
        f.write(FAKE_LDAPD % {
            "real": os.path.realpath(T.LDAPD_BIN), "linger": LINGER_SEC,
            "imsg_log": imsg_type("IMSG_LOG"),
            "imsg_relay_channel": imsg_type("IMSG_RELAY_CHANNEL")})
    os.chmod(fake, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP |
             stat.S_IROTH | stat.S_IXOTH)
    with open(os.path.join(fakedir, "mode"), "w") as f:
        f.write(mode)
    m = env.mmpd(name, **kw)
    bin_saved = T.MMPD_BIN
    T.MMPD_BIN = os.path.join(tree, "mmpd", "mmpd")
    try:
        m.start()
    finally:
        T.MMPD_BIN = bin_saved
    # The stand-in is no program of mmpd's: no leak check of it.
    pidfile = os.path.join(fakedir, "fake-pid")
    end = time.monotonic() + QUICK_SEC
    while not os.path.exists(pidfile) and time.monotonic() < end:
        time.sleep(0.05)
    if os.path.exists(pidfile):
        with open(pidfile) as f:
            m.leak_exempt.add(int(f.read()))
    return m, fakedir


def peer_socket(fakedir):
    """The peer that never reads: a small window the child fills."""
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    peer.bind(("127.0.0.1", 0))
    peer.listen(1)
    with open(os.path.join(fakedir, "peer-port"), "w") as f:
        f.write(str(peer.getsockname()[1]))
    return peer


def reset_by_peer(conn):
    """The connection was reset (abortive close), not merely idle."""
    p = select.poll()
    p.register(conn, select.POLLIN)
    return any(ev & (select.POLLERR | select.POLLHUP)
               for _, ev in p.poll(0))


def test_hostile_child(tap, env):
    m, fakedir = hostile_mmpd(env, "hostile", "socket")
    peer = peer_socket(fakedir)
    env.cleanups.append(peer.close)
    off = m.log_size()
    open(os.path.join(fakedir, "go"), "w").close()
    killed = m.wait_log(r"mmp-ldapd \(pid \d+\): sent a malformed message; "
                        r"killing it", off, timeout=10)
    tap.ok(killed, "the parent kills the child that sent it a socket and "
           "garbage")
    # No signal until these are seen: any signal, even the SIGCHLD of the
    # killed child, would cut a lingering close short.
    off = m.log_size()
    t0 = time.monotonic()
    with m.imap() as c:
        seen = m.wait_log(r"connected on", off, timeout=QUICK_SEC)
        tap.ok(seen and c.greeting.startswith(b"* OK"), "the parent goes "
               "on writing the relays' log lines (%.1f s; a lingering close "
               "would hold it %d s)" % (time.monotonic() - t0, LINGER_SEC))
    again = m.wait_log(r"mmp-ldapd started", off, timeout=1 + QUICK_SEC)
    tap.ok(again, "the parent restarts mmp-ldapd after 1 s (%.1f s)" %
           (time.monotonic() - t0))
    conn = None
    try:
        peer.settimeout(1)
        conn, _ = peer.accept()
    except OSError:
        pass
    tap.ok(conn is not None and reset_by_peer(conn), "the socket it sent "
           "was closed abortively (its peer got a reset)")
    if conn is not None:
        conn.close()
    off = m.log_size()
    m.reload()
    tap.ok(m.wait_log(r"reloading the configuration", off,
                      timeout=QUICK_SEC), "the parent answers SIGHUP")
    ready = m.wait_log(r"mmp-ldapd ready", 0, timeout=10)
    t, subj, why = T.imap_route(m, "alice", "alice-pw") if ready else \
        (b"", [], "mmp-ldapd not ready again")
    tap.ok(ready and subj == ["alice on store1"], "logins work", why)
    m.stop()


def read_count(fakedir):
    try:
        with open(os.path.join(fakedir, "count")) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


def test_lost_loop(tap, env):
    """An mmp-ldapd that garbles every relay channel: each relay asks
    for a new one at once, and gets one a second."""
    m, fakedir = hostile_mmpd(env, "lostloop", "garbage",
                              aservice={"Workers": RELAYS})
    end = time.monotonic() + QUICK_SEC
    while read_count(fakedir) == 0 and time.monotonic() < end:
        time.sleep(0.05)
    first = read_count(fakedir)
    time.sleep(LOST_SEC)
    n = read_count(fakedir) - first
    most = RELAYS * (LOST_SEC + 1)
    tap.ok(first > 0 and n <= most, "%d relays asking for mmp-ldapd "
           "channels for %d s got %d (at most one a second each: %d)" %
           (RELAYS, LOST_SEC, n, most))
    tap.ok(n >= RELAYS * (LOST_SEC - 1), "but they do get them, one a "
           "second each")
    log = m.log()
    tap.ok(not re.search(r"relay \d+ \(pid \d+\).*killing it|ignored \d+ "
                         r"requests", log), "honest relays are neither "
           "killed nor warned about")
    m.stop()


def rss_kib(pid):
    return int(T.proc_status(pid).get("VmRSS", "0 kB").split()[0])


def flood(m, n):
    """n connections that each connect and close: two lines each."""
    for _ in range(n):
        s = socket.create_connection((m.host, m.imap_ports[0]), 5)
        s.close()
    # One that is greeted: the relay has taken every one before it.
    with m.imap() as c:
        return c.greeting.startswith(b"* OK")


def session_lines(text):
    return len(re.findall(r"relay 0: session 0x", text))


def test_log_bound(tap, env):
    m = env.mmpd("logbound", aservice={"Workers": 1}).start()
    rpid = m.child_pid("relay")
    off = m.log_size()
    rss0 = rss_kib(rpid)
    T.stop(m.pid)
    try:
        t0 = time.monotonic()
        greeted = flood(m, FLOOD_CONNS)
        tap.ok(greeted, "%d connections while the parent is stopped "
               "(%.1f s)" % (FLOOD_CONNS, time.monotonic() - t0))
        time.sleep(0.5)
        rss = rss_kib(rpid) - rss0
    finally:
        os.kill(m.pid, signal.SIGCONT)
    rep = m.wait_log(r"relay 0: (\d+) log lines dropped: the parent did "
                     r"not read them", off, timeout=10)
    tap.ok(rep, "the relay reports the log lines it dropped")
    time.sleep(0.5)
    text = m.log_since(off)
    logged = session_lines(text)
    dropped = int(rep.group(1)) if rep else 0
    tap.is_(logged + dropped, 2 * (FLOOD_CONNS + 1),
            "every session line was written or counted as dropped "
            "(%d written, %d dropped)" % (logged, dropped))
    tap.ok(T.pid_alive(rpid) and rpid in m.children(),
           "the relay lives on")
    if "ASAN_OPTIONS" in os.environ:
        tap.skip("its memory stayed bounded", "a sanitizer holds freed "
                 "memory back")
    else:
        tap.ok(rss < RSS_GROWTH_KIB, "its memory stayed bounded (VmRSS "
               "grew by %d KiB while the parent was stopped)" % rss)
    with m.imap() as c:
        tap.ok(c.greeting.startswith(b"* OK"), "and serves")
    m.stop()


def main(tap):
    env = setup(tap)
    test_hostile_child(tap, env)
    test_lost_loop(tap, env)
    test_log_bound(tap, env)


T.run(main)
