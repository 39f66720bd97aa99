/*
 * limits: every fixed bound on untrusted input, in one place.
 *
 * Bounds that an administrator may want to change (message size, recipients,
 * connections, timeouts) are settings in the config table (core/config.c),
 * with their defaults there; the ones below are protocol constants or sizes
 * that no configuration needs to move.  Going over any of them is a protocol
 * error for the peer, never a crash or unbounded memory.
 */
#ifndef MAILHUB_CORE_LIMITS_H
#define MAILHUB_CORE_LIMITS_H

/* RFC 5321 §4.5.3.1.4: a command line is at most 512 octets with CRLF.
 * RFC 6531 §3.3 lets SMTPUTF8 addresses be longer; we allow 4 KiB then. */
#define SMTP_COMMAND_LINE_MAX 512
#define SMTP_COMMAND_LINE_UTF8_MAX 4096
/* RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets with CRLF.
 * Real mail breaks this; we accept up to 64 KiB per line before refusing. */
#define SMTP_TEXT_LINE_RFC 1000
#define SMTP_TEXT_LINE_MAX 65536
/* RFC 5321 §4.5.3.1.1-3: local part 64, domain 255, path 256 octets. */
#define SMTP_LOCAL_PART_MAX 64
/* What the SMTP parser takes in a path (for SRS addresses of other hosts
 * and our own: they are longer); the whole path stays within 256. */
#define SMTP_LOCAL_PART_WIRE_MAX 250
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX 256

/* An IMAP command line without its literals (and the largest literal the
 * parser collects). */
#define IMAP_LINE_MAX 65536
/* What one IMAP command may hold in memory: its line, the literals it
 * carries (an APPEND message is streamed to a blob, bounded by the message
 * size, and not counted) and a small cost per argument.  Dovecot bounds a
 * whole command, literals included, by 64 KiB. */
#define IMAP_COMMAND_MAX (256 * 1024)
/* Non-synchronising literals (RFC 7888) of a command refused part-way are
 * on their way anyway: up to this much is read and thrown away, so the
 * session stays in step; a larger one ends the session. */
#define IMAP_LITERAL_SKIP_MAX (64 * 1024 * 1024)
/* Before login, commands are short: LOGIN/AUTHENTICATE with small
 * literals, and ID, whose largest form RFC 2971 §3.3 allows is 30 fields of
 * 30 octets with values of 1024: about 32 KiB, which Dovecot accepts (and
 * imaptest's "id" group sends) before login. */
#define IMAP_PRELOGIN_LINE_MAX (34 * 1024)
#define IMAP_PRELOGIN_LITERAL_MAX 8192
#define IMAP_PRELOGIN_COMMAND_MAX (40 * 1024)
#define IMAP_PRELOGIN_SKIP_MAX 65536
/* Nesting of SEARCH parentheses and NOT/OR chains. */
#define IMAP_SEARCH_DEPTH_MAX 32
/* THREAD=REFERENCES links at most this many of a message's References,
 * the nearest (each link walks up its thread to refuse a loop). */
#define IMAP_THREAD_REFS_MAX 256

/* RFC 1939 §3 / RFC 2449 §4: POP3 command lines are at most 255 octets. */
#define POP3_LINE_MAX 255

/* A SASL response line (base64); PLAIN carries user and password. */
#define SASL_LINE_MAX 12288
/* Addresses and passwords as accepted anywhere. */
#define ADDRESS_MAX 320
#define PASSWORD_MAX 1024
/* core/authcache.h: how long a verified password is remembered (Dovecot's
 * auth_cache_ttl default, 1 hour) and the slots of its fixed table (40
 * bytes each). */
#define AUTH_CACHE_TTL 3600
#define AUTH_CACHE_SLOTS 4096
/* store/viewcache.h: the views of mailboxes of at least this many
 * messages are kept for the next SELECT, this many at a time (24 bytes a
 * message: 2.4 MB for 100,000). */
#define IMAP_VIEW_CACHE_MIN 1000
#define IMAP_VIEW_CACHE_SLOTS 4
/* A SELECT reserves room for the mailbox's count of messages at once up
 * to this many. */
#define IMAP_VIEW_PREALLOC_MAX 4000000

/* Header lines accepted by the MIME parser before the rest counts as body. */
#define MIME_HEADER_LINES_MAX 2000
/* Depth of nested multiparts / message/rfc822 parts the parser descends. */
#define MIME_DEPTH_MAX 20
/* Number of MIME parts the parser records for one message. */
#define MIME_PARTS_MAX 5000
/* ENVELOPE, computed when a message is delivered: bytes of a field's value
 * it takes (a longer Subject is cut), and of the address fields together
 * (From ... Bcc, cut after the last whole address: a parsed address takes
 * some 30 times its bytes), so no header makes it cost more than a few MiB. */
#define MIME_ENVELOPE_FIELD_MAX (256 * 1024)

/* Alias chains are followed this deep before they count as a loop. */
#define ALIAS_DEPTH_MAX 10
/* Destinations one address can expand to. */
#define ALIAS_EXPANSION_MAX 1000

/* Buffered bytes a connection reads ahead. */
#define CONN_READ_CHUNK 16384

