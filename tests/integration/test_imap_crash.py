#!/usr/bin/env python3
"""Crash test of IMAP under load: clients append messages, set keywords and
expunge, several sessions to each mailbox at once, and mailhub is killed
with SIGKILL while they do, twice, at moments that differ from run to run.
After each restart, everything that was answered with a tagged OK must be
there: every appended message, every keyword set (keywords are only ever
added, so a later command cannot take one away), and no message whose
expunge was answered OK; and `mailhub fsck` finds no row without its
blob and no damaged blob (only the files of APPENDs in flight, which
--repair removes).

Flag changes and expunges are lazy commits (store_begin_lazy): the OK is
sent once their frames are in the WAL, which is what a crash of the
process keeps (the kernel still writes them); a power failure keeps them
once synced, within 200 ms (walsync.c's keeper thread) or by the next
APPEND's flush.  A SIGKILL tests the part that can be tested here, that no
OK runs ahead of the commit it reports.  APPENDs are light commits: their
WAL is synced before the OK.
"""

import random
import re
import threading
import time
import unittest

import tap
from imap_util import Raw
from mailhub_fixture import Mailhub

USERS = [f"crash{i}@example.org" for i in range(1, 4)]
PASSWORD = "crash-test-password"
SESSIONS_PER_USER = 3


class Worker(threading.Thread):
    """One session: APPEND, STORE +FLAGS, EXPUNGE in a loop until the
    connection breaks; records what was answered OK."""

    def __init__(self, port, user, wid, seed):
        super().__init__(daemon=True)
        self.port, self.user, self.wid = port, user, wid
        self.rnd = random.Random(seed)
        self.appended = {}      # message-id -> uid (acknowledged)
        self.keywords = {}      # uid -> set of keywords acknowledged
        self.expunged = set()   # uids whose EXPUNGE was acknowledged
        self.in_flight_expunge = set()
        self.ops = 0
        self.error = None

    def run(self):
        try:
            c = Raw(self.port, tls=False, timeout=20)
            c.ok("l", f"LOGIN {self.user} {PASSWORD}".encode())
            c.ok("s", b"SELECT INBOX")
            n = 0
            while True:
                n += 1
                mid = f"<w{self.wid}-{n}@crash.test>"
                data = (f"Message-ID: {mid}\r\nSubject: crash {self.wid} {n}\r\n"
                        f"\r\nbody {n}\r\n").encode()
                _, tagged = c.cmd("a", b"APPEND INBOX {%d+}\r\n" % len(data) + data)
                m = re.match(rb"a OK \[APPENDUID \d+ (\d+)\]", tagged)
                if not m:
                    raise AssertionError(tagged)
                self.appended[mid] = int(m.group(1))
                mine = [u for u in self.appended.values()
                        if u not in self.expunged]
                uid = self.rnd.choice(mine)
                kw = f"k{self.wid}x{n}"
                c.ok("f", b"UID STORE %d +FLAGS.SILENT (%s)" % (uid, kw.encode()))
                self.keywords.setdefault(uid, set()).add(kw)
                if n % 4 == 0 and len(mine) > 2:
                    gone = self.rnd.choice(mine)
                    c.ok("d", b"UID STORE %d +FLAGS.SILENT (\\Deleted)" % gone)
                    self.in_flight_expunge = {gone}
                    # UID EXPUNGE (RFC 4315): only this session's message
                    c.ok("e", b"UID EXPUNGE %d" % gone)
                    self.expunged.add(gone)
                    self.in_flight_expunge = set()
                self.ops += 1
        except (OSError, AssertionError) as e:
            self.error = e     # the kill, expected


class ImapCrash(unittest.TestCase):
    def setUp(self):
        self.mh = Mailhub(listeners=("imap",), plaintext_on_loopback=True)
        self.addCleanup(self.mh.cleanup)
        self.mh.cli("domain", "add", "example.org")
        for u in USERS:
            self.mh.add_user(u, PASSWORD)

    def load_then_kill(self, round_no):
        self.mh.start()
        workers = []
        for ui, u in enumerate(USERS):
            for k in range(SESSIONS_PER_USER):
                wid = f"{round_no}{ui}{k}"
                workers.append(Worker(self.mh.port("imap"), u, wid,
                                      seed=time.time_ns() + len(workers)))
        for w in workers:
            w.start()
        # once the load is under way (logins take a while on a busy
        # machine), at a moment that differs from run to run
        deadline = time.time() + 60
        while (sum(w.ops for w in workers) < 2 * len(workers)
               and time.time() < deadline):
            time.sleep(0.05)
        time.sleep(random.uniform(0, 1.5))
        self.mh.kill()
        for w in workers:
            w.join(timeout=30)
            self.assertFalse(w.is_alive())
        # the load did run: the kill found commands in flight
        self.assertGreater(sum(w.ops for w in workers), len(workers),
                           [repr(w.error) for w in workers])
        return workers

    def check(self, workers):
        self.mh.start()
        by_user = {}
        for w in workers:
            by_user.setdefault(w.user, []).append(w)
        for user, ws in by_user.items():
            c = Raw(self.mh.port("imap"), tls=False, timeout=30)
            try:
                c.ok("l", f"LOGIN {user} {PASSWORD}".encode())
                c.ok("s", b"SELECT INBOX")
                untagged = c.ok("f", b"UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            finally:
                c.close()
            present = {}
            for line in untagged:
                m = re.search(rb"UID (\d+)", line)
                f = re.search(rb"FLAGS \(([^)]*)\)", line)
                i = re.search(rb"Message-ID: (<[^>]+>)", line)
                if m and f and i:
                    present[int(m.group(1))] = (i.group(1).decode(),
                                                set(f.group(1).decode().split()))
            for w in ws:
                for mid, uid in w.appended.items():
                    if uid in w.expunged:
                        self.assertNotIn(uid, present,
                                         f"{user}: expunged uid {uid} is back")
                        continue
                    if uid in w.in_flight_expunge and uid not in present:
                        continue
                    self.assertIn(uid, present, f"{user}: acknowledged {mid} lost")
                    self.assertEqual(present[uid][0], mid)
                    lost = w.keywords.get(uid, set()) - present[uid][1]
                    self.assertFalse(lost, f"{user}: uid {uid} lost keywords {lost}")
        self.mh.stop()
        # no row without its blob, no blob damaged; an APPEND in flight at
        # the kill may leave its blob without a row (the file is placed
        # before the row commits), one per session at most, which the
        # hourly sweep or --repair removes
        r = self.mh.cli("fsck", check=False)
        m = re.search(r"(\d+) corrupt, (\d+) missing, (\d+) orphan, (\d+) stray",
                      r.stdout)
        self.assertTrue(m, r.stdout + r.stderr)
        corrupt, missing, orphan, stray = map(int, m.groups())
        self.assertEqual((corrupt, missing), (0, 0), r.stdout)
        self.assertLessEqual(orphan + stray, 2 * len(workers), r.stdout)
        r = self.mh.repair_after_crash()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("fsck: ok", r.stdout)

    def test_sigkill_under_load_loses_nothing_acknowledged(self):
        done = []
        for round_no in (1, 2):
            workers = self.load_then_kill(round_no)
            done += workers
            self.check(done)


if __name__ == "__main__":
    tap.main()
