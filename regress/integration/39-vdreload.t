#!/usr/bin/env python3
# A reload that numbers the virtual domains anew sends a lookup that
# started before it to its own domain's directory, never to the domain
# that now has its old index (another tenant's directory, the second
# slapd here, which holds users of the same names on other stores).
# 1. Queued: x.test (127.0.0.2) has an LdapUrl of its own whose server
#    takes the connection and never answers the bind, so joe's lookup
#    waits in x's queue; y.test (127.0.0.3) has its own slapd. A reload
#    drops x.test: y.test is domain 0 now. The waiting search goes to the
#    service's directory (what a new login of joe@x.test gets), not to
#    y's slapd.
# 2. Hosted: h (127.0.0.4, HostedDomains yes, the service's directory)
#    and y.test; the service's slapd is stopped once hal's domain-tree
#    search is sent, a reload swaps the domains (y.test is 0, h is 1),
#    slapd goes on: hal's user search follows on the service's directory
#    with h's DomainSearchFormat (the service's), not on y's slapd nor
#    with y's DomainSearchFormat.

import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

ADDR_X, ADDR_Y, ADDR_H = "127.0.0.2", "127.0.0.3", "127.0.0.4"
# Long enough for a lookup to wait through the reload in x's queue (the
# lookup's timer and the silent server's bind deadline are both this).
LDAP_TIMEOUT = 60
H_BASE = "o=h.test,%s" % T.ISP_SUFFIX


def setup(tap):
    env = T.Env("vdreload", tap).setup()
    sl = env.slapd
    s1, s2 = env.stores["store1"], env.stores["store2"]
    # The service's directory: joe@x.test on store1, hal of h.test on
    # store2.
    sl.add_user("joe@x.test", "joe-pw", "store1.mmp.test")
    s1.add_user("joe@x.test", "joe-pw")
    s1.seed("joe@x.test", T.message("joe of the service's directory"))
    sl.add_domain("h.test", H_BASE)
    sl.add_user("hal", "hal-pw", "store2.mmp.test", base=H_BASE)
    s2.add_user("hal@h.test", "hal-pw")
    s2.seed("hal@h.test", T.message("hal of the service's directory"))
    env.start_backends()
    # y.test's directory: the same names, on the other store.
    other = T.Slapd(env, name="ldap-y")
    other.add_user("joe@x.test", "joe-pw", "store2.mmp.test")
    s2.add_user("joe@x.test", "joe-pw")
    s2.seed("joe@x.test", T.message("joe of y.test's directory"))
    other.add_domain("h.test", H_BASE)
    other.add_user("hal", "hal-pw", "store1.mmp.test", base=H_BASE)
    s1.add_user("hal@h.test", "hal-pw")
    s1.seed("hal@h.test", T.message("hal of y.test's directory"))
    other.start()
    env.other = other
    return env


