#!/usr/bin/env python3
# mmp-ldapd's AuthService table, spoken to as relays do (IMSG_AUTHSVC_*):
# a login one relay records is answered to another (one table for all),
# per domain and address, until its TTL; a malformed record or query
# (an address not in inet_ntop's form, a user with CR LF, a TTL of 0 or
# over the maximum, a trailing byte) loses that relay its channel and
# nothing else: the other relays are still answered. A relay that asks
# without end and never reads loses its channel at LDAPD_RELAY_QUEUE_MAX
# answers waiting.

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402
import ldapdharness as H  # noqa: E402

TTL = 2


def record(domain, addr, user, ttl, extra=b""):
    return H.Writer().str(domain).str(addr).str(user).u32(ttl).raw(extra)


def query(reqid, domain, addr, extra=b""):
    return H.Writer().u64(reqid).str(domain).str(addr).raw(extra)


def answer(ld, relay):
    """(reqid, user) of the next IMSG_AUTHSVC_ANSWER, read strictly."""
    if not ld.wait_for(lambda: relay.chan.msgs, H.WAIT_SEC,
                       lambda: relay.chan.eof):
        return None
    m = relay.chan.msgs.popleft()
    if m.type != H.IMSG["IMSG_AUTHSVC_ANSWER"] or m.fd is not None:
        raise ValueError("mmp-ldapd sent %s" % H.IMSG_NAME.get(m.type))
    r = H.Reader(m.payload)
    reqid, user = r.u64(), r.str()
    r.end()
    return reqid, user.decode(errors="replace")


def ask(ld, relay, reqid, domain, addr):
    relay.send(H.IMSG["IMSG_AUTHSVC_QUERY"], query(reqid, domain, addr))
    return answer(ld, relay)


def queue_max():
    """LDAPD_RELAY_QUEUE_MAX, from mmp-ldapd/ldapd.h."""
    with open(os.path.join(T.ROOT, "mmp-ldapd", "ldapd.h")) as f:
        return int(re.search(r"^#define\s+LDAPD_RELAY_QUEUE_MAX\s+(\d+)",
                             f.read(), re.M).group(1))


def test_flood(tap, ld, other):
    """A relay that asks without end and never reads its answers loses
    its channel once LDAPD_RELAY_QUEUE_MAX of them wait: they would grow
    mmp-ldapd without bound."""
    most = queue_max()
    flood = ld.relay(20)
    ld.channels.remove(flood.chan)	# the harness must not read it either
    q = H.IMSG["IMSG_AUTHSVC_QUERY"]
    data = b"".join(H.HDR.pack(q, H.HDR.size + len(p), 0, 0) + p
                    for p in (query(i, "", "192.0.2.99").b
                              for i in range(2 * most)))
    off = len(ld.log)
    try:
        flood.chan.send_bytes(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    tap.ok(ld.wait_log(r"relay 20 leaves more than %d answers unread: "
                       r"channel closed" % most, off),
           "%d queries never read: mmp-ldapd closes that relay's channel "
           "at %d answers waiting" % (2 * most, most), ld.log_text(off))
    ld.channels.append(flood.chan)
    tap.ok(flood.closed(), "its channel ends")
    tap.ok(ld.alive(), "mmp-ldapd goes on")
    tap.is_(ask(ld, other, 15, "x", "2001:db8::7"), (15, "quinn@x"),
            "another relay is answered")


def main(tap):
    T.need_root()
    T.ensure_users()
    env = T.Env("ldapd-authsvc", tap)
    env.slapd = T.Slapd(env)
    env.slapd.start()
    ld = H.Ldapd(env, tap).start(H.ldapd_conf(env.slapd))
    r0, r1 = ld.relay(0), ld.relay(1)

    r0.send(H.IMSG["IMSG_AUTHSVC_RECORD"],
            record("", "192.0.2.7", "pat", TTL))
    r0.send(H.IMSG["IMSG_AUTHSVC_RECORD"],
            record("x", "2001:db8::7", "quinn@x", 600))
    # mmp-ldapd reads each relay's channel on its own: a question on
    # another channel may overtake a record. One on the same channel
    # after it is answered only once the records before it are in.
    ask(ld, r0, 6, "", "192.0.2.7")
    tap.is_(ask(ld, r1, 7, "", "192.0.2.7"), (7, "pat"),
            "recorded by relay 0, answered to relay 1")
    tap.is_(ask(ld, r1, 8, "x", "192.0.2.7"), (8, ""),
            "another domain: nobody")
    tap.is_(ask(ld, r1, 9, "", "192.0.2.8"), (9, ""),
            "another address: nobody")
    tap.is_(ask(ld, r0, 10, "x", "2001:db8::7"), (10, "quinn@x"),
            "an IPv6 address in domain x")
    r1.send(H.IMSG["IMSG_AUTHSVC_RECORD"],
            record("", "192.0.2.7", "rob", TTL))
    ask(ld, r1, 12, "", "192.0.2.7")
    tap.is_(ask(ld, r0, 11, "", "192.0.2.7"), (11, "rob"),
            "a later login from the address replaces the earlier one")

    bad = (
        ("an address with a leading zero", "IMSG_AUTHSVC_RECORD",
         record("", "192.0.2.07", "pat", 60)),
        ("an IPv6 address in capitals", "IMSG_AUTHSVC_RECORD",
         record("", "2001:DB8::7", "pat", 60)),
        ("a user with CR LF", "IMSG_AUTHSVC_RECORD",
         record("", "192.0.2.7", "pat\r\n+OK root", 60)),
        ("an empty user", "IMSG_AUTHSVC_RECORD",
         record("", "192.0.2.7", "", 60)),
        ("a TTL of 0", "IMSG_AUTHSVC_RECORD",
         record("", "192.0.2.7", "pat", 0)),
        ("a TTL over 604800", "IMSG_AUTHSVC_RECORD",
         record("", "192.0.2.7", "pat", 604801)),
        ("a domain with a blank", "IMSG_AUTHSVC_RECORD",
         record("a b", "192.0.2.7", "pat", 60)),
        ("a record with a trailing byte", "IMSG_AUTHSVC_RECORD",
         record("", "192.0.2.7", "pat", 60, b"\0")),
        ("a query for a name", "IMSG_AUTHSVC_QUERY",
         query(1, "", "mta.example")),
        ("a short query", "IMSG_AUTHSVC_QUERY",
         H.Writer().u64(1).str("")),
        ("an answer sent to mmp-ldapd", "IMSG_AUTHSVC_ANSWER",
         H.Writer().u64(1).str("pat")),
    )
    for i, (what, type_, payload) in enumerate(bad):
        r = ld.relay(2 + i)
        r.send(H.IMSG[type_], payload)
        tap.ok(r.closed(), "%s: that relay's channel is closed" % what)
    tap.ok(ld.alive(), "mmp-ldapd goes on")
    tap.is_(ask(ld, r1, 12, "", "192.0.2.7"), (12, "rob"),
            "the other relays are still answered, the table intact")

    test_flood(tap, ld, r1)
    time.sleep(TTL + 1.2)
    tap.is_(ask(ld, r1, 13, "", "192.0.2.7"), (13, ""),
            "after its TTL (%d s): nobody" % TTL)
    tap.is_(ask(ld, r1, 14, "x", "2001:db8::7"), (14, "quinn@x"),
            "an entry with a longer TTL stays")
    ld.stop()


T.run(main)
