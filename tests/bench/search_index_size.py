#!/usr/bin/env python3
"""The size on disk of mailhub's full-text index per GiB of mail that is
written in HTML, as most mail is: each of thread_corpus.py's messages
becomes multipart/alternative, its text as text/plain and as a text/html
part laid out as mail clients and newsletters write it (a style sheet,
tables, inline styles, links, an entity or two).  mailhub's store is
filled directly and indexed by the background pass (the upgrade path), as
search_bench.py does; the index tables are measured with dbstat.

Run it with the mailhub to measure (MAILHUB_BIN): sql/034 and later index
the text of an HTML part (mail/htmltext.h), earlier ones its markup too,
so running it with both tells the saving.  BENCH_SCALE multiplies the
message count (20,000).
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
import thread_corpus  # noqa: E402
from imap_bench import USER, PASSWORD, load_mailhub  # noqa: E402
from mailhub_fixture import Mailhub, need_binary  # noqa: E402
from search_bench import index_size, wait_indexed  # noqa: E402

SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
N = max(20, int(20000 * SCALE))

HTML = ("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Type\" "
        "content=\"text/html; charset=utf-8\"><style type=\"text/css\">"
        "body {{ margin: 0; font-family: Helvetica, Arial, sans-serif; }}\r\n"
        ".wrap {{ max-width: 600px; }} td.c {{ padding: 12px 18px; color: #333333; "
        "font-size: 14px; line-height: 20px; }}</style></head>\r\n"
        "<body><table class=\"wrap\" role=\"presentation\" cellpadding=\"0\" "
        "cellspacing=\"0\" border=\"0\" align=\"center\"><tr><td class=\"c\" "
        "style=\"padding: 12px 18px; font-family: Helvetica, Arial, sans-serif;\">\r\n"
        "<div dir=\"ltr\"><p style=\"margin: 0 0 12px 0;\">{body}</p>\r\n"
        "<p style=\"margin: 0 0 12px 0;\">See <a href=\"https://www.example.org/"
        "thread/{n}?utm_source=mail&amp;utm_medium=email\" target=\"_blank\" "
        "style=\"color: #1a73e8; text-decoration: underline;\">the thread</a> "
        "&mdash; regards.</p></div>\r\n"
        "<!--[if mso]><table><tr><td width=\"600\"><![endif]-->\r\n"
        "</td></tr></table></body></html>\r\n")


def messages():
    out = []
    for n, (_, data) in enumerate(thread_corpus.make(N, seed=4731)):
        head, body = data.split(b"\r\n\r\n", 1)
        body = body.rstrip(b"\r\n").decode()
        html = HTML.format(body=body, n=n).encode()
        b = b"alt%d" % n
        data = (head + b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative;"
                b" boundary=" + b + b"\r\n\r\n--" + b + b"\r\nContent-Type: text/plain;"
                b" charset=utf-8\r\n\r\n" + body.encode() + b"\r\n--" + b +
                b"\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html +
                b"--" + b + b"--\r\n")
        out.append((data, 0))
    return out


def main():
    need_binary("search_index_size")
    msgs = messages()
    blobs = len({m for m, _ in msgs})
    mh = Mailhub(plaintext_on_loopback=True)
    try:
        mh.cli("domain", "add", "example.org")
        mh.add_user(USER, PASSWORD)
        load_mailhub(mh, {"Html": msgs})
        t0 = time.monotonic()
        mh.start()
        indexing = wait_indexed(mh, blobs)
        idx, fields, mail = index_size(mh)
        print(f"# {N} text+HTML messages, {mail / 2**20:.1f} MiB; indexed in "
              f"{indexing:.1f} s ({time.monotonic() - t0:.1f} s with start-up)")
        print(f"TEXT index {idx / 2**20:.1f} MiB = {idx / mail * 1024:.0f} MiB per GiB; "
              f"fields index {fields / 2**20:.1f} MiB = {fields / mail * 1024:.0f} MiB "
              f"per GiB; together {(idx + fields) / mail * 1024:.0f} MiB per GiB of mail")
    finally:
        mh.close()


if __name__ == "__main__":
    main()
