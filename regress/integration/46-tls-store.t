#!/usr/bin/env python3
# TLS to the stores through mmp-tlsd: SSLBacksidePort to Dovecot's IMAPS
# and POP3S verified against SSLStoreCAFile (mailHost as a name and as an
# address), a store whose certificate the CA does not vouch for, or that
# does not carry the mailHost name, gets no password (ServerDownAlert, a
# log line naming the failure), SSLStoreVerify no encrypts anyway,
# StoreStartTLS upgrades the plain BacksidePort.

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

IMAP_DOWN = "mmptest: IMAP store is down"
POP_DOWN = "mmptest: POP store is down"


def tls_logins(env, store, user):
    """Dovecot's login lines of user on store that say TLS."""
    return len(re.findall(r"Login: user=<%s>.*\bTLS\b" % re.escape(user),
                          env.stores[store].log()))


def logins(env, store, user):
    return len(re.findall(r"Login: user=<%s>" % re.escape(user),
                          env.stores[store].log()))


def both_work(tap, env, m, what):
    """alice (mailHost a name) over IMAP, bob (an address) over POP3: both
    log in over TLS at their stores."""
    a0 = tls_logins(env, "store1", "alice")
    b0 = tls_logins(env, "store2", "bob")
    t, subj, d = T.imap_route(m, "alice", "alice-pw")
    tap.ok(re.match(rb"t\d+ OK", t) and subj == ["alice on store1"],
           "%s: IMAP login and read (mailHost store1.mmp.test)" % what, d)
    r, subj = T.pop_route(m, "bob", "bob-pw")
    tap.ok(r.startswith(b"+OK") and subj == ["bob on store2"],
           "%s: POP3 login and read (mailHost 127.0.0.12)" % what,
           repr((r, subj)))
    tap.ok(T.poll(lambda: tls_logins(env, "store1", "alice") > a0 and
                  tls_logins(env, "store2", "bob") > b0, bool),
           "%s: the stores logged both logins with TLS" % what,
           "\n".join(env.stores["store1"].log().splitlines()[-5:] +
                     env.stores["store2"].log().splitlines()[-5:]))


def both_refused(tap, env, m, what):
    a0 = logins(env, "store1", "alice")
    b0 = logins(env, "store2", "bob")
    off = m.log_size()
    with m.imap() as c:
        t, un = c.login("alice", "alice-pw")
        tap.ok(re.match(rb"t\d+ NO", t) and IMAP_DOWN.encode() in t +
               b"".join(un), "%s: IMAP login refused with the "
               "ServerDownAlert text" % what, repr((t, un)))
        t, _ = c.cmd("NOOP")
        tap.like(t, r"^t\d+ OK", "%s: the client stays connected" % what)
    with m.pop3() as p:
        r = p.login("bob", "bob-pw")
        tap.ok(r.startswith(b"-ERR") and POP_DOWN.encode() in r,
               "%s: POP3 login refused with the ServerDownAlert text" %
               what, repr(r))
    tap.ok(m.wait_log(r"(?i)(certificate|verif)", off),
           "%s: the log names the certificate verification failure" % what,
           m.log_since(off)[-2000:])
    tap.ok(logins(env, "store1", "alice") == a0 and
           logins(env, "store2", "bob") == b0,
           "%s: no login reached a store" % what)


def wrong_name(tap, env, m):
    """The CA vouches for the certificate, but not for the name mailHost
    gives: no password goes there."""
    c0 = logins(env, "store1", "carol")
    off = m.log_size()
    with m.imap() as c:
        t, un = c.login("carol", "carol-pw")
        tap.ok(re.match(rb"t\d+ NO", t) and IMAP_DOWN.encode() in t +
               b"".join(un), "a certificate without mailHost's name: IMAP "
               "login refused with the ServerDownAlert text", repr((t, un)))
    tap.ok(m.wait_log(r"(?i)other\.mmp\.test.*(name|certificate)", off),
           "a certificate without mailHost's name: the log says so",
           m.log_since(off)[-2000:])
    tap.is_(logins(env, "store1", "carol"), c0,
            "a certificate without mailHost's name: no login reached it")


def main(tap):
    T.need_root()
    T.need_tlsd()
    env = T.Env("tlsstore", tap).setup(store_tls=True)
    env.user("alice", "alice-pw", "store1")
    env.stores["store1"].seed("alice", T.message("alice on store1"))
    env.user("bob", "bob-pw", "store2", mailhost=T.STORE_ADDRS["store2"])
    env.stores["store2"].seed("bob", T.message("bob on store2"))
    # mailHost "other.mmp.test": another name of 127.0.0.11 in the
    # HostsFile, one the store's certificate (store1.mmp.test, store1,
    # 127.0.0.11) does not carry.
    with open(env.hosts_file, "a") as f:
        f.write("%s\tother.mmp.test\n" % T.STORE_ADDRS["store1"])
    env.user("carol", "carol-pw", "store1", mailhost="other.mmp.test")
    env.stores["store1"].seed("carol", T.message("carol on store1"))
    env.start_backends()
    pk = env.pki

    def tls_store(name, ca, **more):
        imap = {"SSLBacksidePort": env.store_imaps_port,
                "SSLStoreCAFile": ca}
        pop = {"SSLBacksidePort": env.store_pop3s_port,
               "SSLStoreCAFile": ca}
        imap.update(more)
        pop.update(more)
        return env.mmpd(name, imap=imap, pop=pop).start()

    m = tls_store("good", pk.ca())
    both_work(tap, env, m, "SSLBacksidePort, the test CA")
    wrong_name(tap, env, m)
    m.stop()

    m = tls_store("rogue", pk.rogue_ca())
    both_refused(tap, env, m, "SSLBacksidePort, another CA")
    m.stop()

    m = tls_store("noverify", pk.rogue_ca(), SSLStoreVerify="no")
    both_work(tap, env, m, "SSLStoreVerify no, another CA")
    m.stop()

    starttls = {"StoreStartTLS": "yes", "SSLStoreCAFile": pk.ca()}
    m = env.mmpd("starttls", imap=dict(starttls), pop=dict(starttls)).start()
    both_work(tap, env, m, "StoreStartTLS on BacksidePort")
    m.stop()

    starttls["SSLStoreCAFile"] = pk.rogue_ca()
    m = env.mmpd("starttls-rogue", imap=dict(starttls),
                 pop=dict(starttls)).start()
    both_refused(tap, env, m, "StoreStartTLS, another CA")
    m.stop()


T.run(main)
