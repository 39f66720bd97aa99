#!/usr/bin/env python3
"""Delivery leaves the search index to the background indexer (issue 15):
SEARCH, SORT and THREAD are right for messages not indexed yet.

The indexer is held off with `[search] index_delay_ms = 3600000` (its wait
after a message arrives, mailhub.conf(5)); messages delivered over SMTP and
by APPEND are then still pending (fields_pending), and SEARCH TEXT, BODY,
FROM, SUBJECT, SORT and THREAD must answer for them as they do once they
are indexed.  After a SIGKILL, the messages left unindexed are indexed at
the next start (whatever the delay), and the answers stay the same.  An
expunged unindexed message leaves no index row behind, also when SORT or
FETCH PREVIEW stored some of its rows first, and when expunges race the
indexer.  With the default delay, an arrival wakes the indexer (it does
not poll for them), mail that `mailhub import` stored while the daemon ran
is found within 30 s, and SIGTERM stops a waiting indexer at once."""

import os
import smtplib
import sqlite3
import threading
import time
import unittest

import tap
from imap_util import Raw
from mailhub_fixture import Mailhub

USER, PASSWORD = "alice@example.org", "secret-alice"
HOLD = "\n[search]\nindex_delay_ms = 3600000\n"


def start(mh):
    """Starts the daemon and waits for its indexer's start-up pass (which
    would index what arrived before it)."""
    n = mh.log().count("info index started")
    mh.start()
    deadline = time.monotonic() + 30
    while mh.log().count("info index started") == n:
        if time.monotonic() > deadline:
            raise AssertionError("the indexer did not start:\n" + mh.log())
        time.sleep(0.02)

SMTP_MSGS = [
    (b"From: Bob Builder <bob@example.net>\r\nTo: alice@example.org\r\n"
     b"Subject: Quarterly zebra report\r\nMessage-ID: <m1@example.net>\r\n"
     b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n\r\n"
     b"The budget numbers are in.\r\n"),
    (b"From: carol@example.com\r\nTo: alice@example.org\r\n"
     b"Subject: Lunch plans\r\nMessage-ID: <m2@example.com>\r\n"
     b"Date: Mon, 01 Jan 2024 11:00:00 +0000\r\nMIME-Version: 1.0\r\n"
     b"Content-Type: text/html; charset=utf-8\r\n\r\n"
     b"<html><body><p>kernel <b>pan</b>ic at noon &amp; caf&eacute;</p></body></html>\r\n"),
    (b"From: Dave <dave@example.org>\r\nTo: alice@example.org\r\n"
     b"Subject: Re: Quarterly zebra report\r\nMessage-ID: <m3@example.org>\r\n"
     b"In-Reply-To: <m1@example.net>\r\nReferences: <m1@example.net>\r\n"
     b"Date: Mon, 01 Jan 2024 12:00:00 +0000\r\n\r\n"
     b"The printer is out of paper.\r\n"),
]
APPENDED = (b"From: Erin <erin@example.org>\r\nSubject: appended quartz\r\n"
            b"Message-ID: <m4@example.org>\r\n"
            b"Date: Mon, 01 Jan 2024 13:00:00 +0000\r\n\r\n"
            b"appendonlyword inside\r\n")

