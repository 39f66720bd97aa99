"""The corpus of the differential Sieve test (test_sieve_pigeonhole.py):
scripts x messages, built from pieces so that every extension meets
every kind of message.  Each script is plain RFC 5228 text."""

RECIPIENT = "me@example.org"

# ---- messages -------------------------------------------------------------


def _msg(headers, body="Hello,\r\nthis is the body.\r\n"):
    return "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n" + body


def messages():
    """(name, envelope sender, text) of at least 40 messages."""
    base = [
        ("From", "Alice Example <alice@example.com>"),
        ("To", "Me <me@example.org>"),
        ("Subject", "Lunch tomorrow?"),
        ("Date", "Tue, 01 Apr 2025 10:30:00 +0200"),
        ("Message-ID", "<m1@example.com>"),
    ]
    out = []

    def add(name, sender, headers, body=None):
        out.append((name, sender, _msg(headers, body) if body is not None else _msg(headers)))

    add("plain", "alice@example.com", base)
    add("list", "users-bounces@lists.example.com", [
        ("From", "Bob <bob@example.net>"), ("To", "users@lists.example.com"),
        ("Subject", "[users] Release 2.0 is out"), ("List-Id", "Users <users.lists.example.com>"),
        ("Precedence", "list"), ("Date", "Wed, 02 Apr 2025 08:00:00 +0000"),
        ("Message-ID", "<l1@lists.example.com>")])
    add("vip", "boss@corp.example", [
        ("From", "The Boss <boss@corp.example>"), ("To", "me@example.org"),
        ("Cc", "team@corp.example"), ("Subject", "Urgent: budget"),
        ("Date", "Thu, 03 Apr 2025 23:59:59 -0700"), ("Message-ID", "<b1@corp.example>")])
    add("bounce", "MAILER-DAEMON@mx.example.net", [
        ("From", "Mail Delivery System <MAILER-DAEMON@mx.example.net>"), ("To", "me@example.org"),
        ("Subject", "Undelivered Mail Returned to Sender"), ("Auto-Submitted", "auto-replied"),
        ("Message-ID", "<d1@mx.example.net>")])
    add("autoreply", "carol@example.com", [
        ("From", "carol@example.com"), ("To", "me@example.org"), ("Subject", "Out of office"),
        ("Auto-Submitted", "auto-replied"), ("Message-ID", "<o1@example.com>")])
    add("bulk", "news@shop.example", [
        ("From", "Shop <news@shop.example>"), ("To", "me@example.org"),
        ("Subject", "50% off everything"), ("Precedence", "bulk"),
        ("Message-ID", "<n1@shop.example>")])
    add("notaddressed", "dave@example.com", [
        ("From", "dave@example.com"), ("To", "someone-else@example.org"),
        ("Subject", "Hi"), ("Message-ID", "<x1@example.com>")])
    add("subaddr", "erin@example.com", [
        ("From", "Erin <erin+news@example.com>"), ("To", "me+lists@example.org"),
        ("Subject", "plus addressing"), ("Message-ID", "<s1@example.com>")])
    add("encoded", "frank@example.com", [
        ("From", "=?utf-8?q?Fran=C3=A7ois?= <frank@example.com>"), ("To", "me@example.org"),
        ("Subject", "=?utf-8?b?Q2Fmw6kgb3UgdGjDqT8=?="), ("Message-ID", "<e1@example.com>")])
    add("spam", "spammer@bad.example", [
        ("From", "winner@bad.example"), ("To", "me@example.org"),
        ("Subject", "You WON a prize"), ("X-Spam-Score", "7"),
        ("X-Spam-Flag", "YES"), ("Message-ID", "<p1@bad.example>")])
    add("multito", "grace@example.com", [
        ("From", "grace@example.com"),
        ("To", "a@example.org, b@example.org, Me <me@example.org>"),
        ("Cc", "c@example.org"), ("Subject", "group mail"), ("Message-ID", "<g1@example.com>")])
    add("nosubject", "heidi@example.com", [
        ("From", "heidi@example.com"), ("To", "me@example.org"), ("Message-ID", "<h1@example.com>")])
    add("nomsgid", "ivan@example.com", [
        ("From", "ivan@example.com"), ("To", "me@example.org"), ("Subject", "no id")])
    add("mime", "judy@example.com", [
        ("From", "judy@example.com"), ("To", "me@example.org"), ("Subject", "report attached"),
        ("MIME-Version", "1.0"), ("Content-Type", "multipart/mixed; boundary=\"XX\""),
        ("Message-ID", "<mm1@example.com>")],
        "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease find the invoice.\r\n"
        "--XX\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        "JVBERi0xLjQK\r\n--XX--\r\n")
    add("qp", "ken@example.com", [
        ("From", "ken@example.com"), ("To", "me@example.org"), ("Subject", "qp body"),
        ("MIME-Version", "1.0"), ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Transfer-Encoding", "quoted-printable"), ("Message-ID", "<q1@example.com>")],
        "Caf=C3=A9 secret word: bananas\r\n")
    add("big", "leo@example.com", base[:3] + [("Message-ID", "<big@example.com>")],
        ("x" * 76 + "\r\n") * 200)
    add("received", "mallory@example.com", [
        ("Received", "from mx.example.com by mail.example.org; Fri, 04 Apr 2025 06:00:00 +0000"),
        ("Received", "from a by b; Fri, 04 Apr 2025 05:00:00 +0000"),
        ("From", "mallory@example.com"), ("To", "me@example.org"), ("Subject", "two hops"),
        ("Message-ID", "<r1@example.com>")])
    add("listheaders", "owner-dev@lists.example.org", [
        ("From", "nina@example.com"), ("To", "dev@lists.example.org"),
        ("Subject", "[dev] patch"), ("List-Post", "<mailto:dev@lists.example.org>"),
        ("List-Unsubscribe", "<mailto:dev-leave@lists.example.org>"),
        ("Message-ID", "<lp1@example.com>")])
    add("resent", "oscar@example.com", [
        ("From", "oscar@example.com"), ("To", "x@example.net"),
        ("Resent-To", "me@example.org"), ("Subject", "forwarded"), ("Message-ID", "<rs@example.com>")])
    add("references", "peggy@example.com", [
        ("From", "Peggy <peggy@example.com>"), ("To", "me@example.org"),
        ("Subject", "Re: Lunch tomorrow?"), ("In-Reply-To", "<m1@example.com>"),
        ("References", "<m0@example.com> <m1@example.com>"), ("Message-ID", "<re1@example.com>")])
    # display names of the vacation reply's To: as they are, quoted
    # (specials, spaces), encoded words kept, 8-bit ones encoded
    for i, name in enumerate(["John Q. Public", "\"Doe, John\"", "O'Brien",
                              "\"a\\\"b\"", "=?utf-8?q?J=C3=B6rg?= =?utf-8?q?M=C3=BCller?=",
                              "Jörg Müller", "\"Peggy Sue\""]):
        add(f"name{i}", f"name{i}@example.com", [
            ("From", f"{name} <name{i}@example.com>"), ("To", "me@example.org"),
            ("Subject", f"name {i}"), ("Message-ID", f"<name{i}@example.com>")])
    # long subjects: the reply's Subject folded, its encoded words too
    add("long-subject", "quentin@example.com", [
        ("From", "quentin@example.com"), ("To", "me@example.org"),
        ("Subject", "This is a very long subject that well exceeds the boundary of eighty "
                    "characters, so that the reply's Subject is folded"),
        ("Message-ID", "<ls@example.com>")])
    add("long-utf8", "ruth@example.com", [
        ("From", "ruth@example.com"), ("To", "me@example.org"),
        ("Subject", "x Ünïcödé subject that is rather long so that the encoder has to fold "
                    "it over more than one line ü"),
        ("Message-ID", "<lu@example.com>")])
    add("cjk-subject", "sam@example.com", [
        ("From", "sam@example.com"), ("To", "me@example.org"),
        ("Subject", "=?utf-8?b?5pel5pys6Kqe44Gu44OG44Kt44K544OI5Lu25ZCN44Gn44GZ5pel5pys6Kqe"
                    "44Gu44OG44Kt44K544OI5Lu25ZCN44Gn44GZ?="),
        ("Message-ID", "<cj@example.com>")])
    add("name-comment", "pat@example.com", [
        ("From", "pat@example.com (Pat, the cat)"), ("To", "me@example.org"),
        ("Subject", "comment"), ("Message-ID", "<nc@example.com>")])
    add("fromself", "me@example.org", [
        ("From", "me@example.org"), ("To", "me@example.org"), ("Subject", "note to self"),
        ("Message-ID", "<self@example.org>")])
    add("requestaddr", "users-request@lists.example.com", [
        ("From", "users-request@lists.example.com"), ("To", "me@example.org"),
        ("Subject", "confirm subscription"), ("Message-ID", "<req@lists.example.com>")])
    add("numbers", "quinn@example.com", [
        ("From", "quinn@example.com"), ("To", "me@example.org"), ("Subject", "Order 12345"),
        ("X-Priority", "1"), ("X-Count", "42"), ("Message-ID", "<n@example.com>")])
    add("casing", "ROB@EXAMPLE.COM", [
        ("FROM", "ROB@EXAMPLE.COM"), ("to", "ME@EXAMPLE.ORG"), ("SUBJECT", "SHOUTING"),
        ("Message-ID", "<c@example.com>")])
    add("folded", "sybil@example.com", [
        ("From", "sybil@example.com"), ("To", "me@example.org"),
        ("Subject", "a long subject\r\n that is folded\r\n\tover lines"),
        ("Message-ID", "<f@example.com>")])
    add("group", "trent@example.com", [
        ("From", "trent@example.com"), ("To", "friends: me@example.org, u@example.net;"),
        ("Subject", "group syntax"), ("Message-ID", "<gr@example.com>")])
    add("xspam-low", "uma@example.com", [
        ("From", "uma@example.com"), ("To", "me@example.org"), ("Subject", "ok"),
        ("X-Spam-Score", "1"), ("Message-ID", "<sl@example.com>")])
    add("wildcards", "victor@example.com", [
        ("From", "victor@example.com"), ("To", "me@example.org"),
        ("Subject", "what? * stars * and ?marks"), ("Message-ID", "<w@example.com>")])
    add("dup-hdr", "walter@example.com", [
        ("From", "walter@example.com"), ("To", "me@example.org"), ("Subject", "first"),
        ("X-Tag", "one"), ("X-Tag", "two"), ("X-Tag", "three"), ("Message-ID", "<dh@example.com>")])
    add("date-winter", "xena@example.com", [
        ("From", "xena@example.com"), ("To", "me@example.org"), ("Subject", "new year"),
        ("Date", "Wed, 01 Jan 2025 00:15:00 +0100"), ("Message-ID", "<dw@example.com>")])
    add("date-old", "yuri@example.com", [
        ("From", "yuri@example.com"), ("To", "me@example.org"), ("Subject", "old"),
        ("Date", "Sun, 12 Mar 2000 13:14:15 -0500"), ("Message-ID", "<do@example.com>")])
    add("badate", "zoe@example.com", [
        ("From", "zoe@example.com"), ("To", "me@example.org"), ("Subject", "bad date"),
        ("Date", "yesterday, around noon"), ("Message-ID", "<bd@example.com>")])
    add("html-alt", "amy@example.com", [
        ("From", "amy@example.com"), ("To", "me@example.org"), ("Subject", "newsletter"),
        ("MIME-Version", "1.0"), ("Content-Type", "multipart/alternative; boundary=b1"),
        ("Message-ID", "<ha@example.com>")],
        "--b1\r\nContent-Type: text/plain\r\n\r\nUnsubscribe here\r\n--b1--\r\n")
    add("latin1", "ben@example.com", [
        ("From", "ben@example.com"), ("To", "me@example.org"), ("Subject", "latin"),
        ("MIME-Version", "1.0"), ("Content-Type", "text/plain; charset=iso-8859-1"),
        ("Content-Transfer-Encoding", "quoted-printable"), ("Message-ID", "<l1@example.com>")],
        "Gr=FC=DFe aus M=FCnchen\r\n")
    add("noreply", "noreply@service.example", [
        ("From", "noreply@service.example"), ("To", "me@example.org"),
        ("Subject", "Your code is 1234"), ("Message-ID", "<nr@service.example>")])
    add("autosub-no", "cara@example.com", [
        ("From", "cara@example.com"), ("To", "me@example.org"), ("Subject", "manual"),
        ("Auto-Submitted", "no"), ("Message-ID", "<asn@example.com>")])
    add("junkprec", "dan@example.com", [
        ("From", "dan@example.com"), ("To", "me@example.org"), ("Subject", "junk"),
        ("Precedence", "junk"), ("Message-ID", "<jp@example.com>")])
    add("bcc", "eve@example.com", [
        ("From", "eve@example.com"), ("To", "undisclosed-recipients:;"),
        ("Bcc", "me@example.org"), ("Subject", "blind"), ("Message-ID", "<bc@example.com>")])
    add("empty-body", "fay@example.com", [
        ("From", "fay@example.com"), ("To", "me@example.org"), ("Subject", "empty"),
        ("Message-ID", "<eb@example.com>")], "")
    add("sender-hdr", "gus@example.com", [
        ("From", "team@example.com"), ("Sender", "gus@example.com"), ("To", "me@example.org"),
        ("Reply-To", "replies@example.com"), ("Subject", "on behalf"),
        ("Message-ID", "<sh@example.com>")])
    return out


# ---- scripts ----------------------------------------------------------------

def scripts():
    """(name, text) of at least 80 scripts."""
    s = []

    def add(name, text):
        s.append((name, text))

    add("empty", "")
    add("keep", "keep;")
    add("discard", "discard;")
    add("stop", "stop; discard;")
    add("fileinto-list", 'require "fileinto";\nif exists "list-id" { fileinto "Lists"; }')
    add("fileinto-subject", 'require "fileinto";\n'
        'if header :contains "subject" ["budget", "invoice", "order"] { fileinto "Work"; }\n'
        'elsif header :is "subject" "SHOUTING" { fileinto "Loud"; }\nelse { keep; }')
    add("address-domain", 'require "fileinto";\n'
        'if address :domain :is "from" "example.com" { fileinto "Example"; }')
    add("address-local", 'require "fileinto";\n'
        'if address :localpart :matches "from" "*a*" { fileinto "HasA"; }')
    add("address-all-cc", 'require "fileinto";\n'
        'if address :all :is ["to", "cc"] "team@corp.example" { fileinto "Team"; }')
    add("address-count", 'require ["fileinto", "relational", "comparator-i;ascii-numeric"];\n'
        'if address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] "3" '
        '{ fileinto "Crowd"; }')
    add("envelope-from", 'require ["envelope", "fileinto"];\n'
        'if envelope :domain :is "from" "corp.example" { fileinto "Corp"; }')
    add("envelope-null", 'require ["envelope", "fileinto"];\n'
        'if envelope :all :is "from" "" { fileinto "Bounces"; }')
    add("envelope-to", 'require ["envelope", "fileinto"];\n'
        'if envelope :localpart :is "to" "me" { fileinto "Mine"; }')
    add("subaddress-detail", 'require ["fileinto", "subaddress"];\n'
        'if address :detail "to" "lists" { fileinto "Plus"; }\n'
        'if address :user "from" "erin" { fileinto "Erin"; }')
    add("subaddress-env", 'require ["fileinto", "subaddress", "envelope"];\n'
        'if envelope :detail "to" "" { fileinto "EmptyDetail"; }')
    add("size-over", 'require "fileinto";\nif size :over 10K { fileinto "Big"; }')
    add("size-under", 'if size :under 300 { discard; }')
    add("exists-multi", 'require "fileinto";\n'
        'if exists ["x-spam-flag", "x-spam-score"] { fileinto "Spam"; }')
    add("not-exists", 'require "fileinto";\nif not exists "message-id" { fileinto "NoId"; }')
    add("allof", 'require "fileinto";\n'
        'if allof (address :is "from" "boss@corp.example", header :contains "subject" "urgent")'
        ' { fileinto "Now"; }')
    add("anyof", 'require "fileinto";\n'
        'if anyof (header :contains "precedence" ["bulk", "list", "junk"], exists "list-id")'
        ' { fileinto "Bulk"; }')
    add("matches-q", 'require "fileinto";\nif header :matches "subject" "?i" { fileinto "Two"; }')
    add("matches-star", 'require "fileinto";\n'
        'if header :matches "subject" "*\\\\?*" { fileinto "Question"; }')
    add("octet", 'require "fileinto";\n'
        'if header :comparator "i;octet" :is "subject" "shouting" { fileinto "Lower"; }\n'
        'if header :comparator "i;octet" :is "subject" "SHOUTING" { fileinto "Upper"; }')
    add("numeric", 'require ["fileinto", "relational", "comparator-i;ascii-numeric"];\n'
        'if header :value "gt" :comparator "i;ascii-numeric" "x-count" "40" { fileinto "Many"; }')
    add("value-string", 'require ["fileinto", "relational"];\n'
        'if header :value "lt" "subject" "M" { fileinto "AtoL"; }')
    add("count-header", 'require ["fileinto", "relational", "comparator-i;ascii-numeric"];\n'
        'if header :count "eq" :comparator "i;ascii-numeric" "x-tag" "3" { fileinto "Three"; }')
    add("count-received", 'require ["fileinto", "relational", "comparator-i;ascii-numeric"];\n'
        'if header :count "gt" :comparator "i;ascii-numeric" "received" "1" { fileinto "Hops"; }')
    add("regex-subject", 'require ["fileinto", "regex"];\n'
        'if header :regex "subject" "^\\\\[[a-z]+\\\\]" { fileinto "Tagged"; }')
    add("regex-vars", 'require ["fileinto", "regex", "variables"];\n'
        'if header :regex "subject" "^\\\\[([a-z]+)\\\\] (.*)$" { fileinto "lists.${1}"; }')
    add("regex-icase", 'require ["fileinto", "regex"];\n'
        'if header :regex "subject" "order [0-9]+" { fileinto "Orders"; }')
    add("matches-vars", 'require ["fileinto", "variables"];\n'
        'if header :matches "list-id" "*<*.*>" { fileinto "L/${2}"; }')
    add("matches-from", 'require ["fileinto", "variables"];\n'
        'if address :matches :localpart "from" "*" { set "who" "${0}"; }\n'
        'fileinto "From/${who}";')
    add("set-modifiers", 'require ["fileinto", "variables"];\n'
        'set :lower "a" "MiXeD";\nset :upperfirst "b" "${a}";\nset :length "c" "${b}x";\n'
        'fileinto "${a}-${b}-${c}";')
    add("set-quote", 'require ["fileinto", "variables"];\n'
        'set :quotewildcard "q" "a*b?";\n'
        'if string :is "${q}" "a\\\\*b\\\\?" { fileinto "Quoted"; }')
    add("string-test", 'require ["fileinto", "variables"];\n'
        'set "n" "42";\nif string :is "${n}" "42" { fileinto "Answer"; }')
    add("string-count", 'require ["fileinto", "variables", "relational", '
        '"comparator-i;ascii-numeric"];\n'
        'if string :count "eq" :comparator "i;ascii-numeric" ["a", "", "c"] "2" '
        '{ fileinto "TwoStrings"; }')
    add("flags-add", 'require ["fileinto", "imap4flags"];\n'
        'addflag "\\\\Seen";\naddflag ["\\\\Flagged", "work"];\nremoveflag "work";\n'
        'fileinto "Flagged";')
    add("flags-implicit", 'require ["imap4flags"];\n'
        'if address :is "from" "boss@corp.example" { addflag "\\\\Flagged"; }')
    add("flags-tag", 'require ["fileinto", "imap4flags"];\n'
        'fileinto :flags ["\\\\Answered", "custom"] "Tagged";')
    add("flags-set", 'require ["imap4flags"];\nsetflag "a b c";\nremoveflag "B";\nkeep;')
    add("flags-var", 'require ["fileinto", "imap4flags", "variables"];\n'
        'setflag "f" "\\\\Seen";\naddflag "f" "extra";\nfileinto :flags "${f}" "VarFlags";')
    add("hasflag", 'require ["fileinto", "imap4flags"];\naddflag "x y";\n'
        'if hasflag :is "y" { fileinto "HasY"; }\n'
        'if hasflag :contains "z" { fileinto "HasZ"; }')
    add("copy-redirect", 'require "copy";\n'
        'if header :contains "subject" "budget" { redirect :copy "assistant@example.net"; }')
    add("copy-fileinto", 'require ["copy", "fileinto"];\nfileinto :copy "Archive";')
    add("redirect", 'if address :is "from" "alice@example.com" { redirect "alice-fwd@example.net"; }')
    add("redirect-two", 'redirect "x@example.net";\nredirect "y@example.net";')
    add("redirect-dup", 'redirect "x@example.net";\nredirect "x@example.net";')
    add("redirect-limit", 'redirect "a@example.net"; redirect "b@example.net";\n'
        'redirect "c@example.net"; redirect "d@example.net"; redirect "e@example.net";')
    add("reject", 'require "reject";\n'
        'if header :contains "subject" "WON" { reject "No prizes, thanks."; }')
    add("reject-conflict", 'require ["reject", "fileinto"];\n'
        'fileinto "X";\nif true { reject "no"; }')
    add("mailbox-create", 'require ["fileinto", "mailbox"];\nfileinto :create "New/Folder";')
    add("body-contains", 'require ["fileinto", "body"];\n'
        'if body :contains "invoice" { fileinto "Invoices"; }')
    add("body-raw", 'require ["fileinto", "body"];\n'
        'if body :raw :contains "JVBERi0" { fileinto "HasPdf"; }')
    add("body-text-qp", 'require ["fileinto", "body"];\n'
        'if body :text :contains "bananas" { fileinto "Bananas"; }')
    add("body-content", 'require ["fileinto", "body"];\n'
        'if body :content "text/plain" :contains "unsubscribe" { fileinto "News"; }')
    add("body-latin1", 'require ["fileinto", "body"];\n'
        'if body :contains "Grüße" { fileinto "German"; }')
    add("date-year", 'require ["fileinto", "date"];\n'
        'if date :originalzone "date" "year" "2025" { fileinto "Y2025"; }')
    add("date-zone", 'require ["fileinto", "date", "variables"];\n'
        'if date :zone "+0000" "date" "date" "*" { fileinto "D/${0}"; }')
    add("date-matches", 'require ["fileinto", "date", "variables"];\n'
        'if date :zone "-0500" :matches "date" "hour" "*" { fileinto "H${1}"; }')
    add("date-weekday", 'require ["fileinto", "date"];\n'
        'if date :originalzone "date" "weekday" ["0", "6"] { fileinto "Weekend"; }')
    add("date-rel", 'require ["fileinto", "date", "relational"];\n'
        'if date :originalzone :value "lt" "date" "date" "2024-01-01" { fileinto "Old"; }')
    add("date-received", 'require ["fileinto", "date", "variables"];\n'
        'if date :zone "+0000" "received" "time" "*" { fileinto "R/${0}"; }')
    add("date-iso", 'require ["fileinto", "date", "variables"];\n'
        'if date :originalzone :matches "date" "iso8601" "*" { set "d" "${0}"; }\n'
        'if date :originalzone :matches "date" "std11" "*" { set "e" "${0}"; }\n'
        'if date :originalzone "date" "julian" "*" { set "j" "x"; }\n'
        'fileinto "I/${d}|${e}";')
    add("currentdate", 'require ["fileinto", "date", "relational"];\n'
        'if currentdate :value "ge" "year" "2020" { fileinto "Now"; }')
    add("index", 'require ["fileinto", "index"];\n'
        'if header :index 2 :is "x-tag" "two" { fileinto "Second"; }\n'
        'if header :index 1 :last :is "x-tag" "three" { fileinto "Last"; }')
    add("index-received", 'require ["fileinto", "index", "date"];\n'
        'if date :index 1 :last :zone "+0000" "received" "hour" "05" { fileinto "FirstHop"; }')
    add("index-address", 'require ["fileinto", "index"];\n'
        'if address :index 2 :is "to" "b@example.org" { fileinto "SecondTo"; }')
    add("editheader-add", 'require ["fileinto", "editheader"];\naddheader "X-Filtered" "yes";\n'
        'if header :is "x-filtered" "yes" { fileinto "Edited"; }')
    add("editheader-del", 'require ["fileinto", "editheader"];\ndeleteheader "x-tag";\n'
        'if not exists "x-tag" { fileinto "NoTag"; }')
    add("editheader-delval", 'require ["fileinto", "editheader", "relational", '
        '"comparator-i;ascii-numeric"];\n'
        'deleteheader :contains "x-tag" "t";\n'
        'if header :count "eq" :comparator "i;ascii-numeric" "x-tag" "1" { fileinto "OneLeft"; }')
    add("editheader-last", 'require ["fileinto", "editheader", "index"];\n'
        'addheader :last "X-A" "1";\naddheader "X-A" "2";\n'
        'if header :index 1 :is "x-a" "2" { fileinto "Prepended"; }')
    add("spamtest", 'require ["fileinto", "spamtest", "relational", '
        '"comparator-i;ascii-numeric"];\n'
        'if spamtest :value "ge" :comparator "i;ascii-numeric" "5" { fileinto "Junk"; }')
    add("spamtest-zero", 'require ["fileinto", "spamtest"];\n'
        'if spamtest :is "0" { fileinto "Untested"; }')
    add("vacation", 'require "vacation";\nvacation :days 3 :subject "Away" "I am away until Monday.";')
    add("vacation-default", 'require "vacation";\nvacation "Back soon.";')
    add("vacation-from", 'require "vacation";\n'
        'vacation :from "Me <me@example.org>" :subject "Holiday" :addresses ["me@example.org"] '
        '"On holiday.";')
    add("vacation-addresses", 'require "vacation";\n'
        'vacation :addresses ["someone-else@example.org", "x@example.net"] "Alias reply.";')
    add("vacation-seconds", 'require "vacation-seconds";\nvacation :seconds 7200 "Short.";')
    add("vacation-cond", 'require ["vacation", "fileinto"];\n'
        'if header :contains "subject" "Lunch" { vacation :subject "Re: lunch" "Eating."; }\n'
        'else { fileinto "Other"; }')
    add("vacation-vars", 'require ["vacation", "variables"];\n'
        'if header :matches "subject" "*" { set "s" "${1}"; }\n'
        'vacation :subject "Re: ${s}" "About ${s}: later.";')
    add("notify", 'require ["enotify"];\n'
        'if address :is "from" "boss@corp.example" '
        '{ notify :message "Mail from the boss" "mailto:me-sms@example.net"; }')
    add("notify-subject", 'require ["enotify"];\nnotify "mailto:pager@example.net?subject=New%20mail";')
    add("valid-notify", 'require ["enotify", "fileinto"];\n'
        'if valid_notify_method "mailto:x@example.net" { fileinto "Valid"; }\n'
        'if valid_notify_method "foo:bar" { fileinto "Bogus"; }')
    add("duplicate", 'require ["duplicate", "fileinto"];\n'
        'if duplicate { fileinto "Dups"; }')
    add("encoded-char", 'require ["fileinto", "encoded-character"];\n'
        'if header :contains "subject" "${hex:4c 75 6e 63 68}" { fileinto "${unicode:263a}"; }')
    add("nested", 'require ["fileinto", "variables"];\n'
        'if exists "from" {\n  if header :contains "subject" "a" {\n'
        '    if not header :contains "subject" "z" { fileinto "A-not-Z"; }\n'
        '    else { fileinto "AZ"; }\n  } elsif header :contains "subject" "o" { fileinto "O"; }\n}')
    add("discard-flag", 'require ["imap4flags"];\naddflag "\\\\Deleted";\n'
        'if size :over 1 { discard; }')
    add("keep-flags", 'require ["imap4flags"];\nkeep :flags "\\\\Seen";\naddflag "later";')
    add("multi-fileinto", 'require ["fileinto"];\nfileinto "A";\nfileinto "B";\nfileinto "A";\nkeep;')
    add("contains-empty", 'require "fileinto";\nif header :contains "subject" "" { fileinto "HasSubject"; }')
    add("header-decoded", 'require "fileinto";\n'
        'if header :contains "subject" "Café" { fileinto "Cafe"; }\n'
        'if address :is "from" "frank@example.com" { fileinto "Frank"; }')
    add("header-folded", 'require "fileinto";\n'
        'if header :is "subject" "a long subject that is folded\tover lines" { fileinto "Folded"; }')
    add("group-address", 'require "fileinto";\n'
        'if address :is "to" "u@example.net" { fileinto "Group"; }')
    add("sender-replyto", 'require "fileinto";\n'
        'if address :is ["sender", "reply-to"] "replies@example.com" { fileinto "ReplyTo"; }')
    add("comments", '# a comment\nrequire /* inline */ "fileinto";\n'
        'if header :is "subject" text:\nLunch tomorrow?\n.\n { fileinto "MultiLineNoMatch"; }\n'
        'if true { fileinto "Always"; } # end')
    return s
