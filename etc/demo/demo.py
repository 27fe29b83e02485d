#!/usr/bin/env python3
# The mmpd demo: a private slapd, two Dovecot stores (127.0.0.11 and .12)
# and mmpd on 127.0.0.1, all in one temp dir, with two users to log in as.
# Started by etc/demo/demo.sh; everything is stopped and removed on exit.

import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "regress", "integration"))
import mmptest as T  # noqa: E402
import pki as P  # noqa: E402

IMAP_PORT = int(os.environ.get("DEMO_IMAP_PORT", "10143"))
POP_PORT = int(os.environ.get("DEMO_POP_PORT", "10110"))
IMAPS_PORT = int(os.environ.get("DEMO_IMAPS_PORT", "10993"))
POP3S_PORT = int(os.environ.get("DEMO_POP3S_PORT", "10995"))
# IMAPS and POP3S with a CA of the demo's own (DEMO_TLS=0: without).
TLS = os.environ.get("DEMO_TLS", "1") != "0"
NO_WAIT = os.environ.get("DEMO_NO_WAIT") == "1"

# uid, password, store, mailHost as the operator would write it
USERS = [
    ("alice", "wonderland", "store1", "store1.mmp.test"),
    ("bob", "builder", "store2", T.STORE_ADDRS["store2"]),
]


def say(text=""):
    print(text, flush=True)


def build(env):
    env.setup()
    for uid, pw, store, mailhost in USERS:
        env.user(uid, pw, store, mailhost=mailhost)
        st = env.stores[store]
        st.seed(uid, T.message(
            "Welcome to mmpd, %s" % uid,
            body="Hello %s,\n\nthis message lives on %s (%s) and reached "
                 "you through mmpd.\n" % (uid, store, st.addr)))
        st.seed(uid, T.message("Second message for %s" % uid))
    env.start_backends()
    # Product defaults for the timeouts and the failure delay. The
    # directory model is one user tree with unique uids (alice, bob under
    # o=example): HostedDomains no. The product's default, the hosted-domain
    # tree, is shown by regress/integration/39-hosted.t.
    defaults = {"AuthFailureDelay": None, "LoginTimeout": None,
                "Timeout": None, "LdapTimeout": None,
                "ConnectTimeout": None, "HostedDomains": "no",
                # ConnLimits' product default, written out: the demo's
                # clients (curl, one at a time) never come near it.
                "ConnLimits": "0.0.0.0|0.0.0.0:20"}
    if TLS:
        env.pki = P.Pki(env.path("pki"))	# removed with the directory
    return env.mmpd(imap_ports=[IMAP_PORT], pop_ports=[POP_PORT],
                    imap=defaults, pop=dict(defaults), tls=TLS,
                    imaps_ports=[IMAPS_PORT], pop3s_ports=[POP3S_PORT]
                    ).start()


def curl_imap(uid, pw):
    return ["curl", "-s", "--max-time", "20",
            "imap://127.0.0.1:%d/INBOX;UID=1" % IMAP_PORT,
            "-u", "%s:%s" % (uid, pw)]


def curl_pop(uid, pw):
    return ["curl", "-s", "--max-time", "20",
            "pop3://127.0.0.1:%d/1" % POP_PORT, "-u", "%s:%s" % (uid, pw)]


def curl_imaps(ca, uid, pw):
    return ["curl", "-s", "--max-time", "20", "--cacert", ca,
            "imaps://127.0.0.1:%d/INBOX;UID=1" % IMAPS_PORT,
            "-u", "%s:%s" % (uid, pw)]


def curl_pop3s(ca, uid, pw):
    return ["curl", "-s", "--max-time", "20", "--cacert", ca,
            "pop3s://127.0.0.1:%d/1" % POP3S_PORT, "-u", "%s:%s" % (uid, pw)]