COMMANDS = [
    (b"UID SEARCH TEXT budget", b"* SEARCH 1\r\n"),
    (b"UID SEARCH BODY kernel", b"* SEARCH 2\r\n"),
    (b"UID SEARCH BODY panic", b"* SEARCH 2\r\n"),          # HTML as text
    (b"UID SEARCH CHARSET UTF-8 TEXT {5+}\r\ncaf\xc3\xa9", b"* SEARCH 2\r\n"),
    (b"UID SEARCH FROM bob", b"* SEARCH 1\r\n"),
    (b"UID SEARCH FROM \"Bob Builder\"", b"* SEARCH 1\r\n"),
    (b"UID SEARCH SUBJECT zebra", b"* SEARCH 1 3\r\n"),
    (b"UID SEARCH TO alice", b"* SEARCH 1 2 3\r\n"),
    (b"UID SEARCH TEXT appendonlyword", b"* SEARCH 4\r\n"),
    (b"UID SEARCH BODY pr", b"* SEARCH 3\r\n"),             # under 3 characters
    (b"UID SEARCH NOT BODY paper", b"* SEARCH 1 2 4\r\n"),
]
SORTS = [
    (b"UID SORT (SUBJECT) UTF-8 ALL", b"* SORT 4 2 1 3\r\n"),
    (b"UID SORT (FROM) UTF-8 ALL", b"* SORT 1 2 3 4\r\n"),
    (b"UID SORT (REVERSE DATE) UTF-8 ALL", b"* SORT 4 3 2 1\r\n"),
    (b"UID THREAD REFERENCES UTF-8 ALL", b"* THREAD (1 3)(2)(4)\r\n"),
]


def db_of(mh):
    return sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"), timeout=30)


def count(mh, sql):
    db = db_of(mh)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def orphans(mh):
    """Index rows that no message explains, by table (the rows of a file
    whose last message went wait for the indexer in blob_keys_gone,
    sql/049: those are explained)."""
    db = db_of(mh)
    try:
        q = {
            "blob_keys": "SELECT count(*) FROM blob_keys k WHERE NOT EXISTS"
                         " (SELECT 1 FROM messages m WHERE m.blob = k.blob)"
                         " AND k.blob NOT IN (SELECT blob FROM blob_keys_gone)",
            "blob_text": "SELECT count(*) FROM blob_text WHERE rowid NOT IN"
                         " (SELECT id FROM blob_keys)",
            "blob_fields": "SELECT count(*) FROM blob_fields WHERE rowid NOT IN"
                           " (SELECT id FROM blob_keys)",
            "previews": "SELECT count(*) FROM previews p WHERE NOT EXISTS"
                        " (SELECT 1 FROM messages m WHERE m.blob = p.blob)",
            "fields_pending": "SELECT count(*) FROM fields_pending p WHERE NOT EXISTS"
                              " (SELECT 1 FROM messages m WHERE m.mailbox_id ="
                              " p.mailbox_id AND m.uid = p.uid)",
            "search_pending": "SELECT count(*) FROM search_pending p WHERE NOT EXISTS"
                              " (SELECT 1 FROM messages m WHERE m.mailbox_id ="
                              " p.mailbox_id AND m.uid = p.uid)",
        }
        return {t: db.execute(sql).fetchone()[0] for t, sql in q.items()}
    finally:
        db.close()


NO_ORPHANS = {t: 0 for t in ("blob_keys", "blob_text", "blob_fields", "previews",
                             "fields_pending", "search_pending")}


