"""Benchmark: fetching N messages (default 10,000; FETCH_BENCH_N) from a
Dovecot upstream on loopback, over IMAP and over POP3, by mailhub's fetcher
(`mailhub upstream run`, into its store: every message durable before the
next step) side by side with fetchmail and getmail6 (Debian), as ratios.

fetchmail and getmail6 deliver into the Dovecot over LMTP, as the issue
asks ("delivering the same into Dovecot"; their Maildir destinations fork a
child per message, LMTP does not).  Dovecot's LMTP makes each message
durable before its 250, as mailhub does before it counts a message
fetched.  fetchmail also runs a second time writing a BSMTP batch file
(--bsmtp): it fetches in the same way but stores nothing durably (one
append-only file, no fsync); that figure is printed too, as the harder
reference, for the fetching alone.  Every
tool fetches in keep mode from its own copy of the same messages, and every
mailbox is indexed by Dovecot first, so that no tool pays for another's
warm-up.  Plain IMAP/POP3 (no TLS) for all, so TLS costs do not blur the
comparison.  The target is mailhub at least 3x faster than fetchmail.

Every tool here creates one file per message, except fetchmail --bsmtp.
ext4 makes file creation several times slower for minutes after many
files were deleted nearby (it skips recently freed inodes, at a cost per
inode skipped), so the figures swing with whatever ran before.  For
figures that can be repeated, point TMPDIR at a freshly made filesystem,
where all the data of the run lives:

    truncate -s 4G /var/tmp/fs.img && mkfs.ext4 -q -E lazy_itable_init=0 \
        /var/tmp/fs.img && mount -o loop /var/tmp/fs.img /mnt && \
        TMPDIR=/mnt make bench
"""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from dovecot_upstream import Dovecot, available  # noqa: E402
from mailhub_fixture import Mailhub, mailhub_bin, need_binary  # noqa: E402

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
    mh = Mailhub(listeners=(), config_extra="\n[fetch]\nallow_private_hosts = yes\n")   # Dovecot is on loopback
    keep_open.append(mh)
    mh.cli("domain", "add", "example.org")
    mh.add_user("bench@example.org", "bench-password-1")
    port = dc.port(protocol)
    r = mh.cli("upstream", "add", "bench@example.org", "--protocol", protocol,
               "--host", "127.0.0.1", "--port", str(port), "--tls", "none",
               "--username", user, "--password-stdin", input=dc.users[user] + "\n")
    uid = r.stdout.strip()
    dt = timed([mailhub_bin(), "--config", mh.config_path, "upstream", "run", uid])
    r = mh.cli("upstream", "list")
    if f"fetched={N}" not in r.stdout:
        raise SystemExit("mailhub did not fetch everything: " + r.stdout)
    return dt


def fetchmail_run(dc, user, protocol, work, mode):
    """mode "lmtp": into the Dovecot over LMTP; "bsmtp": into a file."""
    rc = os.path.join(work, f"fetchmailrc.{protocol}.{mode}")
    dest = f"fm{protocol}"
    deliver = (f" smtphost 127.0.0.1/{dc.port('lmtp')} lmtp smtpname {dest}"
               if mode == "lmtp" else "")
    with open(rc, "w") as f:
        f.write(f"set no syslog\nset idfile {work}/fetchids.{protocol}.{mode}\n"
                f"poll 127.0.0.1 service {dc.port(protocol)} protocol {protocol.upper()}"
                f" user \"{user}\" password \"{dc.users[user]}\" is bench here"
                f" keep fetchall sslproto ''{deliver}\n")
    os.chmod(rc, 0o600)
    out = os.path.join(work, f"bsmtp.{protocol}")
    extra = ["--bsmtp", out] if mode == "bsmtp" else []
    env = dict(os.environ, HOME=work, FETCHMAILHOME=work)
    dt = timed(["fetchmail", "-f", rc, "--nodetach", "--silent"] + extra,
               env=env, timeout=3600)
    if mode == "bsmtp":
        with open(out, "rb") as f:
            got = f.read().count(b"MAIL FROM:")
    else:
        got = len(dc.messages(dest))
    if got != N:
        raise SystemExit(f"fetchmail ({mode}) delivered {got} of {N}")
    return dt


def getmail_run(dc, user, protocol, work):
    dest = "gm" + protocol
    gdir = os.path.join(work, f"getmail.{protocol}")
    os.makedirs(gdir, exist_ok=True)
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
        nobody = pwd.getpwnam("nobody")
        for root, dirs, files in os.walk(gdir):
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
    need_binary("fetch_bench")
    if not available():
        print("skipped: Dovecot is not installed (dovecot-imapd, dovecot-pop3d)")
        return 0
    missing = [t for t in ("fetchmail", "getmail") if shutil.which(t) is None]
    users = {"mh": "pw1", "fm": "pw2", "gm": "pw3"}
    if not os.path.exists("/usr/lib/dovecot/lmtp"):
        print("skipped: Dovecot's LMTP server is not installed (dovecot-lmtpd), "
              "which the peers deliver into")
        return 0
    dc = Dovecot(dict(users, gmimap="x", gmpop3="x", fmimap="x", fmpop3="x"), lmtp=True)
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
                for mode in ("lmtp", "bsmtp"):
                    results[(f"fetchmail-{mode}", protocol)] = fetchmail_run(
                        dc, "fm", protocol, work, mode)
            if "getmail" not in missing:
                results[("getmail6", protocol)] = getmail_run(dc, "gm", protocol, work)
        tools = [("fetchmail-lmtp", "fetchmail->Dovecot"),
                 ("fetchmail-bsmtp", "fetchmail->BSMTP file"),
                 ("getmail6", "getmail6->Dovecot")]
        print(f"fetching {N} messages from Dovecot on loopback "
              "(seconds, lower is better; ratio = the other's time / mailhub's)")
        status = 0
        for protocol in ("imap", "pop3"):
            m = results[("mailhub", protocol)]
            line = f"{protocol:5} mailhub {m:7.2f}"
            for key, label in tools:
                t = results.get((key, protocol))
                if t:
                    line += f" | {label} {t:7.2f} = {t / m:5.1f}x"
            print(line)
            f = results.get(("fetchmail-lmtp", protocol))
            if f and f / m < 3:
                status = 1
        if missing:
            print("not installed: " + ", ".join(missing))
        print("target: mailhub at least 3x faster than fetchmail delivering into "
              "Dovecot:", "met" if status == 0 else "NOT met")
        b = [results[("fetchmail-bsmtp", p)] / results[("mailhub", p)]
             for p in ("imap", "pop3") if ("fetchmail-bsmtp", p) in results]
        if b:
            print("against fetchmail writing a BSMTP file (no durable delivery): "
                  + ", ".join(f"{r:.1f}x" for r in b)
                  + (" (3x met)" if min(b) >= 3 else " (3x NOT met)"))
        return status
    finally:
        for mh in hubs:
            mh.close()
        dc.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
