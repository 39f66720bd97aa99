#!/usr/bin/env python3
"""GET /api/v1/users/{address}/download ("download my mailbox"): messages
APPENDed over IMAP with flags and dates into INBOX, a nested folder and a
folder with a long name come back as a Maildir++ tree in a tar stream that
GNU tar and Python's tarfile read: every message byte for byte (LF line
ends), its flags in its name, its date as mtime, a dovecot-uidlist per
folder; the user themself and an admin may download, another user may not."""

import http.client
import imaplib
import io
import os
import subprocess
import tarfile
import tempfile
import time
import unittest

import tap
from mailhub_fixture import Mailhub

ALICE, ALICE_PW = "alice@example.org", "secret-alice"
BOB, BOB_PW = "bob@example.org", "secret-bob"
LONG = "Projects/" + "a-folder-with-a-rather-long-name-" * 3 + "end"


def message(i, size=0):
    body = "".join(f"line {k} of message {i}\r\n" for k in range(size))
    return (f"From: <carol@example.net>\r\nTo: <{ALICE}>\r\nSubject: message {i}\r\n"
            f"Message-ID: <m{i}@example.net>\r\n\r\nbody {i}\r\n{body}").encode()


class TestDownload(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mh = Mailhub(listeners=("imap", "admin"), plaintext_on_loopback=True)
        try:
            cls.mh.cli("domain", "add", "example.org")
            cls.mh.add_user(ALICE, ALICE_PW)
            cls.mh.add_user(BOB, BOB_PW)
            cls.mh.add_user("admin@example.org", "secret-admin", admin=True)
            cls.tokens = {a: cls.mh.cli("token", "create", a).stdout.strip()
                          for a in (ALICE, BOB, "admin@example.org")}
            cls.mh.start()
        except BaseException:
            cls.mh.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.mh.close()

    def get(self, address, token):
        c = http.client.HTTPConnection("127.0.0.1", self.mh.port("admin"), timeout=60)
        try:
            c.request("GET", f"/api/v1/users/{address}/download",
                      headers={"Authorization": "Bearer " + token})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def test_download(self):
        c = imaplib.IMAP4("127.0.0.1", self.mh.port("imap"), timeout=30)
        c.login(ALICE, ALICE_PW)
        sent = {}     # (folder, n) -> (bytes, flags, date)
        when = 1700000000
        plan = [("INBOX", r"(\Seen \Flagged)"), ("INBOX", None), ("INBOX", r"(\Answered)"),
                ("Archive/2024", r"(\Seen)"), ("Archive/2024", None), (LONG, r"(\Draft)")]
        for folder in ("Archive/2024", LONG):
            self.assertEqual(c.create(f'"{folder}"')[0], "OK")
        for i, (folder, flags) in enumerate(plan):
            data = message(i, size=2000 if i == 1 else 3)     # one of 60 KB or so
            date = imaplib.Time2Internaldate(when + i * 3600)
            typ, _ = c.append(f'"{folder}"', flags, date, data)
            self.assertEqual(typ, "OK")
            sent[(folder, i)] = (data, flags or "", when + i * 3600)
        c.logout()

        status, headers, body = self.get(ALICE, self.tokens[ALICE])
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers.get("Content-Type"), "application/x-tar")
        self.assertIn('filename="alice@example.org.tar"', headers.get("Content-Disposition", ""))
        tar = tarfile.open(fileobj=io.BytesIO(body), mode="r:")
        files = {m.name: m for m in tar.getmembers() if m.isfile()}
        dirs = {m.name.rstrip("/") for m in tar.getmembers() if m.isdir()}
        for d in ("mail", "mail/cur", "mail/new", "mail/tmp", "mail/.Archive.2024/cur"):
            self.assertIn(d, dirs)
        long_dir = "mail/." + LONG.replace("/", ".")
        self.assertIn(long_dir + "/cur", dirs)          # past ustar's 100 bytes
        for (folder, i), (data, flags, date) in sent.items():
            d = "mail" if folder == "INBOX" else "mail/." + folder.replace("/", ".")
            mine = [n for n in files if n.startswith(d + "/cur/") and f".M" in n and
                    tar.extractfile(files[n]).read() == data.replace(b"\r\n", b"\n")]
            self.assertEqual(len(mine), 1, (folder, i, sorted(files)))
            name = mine[0]
            info = name.rsplit(":2,", 1)[1]
            want = "".join(sorted(l for f, l in (("Draft", "D"), ("Flagged", "F"),
                                                  ("Answered", "R"), ("Seen", "S"))
                                  if "\\" + f in flags))
            self.assertEqual(info, want, name)
            self.assertEqual(files[name].mtime, date)
        # one dovecot-uidlist per folder, listing each message once
        for d in ("mail", "mail/.Archive.2024", long_dir):
            ul = tar.extractfile(files[d + "/dovecot-uidlist"]).read().decode().splitlines()
            self.assertRegex(ul[0], r"^3 V\d+ N\d+$")
            self.assertEqual(len(ul) - 1, sum(1 for (f, _) in sent
                                              if ("mail" if f == "INBOX" else
                                                  "mail/." + f.replace("/", ".")) == d))
        # GNU tar reads it too
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "a.tar")
            with open(path, "wb") as f:
                f.write(body)
            r = subprocess.run(["tar", "-tf", path], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(long_dir + "/dovecot-uidlist", r.stdout.splitlines())

        # who may
        self.assertEqual(self.get(ALICE, self.tokens[BOB])[0], 403)
        status, _, admin_body = self.get(ALICE, self.tokens["admin@example.org"])
        self.assertEqual(status, 200)
        self.assertEqual(len(tarfile.open(fileobj=io.BytesIO(admin_body)).getmembers()),
                         len(tar.getmembers()))
        self.assertEqual(self.get("nobody@example.org", self.tokens["admin@example.org"])[0], 404)
        self.assertIn("web download user=alice@example.org", self.mh.log())


if __name__ == "__main__":
    tap.main()