class Pending(unittest.TestCase):
    def setUp(self):
        self.mh = Mailhub(listeners=("smtp", "imap"), plaintext_on_loopback=True,
                          config_extra=HOLD)
        self.addCleanup(self.mh.cleanup)
        self.mh.cli("domain", "add", "example.org")
        self.mh.add_user(USER, PASSWORD)
        start(self.mh)

    def login(self):
        c = Raw(self.mh.port("imap"), tls=False, timeout=30)
        c.ok("l", b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        return c

    def answers(self, commands):
        c = self.login()
        c.ok("s", b"SELECT INBOX")
        out = [c.ok("c%d" % i, cmd) for i, (cmd, _) in enumerate(commands)]
        c.close()
        for (cmd, want), got in zip(commands, out):
            self.assertEqual(got, [want], cmd)
        return out

    def deliver(self):
        for m in SMTP_MSGS:
            with smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30) as s:
                s.sendmail("someone@remote.example", [USER], m)
        c = self.login()
        c.ok("a", b"APPEND INBOX {%d+}\r\n" % len(APPENDED) + APPENDED)
        c.close()
        # the indexer has not run: every message pending, no index rows
        self.assertEqual(count(self.mh, "SELECT count(*) FROM fields_pending"), 4)
        self.assertEqual(count(self.mh, "SELECT count(*) FROM search_pending"), 4)
        self.assertEqual(count(self.mh, "SELECT count(*) FROM blob_keys"), 0)

    def test_unindexed_search_then_crash(self):
        self.deliver()
        before = self.answers(COMMANDS)
        self.assertEqual(count(self.mh, "SELECT count(*) FROM fields_pending"), 4)
        # a crash: the messages are indexed at the next start, the delay
        # notwithstanding
        self.mh.kill()
        self.assertEqual(count(self.mh, "SELECT count(*) FROM fields_pending"), 4)
        start(self.mh)
        self.mh.wait_indexed(timeout=30)
        self.assertEqual(count(self.mh, "SELECT count(*) FROM blob_fields"), 4)
        self.assertEqual(count(self.mh, "SELECT count(*) FROM search_pending"), 0)
        self.assertEqual(self.answers(COMMANDS), before)
        self.assertEqual(orphans(self.mh), NO_ORPHANS)
        # SIGTERM ends the indexer waiting out its delay at once
        c = self.login()
        c.ok("a", b"APPEND INBOX {%d+}\r\n" % len(APPENDED) + APPENDED)
        c.close()
        t0 = time.monotonic()
        self.mh.stop()
        self.assertLess(time.monotonic() - t0, 5)

    def test_unindexed_sort_thread(self):
        self.deliver()
        # keys computed from the files (and stored by SORT), then read
        first = self.answers(SORTS)
        self.assertEqual(count(self.mh, "SELECT count(*) FROM blob_keys"), 4)
        self.assertEqual(self.answers(SORTS), first)
        self.assertEqual(self.answers(COMMANDS), self.answers(COMMANDS))
        self.assertEqual(orphans(self.mh), NO_ORPHANS)

    def test_expunge_unindexed(self):
        c = self.login()
        c.ok("c", b"CREATE Gone")
        for i in range(3):
            m = APPENDED.replace(b"quartz", b"quartz %d" % i)
            c.ok("a", b"APPEND Gone {%d+}\r\n" % len(m) + m)
        c.ok("s", b"SELECT Gone")
        # FETCH PREVIEW stores the preview of 1, SORT the keys, text
        # and previews of the messages
        c.ok("p", b"UID FETCH 1 (PREVIEW)")
        self.assertEqual(count(self.mh, "SELECT count(*) FROM previews"), 1)
        c.ok("o", b"UID SORT (SUBJECT) UTF-8 UID 1:2")
        self.assertGreater(count(self.mh, "SELECT count(*) FROM blob_keys"), 0)
        self.assertGreater(count(self.mh, "SELECT count(*) FROM blob_fields"), 0)
        c.ok("d", b"STORE 1:* +FLAGS.SILENT (\\Deleted)")
        c.ok("e", b"EXPUNGE")
        c.close()
        self.assertEqual(count(self.mh, "SELECT count(*) FROM messages"), 0)
        self.assertEqual(orphans(self.mh), NO_ORPHANS)
        # the index rows wait for the indexer (sql/049), every one listed
        self.assertEqual(count(self.mh, "SELECT count(*) FROM blob_keys"),
                         count(self.mh, "SELECT count(*) FROM blob_keys_gone"))
        self.assertEqual(count(self.mh, "SELECT count(*) FROM previews"), 0)


