#!/usr/bin/env python3
"""Crash test of SMTP delivery: four sessions deliver to local users (one
of them files by a Sieve script) and mailhub is killed with SIGKILL while
they do, twice, at moments that differ from run to run.  After each
restart every message answered 250 is there, in the folder its script
chose, and `mailhub fsck` finds no row without its blob, no damaged blob
and no row of an unacknowledged message left without its blob; what a
delivery in flight left (a blob without a row, the record of a name being
synced) --repair clears.

The order tested (daemon/smtp/body.c, store/blob.h): the blob is linked;
the fsyncs of its file and its folder then run while the rows commit and
the WAL is flushed.  A small message's bytes are in its record (sql/056),
so its 250 waits for the WAL's flush alone; a larger one's waits for both.
A record left by the kill has its file written out by the restart (the
file is cut short or removed while the daemon is down, as a power failure
could leave it).  A SIGKILL keeps what the
kernel holds, so it shows that no 250 runs ahead of the rows, the file and
its name; the crash a SIGKILL cannot make (power, between the commit and
the folder's fsync) leaves rows without a blob, recorded beforehand, which
fsck --repair removes: tests/unit/check_fsck.c, test_unacked_repaired.
"""

import imaplib
import os
import random
import re
import smtplib
import sqlite3
import threading
import time
import unittest

import tap
from mailhub_fixture import Mailhub

USERS = ["crash1@example.org", "crash2@example.org"]
SESSIONS = 4
SCRIPT = """require ["fileinto", "mailbox"];
if header :contains "subject" "[list]" {
    fileinto :create "Lists";
}
"""


class Worker(threading.Thread):
    """One session: messages in a loop until the connection breaks;
    records those answered 250."""

    def __init__(self, port, wid, seed):
        super().__init__(daemon=True)
        self.port, self.wid = port, wid
        self.rnd = random.Random(seed)
        self.acked = []     # (user, message-id, folder)
        self.error = None

    def run(self):
        try:
            c = smtplib.SMTP("127.0.0.1", self.port, timeout=20)
            n = 0
            while True:
                n += 1
                # one in four to both users: the second copy is a blob of
                # its own (its own fields), linked as the first
                users = USERS if n % 4 == 0 else [self.rnd.choice(USERS)]
                user = users[0]
                listed = user == USERS[0] and n % 3 == 0
                mid = f"<s{self.wid}-{n}-{self.rnd.randrange(10**9)}@crash.test>"
                subject = ("[list] " if listed else "") + f"crash {self.wid} {n}"
                body = "".join(f"line {k} of {mid}\r\n" for k in range(self.rnd.randrange(5, 200)))
                msg = (f"From: sender@remote.example\r\nTo: {user}\r\n"
                       f"Subject: {subject}\r\nMessage-ID: {mid}\r\n\r\n{body}")
                c.sendmail("sender@remote.example", users, msg.encode())
                for u in users:
                    self.acked.append((u, mid, "Lists" if listed and u == USERS[0] else "INBOX"))
        except Exception as e:  # noqa: BLE001 - the kill, expected
            self.error = e