def silent_server():
    """A listening socket that never accepts: the kernel completes the
    TCP handshake, mmp-ldapd's bind is never answered."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", T.free_port()))
    s.listen(16)
    return s


def make_mmpd(env, name, addrs, vdmap_text, imap=None):
    port = T.free_port(addrs)
    vdmap = env.path(name + "-vdmap.cfg")
    with open(vdmap, "w") as f:
        f.write(vdmap_text)
    conf = {"VirtualDomainFile": vdmap, "LdapTimeout": LDAP_TIMEOUT,
            "LdapCacheSize": 0}
    conf.update(imap or {})
    m = env.mmpd(name=name, host=addrs[0], imap_ports=[port], pop_ports=[],
                 aservice={"ServiceList": "ImapProxyAService@%s" % "|".join(
                     "%s:%d" % (a, port) for a in addrs)},
                 imap=conf)
    return m, vdmap


def login_thread(m, addr, user, pw):
    """imap_route in a thread: (thread, [result])."""
    out = []

    def run():
        try:
            out.append(T.imap_route(T.At(m, addr), user, pw))
        except Exception as e:
            out.append((b"", [], "%s: %s" % (type(e).__name__, e)))
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def reload_to(m, vdmap, text):
    with open(vdmap, "w") as f:
        f.write(text)
    off = m.log_size()
    m.reload()
    # mmp-ldapd's line (mmp-tlsd's has no hosts table count)
    return m.wait_log(r"configuration \d+ applied \(", off,
                      timeout=15), off


def srch(slapd, regex, base='[^"]*'):
    return re.findall(r'SRCH base="%s" scope=\d deref=\d filter="%s"' %
                      (base, regex), slapd.log())


def test_queued(tap, env):
    silent = silent_server()
    dead_url = "ldap://127.0.0.1:%d/%s" % (silent.getsockname()[1],
                                           T.SUFFIX)
    y_url = "%s/%s" % (env.other.url, T.SUFFIX)
    both = ("vdmap x.test {x}\nx.test:LdapUrl \"{xu}\"\n"
            "vdmap y.test {y}\ny.test:LdapUrl \"{yu}\"\n").format(
                x=ADDR_X, xu=dead_url, y=ADDR_Y, yu=y_url)
    only_y = "vdmap y.test {y}\ny.test:LdapUrl \"{yu}\"\n".format(
        y=ADDR_Y, yu=y_url)
    m, vdmap = make_mmpd(env, "queued", (ADDR_X, ADDR_Y), both)
    m.start()
    tap.ok(m.wait_log(r"virtual domain x\.test: LDAP connection of its "
                      r"own") and
           m.wait_log(r"virtual domain y\.test: LDAP connection of its "
                      r"own"),
           "x.test and y.test have LDAP connections of their own",
           m.log()[-2000:])
    before = len(srch(env.other, r"\(uid=joe@x\.test\)"))
    t, out = login_thread(m, ADDR_X, "joe", "joe-pw")
    # The relay hands the login to mmp-ldapd at once; its search waits
    # for x's bind, which the silent server never answers.
    time.sleep(1.5)
    waiting = t.is_alive()
    ready, off = reload_to(m, vdmap, only_y)
    t.join(20)
    t_ans, subj, d = out[0] if out else (b"", [], "no answer")
    tap.ok(waiting and ready is not None,
           "joe's lookup waited in x.test's queue through a reload that "
           "drops x.test", m.log_since(off)[-2000:])
    tap.is_(len(srch(env.other, r"\(uid=joe@x\.test\)")), before,
            "the waiting search did not go to y.test's directory, which "
            "now has x.test's old index")
    tap.ok(b" OK" in t_ans and subj == ["joe of the service's directory"],
           "it went to the service's directory, as a new login of "
           "joe@x.test would", d)
    t_ans, subj, d = T.imap_route(T.At(m, ADDR_X), "joe@x.test", "joe-pw")
    tap.ok(b" OK" in t_ans and subj == ["joe of the service's directory"],
           "a new login of joe@x.test gets the same", d)
    m.stop()
    silent.close()


def test_hosted(tap, env):
    # y.test's DomainSearchFormat finds no one: hal's filter must be h's.
    h = "vdmap h {h}\nh:DefaultDomain h.test\nh:HostedDomains yes\n"
    y = ("vdmap y.test {y}\ny.test:LdapUrl \"{yu}/{s}\"\n"
         "y.test:DomainSearchFormat \"(mail=%U@y.test)\"\n")
    hy, yh = h + y, y + h
    fill = dict(h=ADDR_H, y=ADDR_Y, yu=env.other.url, s=T.SUFFIX)
    m, vdmap = make_mmpd(env, "hosted", (ADDR_H, ADDR_Y),
                         hy.format(**fill), imap={"HostedDomains": "no"})
    m.start()
    t_ans, subj, d = T.imap_route(T.At(m, ADDR_H), "hal", "hal-pw")
    tap.ok(b" OK" in t_ans and subj == ["hal of the service's directory"],
           "before: hal on h's address reaches the service's hal", d)
    user_filter = r"\(uid=hal\)"
    # any search below the domain's base, whatever its filter
    below_h = re.escape(H_BASE)
    before_other = len(srch(env.other, '[^"]*', below_h))
    before = len(srch(env.slapd, user_filter, below_h))
    pid = env.slapd.proc.pid
    tap.ok(T.stop(pid), "the service's slapd stopped")
    try:
        t, out = login_thread(m, ADDR_H, "hal", "hal-pw")
        # mmp-ldapd sends the domain tree's search at once on its
        # connection, up since the first login; slapd will read it later.
        time.sleep(1.5)
        waiting = t.is_alive()
        ready, off = reload_to(m, vdmap, yh.format(**fill))
    finally:
        os.kill(pid, signal.SIGCONT)
    t.join(20)
    t_ans, subj, d = out[0] if out else (b"", [], "no answer")
    tap.ok(waiting and ready is not None,
           "hal's domain search waited through a reload that makes y.test "
           "domain 0 and h domain 1", m.log_since(off)[-2000:])
    tap.is_(len(srch(env.other, '[^"]*', below_h)), before_other,
            "hal's user search did not go to y.test's directory, which "
            "now has h's old index")
    tap.is_(len(srch(env.slapd, user_filter, below_h)), before + 1,
            "it went to the service's directory, h's, with h's "
            "DomainSearchFormat (the service's (uid=%U))")
    tap.ok(b" OK" in t_ans and subj == ["hal of the service's directory"],
           "hal reaches the service's hal", d)
    m.stop()


def main(tap):
    env = setup(tap)
    test_queued(tap, env)
    test_hosted(tap, env)


if __name__ == "__main__":
    T.run(main)
