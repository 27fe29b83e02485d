#!/usr/bin/env python3
# Credentials beyond plain ASCII, end to end: 8-bit user names and
# passwords, quotes and backslashes, given as quoted strings, literals and
# SASL PLAIN, reach the store intact over both protocols. (The LOGIN and
# literal forms of the replay, for stores without AUTH=PLAIN, are covered
# by regress/mmpd/backend: Dovecot always offers AUTH=PLAIN.)

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mmptest as T  # noqa: E402

USERS = [
    # uid, password, what is special
    ("plain", "simple-pw", "ASCII"),
    ("quoting", 'pa"ss\\wo rd', "quote, backslash, space"),
    ("utf8", "p\u00e4ssw\u00f6rd", "UTF-8 password"),
    ("\u00fcml", "uml-pw", "UTF-8 user name"),
]


def literal_login(m, user, pw):
    """LOGIN with both arguments as synchronising literals."""
    u, p = user.encode(), pw.encode()
    with m.imap() as c:
        c.send(b"a LOGIN {%d}\r\n" % len(u))
        cont1 = c.readline()
        c.send(u + b" {%d}\r\n" % len(p))
        cont2 = c.readline()
        c.send(p + b"\r\n")
        return cont1, cont2, c.read_response()


def subject(uid):
    """The seeded subject as the harness reads it (bytes as latin-1)."""
    return ("%s here" % uid).encode().decode("latin-1")


def main(tap):
    env = T.Env("replay", tap).setup(stores=("store1",))
    for uid, pw, _ in USERS:
        env.user(uid, pw, "store1")
        env.stores["store1"].seed(uid, T.message("%s here" % uid))
    env.start_backends()
    m = env.mmpd().start()
    for uid, pw, how in USERS:
        t, subj, d = T.imap_route(m, uid, pw)
        tap.ok(b" OK" in t and subj == [subject(uid)],
               "IMAP LOGIN, quoted: %s" % how, d)
        c1, c2, t = literal_login(m, uid, pw)
        tap.ok(c1.startswith(b"+") and c2.startswith(b"+") and
               t.startswith(b"a OK"), "IMAP LOGIN, literals: %s" % how,
               repr((c1, c2, t)))
        r, subj = T.pop_route(m, uid, pw)
        tap.ok(r.startswith(b"+OK") and subj == [subject(uid)],
               "POP3 USER/PASS: %s" % how, repr((r, subj)))
    t, _, d = T.imap_route(m, "utf8", "p\u00e4ssw\u00f6rt")
    tap.ok(b"NO [AUTHENTICATIONFAILED]" in t,
           "a wrong UTF-8 password is refused", d)
    tap.ok(m.alive(), "mmpd still running")


T.run(main)