class SmtpCrash(unittest.TestCase):
    def setUp(self):
        self.mh = Mailhub(listeners=("smtp",),
                          config_extra="\n[trust]\nchecks = no\n"
                                       "[limits]\nconnections_per_ip = 100\n")
        self.mh.cli("domain", "add", "example.org")
        for u in USERS:
            self.mh.add_user(u, "crash-test-password")
        path = os.path.join(self.mh.dir, "crash.sieve")
        with open(path, "w") as f:
            f.write(SCRIPT)
        self.mh.cli("sieve", "put", USERS[0], "crash", path, "--activate")

    def tearDown(self):
        self.mh.close()

    def load_then_kill(self, round_no):
        self.mh.start()
        port = self.mh.port("smtp")
        workers = [Worker(port, f"{round_no}.{k}", time.time_ns() + k)
                   for k in range(SESSIONS)]
        for w in workers:
            w.start()
        time.sleep(random.uniform(0.8, 1.6))
        self.mh.kill()
        for w in workers:
            w.join(timeout=30)
            self.assertFalse(w.is_alive())
        # the load did run, and the kill broke it
        self.assertGreater(sum(len(w.acked) for w in workers), 0)
        return workers

    def check(self, workers):
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"))
        try:
            rows = db.execute("SELECT u.address, b.name, m.envelope FROM messages m"
                              " JOIN mailboxes b ON b.id = m.mailbox_id"
                              " JOIN users u ON u.id = b.user_id").fetchall()
            records = db.execute("SELECT count(*) FROM blob_names_pending").fetchone()[0]
        finally:
            db.close()
        where = {}
        for user, folder, envelope in rows:
            m = re.search(r"<[^<>]*@crash\.test>", envelope or "")
            if m:
                where.setdefault(m.group(0), []).append((user, folder))
        for w in workers:
            for user, mid, folder in w.acked:
                self.assertIn(mid, where, f"acknowledged {mid} lost")
                self.assertIn((user, folder), where[mid], f"{mid} not in {folder}")
        # records of names being synced: the deliveries in flight, those
        # whose record a later transaction was to delete, and those whose
        # bytes are in them while the syncer's pass is to come (at most
        # 256 of those, store/blob.c)
        self.assertLessEqual(records, 16 + SESSIONS + 256)
        r = self.mh.cli("fsck", check=False)
        m = re.search(r"(\d+) corrupt, (\d+) missing, (\d+) orphan, (\d+) stray", r.stdout)
        self.assertTrue(m, r.stdout + r.stderr)
        corrupt, missing, orphan, stray = map(int, m.groups())
        self.assertEqual((corrupt, missing), (0, 0), r.stdout)
        # the blobs linked by the deliveries in flight, whose rows were not
        # committed: two per session at most (a message to both users)
        self.assertLessEqual(orphan + stray, 2 * SESSIONS, r.stdout)
        # a SIGKILL takes no name the kernel has: no unacknowledged row
        # without its blob
        self.assertIn(", 0 never acknowledged (0 removed)", r.stdout)
        r = self.mh.repair_after_crash()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("fsck: ok", r.stdout)
        db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"))
        try:
            left = db.execute("SELECT count(*) FROM blob_names_pending").fetchone()[0]
        finally:
            db.close()
        self.assertEqual(left, 0)

    def test_recorded_message_written_out_after_sigkill(self):
        """A small message's bytes are in its record (sql/056), which only
        a later delivery's transaction deletes: killed right after its 250,
        the record is there; its file cut short, then removed, while the
        daemon is down, the restart writes it out, and IMAP gives the
        exact bytes."""
        self.mh.close()
        self.mh = Mailhub(listeners=("smtp", "imap"), plaintext_on_loopback=True,
                          config_extra="\n[trust]\nchecks = no\n")
        self.mh.cli("domain", "add", "example.org")
        self.mh.add_user(USERS[1], "crash-test-password")
        for cut in ("truncate", "unlink"):
            self.mh.start()
            mid = f"<recorded-{cut}@crash.test>"
            body = "".join(f"line {k} of {mid}\r\n" for k in range(50))
            msg = (f"From: sender@remote.example\r\nTo: {USERS[1]}\r\n"
                   f"Subject: recorded {cut}\r\nMessage-ID: {mid}\r\n\r\n{body}")
            c = smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=20)
            c.sendmail("sender@remote.example", [USERS[1]], msg.encode())
            self.mh.kill()
            c.close()
            db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"))
            try:
                blob, = db.execute("SELECT blob FROM messages WHERE envelope LIKE ?",
                                   (f"%{mid}%",)).fetchone()
                recorded = db.execute("SELECT bytes FROM blob_names_pending WHERE blob = ?",
                                      (blob,)).fetchone()
            finally:
                db.close()
            self.assertIsNotNone(recorded, "no record of the message's bytes")
            path = os.path.join(self.mh.data_dir, "blobs", blob[:2], blob)
            with open(path, "rb") as f:
                stored = f.read()
            self.assertEqual(bytes(recorded[0]), stored)
            self.assertTrue(stored.endswith(msg.encode()))
            if cut == "truncate":
                os.truncate(path, 10)
            else:
                os.unlink(path)
            self.mh.start()
            with open(path, "rb") as f:
                self.assertEqual(f.read(), stored)
            imap = imaplib.IMAP4("127.0.0.1", self.mh.port("imap"))
            try:
                imap.login(USERS[1], "crash-test-password")
                imap.select("INBOX", readonly=True)
                typ, data = imap.uid("SEARCH", "HEADER", "Message-ID", mid)
                self.assertEqual(typ, "OK")
                uids = data[0].split()
                self.assertEqual(len(uids), 1)
                typ, data = imap.uid("FETCH", uids[0], "(BODY.PEEK[])")
                self.assertEqual(typ, "OK")
                self.assertEqual(data[0][1], stored)
            finally:
                imap.logout()
            db = sqlite3.connect(os.path.join(self.mh.data_dir, "mailhub.db"))
            try:
                left = db.execute("SELECT count(*) FROM blob_names_pending WHERE blob = ?",
                                  (blob,)).fetchone()[0]
            finally:
                db.close()
            self.assertEqual(left, 0)
            self.mh.stop()
        self.assertIn("fsck: ok", self.mh.cli("fsck", check=False).stdout)

    def test_sigkill_under_load_loses_nothing_acknowledged(self):
        done = []
        for round_no in (1, 2):
            done += self.load_then_kill(round_no)
            self.check(done)


if __name__ == "__main__":
    tap.main()
