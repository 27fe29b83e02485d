#!/usr/bin/env python3
# Clients that send commands before their login and do not read the
# replies: mmpd stops reading such a client while more than a reply or
# two is queued for it (it is not closed for it, and once it reads it
# gets every reply, in order), and the replies queued for all pre-login
# clients of a relay stay under MaxPreauthQueueBytes: the client whose
# reply would go over is closed, with a log line.

import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

CMDS = 100000		# about 12 MB of replies: more than socket buffers hold
RCVBUF = 4096
QUEUE_CAP = 16384	# MaxPreauthQueueBytes' least
FLOODERS = 20


def relay_rss(m):
    total = 0
    for pid in m.child_pids("relay"):
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def client(m, src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    s.bind((src, 0))
    s.settimeout(30)
    s.connect((m.host, m.imap_ports[0]))
    return s


def send_all(s, payload, done):
    try:
        s.sendall(payload)
    except OSError:
        pass
    done.set()


def test_backpressure(tap, m):
    payload = b"".join(b"a%d CAPABILITY\r\n" % i for i in range(CMDS))
    before = relay_rss(m)
    off = m.log_size()
    s = client(m, "127.0.0.2")
    done = threading.Event()
    t = threading.Thread(target=send_all, args=(s, payload, done))
    t.start()
    time.sleep(3)
    during = relay_rss(m)
    tap.ok(during - before < 4096, "the relays grew by less than 4 MiB "
           "while it did not read", "%d KiB before, %d KiB during" %
           (before, during))
    # Now it reads: every reply, in order, and nothing closed it.
    f = s.makefile("rb")
    want, bad = 0, 0
    try:
        for line in f:
            if line.startswith(b"a"):
                if not line.startswith(b"a%d OK" % want):
                    bad += 1
                want += 1
                if want == CMDS:
                    break
    except OSError as e:
        tap.diag("reading the replies: %s" % e)
    t.join(30)
    tap.is_(want, CMDS, "all %d commands answered once it read" % CMDS)
    tap.is_(bad, 0, "in order, each OK")
    tap.ok(not re.search(r"does not read its replies|replies over",
                         m.log_since(off)), "it was never closed for it")
    s.close()


def test_relay_cap(tap, env):
    m = env.mmpd(name="mmpd-cap", aservice={
        "MaxPreauthQueueBytes": QUEUE_CAP}, imap={
        "ConnLimits": "0.0.0.0|0.0.0.0:100"}).start()
    payload = b"".join(b"a%d CAPABILITY\r\n" % i for i in range(20000))
    off = m.log_size()
    socks, threads = [], []
    for i in range(FLOODERS):
        s = client(m, "127.0.0.%d" % (3 + i))
        t = threading.Thread(target=send_all,
                             args=(s, payload, threading.Event()))
        t.daemon = True
        t.start()
        socks.append(s)
        threads.append(t)
    found = m.wait_log(r"pre-login replies over %d bytes in this relay "
                       r"\(MaxPreauthQueueBytes\): client closed" %
                       QUEUE_CAP, off, timeout=15)
    tap.ok(found, "over MaxPreauthQueueBytes a client is closed, logged")
    closed = len(re.findall(r"closed: pre-login replies over",
                            m.log_since(off)))
    tap.ok(0 < closed < FLOODERS, "%d of %d flooders closed, not all" %
           (closed, FLOODERS))
    for s in socks:
        s.close()
    good = m.imap(source="127.0.0.99")
    tap.ok(good.greeting.startswith(b"* OK") and
           b" OK" in good.cmd("CAPABILITY")[0],
           "a client that reads is served meanwhile")
    good.close()
    m.stop()


def main(tap):
    T.need_root()
    env = T.Env("queue", tap).setup()
    env.start_backends()
    m = env.mmpd().start()
    test_backpressure(tap, m)
    m.stop()
    test_relay_cap(tap, env)
    T.check_children(tap)


T.run(main)