/* store: a mailbox name in bytes (with its hierarchy, '/' between levels),
 * and the keywords text of one message. */
#define MAILBOX_NAME_MAX 1024
#define MESSAGE_KEYWORDS_MAX 4096
/* `mailhub import`: a message larger than this is left out (and named). */
#define IMPORT_MESSAGE_MAX (512 * 1024 * 1024)
/* `mailhub import`: messages made durable and added per transaction. */
#define IMPORT_BATCH_MESSAGES 500
/* The same for files on this machine (`mailhub import` of a Maildir or
 * mbox): a syncfs(2) pair and a commit per 2,000 messages (100,000
 * messages: 41 s instead of 55 s by wall time, tests/bench/import_bench.py),
 * with SQLite's page cache of that connection at IMPORT_BULK_CACHE_KIB. */
#define IMPORT_LOCAL_BATCH_MESSAGES 2000
#define IMPORT_BULK_CACHE_KIB (64 * 1024)
/* The fetcher's threads: SQLite's page cache of each one's connection (a
 * 10,000-message two-way account's link and message pages read again on
 * every pass with the default 2 MiB: tests/bench/fetch_twoway_bench.py). */
#define FETCH_CACHE_KIB (16 * 1024)
/* The background indexer's connection: the full-text index's pages that
 * each batch reads again (with SQLite's default 2 MiB, half of its time
 * went to pread(2) of them: tests/bench/imap_bench.py's 100,000 rows). */
#define INDEX_CACHE_KIB (16 * 1024)

/* IMAP server: arguments of one command in all its lists (a SEARCH or a
 * FETCH list), and list nesting before login is over. */
#define IMAP_ARGS_MAX 10000
/* IMAP server: messages whose rows FETCH and SEARCH read from the store in
 * one query. */
#define IMAP_FETCH_BATCH 512

/* SMTP submission: the header block of a message is held in memory to check
 * its From field and add Date and Message-ID; a larger one is refused. */
#define SMTP_SUBMIT_HEADER_MAX (1024 * 1024)
/* SMTP: bytes of a message body written to the blob file at a time. */
#define SMTP_BODY_CHUNK 65536

/* SMTP client (relay): a reply line (RFC 5321 §4.5.3.1.5 says 512 octets;
 * real servers send longer), lines of one multi-line reply, and the text
 * kept of a reply for the queue and DSNs. */
#define SMTP_REPLY_LINE_MAX 4096
#define SMTP_REPLY_LINES_MAX 200
#define SMTP_REPLY_TEXT_MAX 16384
/* Relay: recipients claimed for one domain at a time, and messages sent
 * over one connection before it is closed. */
#define RELAY_BATCH_RCPTS 500
#define RELAY_BATCH_MESSAGES 100
/* DKIM: header fields that are signed at most (h= list). */
#define DKIM_SIGNED_FIELDS_MAX 64
/* DKIM and ARC verification (trust/dkim_verify, trust/arc).  Signatures
 * checked per message (RFC 6376 §6.1: a verifier may limit them; more are
 * reported as not checked); tags in one tag list (§3.2; real ones have
 * about 12); names in one h= list; the header block held in memory to hash
 * the signed fields (as SMTP_SUBMIT_HEADER_MAX); RSA key sizes (under the
 * least is a policy failure, RFC 8301 §3.2; over the most costs too much
 * to check); the clock skew allowed for t= and x= (§3.5); ARC instances
 * (RFC 8617 §4.2.1: i= is 1 to 50); the piece a message file is read in. */
#define DKIM_VERIFY_SIGS_MAX 5
#define DKIM_TAGS_MAX 64
#define DKIM_H_FIELDS_MAX 256
#define DKIM_VERIFY_HEADER_MAX (1024 * 1024)
#define DKIM_RSA_BITS_MIN 1024
#define DKIM_RSA_BITS_MAX 8192
#define DKIM_CLOCK_SKEW 300
#define ARC_INSTANCE_MAX 50
#define DKIM_VERIFY_CHUNK 65536


/* The spam defence (trust/rspamd, trust/dnsbl, trust/rdns, store/spam).
 * rspamd's reply: its JSON body (symbols, URLs and addresses; far less in
 * practice), the symbols kept (the highest scores win), options per
 * symbol, bytes of a name, an option or a message, of a rewritten Subject,
 * and its HTTP head (line length and lines).  A blocklist's TXT in a
 * reply; the PTR names tried for a client's host name (as RFC 7208 §5.5
 * stops at 10); the networks of an allow list; learning jobs waiting
 * (past it, moves are not learned, and logged). */
#define RSPAMD_REPLY_MAX (1024 * 1024)
#define RSPAMD_SYMBOLS_MAX 100
#define RSPAMD_OPTIONS_MAX 5
#define RSPAMD_TEXT_MAX 128
#define RSPAMD_SUBJECT_MAX 512
#define RSPAMD_HEAD_LINE_MAX 4096
#define RSPAMD_HEAD_LINES_MAX 64
#define DNSBL_TEXT_MAX 200
#define RDNS_NAMES_MAX 10
#define CIDR_LIST_MAX 256
#define STORE_LEARN_QUEUE_MAX 10000

#endif
