"""`mailhub backup` under load and `mailhub restore`: a backup taken while
SMTP delivery and IMAP flag changes run restores into an empty data_dir
that passes `mailhub fsck` and holds every message acknowledged before the
backup started (checked over IMAP by a daemon serving the restored
data_dir); a second backup copies only the new blobs; restore refuses a
data_dir that is not empty."""

import imaplib
import os
import re
import smtplib
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
from mailhub_fixture import Mailhub, mailhub_bin  # noqa: E402

PASSWORD = "Backup-Test-Pass-7"


class BackupUnderLoad(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("smtp", "imap"), plaintext_on_loopback=True)
        cls.mh.cli("domain", "add", "example.org")
        cls.mh.add_user("alice@example.org", PASSWORD)
        cls.mh.start()
        cls.restored = None

    @classmethod
    def tearDownClass(cls):
        for m in (cls.restored, cls.mh):
            if m is not None:
                m.close()

    def test_backup_under_load(self):
        acked = []          # (monotonic time of the 250, Message-ID)
        stop = threading.Event()
        errors = []

        def deliver():
            try:
                s = smtplib.SMTP("127.0.0.1", self.mh.port("smtp"), timeout=30)
                i = 0
                while not stop.is_set():
                    i += 1
                    mid = f"<load{i}@example.net>"
                    s.sendmail("s@example.net", ["alice@example.org"],
                               f"From: s@example.net\r\nTo: alice@example.org\r\n"
                               f"Message-ID: {mid}\r\nSubject: {i}\r\n\r\nbody {i}\r\n")
                    acked.append((time.monotonic(), mid))
                s.quit()
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        def flags():
            try:
                imap = imaplib.IMAP4("127.0.0.1", self.mh.port("imap"), timeout=30)
                imap.login("alice@example.org", PASSWORD)
                imap.select("INBOX")
                n = 0
                while not stop.is_set():
                    n += 1
                    imap.uid("STORE", "1:*", "+FLAGS" if n % 2 else "-FLAGS", r"(\Seen)")
                    time.sleep(0.01)
                imap.logout()
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=deliver), threading.Thread(target=flags)]
        for t in threads:
            t.start()
        while len(acked) < 150 and not errors:
            time.sleep(0.05)
        dest = os.path.join(self.mh.dir, "backup")
        started = time.monotonic()
        r = self.mh.cli("backup", dest, timeout=120)
        self.assertRegex(r.stdout, r"backup: \d+ blobs referenced, \d+ copied")
        before = {mid for t, mid in acked if t < started}
        self.assertGreaterEqual(len(before), 150)
        time.sleep(0.5)

        # a second backup, still under load: only what came since is copied
        r2 = self.mh.cli("backup", dest, timeout=120)
        ended = time.monotonic()
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertTrue(any(t > ended for t, _ in acked))
        m1 = re.search(r"(\d+) blobs referenced, (\d+) copied", r.stdout)
        m2 = re.search(r"(\d+) blobs referenced, (\d+) copied", r2.stdout)
        self.assertEqual(int(m2.group(2)), int(m2.group(1)) - int(m1.group(1)))

        # restore into an empty data_dir, fsck, serve it, read it over IMAP
        self.__class__.restored = rs = Mailhub(listeners=("imap",), plaintext_on_loopback=True,
                                               init=False)
        r = rs.cli("restore", dest)
        self.assertIn("restore:", r.stdout)
        r = rs.cli("fsck")
        self.assertIn("fsck: ok", r.stdout)
        rs.start()
        imap = imaplib.IMAP4("127.0.0.1", rs.port("imap"), timeout=30)
        imap.login("alice@example.org", PASSWORD)
        imap.select("INBOX", readonly=True)
        typ, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        got = {m.group(0).decode() for item in data if isinstance(item, tuple)
               for m in [re.search(rb"<load\d+@example.net>", item[1])] if m}
        imap.logout()
        self.assertEqual(before - got, set())
        # nothing acknowledged after the (second) backup ended can be in it
        after = {mid for t, mid in acked if t > ended}
        self.assertEqual(got & after, set())

        # restore never writes over a data_dir in use
        r = rs.cli("restore", dest, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not empty", r.stderr)


if __name__ == "__main__":
    tap.main()
