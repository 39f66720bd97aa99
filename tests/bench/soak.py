#!/usr/bin/env python3
"""Soak test: SOAK_MINUTES (default 30) of mixed traffic against one running
mailhub, sampling the daemon's resident memory, open files and threads each
minute, then checking that every message the daemon accepted can be read.

Traffic, all at once, on loopback:
  - inbound SMTP (2 senders) and submission (1 sender, AUTH) to four users;
  - IMAP: 3 clients (one of them over TLS) that select INBOX, read flags,
    set and clear flags, fetch bodies, search, IDLE briefly, and APPEND into
    and EXPUNGE from a folder of their own; they log out and back in now
    and then, as phones do;
  - POP3: 1 client (STLS) reading messages without deleting;
  - the fetcher: a private Dovecot (tests/integration/dovecot_upstream.py)
    gets new messages, which mailhub's upstream account (IMAP, IDLE) pulls
    into one user's INBOX.

The figures: a table of rows (minute, RSS floor and peak KiB, open fds, threads,
messages delivered so far), and the growth of each from the end of the
warm-up (SOAK_WARMUP minutes, default 5) to the end.  The daemon's RSS
swings by half within a second (a message body or a FETCH answer is a
buffer that comes and goes), so one reading a minute says nothing: the RSS
is read every second, and each row gives its floor (the least the daemon
held that minute) and its peak.  A leak is memory that is never given
back, so it raises the floor: "flat" means the median floor of the last
third of the run after warm-up is within 10% (or 4 MiB) of the median
floor of the first third, the last third's highest peak is at most twice
the first third's, and the fds and threads of the last sample are within a few
units of the first post-warm-up one.  At the
end: every message acknowledged with 250 (SMTP)
or fetched from the upstream is in its user's INBOX, once, with the bytes
sent; each IMAP client's APPENDed messages that it did not expunge are in
its folder.  Exits 1 when a message is missing or anything grew.

Not part of make check or make bench: `make soak` runs it.  Needs Debian's
dovecot-imapd for the fetcher's part (without it that part is left out and
the run says so).  Environment: MAILHUB_BIN (set by make), SOAK_MINUTES,
SOAK_WARMUP, SOAK_SAMPLE (seconds a row covers, default 60).
"""

import email
import imaplib
import os
import poplib
import random
import re
import smtplib
import ssl
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

from mailhub_fixture import Mailhub, client_tls_context, need_binary  # noqa: E402
import dovecot_upstream  # noqa: E402

MINUTES = float(os.environ.get("SOAK_MINUTES", "30"))
WARMUP = float(os.environ.get("SOAK_WARMUP", "5"))
SAMPLE = float(os.environ.get("SOAK_SAMPLE", "60"))
USERS = [f"user{i}@example.org" for i in range(4)]
PASSWORD = "soak-password-1"
TIMEOUT = 60


