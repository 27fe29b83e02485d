#!/usr/bin/env python3
# Pipelined bursts through mmp-tlsd: many IMAP commands in one TLS flight
# (hundreds of small records, and records of 16 KB), over IMAPS (TLS 1.2 and
# 1.3) and after STARTTLS, to a store reached over TLS too (mmp-tlsd's
# client role), each answer checked in order. mmp-tlsd reads a flight
# ahead and stops reading a side it knows empty: records left in
# OpenSSL's buffer, or a socket left unread, stall a session, and the
# read timeouts here turn a stall into a failure.

import os
import re
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

SPLIT_N = 200		# 400 records (about 9 KB) in one flight
BIG_N = 3000		# in two writes: records of 16 KB
READ_TIMEOUT = 20	# a stalled session fails here instead of hanging


def burst(c, n, split, pad):
    """n pipelined NOOPs, each with a pad-long tag suffix; split: each
    command in two TLS records, "bN NO" and "OP", all corked into one
    flight (a record that ends mid-command makes no answer that would
    wake mmp-tlsd: only its own draining reads the next), else the whole
    burst in two writes of 16 KB records. The tags answered, in order."""
    cmds = [b"b%d%s NOOP\r\n" % (i, pad) for i in range(n)]
    if split:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
        for x in cmds:
            c.sock.sendall(x[:-4])
            c.sock.sendall(x[-4:])
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
    else:
        blob = b"".join(cmds)
        c.sock.sendall(blob[:len(blob) // 2])
        c.sock.sendall(blob[len(blob) // 2:])
    got = []
    while len(got) < n:
        line = c.readline()
        if not line:
            break
        m = re.match(rb"^(b\d+)\S* OK", line)
        if m:
            got.append(m.group(1))
    return got == [b"b%d" % i for i in range(n)], len(got)


def bursts(tap, c, what):
    for split, n, pad, kind in ((True, SPLIT_N, b"",
                                 "each in two records, one flight"),
                                (False, BIG_N, b"x" * 8,
                                 "records of 16 KB")):
        try:
            ok, got = burst(c, n, split, pad)
            why = "%d of %d answered" % (got, n)
        except OSError as e:
            ok, why = False, "%s: %s" % (type(e).__name__, e)
        tap.ok(ok, "%s: %d pipelined NOOPs, %s, all answered in order" %
               (what, n, kind), why)
    t, _ = c.cmd("NOOP")
    tap.like(t, r"^t\d+ OK", "%s: the session goes on after the bursts" %
             what)


def session(tap, c, what):
    c.settimeout(READ_TIMEOUT)
    t, _ = c.login("alice", "alice-pw")
    tap.like(t, r"^t\d+ OK", "%s: LOGIN" % what)
    bursts(tap, c, what)
    c.cmd("LOGOUT")


def main(tap):
    T.need_root()
    T.need_tlsd()
    env = T.Env("tlsburst", tap).setup(store_tls=True)
    env.get_pki()
    env.user("alice", "alice-pw", "store1")
    env.start_backends()
    pk = env.pki
    cert, key = pk.server()
    imap = {"SSLCertFile": cert, "SSLKeyFile": key,
            "SSLBacksidePort": env.store_imaps_port,
            "SSLStoreCAFile": pk.ca()}
    m = env.mmpd(tls=True, imap=imap).start()
    for ver, name in ((ssl.TLSVersion.TLSv1_2, "TLS 1.2"),
                      (ssl.TLSVersion.TLSv1_3, "TLS 1.3")):
        ctx = T.tls_context(pk, version=ver)
        with m.imap_tls(ctx=ctx, timeout=READ_TIMEOUT) as c:
            session(tap, c, "IMAPS %s" % name)
    with m.imap(timeout=READ_TIMEOUT) as c:
        t, _ = c.cmd("STARTTLS")
        tap.like(t, r"^t\d+ OK", "STARTTLS answered OK")
        c.starttls(T.tls_context(pk))
        session(tap, c, "STARTTLS")
    m.stop()


T.run(main)
