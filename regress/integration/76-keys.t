#!/usr/bin/env python3
# The TLS private keys live in mmp-tlsd and nowhere else: the key's bytes
# (the lines of its PEM text, its PKCS#8 DER, the private scalar in both
# byte orders) and the passphrase of the encrypted one are in the memory
# of no other process (parent, relays, mmp-ldapd), after start and after
# a reload; and mmp-tlsd does hold the key, so the scan can find it.

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402
import pki as P  # noqa: E402


def needles(pk):
    """{name: bytes} for everything that betrays a key."""
    cert, enc, passfile = pk.server_encrypted()
    out = {}
    for what, sec in (("localhost key", P.key_secrets(enc, passfile)),
                      ("SNI key", P.key_secrets(pk.sni()[1]))):
        for i, line in enumerate(sec["pem-lines"]):
            out["%s PEM line %d" % (what, i + 1)] = line
        for k in ("der", "scalar", "scalar-le"):
            out["%s %s" % (what, k)] = sec[k]
    with open(enc, "rb") as f:
        for i, line in enumerate(f.read().splitlines()):
            if line and not line.startswith(b"-----"):
                out["encrypted PEM line %d" % (i + 1)] = line
    out["passphrase"] = P.PASSPHRASE.encode()
    return out


def kind(pid):
    cmd = T.proc_cmdline(pid)
    name = T.proc_status(pid).get("Name")
    if "mmp-tlsd" in cmd or name == "mmp-tlsd":
        return "mmp-tlsd"
    if "mmp-ldapd" in cmd or name == "mmp-ldapd":
        return "mmp-ldapd"
    if "relay" in cmd:
        return "relay"
    return "other"


def tls_session(tap, m, what):
    for port in (m.imaps_ports[0], m.pop3s_ports[0]):
        with m.imap_tls(port) if port in m.imaps_ports else \
                m.pop3_tls(port) as c:
            tap.ok(c.greeting[:1] in (b"*", b"+"), "%s: a TLS session on "
                   "port %d greets" % (what, port), repr(c.greeting))


def scan(tap, m, nd, what):
    secret = list(nd.values())
    byname = {v: k for k, v in nd.items()}
    procs = [(m.pid, "parent")] + [(p, kind(p)) for p in m.children()]
    tap.ok(sum(1 for _, k in procs if k == "mmp-tlsd") >= 1,
           "%s: an mmp-tlsd runs" % what, repr(procs))
    for pid, k in procs:
        found = T.memory_holds(pid, secret)
        names = sorted(byname[x] for x in (found or ()))
        if k == "mmp-tlsd":
            keyish = [n for n in names if "passphrase" not in n]
            tap.ok(found is not None and keyish,
                   "%s: mmp-tlsd %d holds the keys (the scan finds them)" %
                   (what, pid), "found: %r" % names)
        else:
            tap.ok(found is not None and not names,
                   "%s: %s %d holds no key bytes and no passphrase" %
                   (what, k, pid), "found: %r" % names)


def main(tap):
    T.need_root()
    T.need_tlsd()
    env = T.Env("keys", tap).setup()
    pk = env.get_pki()
    env.user("alice", "alice-pw", "store1")
    env.start_backends()
    cert, enc, passfile = pk.server_encrypted()
    scert, skey = pk.sni()
    keys = {"SSLCertFile": "%s %s" % (cert, scert),
            "SSLKeyFile": "%s %s" % (enc, skey),
            "SSLKeyPasswdFile": passfile}
    m = env.mmpd(tls=True, aservice={"TLSWorkers": 2}, imap=dict(keys),
                 pop=dict(keys)).start()
    nd = needles(pk)
    tls_session(tap, m, "after start")
    c = m.imaps()
    typ, _ = c.login("alice", "alice-pw")
    tap.is_(typ, "OK", "after start: an IMAPS login (encrypted key)")
    c.logout()
    scan(tap, m, nd, "after start")

    off = m.log_size()
    m.reload()
    tap.ok(m.wait_log(r"configuration \d+ loaded", off),
           "reload: the new configuration is loaded", m.log_since(off))
    time.sleep(0.5)
    tls_session(tap, m, "after the reload")
    scan(tap, m, nd, "after the reload")


T.run(main)
