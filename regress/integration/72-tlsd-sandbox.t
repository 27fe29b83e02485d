#!/usr/bin/env python3
# Every mmp-tlsd, seen from /proc after real TLS work (IMAPS, STARTTLS,
# STLS, TLS to a store): user _mmptls, chrooted, seccomp filter on,
# no_new_privs, no capabilities, not dumpable, no fork, no core. A
# forbidden system call (execve, forced into a live mmp-tlsd with ptrace)
# kills it with SIGSYS; the parent says so and starts a new one that
# serves.

import os
import pwd
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

TLS_WORKERS = 2
SYS_EXECVE = 59		# x86_64


def work(tap, env, m, what):
    c = m.imaps()
    typ, _ = c.login("alice", "alice-pw")
    c.select("INBOX")
    typ2, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    c.logout()
    tap.ok(typ == "OK" and b"alice here" in (data[0][1] if data and
                                             data[0] else b""),
           "%s: an IMAPS session works" % what, repr((typ, data)))
    with m.imap() as c:
        c.cmd("STARTTLS")
        c.starttls(T.tls_context(env.pki))
        t, _ = c.login("bob", "bob-pw")
        tap.like(t, r"^t\d+ OK", "%s: STARTTLS, then a login to a store "
                 "over TLS" % what)
    with m.pop3() as p:
        p.cmd("STLS")
        p.starttls(T.tls_context(env.pki))
        tap.like(p.login("alice", "alice-pw"), r"^\+OK",
                 "%s: STLS and a POP3 login" % what)


def main(tap):
    T.need_root()
    T.need_tlsd()
    env = T.Env("tlsdsandbox", tap).setup(store_tls=True)
    env.user("alice", "alice-pw", "store1")
    env.stores["store1"].seed("alice", T.message("alice here"))
    env.user("bob", "bob-pw", "store2")
    env.start_backends()
    store = {"SSLBacksidePort": env.store_imaps_port,
             "SSLStoreCAFile": env.pki.ca()}
    m = env.mmpd(tls=True, aservice={"TLSWorkers": TLS_WORKERS},
                 imap=store, pop={"StoreStartTLS": "yes",
                                  "SSLStoreCAFile": env.pki.ca()}).start()
    tls_uid = pwd.getpwnam("_mmptls").pw_uid

    before = m.child_pids("mmp-tlsd")
    tap.is_(len(before), TLS_WORKERS, "TLSWorkers %d: that many mmp-tlsd" %
            TLS_WORKERS)
    for i in range(3):
        work(tap, env, m, "round %d" % (i + 1))
    tap.is_(m.child_pids("mmp-tlsd"), before, "the same mmp-tlsd after "
            "the sessions (none killed by its filter)")
    for n, pid in enumerate(m.child_pids("mmp-tlsd")):
        T.check_sandboxed(tap, pid, tls_uid, "mmp-tlsd %d" % (n + 1))
    found = T.CHILD_CRASH.findall(m.log())
    tap.ok(not found, "no child died of a signal before the forced call",
           "\n".join(found))

    if T.LEAKCHECK:
        tap.skip("a forbidden call kills mmp-tlsd", T.LEAKCHECK_WHY)
        return
    victim = before[0]
    off = m.log_size()
    err = T.force_syscall(victim, SYS_EXECVE, (0, 0, 0))
    if err is not None:
        tap.skip("a forbidden call kills mmp-tlsd", err)
        return
    # The kill is deliberate: the end-of-script check must not count it.
    env.mmpds.remove(m)
    tap.ok(T.wait_pid_gone(victim, 5), "execve in mmp-tlsd: the process "
           "is gone")
    tap.ok(m.wait_log(r"mmp-tlsd.*killed by signal SIGSYS|killed by "
                      r"signal SIGSYS.*mmp-tlsd", off),
           "the parent logs mmp-tlsd killed by SIGSYS",
           m.log_since(off)[-2000:])
    end = time.time() + 10
    while time.time() < end and len(m.child_pids("mmp-tlsd")) < TLS_WORKERS:
        time.sleep(0.2)
    after = m.child_pids("mmp-tlsd")
    tap.ok(len(after) == TLS_WORKERS and victim not in after,
           "a new mmp-tlsd replaces it", repr((before, after)))
    # Its sandbox is on once it applied its first configuration: a slow
    # start (a sanitizer build) is still root before that.
    tap.ok(m.wait_log(r"mmp-tlsd \d+ ready", off, 15),
           "the new mmp-tlsd is ready", m.log_since(off)[-2000:])
    for pid in set(after) - set(before):
        T.check_sandboxed(tap, pid, tls_uid, "restarted mmp-tlsd")
    time.sleep(0.5)
    work(tap, env, m, "after the restart")
    rest = [x for x in T.CHILD_CRASH.findall(m.log_since(off))
            if "SIGSYS" not in x]
    tap.ok(not rest and len(re.findall("SIGSYS", m.log_since(off))) >= 1,
           "no other child died", "\n".join(rest))


T.run(main)
