#!/usr/bin/env python3
# Session ticket keys as the parent makes them: a ticket names the key
# that sealed it in its first 16 bytes (RFC 5077's key_name), so openssl
# s_client's saved session shows which key is in use. Within
# SSLSessionLifetime every mmp-tlsd seals with the same key and resumes
# the session; after a lifetime the parent has rotated to a new key; a
# reload that keeps the lifetime keeps the key (no client loses its
# session to a reload); SSLSessionLifetime 0 issues no ticket at all. A
# TLS 1.3 ticket is used once (RFC 8446 C.4; OpenSSL's client marks its
# session spent): a resumed TLS 1.3 session gets a new ticket, which
# resumes the next connection; one ticket per TLS 1.3 handshake, full or
# resumed (as nginx sends on a resumption: bench/README.md, TLS).

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

LIFETIME = 3		# seconds: SSLSessionLifetime, the rotation period


def session(m, pki, path, sess_in=None, ver="-tls1_2"):
    """One TLS 1.2 (ver) connection to the IMAPS port with s_client, its
    session saved to path: (reused, ticket key name as hex or None,
    output)."""
    extra = [ver, "-sess_out", path]
    if sess_in is not None:
        extra += ["-sess_in", sess_in]
    rc, out = T.s_client(m.imaps_ports[0], pki, data=b"a LOGOUT\r\n",
                         extra=extra, host=m.host)
    # -quiet hides the session lines: ask for them separately.
    r = subprocess.run(["openssl", "sess_id", "-in", path, "-noout",
                        "-text"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    text = r.stdout.decode("latin-1")
    return rc, ticket_name(text), text


def ticket_name(text):
    """The first 16 bytes of the ticket in `openssl sess_id -text`."""
    m = re.search(r"TLS session ticket:\n((?:\s+[0-9a-f]{4} - .*\n)+)",
                  text)
    if m is None:
        return None
    hexbytes = re.findall(r"(?<=[ -])([0-9a-f]{2})(?=[ -])",
                          " " + " ".join(line.split(" - ", 1)[1][:48]
                                   for line in m.group(1).splitlines()))
    return "".join(hexbytes[:16]) or None


def reused(m, pki, path, sess_in, ver="-tls1_2"):
    """Does a connection offering sess_in's ticket resume?"""
    extra = [ver, "-sess_in", sess_in]
    cmd = ["openssl", "s_client", "-connect",
           "%s:%d" % (m.host, m.imaps_ports[0]), "-CAfile", pki.ca(),
           "-servername", "localhost"] + extra
    r = subprocess.run(cmd, input=b"a LOGOUT\r\n", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    out = r.stdout.decode("latin-1")
    return re.search(r"^Reused, ", out, re.M) is not None, out


def ticket_bytes(path):
    r = subprocess.run(["openssl", "sess_id", "-in", path, "-noout",
                        "-text"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    m = re.search(r"TLS session ticket:\n((?:\s+[0-9a-f]{4} - .*\n)+)",
                  r.stdout.decode("latin-1"))
    return m.group(1) if m else None


def tickets13(m, pki, sess_out, sess_in=None):
    """A TLS 1.3 connection with s_client -msg: (NewSessionTicket
    messages the server sent, whether it sent a certificate, output)."""
    extra = ["-tls1_3", "-msg", "-sess_out", sess_out]
    if sess_in is not None:
        extra += ["-sess_in", sess_in]
    rc, out = T.s_client(m.imaps_ports[0], pki, data=b"a LOGOUT\r\n",
                         extra=extra, host=m.host)
    got = re.findall(r"^<<< TLS 1\.3, Handshake \[length [0-9a-f]+\], "
                     r"(NewSessionTicket|Certificate)$", out, re.M)
    return got.count("NewSessionTicket"), "Certificate" in got, out


def test_tls13_count(tap, env, m, pki):
    """How many tickets a TLS 1.3 handshake costs the server."""
    full, resumed = env.path("tls13-n0.pem"), env.path("tls13-n1.pem")
    n, cert, out = tickets13(m, pki, full)
    tap.ok(n == 1 and cert, "TLS 1.3 full handshake: one ticket (%d)" % n,
           out[-3000:])
    n, cert, out = tickets13(m, pki, resumed, full)
    tap.ok(n == 1 and not cert, "TLS 1.3 resumed handshake: one new "
           "ticket (%d), no certificate" % n, out[-3000:])


def test_tls13_renew(tap, env, m, pki):
    """A chain of TLS 1.3 resumptions, each offering the ticket the one
    before left (s_client writes -sess_out when a ticket arrives)."""
    paths = [env.path("tls13-%d.pem" % i) for i in range(3)]
    rc, _, text = session(m, pki, paths[0], ver="-tls1_3")
    first = ticket_bytes(paths[0])
    tap.ok(rc == 0 and first is not None, "a TLS 1.3 session with a ticket",
           text)
    r, out = reused(m, pki, None, paths[0], ver="-tls1_3")
    tap.ok(r, "TLS 1.3: the ticket resumes the session", out[-1500:])
    cmd_extra = ["-tls1_3", "-sess_in", paths[0], "-sess_out", paths[1]]
    rc, out = T.s_client(m.imaps_ports[0], pki, data=b"a LOGOUT\r\n",
                         extra=cmd_extra, host=m.host)
    second = ticket_bytes(paths[1]) if os.path.exists(paths[1]) else None
    tap.ok(second is not None and second != first,
           "TLS 1.3: a resumed session gets a new ticket", out[-1500:])
    r, out = reused(m, pki, None, paths[1], ver="-tls1_3")
    tap.ok(r, "TLS 1.3: the new ticket resumes the next connection",
           out[-1500:])


def main(tap):
    T.need_root()
    T.need_tlsd()
    env = T.Env("tlsticket", tap).setup()
    pki = env.get_pki()
    env.start_backends()
    m = env.mmpd(tls=True, aservice={"TLSWorkers": 2,
                                     "SSLSessionLifetime": LIFETIME}).start()
    s1, s2, s3, s4 = (env.path("sess%d.pem" % i) for i in range(1, 5))

    rc, name1, text = session(m, pki, s1)
    tap.ok(rc == 0 and name1 is not None, "a TLS 1.2 session with a ticket",
           text)
    r, out = reused(m, pki, s2, s1)
    tap.ok(r, "the ticket resumes the session", out[-1500:])
    # Whichever mmp-tlsd takes them: the same key seals every ticket.
    names = set()
    for i in range(6):
        rc, n, text = session(m, pki, s2)
        names.add(n)
    tap.is_(names, {name1}, "within a lifetime every ticket names the "
            "same key, from both mmp-tlsd")

    off = m.log_size()
    m.reload()
    m.wait_log(r"configuration \d+ applied|ready", off, 10)
    r, out = reused(m, pki, s3, s1)
    tap.ok(r, "a reload that keeps SSLSessionLifetime: the ticket still "
           "resumes", out[-1500:])
    rc, n, text = session(m, pki, s2)
    tap.is_(n, name1, "a reload that keeps SSLSessionLifetime keeps the "
            "key: new tickets name it")

    test_tls13_renew(tap, env, m, pki)
    test_tls13_count(tap, env, m, pki)

    time.sleep(LIFETIME + 1)
    rc, name2, text = session(m, pki, s4)
    tap.ok(name2 is not None and name2 != name1,
           "after a lifetime the parent rotated the key (%s -> %s)" %
           (name1, name2), text)
    r, out = reused(m, pki, s3, s1)
    tap.ok(not r, "a ticket older than SSLSessionLifetime does not resume",
           out[-1500:])
    m.stop()

    m0 = env.mmpd(name="noresume", tls=True,
                  aservice={"SSLSessionLifetime": 0}).start()
    rc, name0, text = session(m0, pki, env.path("sess0.pem"))
    tap.ok(rc == 0 and name0 is None, "SSLSessionLifetime 0: no ticket",
           text)
    r, out = reused(m0, pki, env.path("sess0b.pem"), env.path("sess0.pem"))
    tap.ok(not r, "SSLSessionLifetime 0: nothing resumes", out[-1500:])


T.run(main)
