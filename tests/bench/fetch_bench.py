"""Benchmark: fetching N messages (default 10,000; FETCH_BENCH_N) from a
Dovecot upstream on loopback, over IMAP and over POP3, by mailhub's fetcher
(`mailhub upstream run`, into its store: every message durable before the
next step) side by side with fetchmail and getmail6 (Debian), as ratios.

fetchmail writes a BSMTP batch file (--bsmtp: its cheapest way to deliver,
no process per message, no fsync); getmail6 delivers into the Dovecot
over LMTP (its Maildir destination forks a child per message).  Every
tool fetches in keep mode from its own copy of the same messages, and every
mailbox is indexed by Dovecot first, so that no tool pays for another's
warm-up.  Plain IMAP/POP3 (no TLS) for all, so TLS costs do not blur the
comparison.  The target is mailhub at least 3x faster than fetchmail.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from dovecot_upstream import Dovecot, available  # noqa: E402
from mailhub_fixture import Mailhub  # noqa: E402

N = int(os.environ.get("FETCH_BENCH_N", "10000"))


def message(i):
    body = b"".join(b"Line %d of message %d, some text to make it a realistic size.\r\n"
                    % (k, i) for k in range(40))
    return (b"From: Sender <sender@upstream.test>\r\nTo: <u@upstream.test>\r\n"
            b"Subject: benchmark message %d\r\nMessage-ID: <%d.bench@upstream.test>\r\n"
            b"Date: Mon, 23 Nov 2026 08:00:00 +0000\r\n\r\n" % (i, i)) + body


def settle():
    """The same start for every tool: dirty data written out, and a pause
    so that ext4 no longer skips the inodes freed by earlier steps (it
    avoids reusing an inode for 5 s after it was freed, and for 300 s while
    its table block is dirty; file creation then costs ten times more)."""
    os.sync()
    time.sleep(6)


def timed(argv, **kw):
    settle()
    t = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    dt = time.monotonic() - t
    if r.returncode not in (0,):
        raise SystemExit(f"{argv[0]} failed ({r.returncode}): {r.stderr[-2000:]}"
                         f"{r.stdout[-2000:]}")
    return dt


def mailhub_run(dc, user, protocol, keep_open):
    # closed (its folder removed) only at the end: removing thousands of
    # files right before another tool's run slows that run's file creation
    # (ext4 skips recently freed inodes), which would skew the comparison
    mh = Mailhub(listeners=())
    keep_open.append(mh)
    if True:
        mh.cli("domain", "add", "example.org")
        mh.add_user("bench@example.org", "pw")
        port = dc.port(protocol)
        r = mh.cli("upstream", "add", "bench@example.org", "--protocol", protocol,
                   "--host", "127.0.0.1", "--port", str(port), "--tls", "none",
                   "--username", user, "--password-stdin", input=dc.users[user] + "\n")
        uid = r.stdout.strip()
        from mailhub_fixture import mailhub_bin
        dt = timed([mailhub_bin(), "--config", mh.config_path, "upstream", "run", uid])
        r = mh.cli("upstream", "list")
        if f"fetched={N}" not in r.stdout:
            raise SystemExit("mailhub did not fetch everything: " + r.stdout)
        return dt


def fetchmail_run(dc, user, protocol, work):
    rc = os.path.join(work, f"fetchmailrc.{protocol}")
    with open(rc, "w") as f:
        f.write(f"set no syslog\nset idfile {work}/fetchids.{protocol}\n"
                f"poll 127.0.0.1 service {dc.port(protocol)} protocol {protocol.upper()}"
                f" user \"{user}\" password \"{dc.users[user]}\" is bench here"
                f" keep fetchall sslproto ''\n")
    os.chmod(rc, 0o600)
    out = os.path.join(work, f"bsmtp.{protocol}")
    env = dict(os.environ, HOME=work, FETCHMAILHOME=work)
    dt = timed(["fetchmail", "-f", rc, "--bsmtp", out, "--nodetach", "--silent"],
               env=env, timeout=3600)
    with open(out, "rb") as f:
        got = f.read().count(b"MAIL FROM:")
    if got != N:
        raise SystemExit(f"fetchmail delivered {got} of {N}")
    return dt


def getmail_run(dc, user, protocol, work):
    dest = "gm" + protocol
    gdir = os.path.join(work, f"getmail.{protocol}")
    maildir = os.path.join(work, f"Maildir.{protocol}")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    os.makedirs(gdir, exist_ok=True)
    as_user = ""
    prefix = []
    kind = "SimpleIMAPRetriever" if protocol == "imap" else "SimplePOP3Retriever"
    extra = 'mailboxes = ("INBOX",)\n' if protocol == "imap" else ""
    with open(os.path.join(gdir, "getmailrc"), "w") as f:
        f.write(f"[retriever]\ntype = {kind}\nserver = 127.0.0.1\n"
                f"port = {dc.port(protocol)}\nusername = {user}\n"
                f"password = {dc.users[user]}\n{extra}"
                f"[destination]\ntype = MDA_lmtp\nhost = 127.0.0.1\n"
                f"port = {dc.port('lmtp')}\noverride = {dest}\n"
                f"[options]\nread_all = true\ndelete = false\nverbose = 0\n")
    if os.getuid() == 0:
        # getmail refuses to deliver as root: run it as nobody
        import pwd
        nobody = pwd.getpwnam("nobody")
        for top in (maildir, gdir):
            for root, dirs, files in os.walk(top):
                os.chown(root, nobody.pw_uid, nobody.pw_gid)
                for f in files:
                    os.chown(os.path.join(root, f), nobody.pw_uid, nobody.pw_gid)
        prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                  "--clear-groups"]
    dt = timed(prefix + ["getmail", "--getmaildir", gdir, "--rcfile", "getmailrc", "--quiet"],
               timeout=3600)
    n = len(dc.messages(dest))
    if n != N:
        raise SystemExit(f"getmail delivered {n} of {N}")
    return dt


def main():
    if not available():
        print("skipped: Dovecot is not installed (dovecot-imapd, dovecot-pop3d)")
        return 0
    missing = [t for t in ("fetchmail", "getmail") if shutil.which(t) is None]
    users = {"mh": "pw1", "fm": "pw2", "gm": "pw3"}
    lmtp = os.path.exists("/usr/lib/dovecot/lmtp")
    dc = Dovecot(dict(users, gmimap="x", gmpop3="x"), lmtp=lmtp)
    if not lmtp:
        missing.append("getmail (no dovecot-lmtpd to deliver into)")
    work = tempfile.mkdtemp(prefix="mailhub-fetchbench.")
    os.chmod(work, 0o755)
    hubs = []
    try:
        dc.start()
        msgs = [message(i) for i in range(N)]
        for u in users:
            print(f"preparing {N} messages for {u}", file=sys.stderr)
            dc.add_messages(u, msgs)
            # index and cache sizes now, so no tool pays another's warm-up
            subprocess.run([shutil.which("doveadm") or "doveadm", "-c", dc.conf, "fetch",
                            "-u", u, "uid size.virtual", "mailbox", "INBOX"],
                           check=True, capture_output=True, timeout=600)
        results = {}
        for protocol in ("imap", "pop3"):
            results[("mailhub", protocol)] = mailhub_run(dc, "mh", protocol, hubs)
            if "fetchmail" not in missing:
                results[("fetchmail", protocol)] = fetchmail_run(dc, "fm", protocol, work)
            if not [m for m in missing if m.startswith("getmail")]:
                results[("getmail6", protocol)] = getmail_run(dc, "gm", protocol, work)
        print(f"fetching {N} messages from Dovecot on loopback (seconds; lower is better)")
        print(f"{'':10} {'mailhub':>9} {'fetchmail':>10} {'getmail6':>9}"
              f" {'fetchmail/mailhub':>18} {'getmail6/mailhub':>17}")
        status = 0
        for protocol in ("imap", "pop3"):
            m = results[("mailhub", protocol)]
            f = results.get(("fetchmail", protocol))
            g = results.get(("getmail6", protocol))
            fs = f"{f:10.2f}" if f else f"{'-':>10}"
            gs = f"{g:9.2f}" if g else f"{'-':>9}"
            fr = f"{f / m:17.1f}x" if f else f"{'-':>18}"
            gr = f"{g / m:16.1f}x" if g else f"{'-':>17}"
            print(f"{protocol:10} {m:9.2f} {fs} {gs} {fr} {gr}")
            if f and f / m < 3:
                status = 1
        if missing:
            print("not installed: " + ", ".join(missing))
        print("target: mailhub at least 3x faster than fetchmail:",
              "met" if status == 0 else "NOT met")
        return status
    finally:
        for mh in hubs:
            mh.close()
        dc.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
