#!/usr/bin/env python3
"""SEARCH, SORT and THREAD side by side with Debian's Dovecot 2.3 (no FTS
plugin, as Debian ships it) on the same 100,000 messages, as ratios of
Dovecot's time to mailhub's (higher is better for mailhub):

  1. SEARCH TEXT of a rare word (1 message in 5,000; target: 20x);
  2. SEARCH TEXT of a common word (in most messages);
  3. SEARCH BODY of the rare word, SEARCH SUBJECT and FROM (the index of
     sql/025);
  4. SORT (ARRIVAL) and SORT (SUBJECT), THREAD REFERENCES (target: 1x).

The messages are thread_corpus.py's (real-world threading).  mailhub's
store is filled directly (as imap_bench.py does), so its sort keys and
full-text index are built by the background pass at start-up, which is
the upgrade path: the time it takes and the size of the index on disk per
GiB of mail are printed too.  Both servers get a warm-up run (Dovecot
builds its index and cache), then BENCH_ROUNDS timed runs; the best
counts.  BENCH_SCALE multiplies the message count.
"""

import os
import sqlite3
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
import dovecot_util  # noqa: E402
import thread_corpus  # noqa: E402
from imap_bench import (USER, PASSWORD, Client, load_dovecot,  # noqa: E402
                        load_mailhub, timed)
from mailhub_fixture import Mailhub, need_binary  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
N = int(100000 * SCALE)
RARE = b"xylophonist"


def messages():
    out = []
    for i, (_, data) in enumerate(thread_corpus.make(N, seed=4731)):
        if i % 5000 == 17:
            data = data.replace(b"\r\n\r\n", b"\r\n\r\nthe " + RARE + b" came\r\n", 1)
        out.append((data, 0))
    return out


def index_size(mh):
    """Bytes of the index tables and their indexes (dbstat): the keys and
    TEXT index (sql/016), the fields index (sql/025); and of mail."""
    db = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"))
    try:
        idx = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'blob_text%'"
                         " OR name LIKE 'blob_keys%'"
                         " OR name = 'sqlite_autoindex_blob_keys_1'").fetchone()[0]
        fields = db.execute("SELECT coalesce(sum(pgsize), 0) FROM dbstat"
                            " WHERE name LIKE 'blob_fields%'").fetchone()[0]
        mail = db.execute("SELECT sum(size) FROM messages").fetchone()[0]
        return idx, fields, mail
    finally:
        db.close()


def wait_indexed(mh, n, timeout=3600):
    t0 = time.monotonic()
    db = sqlite3.connect(os.path.join(mh.data_dir, "mailhub.db"))
    try:
        while time.monotonic() - t0 < timeout:
            k = db.execute("SELECT count(*) FROM blob_keys").fetchone()[0]
            p = db.execute("SELECT count(*) FROM fields_pending").fetchone()[0]
            if k >= n and p == 0:
                return time.monotonic() - t0
            time.sleep(0.5)
    finally:
        db.close()
    raise AssertionError("the background pass did not finish")


def answer_line(reply):
    """The words of the SEARCH, SORT or THREAD line of a reply."""
    for line in reply.split(b"\r\n"):
        if line.startswith((b"* SEARCH", b"* SORT", b"* THREAD")):
            return line.split(b" ", 2)[2:]
    return None


def main():
    need_binary("search_bench")
    if not dovecot_util.available():
        sys.exit("search_bench: dovecot-imapd is not installed")
    msgs = messages()
    blobs = len({m for m, _ in msgs})
    expect = sum(1 for m, _ in msgs if RARE in m)
    mh = Mailhub(plaintext_on_loopback=True)
    mh.cli("domain", "add", "example.org")
    mh.add_user(USER, PASSWORD)
    load_mailhub(mh, {"Text": msgs})
    mh.start()
    dc = dovecot_util.Dovecot()
    try:
        indexing = wait_indexed(mh, blobs)
        idx, fields, mail = index_size(mh)
        load_dovecot(dc, {"INBOX": msgs})
        dc.start()
        ours = Client(mh.port("imap"))
        ours.cmd(b"LOGIN " + USER.encode() + b" " + PASSWORD.encode())
        ours.cmd(b"SELECT Text")
        theirs = Client(dc.port)
        theirs.cmd(b"LOGIN bench " + dovecot_util.PASSWORD.encode())
        theirs.cmd(b"SELECT INBOX")
        tests = [("SEARCH TEXT rare word", b"SEARCH TEXT " + RARE),
                 ("SEARCH TEXT common word", b"SEARCH TEXT budget"),
                 ("SEARCH BODY rare word", b"SEARCH BODY " + RARE),
                 ("SEARCH SUBJECT", b"SEARCH SUBJECT lunch"),
                 ("SEARCH FROM", b"SEARCH FROM bob"),
                 ("SORT (ARRIVAL)", b"SORT (ARRIVAL) UTF-8 ALL"),
                 ("SORT (SUBJECT)", b"SORT (SUBJECT) UTF-8 ALL"),
                 ("THREAD REFERENCES", b"THREAD REFERENCES UTF-8 ALL")]
        print(f"# {N} messages; mailhub's background pass indexed {blobs} in "
              f"{indexing:.1f} s; index {idx / 2**20:.1f} MiB for "
              f"{mail / 2**20:.1f} MiB of mail = "
              f"{idx / mail * 1024:.0f} MiB per GiB; the fields index (BODY, "
              f"SUBJECT, FROM, ...) {fields / 2**20:.1f} MiB = "
              f"{fields / mail * 1024:.0f} MiB per GiB")
        for name, cmd in tests:
            a = ours.cmd(cmd)
            b = theirs.cmd(cmd)
            if name.startswith(("SEARCH TEXT rare", "SEARCH BODY rare")):
                assert a.count(b" ") >= expect, a[:200]
            # the same answer on both sides
            # (Dovecot says "* OK Searched 27% of the mailbox" on a long
            # search before its answer: the answer's line is compared)
            la, lb = answer_line(a), answer_line(b)
            same = "same answer" if la == lb else "ANSWERS DIFFER"
            # medians of ROUNDS runs each, taking turns (imap_bench.timed)
            a_times, b_times = timed(lambda: ours.cmd(cmd), lambda: theirs.cmd(cmd))
            t_ours, t_theirs = statistics.median(a_times), statistics.median(b_times)
            print(f"{name:28s} mailhub {t_ours * 1000:9.1f} ms  dovecot "
                  f"{t_theirs * 1000:9.1f} ms  ratio {t_theirs / t_ours:6.2f}x"
                  f"  ({same})")
        ours.close()
        theirs.close()
    finally:
        dc.stop()
        mh.close()


if __name__ == "__main__":
    main()
