"""A mailbox of real-world-shaped threads for the SORT and THREAD
comparisons with Dovecot (and the benchmarks): full References chains,
In-Reply-To only, replies whose parent is missing, subject-only threads
("Re:" with no ids), duplicate Message-IDs, list tags, forwards, RFC 2047
subjects and names, missing and broken Date fields, equal dates, Cc and
display names.  make(n, seed) returns [(internal date string, bytes)] in
APPEND order; the same seed gives the same mailbox."""

import random

WORDS = ("meeting lunch budget release report server backup invoice "
         "holiday garden photos trip school update question patch build "
         "party plans review draft contract kernel printer boat").split()
NAMES = [("Alice Example", "alice", "example.org"),
         ("Bob Builder", "bob", "example.net"),
         ("", "carol", "example.com"),
         ("=?utf-8?q?Zo=C3=AB_M=C3=BCller?=", "zoe", "example.de"),
         ("\"Smith, John\"", "jsmith", "corp.example"),
         ("dave", "dave", "example.org"),
         ("", "Eve", "Example.ORG"),
         ("Frank (work)", "frank", "example.io")]
LISTS = ("[dev] ", "[users] ", "[PATCH] ", "[PATCH 2/3] ", "")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec")


def _addr(rnd):
    name, local, domain = rnd.choice(NAMES)
    if name:
        return f"{name} <{local}@{domain}>"
    return f"{local}@{domain}"


def _date(rnd, t):
    d = t // 86400
    year = 2020 + d // 365
    day = d % 28 + 1
    mon = MONTHS[(d // 28) % 12]
    hh, mm, ss = (t // 3600) % 24, (t // 60) % 60, t % 60
    tz = rnd.choice(("+0000", "+0100", "-0500", "+0530"))
    return f"{day:02d} {mon} {year} {hh:02d}:{mm:02d}:{ss:02d} {tz}", \
        f"{day:02d}-{mon}-{year} {hh:02d}:{mm:02d}:{ss:02d} +0000"


def make(n=2000, seed=5256):
    rnd = random.Random(seed)
    msgs = []
    threads = []    # (subject, [message ids])
    t = 1_000_000
    for i in range(n):
        t += rnd.choice((0, 0, 7, 60, 3600, 86400))
        date_hdr, internal = _date(rnd, t)
        mid = f"<m{i}.{seed}@mail.example>"
        if rnd.random() < 0.02 and msgs:
            mid = f"<m{rnd.randrange(i)}.{seed}@mail.example>"  # duplicate
        headers = []
        kind = rnd.random()
        if threads and kind < 0.6:
            subj, ids = rnd.choice(threads)
            parent = rnd.randrange(len(ids))
            chain = ids[:parent + 1]
            style = rnd.random()
            prefix = rnd.choice(("Re: ", "RE: ", "Re: Re: ", "Fwd: ",
                                 "Re[2]: ", "Re: [dev] "))
            subject = prefix + subj
            if style < 0.55:
                headers.append("References: " + " ".join(chain[-12:]))
                headers.append("In-Reply-To: " + chain[-1])
            elif style < 0.75:
                headers.append("In-Reply-To: " + chain[-1])
            elif style < 0.85:
                pass    # subject only
            elif style < 0.92:
                # the parent is not in this mailbox
                headers.append(f"References: <gone{rnd.randrange(50)}@x.example> "
                               + chain[-1])
            else:
                headers.append(f"In-Reply-To: <gone{rnd.randrange(50)}@x.example>")
                subject = subj + " (fwd)"
            ids.append(mid)
        else:
            subj = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 4)))
            if rnd.random() < 0.1:
                subj = "=?utf-8?q?" + subj.replace(" ", "_") + "_=C3=A9t=C3=A9?="
            subject = rnd.choice(LISTS) + subj
            if rnd.random() < 0.05:
                subject = "[Fwd: " + subj + "]"
            if rnd.random() < 0.03:
                subject = ""
            threads.append((subj, [mid]))
        headers.insert(0, "From: " + _addr(rnd))
        headers.insert(1, "To: " + ", ".join(_addr(rnd) for _ in range(rnd.randint(1, 3))))
        if rnd.random() < 0.3:
            headers.append("Cc: " + _addr(rnd))
        if rnd.random() < 0.97:
            headers.append("Subject: " + subject)
        r = rnd.random()
        if r < 0.04:
            pass                                    # no Date
        elif r < 0.06:
            headers.append("Date: yesterday at noon")  # unparsable
        else:
            headers.append("Date: " + date_hdr)
        if rnd.random() < 0.97:
            headers.append("Message-ID: " + mid)
        body = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(5, 200)))
        text = "\r\n".join(headers) + "\r\n\r\n" + body + "\r\n"
        msgs.append((internal, text.encode()))
    return msgs