class Woken(unittest.TestCase):
    """The default delay: an arrival wakes the indexer; expunges racing it
    leave nothing behind."""

    def test_woken_and_racing_expunges(self):
        mh = Mailhub(listeners=("smtp", "imap"), plaintext_on_loopback=True)
        self.addCleanup(mh.cleanup)
        mh.cli("domain", "add", "example.org")
        mh.add_user(USER, PASSWORD)
        start(mh)
        t0 = time.monotonic()
        with smtplib.SMTP("127.0.0.1", mh.port("smtp"), timeout=30) as s:
            s.sendmail("someone@remote.example", [USER], SMTP_MSGS[0])
        mh.wait_indexed(timeout=10)
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(count(mh, "SELECT count(*) FROM blob_fields"), 1)

        errors = []

        def appender():
            try:
                c = Raw(mh.port("imap"), tls=False, timeout=30)
                c.ok("l", b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
                c.ok("c", b"CREATE Race")
                for i in range(120):
                    m = SMTP_MSGS[1].replace(b"noon", b"noon %d" % i)
                    c.ok("a", b"APPEND Race {%d+}\r\n" % len(m) + m)
                c.close()
            except Exception as e:      # noqa: BLE001 - reported below
                errors.append(e)

        t = threading.Thread(target=appender)
        t.start()
        c = Raw(mh.port("imap"), tls=False, timeout=30)
        c.ok("l", b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        while t.is_alive():
            untagged, tagged = c.cmd("s", b"SELECT Race")
            if tagged.startswith(b"s OK") and b"* 0 EXISTS\r\n" not in untagged:
                c.ok("d", b"STORE 1:* +FLAGS.SILENT (\\Deleted)")
                c.ok("e", b"EXPUNGE")
            time.sleep(0.02)
        t.join()
        self.assertEqual(errors, [])
        untagged = c.ok("s", b"SELECT Race")
        if b"* 0 EXISTS\r\n" not in untagged:
            c.ok("d", b"STORE 1:* +FLAGS.SILENT (\\Deleted)")
            c.ok("e", b"EXPUNGE")
        c.close()
        # the rows of the files the last expunges left go when the indexer
        # next runs (sql/049): an arrival wakes it (else it looks within
        # 30 s), and a batch it read before the last expunge is no excuse
        with smtplib.SMTP("127.0.0.1", mh.port("smtp"), timeout=30) as s:
            s.sendmail("someone@remote.example", [USER], SMTP_MSGS[2])
        mh.wait_indexed(timeout=30, gone=True)
        self.assertEqual(orphans(mh), NO_ORPHANS)
        self.assertEqual(count(mh, "SELECT count(*) FROM blob_keys"), 2)
        mh.stop()

    def test_another_process_import_indexed(self):
        """Mail stored by another process (`mailhub import` while the
        daemon runs) wakes nothing here: the indexer finds it when it looks
        (every 30 s), not at the next arrival or start."""
        mh = Mailhub(listeners=("imap",), plaintext_on_loopback=True)
        self.addCleanup(mh.cleanup)
        mh.cli("domain", "add", "example.org")
        mh.add_user(USER, PASSWORD)
        start(mh)
        path = os.path.join(mh.data_dir, "..", "old.mbox")
        with open(path, "wb") as f:
            for i, m in enumerate(SMTP_MSGS):
                f.write(b"From someone@example.net Mon Jan  1 10:00:00 2024\n")
                f.write(m.replace(b"\r\n", b"\n") + b"\n")
        mh.cli("import", USER, "mbox", path, "--folder", "Old", "--quiet")
        self.assertEqual(count(mh, "SELECT count(*) FROM fields_pending"), len(SMTP_MSGS))
        # SEARCH is right meanwhile (it reads the files)
        c = Raw(mh.port("imap"), tls=False, timeout=30)
        c.ok("l", b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        c.ok("s", b"SELECT Old")
        self.assertIn(b"* SEARCH 1 3\r\n", c.ok("f", b"SEARCH TEXT zebra"))
        mh.wait_indexed(timeout=45)
        self.assertIn(b"* SEARCH 1 3\r\n", c.ok("f", b"SEARCH TEXT zebra"))
        c.close()
        self.assertEqual(count(mh, "SELECT count(*) FROM blob_fields"), len(SMTP_MSGS))
        mh.stop()


if __name__ == "__main__":
    tap.main()
