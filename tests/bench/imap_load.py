#!/usr/bin/env python3
"""IMAP under load: Dovecot's imaptest against mailhub and Debian's Dovecot
in one run, on the same machine, with the same users and the same yescrypt
password hashes (Dovecot checks mailhub's {CRYPT} hashes from a
passwd-file), printed side by side as ratios:

  1. sessions kept open (imaptest logout=0): commands per second, 10
     clients on 20 users for LOAD_SECONDS, the default command mix
     (SELECT, FETCH, STORE, EXPUNGE, APPEND...);
  2. login-heavy (imaptest's default mix, which logs out and in again):
     logins per second;
  3. memory of 200 logged-in TLS sessions that have SELECTed INBOX and wait
     for their next command: the server's growth in proportional set size
     (PSS, so shared pages count once) per session, Dovecot's summed over
     all of its processes.

imaptest also checks every answer it gets; the errors it reports in each
run are counted and printed (a correct server has none).

Durability as each side runs by default: mailhub syncs every message it
accepts (APPEND, COPY) before its OK: the blob fsynced and linked, then its
row committed with synchronous=NORMAL and the WAL synced outside SQLite's
lock, one fdatasync shared by all sessions committing at that moment
(group commit, daemon/store/walsync.c).  Flag changes, expunges and
\\Recent claims are lazy (store_begin_lazy()): the tagged OK follows once
they are in the WAL, which survives a crash of the process at once and a
power failure once synced, within 200 ms (walsync.c's keeper thread) or by
the next message's flush.  Dovecot 2.3 with its default
mail_fsync=optimized syncs saved messages and leaves index updates (flags,
expunges) to the kernel.

imaptest is not a Debian package: build it from github.com/dovecot/imaptest
(branch release-2.3) against Debian's dovecot-dev:
    git clone -b release-2.3 https://github.com/dovecot/imaptest && cd imaptest
    sed -i 's/imap_parser_create(\\(.*\\), (size_t)-1);/imap_parser_create(\\1, (size_t)-1, NULL);/' \\
        src/commands.c src/imap-client.c src/test-parser.c
    # seq_range_flags_ref() in src/client-state.c walks past the end of
    # its view when a reply races an expunge (it panics with checkpoint=1,
    # Dovecot too): in its inner loop, before array_idx_modifiable(), add
    #   if (seq > array_count(&client->view->messages)) break;
    # checkpoint_neg() in src/checkpoint.c, when one mailbox's checkpoint
    # ends, sends new commands to every idle client, also to those of
    # another mailbox whose checkpoint is still running: that one then
    # sees its mailbox change between its clients' CHECKs (false state
    # errors) or a command in flight at its end (it panics "checkpoint.c:
    # line 314 ... array_count(&client->commands) == 0"; imaptest's own
    # bookkeeping, whatever the server).
    # In its last loop, after "client->checkpointing = NULL;", add
    #   if (client->storage != storage &&
    #       client->storage->checkpoint != NULL) continue;
    # and skip clients that are logging out or disconnected: add
    #   && client->client.state != STATE_LOGOUT && !client->client.disconnected
    # to the condition that calls client_send_more_commands().
    ./autogen.sh && ./configure --with-dovecot=/usr/lib/dovecot && make
and point IMAPTEST at src/imaptest (it needs LD_LIBRARY_PATH=/usr/lib/dovecot,
which this script sets).  Without it, only the memory figures are printed.

Environment: MAILHUB_BIN (set by `make bench`), IMAPTEST, LOAD_SECONDS
(default 20), LOAD_ROUNDS (default 3: the best round of each side counts),
LOAD_SESSIONS (default 200).
"""

import os
import random
import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import dovecot_util  # noqa: E402
from mailhub_fixture import Mailhub, client_tls_context, need_binary  # noqa: E402

SECONDS = int(os.environ.get("LOAD_SECONDS", "20"))
ROUNDS = int(os.environ.get("LOAD_ROUNDS", "3"))
SESSIONS = int(os.environ.get("LOAD_SESSIONS", "200"))
USERS = [f"user{i}@example.org" for i in range(1, 21)]
PASSWORD = "imap-load-password"
IMAPTEST = os.environ.get("IMAPTEST") or shutil.which("imaptest")


def make_mbox(path, n=200):
    """A deterministic mbox of n messages, the APPEND source of imaptest."""
    rnd = random.Random(9051)
    words = "lorem ipsum dolor sit amet mail hub quarterly report".split()
    with open(path, "wb") as f:
        for i in range(n):
            body = "\n".join(" ".join(rnd.choice(words) for _ in range(12))
                             for _ in range(rnd.randint(3, 60)))
            f.write((f"From sender{i}@example.net Sun Dec  6 10:00:00 2026\n"
                     f"From: Sender {i} <sender{i}@example.net>\n"
                     f"To: someone@example.org\n"
                     f"Subject: message {i} {rnd.choice(words)}\n"
                     f"Message-ID: <load-{i}@example.net>\n"
                     f"Date: Sun, 06 Dec 2026 10:{i % 60:02d}:00 +0000\n\n"
                     f"{body}\n\n").encode())


