#!/usr/bin/env python3
# mmp-ldapd's PreAuth on its own, driven as a relay and a parent would
# (ldapdharness.py): its own empty-password check (the relay has one too,
# each process is tested for its own), LOOKUP_BADPASS for a wrong
# password, many binds in flight on the pool, one IMSG_AUDIT per outcome,
# no bind for a relay that asks none (its configuration without PreAuth
# during a reload), and a password ignored when PreAuth is off.

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402
import ldapdharness as H  # noqa: E402

STORE = "store1.mmp.test"
STORE_ADDR = T.STORE_ADDRS["store1"]
USERS = ["u%02d" % i for i in range(12)]


def binds(slapd, uid):
    with open(slapd.logpath, "rb") as f:
        return len(re.findall(rb'BIND dn="uid=%s,' % uid.encode(), f.read()))


def audits(ld):
    out = []
    for m in ld.others:
        if m.type == H.IMSG["IMSG_AUDIT"]:
            r = H.Reader(m.payload)
            svc, line = r.u8(), r.str()
            r.end()
            out.append((svc, line.decode(errors="replace")))
    return out


def wait_audit(ld, regex, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        got = [a for a in audits(ld) if re.search(regex, a[1])]
        if got:
            return got
        ld.pump(0.1)
    return []


def main(tap):
    T.need_root()
    T.ensure_users()
    env = T.Env("ldapd-preauth", tap)
    env.slapd = T.Slapd(env)
    env.user("dave", "dave-pw", mailhost=STORE)
    env.user("erin", "erin-pw", mailhost=STORE)
    env.user("nina", "nina-pw", mailhost=STORE)
    for u in USERS:
        env.user(u, u + "-pw", mailhost=STORE)
    env.slapd.start()
    ld = H.Ldapd(env, tap).start(H.ldapd_conf(env.slapd, PreAuth="yes"),
                                 hosts=[(STORE, STORE_ADDR)])
    relay = ld.relay(0)

    relay.lookup("dave", sid=0xabc, password=b"", client="127.0.0.1:4711")
    r = relay.result()
    tap.is_(r and r.status, "LOOKUP_BADPASS",
            "an empty password: LOOKUP_BADPASS from mmp-ldapd itself")
    time.sleep(0.3)
    tap.is_(binds(env.slapd, "dave"), 0, "and no bind as the user")
    got = wait_audit(ld, r"^\(sid 0xabc\) user dave pre-authentication "
                     r"failed: empty password")
    tap.ok(got and got[0][0] == H.DEF["SVC_IMAP"] and
           got[0][1].endswith(" - 127.0.0.1"),
           "its audit line, client address without port", repr(audits(ld)))

    relay.lookup("dave", password=b"wrong", sid=0xabd)
    r = relay.result()
    tap.is_(r and r.status, "LOOKUP_BADPASS", "a wrong password: BADPASS")
    tap.ok(wait_audit(ld, r"^\(sid 0xabd\) user dave pre-authentication "
                      r"failed: invalid credentials - "),
           "its audit line says why")
    relay.lookup("dave", password=b"dave-pw", sid=0xabe)
    r = relay.result()
    tap.ok(r and r.status == "LOOKUP_OK" and r.addrs == [STORE_ADDR],
           "the right password: LOOKUP_OK with the store", repr(r))
    tap.ok(binds(env.slapd, "dave") >= 1, "after a bind as the user")
    tap.is_(len(wait_audit(ld, r"^\(sid 0xabe\) user dave "
                           r"pre-authenticated - 127\.0\.0\.1$")), 1,
            "one audit line for the success")

    # Many at once, right and wrong mixed: each gets its own answer.
    want = {}
    for i, u in enumerate(USERS):
        pw = u + "-pw" if i % 2 == 0 else "bad"
        want[relay.lookup(u, password=pw)] = \
            "LOOKUP_OK" if i % 2 == 0 else "LOOKUP_BADPASS"
    got = {}
    for _ in USERS:
        r = relay.result()
        if r is None:
            break
        got[r.reqid] = r.status
    tap.ok(got == want, "%d binds in flight: each answered right" %
           len(USERS), "want %r\ngot %r" % (want, got))

    # PreAuth here but not in the relay's configuration (a reload applied
    # there and here a moment apart): no flag, no password, a lookup.
    relay.lookup("nina", sid=0xac0)
    r = relay.result()
    tap.ok(r and r.status == "LOOKUP_OK", "a lookup without the relay's "
           "preauth flag: LOOKUP_OK, the store will check", repr(r))
    time.sleep(0.3)
    tap.is_(binds(env.slapd, "nina"), 0, "and no bind as the user")
    tap.ok(not [a for a in audits(ld) if "(sid 0xac0)" in a[1]],
           "and no audit line", repr(audits(ld)))

    # PreAuth off: a password that comes anyway is not used.
    ld.send_conf(H.ldapd_conf(env.slapd, PreAuth="no"),
                 hosts=[(STORE, STORE_ADDR)], gen=2)
    ld.wait_ready(2)
    relay.lookup("erin", password=b"wrong")
    r = relay.result()
    tap.is_(r and r.status, "LOOKUP_OK", "PreAuth no: no bind decides")
    time.sleep(0.3)
    tap.is_(binds(env.slapd, "erin"), 0, "PreAuth no: no bind as the user")

    tap.ok(not re.search(r"fatal|dropped", ld.log_text(), re.I),
           "mmp-ldapd logged nothing fatal", ld.log_text())
    tap.ok("dave-pw" not in ld.log_text() and "wrong" not in ld.log_text(),
           "no password in mmp-ldapd's log")
    status = ld.stop()
    tap.ok(status is not None and os.WIFEXITED(status) and
           os.WEXITSTATUS(status) == 0, "mmp-ldapd exits 0", ld.how())


if __name__ == "__main__":
    T.run(main)