def explain(env, m):
    (a, apw, _, _), (b, bpw, _, _) = USERS
    say("=" * 72)
    say("mmpd demo is running (mmpd pid %d)" % m.pid)
    say("demo: working directory: %s" % env.dir)
    say("")
    say("  IMAP  127.0.0.1:%d      POP3  127.0.0.1:%d   (plaintext%s)" %
        (IMAP_PORT, POP_PORT, ", STARTTLS/STLS" if TLS else ", no TLS"))
    if TLS:
        say("  IMAPS 127.0.0.1:%d      POP3S 127.0.0.1:%d   (TLS, "
            "certificate of the demo's own CA)" % (IMAPS_PORT, POP3S_PORT))
        say("  CA    %s   (trust it to verify mmpd)" % env.pki.ca())
    else:
        say("  (IMAPS/POP3S: not in this build, mmp-tlsd is missing)")
    say("  LDAP  %s/%s  (bind as \"%s\" / %s)" %
        (env.slapd.url, T.SUFFIX, T.DM_DN, T.DM_PW))
    for uid, pw, store, mailhost in USERS:
        say("  user %-6s password %-11s mailHost %-16s -> %s (%s)" %
            (uid, pw, mailhost, store, env.stores[store].addr))
    say("")
    say("Try:")
    say("  curl -v 'imap://127.0.0.1:%d/INBOX;UID=1' -u %s:%s   # message 1"
        % (IMAP_PORT, a, apw))
    say("  curl -v 'imap://127.0.0.1:%d/INBOX?ALL' -u %s:%s   # SEARCH ALL" %
        (IMAP_PORT, a, apw))
    say("  curl -v pop3://127.0.0.1:%d/1 -u %s:%s         # RETR 1" %
        (POP_PORT, b, bpw))
    say("  python3 -c 'import imaplib; c=imaplib.IMAP4(\"127.0.0.1\", %d); "
        "print(c.login(\"%s\", \"%s\")); print(c.select()); "
        "print(c.fetch(\"1\", \"(BODY[HEADER.FIELDS (SUBJECT)])\"))'" %
        (IMAP_PORT, a, apw))
    if TLS:
        ca = env.pki.ca()
        say("TLS, verified against the demo's CA:")
        say("  curl -v --cacert %s 'imaps://127.0.0.1:%d/INBOX;UID=1' "
            "-u %s:%s" % (ca, IMAPS_PORT, a, apw))
        say("  curl -v --cacert %s pop3s://127.0.0.1:%d/1 -u %s:%s" %
            (ca, POP3S_PORT, b, bpw))
        say("  curl -v --cacert %s --ssl-reqd 'imap://127.0.0.1:%d/INBOX;"
            "UID=1' -u %s:%s   # STARTTLS" % (ca, IMAP_PORT, a, apw))
        say("  openssl s_client -connect 127.0.0.1:%d -CAfile %s "
            "-verify_return_error -crlf" % (IMAPS_PORT, ca))
        say("  openssl s_client -connect 127.0.0.1:%d -starttls imap "
            "-CAfile %s -crlf" % (IMAP_PORT, ca))
    say("By hand (nc from Debian's netcat-openbsd; -C sends CR LF):")
    say("  nc -C 127.0.0.1 %d    then type:  a LOGIN %s %s  /  b SELECT "
        "INBOX  /  c LOGOUT" % (IMAP_PORT, a, apw))
    say("  nc -C 127.0.0.1 %d    then type:  USER %s  /  PASS %s  /  STAT  "
        "/  QUIT" % (POP_PORT, b, bpw))
    say("")
    say("Mail client: server 127.0.0.1, IMAP port %d or POP3 port %d, no "
        "encryption," % (IMAP_PORT, POP_PORT))
    say("  normal password, user name and password as above.")
    if TLS:
        say("  Or port %d (IMAP) / %d (POP3) with SSL/TLS: first import %s"
            % (IMAPS_PORT, POP3S_PORT, env.pki.ca()))
        say("  as a certificate authority (Thunderbird: Settings > Privacy "
            "& Security >")
        say("  Certificates > Manage Certificates > Authorities > Import).")
    say("")
    say("Logs:")
    say("  tail -f %s" % m.logpath)
    say("  tail -f %s %s" % (env.stores["store1"].logpath,
                             env.stores["store2"].logpath))
    say("  %s (slapd -d stats)" % env.slapd.logpath)
    say("Configuration: %s" % m.confdir)
    say("=" * 72)


def self_check(env):
    """Both protocols through mmpd with curl, over TLS too when it is
    there; True when all work."""
    (a, apw, _, _), (b, bpw, _, _) = USERS
    ok = True
    checks = [("IMAP check (curl, %s)" % a, curl_imap(a, apw),
               "Subject: Welcome to mmpd, %s" % a),
              ("POP3 check (curl, %s)" % b, curl_pop(b, bpw),
               "Subject: Welcome to mmpd, %s" % b)]
    if TLS:
        checks += [("IMAPS check (curl, %s)" % a,
                    curl_imaps(env.pki.ca(), a, apw),
                    "Subject: Welcome to mmpd, %s" % a),
                   ("POP3S check (curl, %s)" % b,
                    curl_pop3s(env.pki.ca(), b, bpw),
                    "Subject: Welcome to mmpd, %s" % b)]
    for name, cmd, want in checks:
        r = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        out = r.stdout.decode("latin-1")
        good = r.returncode == 0 and want in out
        say("demo: %s: %s" % (name, "OK" if good else
                              "FAILED (curl exit %d)" % r.returncode))
        say("demo:   $ " + " ".join(cmd))
        for line in out.splitlines()[:12]:
            say("demo:   | " + line)
        ok = ok and good
    return ok


def run(env):
    m = build(env)
    explain(env, m)
    if NO_WAIT:
        return 0 if self_check(env) else 1
    say("Press Ctrl-C to stop mmpd, Dovecot and slapd and remove %s" %
        env.dir)
    while m.alive():
        time.sleep(1)
    say("demo: mmpd exited with status %s:" % m.proc.returncode)
    sys.stdout.write(m.log()[-3000:])
    return 1


def main():
    T.install_signal_handlers()
    env = T.Env("demo")
    where = env.dir
    try:
        return run(env)
    finally:
        T.ignore_signals()
        say("demo: stopping mmpd, Dovecot and slapd")
        env.cleanup()
        say("demo: removed %s" % where)


if __name__ == "__main__":
    sys.exit(main())