def run_imaptest(port, mbox, extra):
    """One imaptest run; (totals by command name, errors reported)."""
    env = dict(os.environ, LD_LIBRARY_PATH="/usr/lib/dovecot")
    args = [IMAPTEST, "host=127.0.0.1", f"port={port}", "user=user%d@example.org",
            f"pass={PASSWORD}", "users=20", "clients=10", f"secs={SECONDS}",
            f"mbox={mbox}"] + extra
    r = subprocess.run(args, capture_output=True, text=True, env=env,
                       timeout=SECONDS * 4 + 60)
    out = r.stdout + r.stderr
    errors = sum(1 for line in out.splitlines()
                 if line.startswith(("Error:", "Panic:", "Fatal:")))
    # "Totals:" then the names, the percentages, and the counts
    lines = out.splitlines()
    try:
        t = max(i for i, line in enumerate(lines) if line.startswith("Totals:"))
    except ValueError:
        raise AssertionError("imaptest printed no totals:\n" + out[-2000:])
    names = lines[t + 1].split()
    counts = [int(x) for x in lines[t + 4].split()]
    return dict(zip(names, counts)), errors


def pss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def waiting_sessions(port, login, pids_fn, n):
    """n TLS sessions, logged in, INBOX selected, waiting for a command:
    KiB of PSS per session."""
    time.sleep(1)
    before = pss_kib(pids_fn())
    conns = []
    try:
        for _ in range(n):
            s = client_tls_context().wrap_socket(
                socket.create_connection(("127.0.0.1", port), timeout=30))
            f = s.makefile("rb")
            f.readline()
            for tag, cmd in ((b"a", login), (b"b", b"SELECT INBOX")):
                s.sendall(tag + b" " + cmd + b"\r\n")
                while not f.readline().startswith(tag + b" "):
                    pass
            conns.append((s, f))
        time.sleep(3)
        after = pss_kib(pids_fn())
    finally:
        for s, f in conns:
            s.close()
    return (after - before) / n


def main():
    need_binary("imap_load")
    mh = Mailhub(listeners=("imap", "imaps"), plaintext_on_loopback=True,
                 limits={"connections": str(SESSIONS + 200),
                         "connections_per_ip": str(SESSIONS + 200)})
    work = tempfile.mkdtemp(prefix="mailhub-imapload.")
    dc = None
    try:
        mh.cli("domain", "add", "example.org")
        for u in USERS:
            mh.add_user(u, PASSWORD)
        db = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"))
        hashes = dict(db.execute("SELECT address, password_hash FROM users"))
        db.close()
        mh.start()
        if dovecot_util.available():
            cert = os.path.join(mh.data_dir, "tls", "cert.pem")
            key = os.path.join(mh.data_dir, "tls", "key.pem")
            dc = dovecot_util.Dovecot(tls=True, cert=cert, key=key,
                                      max_clients=SESSIONS + 100, passwd=hashes)
            dc.start()
        else:
            print("dovecot-imapd not installed: mailhub's figures only")
        mbox = os.path.join(work, "load.mbox")
        make_mbox(mbox)
        rows = []
        if IMAPTEST is None:
            print("imaptest not found (set IMAPTEST; see this script's "
                  "docstring for how to build it): load figures left out")
        else:
            for name, extra, key in (
                    ("sessions kept open: commands/s", ["logout=0"], None),
                    ("login-heavy mix: logins/s", [], "Logi")):
                best = {}
                errs = {}
                for _ in range(ROUNDS):
                    for side, port in (("mailhub", mh.port("imap")),
                                       ("dovecot", dc.port if dc else None)):
                        if port is None:
                            continue
                        totals, errors = run_imaptest(port, mbox, extra)
                        rate = (sum(totals.values()) if key is None
                                else totals.get(key, 0)) / SECONDS
                        best[side] = max(best.get(side, 0), rate)
                        errs[side] = errs.get(side, 0) + errors
                rows.append((name, best.get("mailhub"), best.get("dovecot"), True))
                print_row(rows[-1])
                print(f"    imaptest errors over {ROUNDS} rounds: mailhub "
                      f"{errs.get('mailhub', 0)}, dovecot {errs.get('dovecot', '-')}")
        login = b"LOGIN user1@example.org " + PASSWORD.encode()
        # a fresh daemon, so that freed heap of the runs above is not
        # reused unseen by the new sessions
        mh.stop()
        mh.start()
        ours = waiting_sessions(mh.port("imaps"), login, lambda: [mh.proc.pid],
                                SESSIONS)
        theirs = (waiting_sessions(dc.tls_port, login, dc.pids, SESSIONS)
                  if dc else None)
        rows.append((f"PSS per waiting TLS session ({SESSIONS}), KiB", ours,
                     theirs, False))
        print_row(rows[-1])
    finally:
        if dc:
            dc.stop()
        mh.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


def print_row(row):
    name, ours, theirs, higher_better = row
    if theirs:
        ratio = ours / theirs if higher_better else theirs / ours
        print(f"{name:48s} mailhub {ours:10.1f}  dovecot {theirs:10.1f}  "
              f"ratio {ratio:5.2f}x", flush=True)
    else:
        print(f"{name:48s} mailhub {ours:10.1f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