class Ledger:
    """What the daemon acknowledged, by user: Message-ID -> the bytes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.inbox = {u: {} for u in USERS}
        self.counter = 0
        self.errors = []

    def next_id(self, tag):
        with self.lock:
            self.counter += 1
            return f"<soak-{tag}-{self.counter}@soak.test>"

    def accepted(self, user, msgid, data):
        with self.lock:
            self.inbox[user][msgid] = data

    def error(self, what):
        with self.lock:
            if len(self.errors) < 200:
                self.errors.append(what)

    def total(self):
        with self.lock:
            return sum(len(v) for v in self.inbox.values())


def make_message(rnd, msgid, to, sender="sender@soak.test"):
    size = rnd.choice([200, 800, 2000, 6000, 30000, 120000])
    words = ["mail", "hub", "soak", "lorem", "ipsum", "dolor", "amet", "."]
    lines = []
    n = 0
    while n < size:
        line = " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 14)))
        lines.append(line)
        n += len(line) + 2
    body = "\r\n".join(lines) + "\r\n"
    return (f"From: Soak <{sender}>\r\nTo: <{to}>\r\n"
            f"Subject: soak {msgid}\r\nMessage-ID: {msgid}\r\n"
            f"Date: Sun, 06 Dec 2026 10:00:00 +0000\r\n\r\n{body}").encode()


def smtp_sender(mh, ledger, stop, seed, port_name):
    rnd = random.Random(seed)
    while not stop.is_set():
        try:
            s = smtplib.SMTP("127.0.0.1", mh.port(port_name), timeout=TIMEOUT)
            if port_name == "submission":
                s.starttls(context=client_tls_context())
                s.login(USERS[0], PASSWORD)
                sender = USERS[0]
            else:
                sender = "sender@soak.test"
            for _ in range(rnd.randint(1, 20)):
                if stop.is_set():
                    break
                to = rnd.choice(USERS)
                msgid = ledger.next_id(port_name)
                data = make_message(rnd, msgid, to, sender)
                s.sendmail(sender, [to], data)
                ledger.accepted(to, msgid, data)
                time.sleep(rnd.uniform(0.05, 0.5))
            s.quit()
        except (OSError, smtplib.SMTPException) as e:
            ledger.error(f"{port_name}: {e!r}")
            time.sleep(1)


def imap_client(mh, ledger, stop, seed, user, tls):
    rnd = random.Random(seed)
    folder = f"Churn{seed}"
    kept = ledger.kept.setdefault(user + "/" + folder, {})
    while not stop.is_set():
        try:
            if tls:
                m = imaplib.IMAP4_SSL("127.0.0.1", mh.port("imaps"),
                                      ssl_context=client_tls_context(),
                                      timeout=TIMEOUT)
            else:
                m = imaplib.IMAP4("127.0.0.1", mh.port("imap"), timeout=TIMEOUT)
                m.starttls(ssl_context=client_tls_context())
            m.login(user, PASSWORD)
            m.create(folder)
            for _ in range(rnd.randint(5, 40)):
                if stop.is_set():
                    break
                typ, data = m.select("INBOX")
                n = int(data[0])
                if n:
                    m.fetch("1:*", "(UID FLAGS)")
                    i = rnd.randint(1, n)
                    m.fetch(str(i), "(BODY.PEEK[] ENVELOPE BODYSTRUCTURE)")
                    op = rnd.choice(["+FLAGS", "-FLAGS"])
                    m.store(f"{i}:{min(n, i + 5)}", op, rnd.choice(
                        ["(\\Seen)", "(\\Flagged)", "($Label1)", "(\\Answered \\Seen)"]))
                    m.search(None, "TEXT", rnd.choice(["lorem", "soak", "zzz"]))
                # churn: APPEND some, EXPUNGE some, in a folder of its own
                m.select(folder)
                for _ in range(rnd.randint(0, 3)):
                    msgid = ledger.next_id("append")
                    data = make_message(rnd, msgid, user)
                    typ, resp = m.append(folder, "(\\Seen)", None, data)
                    if typ == "OK":
                        kept[msgid] = data
                    else:
                        ledger.error(f"APPEND {resp}")
                if kept and rnd.random() < 0.5:
                    victim = rnd.choice(sorted(kept))
                    typ, data = m.search(None, "HEADER", "Message-ID", victim)
                    nums = data[0].split()
                    if nums:
                        m.store(b",".join(nums), "+FLAGS", "(\\Deleted)")
                        m.expunge()
                        del kept[victim]
                if rnd.random() < 0.2:
                    m.select("INBOX")
                    tag = m._new_tag().decode()
                    m.send(f"{tag} IDLE\r\n".encode())
                    m.readline()            # + idling
                    time.sleep(rnd.uniform(0.5, 3))
                    m.send(b"DONE\r\n")
                    while not m.readline().startswith(tag.encode()):
                        pass
                time.sleep(rnd.uniform(0.1, 1))
            m.logout()
        except (OSError, imaplib.IMAP4.error, ssl.SSLError) as e:
            ledger.error(f"imap {user}: {e!r}")
            time.sleep(1)


def pop3_client(mh, ledger, stop, seed, user):
    rnd = random.Random(seed)
    while not stop.is_set():
        try:
            p = poplib.POP3("127.0.0.1", mh.port("pop3"), timeout=TIMEOUT)
            p.stls(context=client_tls_context())
            p.user(user)
            p.pass_(PASSWORD)
            count, _ = p.stat()
            for _ in range(min(count, rnd.randint(1, 30))):
                p.retr(rnd.randint(1, count))
            p.quit()
        except (OSError, poplib.error_proto, ssl.SSLError) as e:
            # [IN-USE] while another POP3 session holds the drop is expected
            if "IN-USE" not in str(e):
                ledger.error(f"pop3 {user}: {e!r}")
        time.sleep(rnd.uniform(1, 4))


def upstream_feeder(dc, ledger, stop, seed, owner):
    rnd = random.Random(seed)
    while not stop.is_set():
        msgid = ledger.next_id("upstream")
        data = make_message(rnd, msgid, "u@upstream.test")
        dc.add_message("up", data)
        ledger.accepted(owner, msgid, data)
        stop.wait(rnd.uniform(0.5, 3))


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_sample(pid):
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds, threads


def inbox_by_msgid(mh, user, folder="INBOX"):
    m = imaplib.IMAP4_SSL("127.0.0.1", mh.port("imaps"),
                          ssl_context=client_tls_context(), timeout=TIMEOUT)
    m.login(user, PASSWORD)
    m.select(folder, readonly=True)
    found = {}
    typ, data = m.fetch("1:*", "(BODY.PEEK[])")
    for item in data:
        if isinstance(item, tuple):
            raw = item[1]
            msgid = email.message_from_bytes(raw).get("Message-ID")
            found.setdefault(msgid, []).append(raw)
    m.logout()
    return found


def strip_trace(raw):
    """The message as sent: mailhub prepends trace headers (Received:,
    Return-Path:, Delivered-To:, Authentication-Results:...) above the
    first header the sender wrote, which here is always From:."""
    i = raw.find(b"From: Soak")
    return raw[i:] if i >= 0 else raw


def main():
    need_binary("soak")
    have_dovecot = dovecot_upstream.available()
    mh = Mailhub(listeners=("smtp", "submission", "imap", "imaps", "pop3", "admin"),
                 # the submission sender goes far past a household's
                 # hourly sending limits: the soak is not about them
                 config_extra="\n[fetch]\nallow_private_hosts = yes\n"
                 "[relay]\nuser_messages_per_hour = 1000000\n"
                 "user_recipients_per_hour = 10000000\n"
                 "domain_messages_per_hour = 1000000\n"
                 "domain_recipients_per_hour = 10000000\n")
    dc = None
    ledger = Ledger()
    ledger.kept = {}
    stop = threading.Event()
    try:
        mh.cli("domain", "add", "example.org")
        for u in USERS:
            mh.add_user(u, PASSWORD)
        if have_dovecot:
            dc = dovecot_upstream.Dovecot(users={"up": "up-password-1"})
            dc.start()
            mh.cli("upstream", "add", USERS[3], "--protocol", "imap", "--host",
                   "127.0.0.1", "--port", str(dc.port("imaps")), "--tls", "implicit",
                   "--tls-verify", "pin:" + dc.cert_sha256, "--username", "up",
                   "--password-stdin", "--interval", "60",
                   input="up-password-1\n")
        else:
            print("# dovecot not installed: the fetcher's part is left out")
        mh.start()
        pid = mh.proc.pid
        workers = [
            threading.Thread(target=smtp_sender, args=(mh, ledger, stop, 1, "smtp")),
            threading.Thread(target=smtp_sender, args=(mh, ledger, stop, 2, "smtp")),
            threading.Thread(target=smtp_sender, args=(mh, ledger, stop, 3, "submission")),
            threading.Thread(target=imap_client, args=(mh, ledger, stop, 4, USERS[0], False)),
            threading.Thread(target=imap_client, args=(mh, ledger, stop, 5, USERS[1], True)),
            threading.Thread(target=imap_client, args=(mh, ledger, stop, 6, USERS[0], True)),
            threading.Thread(target=pop3_client, args=(mh, ledger, stop, 7, USERS[2])),
        ]
        if dc:
            workers.append(threading.Thread(target=upstream_feeder,
                                            args=(dc, ledger, stop, 8, USERS[3])))
        for w in workers:
            w.daemon = True
            w.start()

        samples = []
        start = time.monotonic()
        end = start + MINUTES * 60
        print(f"soak: {MINUTES:g} min, warm-up {WARMUP:g} min, a row every {SAMPLE:g} s "
              "(RSS read each second: its floor and peak in that time)")
        print(f"{'min':>6} {'RSS floor':>9} {'RSS peak':>9} {'fds':>5} {'threads':>7} "
              f"{'messages':>9} {'errors':>6}")
        while True:
            now = time.monotonic()
            _, fds, threads = proc_sample(pid)
            row_end = min(now + SAMPLE, end)
            readings = [rss_kib(pid)]
            while time.monotonic() < row_end and mh.proc.poll() is None:
                time.sleep(min(1.0, max(0.05, row_end - time.monotonic())))
                readings.append(rss_kib(pid))
            minute = (time.monotonic() - start) / 60
            floor, peak = min(readings), max(readings)
            samples.append((minute, floor, fds, threads, peak))
            print(f"{minute:6.1f} {floor:9d} {peak:9d} {fds:5d} {threads:7d} "
                  f"{ledger.total():9d} {len(ledger.errors):6d}", flush=True)
            if time.monotonic() >= end or mh.proc.poll() is not None:
                break
        stop.set()
        for w in workers:
            w.join(timeout=120)
        if mh.proc.poll() is not None:
            print(f"FAIL: the daemon exited ({mh.proc.returncode}) during the soak")
            print(mh.log()[-4000:])
            return 1
        # Let the fetcher take what the feeder put upstream last.
        if dc:
            mh.cli("upstream", "run", timeout=300)

        status = 0
        after = [s for s in samples if s[0] >= WARMUP] or samples
        first, last = after[0], after[-1]
        print(f"after warm-up: RSS floor {first[1]} -> {last[1]} KiB "
              f"({(last[1] - first[1]) / max(1, first[1]) * 100:+.1f}%), "
              f"fds {first[2]} -> {last[2]}, threads {first[3]} -> {last[3]}")
        third = max(1, len(after) // 3)
        early, late = after[:third], after[-third:]
        early_floor = statistics.median(s[1] for s in early)
        late_floor = statistics.median(s[1] for s in late)
        early_peak = max(s[4] for s in early)
        late_peak = max(s[4] for s in late)
        print(f"RSS floor (median): first third {early_floor:.0f} KiB, last third "
              f"{late_floor:.0f} KiB; peak: first third {early_peak} KiB, last third "
              f"{late_peak} KiB")
        if late_floor > early_floor * 1.10 and late_floor - early_floor > 4096:
            print(f"FAIL: RSS grew: the last third's floor {late_floor:.0f} KiB is over "
                  f"the first third's {early_floor:.0f} KiB")
            status = 1
        if late_peak > 2 * early_peak:
            print(f"FAIL: RSS peaks grew: {late_peak} KiB against {early_peak} KiB")
            status = 1
        if last[2] > first[2] + 8 or last[3] > first[3] + 8:
            print("FAIL: open files or threads grew after warm-up")
            status = 1

        # Every acknowledged message is there, once, with its bytes.
        missing = dup = differ = 0
        for user in USERS:
            found = inbox_by_msgid(mh, user)
            for msgid, data in ledger.inbox[user].items():
                got = found.get(msgid)
                if not got:
                    missing += 1
                elif len(got) > 1:
                    dup += 1
                elif strip_trace(got[0]) != data:
                    differ += 1
        for key, kept in ledger.kept.items():
            user, folder = key.split("/")
            found = inbox_by_msgid(mh, user, folder)
            for msgid in kept:
                if msgid not in found:
                    missing += 1
        total = ledger.total() + sum(len(k) for k in ledger.kept.values())
        print(f"messages acknowledged: {total}; missing {missing}, "
              f"duplicated {dup}, altered {differ}; client errors {len(ledger.errors)}")
        for e in ledger.errors[:10]:
            print("  client error:", e)
        if missing or dup or differ:
            print("FAIL: acknowledged mail is not all readable")
            status = 1
        mh.stop()
        # Orphan blobs (of expunged messages, not yet an hour old for the
        # hourly sweep) are expected; anything corrupt or missing is not.
        r = mh.cli("fsck", check=False)
        summary = [l for l in (r.stdout + r.stderr).splitlines()
                   if l.startswith("fsck:")]
        print("\n".join(summary) or r.stdout[-2000:])
        m = re.search(r"(\d+) corrupt, (\d+) missing", r.stdout + r.stderr)
        if m is None or m.group(1) != "0" or m.group(2) != "0":
            print("FAIL: fsck found corrupt or missing blobs")
            status = 1
        print("soak:", "ok" if status == 0 else "FAILED")
        return status
    finally:
        stop.set()
        if dc:
            dc.close()
        mh.cleanup()


if __name__ == "__main__":
    sys.exit(main())
