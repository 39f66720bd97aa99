#!/usr/bin/env python3
"""GET /api/v1/users/{address}/download ("download my mailbox"): messages
APPENDed over IMAP with flags and dates into INBOX, a nested folder and a
folder with a long name come back as a Maildir++ tree in a tar stream that
GNU tar and Python's tarfile read: every message byte for byte (LF line
ends), its flags in its name, its date as mtime, a dovecot-uidlist per
folder; the user themself and an admin may download, another user may not.
Then keywords: the tar holds, byte for byte, the tree `mailhub export
ADDRESS maildir` writes (dovecot-keywords, keyword letters in the names,
dovecot-uidlist, folder names in modified UTF-7), and Debian's Dovecot
serving the unpacked tar shows every folder with the same UIDVALIDITY,
UIDs, flags, keywords, internal dates and bytes as mailhub."""

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
import dovecot_util
from mailhub_fixture import Mailhub
from test_import import folder_state, folders

ALICE, ALICE_PW = "alice@example.org", "secret-alice"
BOB, BOB_PW = "bob@example.org", "secret-bob"
CAROL, CAROL_PW = "carol@example.org", "secret-carol"
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
            cls.mh.add_user(CAROL, CAROL_PW)
            cls.mh.add_user("admin@example.org", "secret-admin", admin=True)
            cls.tokens = {a: cls.mh.cli("token", "create", a).stdout.strip()
                          for a in (ALICE, BOB, CAROL, "admin@example.org")}
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

    def test_keywords_served_by_dovecot(self):
        c = imaplib.IMAP4("127.0.0.1", self.mh.port("imap"), timeout=30)
        c.login(CAROL, CAROL_PW)
        cafe = "Caf&AOk-"          # "Café" on the wire
        for folder in ("Archive/2024", cafe, "Lists.old"):
            self.assertEqual(c.create(f'"{folder}"')[0], "OK")
        plan = [("INBOX", r"(\Seen $Work)"), ("INBOX", r"(\Flagged Project-X $Work)"),
                ("INBOX", None), ("INBOX", r"(NonJunk)"),
                ("Archive/2024", r"(\Seen \Answered Later)"), ("Archive/2024", r"(\Draft)"),
                (cafe, r"($Label1 \Seen)"), ("Lists.old", r"(\Deleted)")]
        for i, (folder, flags) in enumerate(plan):
            typ, _ = c.append(f'"{folder}"', flags,
                              imaplib.Time2Internaldate(1710000000 + i * 600), message(i))
            self.assertEqual(typ, "OK")
        # a gap in the UIDs, and a keyword added after the APPEND
        c.select("INBOX")
        c.uid("STORE", "3", "+FLAGS", r"(\Deleted)")
        c.expunge()
        c.uid("STORE", "1", "+FLAGS", "(Follow-up)")
        c.logout()

        status, _, body = self.get(CAROL, self.tokens[CAROL])
        self.assertEqual(status, 200, body[:300])
        tar = tarfile.open(fileobj=io.BytesIO(body), mode="r:")
        in_tar = {m.name[len("mail/"):]: (tar.extractfile(m).read(), m.mtime)
                  for m in tar.getmembers() if m.isfile()}
        self.assertIn("dovecot-keywords", in_tar)
        self.assertIn(".Caf&AOk-/dovecot-keywords", in_tar)
        self.assertIn(".Lists_old/dovecot-uidlist", in_tar)
        # byte for byte what `mailhub export` writes
        with tempfile.TemporaryDirectory() as tmp:
            dest = os.path.join(tmp, "exp")
            self.mh.cli("export", CAROL, "maildir", dest)
            exported = {}
            for root, _, names in os.walk(dest):
                for n in names:
                    path = os.path.join(root, n)
                    with open(path, "rb") as f:
                        exported[os.path.relpath(path, dest)] = (f.read(),
                                                                 int(os.stat(path).st_mtime))
        # export leaves the mtime of the uidlist and keywords files alone
        strip = lambda d: {k: v if "/cur/" in "/" + k else (v[0], 0) for k, v in d.items()}
        self.assertEqual(strip(in_tar), strip(exported))

        if not dovecot_util.available():
            self.skipTest("dovecot is not installed")
        dv = dovecot_util.Dovecot()
        try:
            dv.start()
            home = os.path.join(dv.dir, "mail", "dl")
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:") as t:
                t.extractall(home)
            os.rename(os.path.join(home, "mail"), home + ".tmp")
            os.rmdir(home)
            os.rename(home + ".tmp", home)
            owner = os.stat(os.path.join(dv.dir, "mail")).st_uid
            subprocess.run(["chown", "-R", f"{owner}:{owner}", home], check=True)
            a = imaplib.IMAP4("127.0.0.1", dv.port, timeout=30)
            a.login("dl", dovecot_util.PASSWORD)
            b = imaplib.IMAP4("127.0.0.1", self.mh.port("imap"), timeout=30)
            b.login(CAROL, CAROL_PW)
            # Maildir++ has '.' between levels: a '.' in a name is '_'
            names = folders(a)
            self.assertEqual(sorted(n.replace("Lists_old", "Lists.old") for n in names),
                             folders(b))
            self.assertIn(cafe, names)
            total, keywords = 0, set()
            for name in names:
                want = folder_state(b, name.replace("Lists_old", "Lists.old"))
                got = folder_state(a, name)
                self.assertEqual(got, want, name)
                total += len(got["messages"])
                for flags, _, _ in got["messages"].values():
                    keywords |= {f for f in flags if not f.startswith("\\")}
            self.assertEqual(total, len(plan) - 1)
            self.assertEqual(keywords, {"$Work", "Project-X", "NonJunk", "Later", "$Label1",
                                        "Follow-up"})
            a.logout()
            b.logout()
        finally:
            dv.stop()


if __name__ == "__main__":
    tap.main()
