-- 004_upstream: upstream POP3/IMAP accounts whose mail the fetcher pulls
-- into a local mailbox, and what it remembers to fetch nothing twice.
--
-- A message is recorded as fetched (upstream_folders.last_uid,
-- upstream_uidls, upstream_hashes) in the same transaction that appends it
-- to the local mailbox, so after a crash at any instant either both exist
-- or neither does; an upstream message is deleted only after that commit.

-- tls_verify: 'system', 'off', or 'pin:' + 64 hex digits (SHA-256 of the
-- server certificate, DER).  password: sealed (core/seal.h), never returned.
-- folders: the upstream folders to fetch, one per line (IMAP; POP3 has one
-- maildrop and ignores it).  state: last_ok/last_error/fetched as the API
-- shows them; failures counts failures in a row (for the backoff).
CREATE TABLE upstreams (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	protocol TEXT NOT NULL CHECK (protocol IN ('imap', 'pop3')),
	host TEXT NOT NULL,
	port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
	tls TEXT NOT NULL CHECK (tls IN ('implicit', 'starttls', 'none')),
	tls_verify TEXT NOT NULL DEFAULT 'system',
	username TEXT NOT NULL,
	password TEXT NOT NULL,
	folders TEXT NOT NULL DEFAULT 'INBOX',
	target TEXT NOT NULL DEFAULT 'INBOX',
	keep INTEGER NOT NULL DEFAULT 1,
	idle INTEGER NOT NULL DEFAULT 1,
	dedupe INTEGER NOT NULL DEFAULT 0,
	interval INTEGER NOT NULL DEFAULT 300,
	enabled INTEGER NOT NULL DEFAULT 1,
	last_ok INTEGER NOT NULL DEFAULT 0,
	last_attempt INTEGER NOT NULL DEFAULT 0,
	last_error TEXT,
	fetched INTEGER NOT NULL DEFAULT 0,
	failures INTEGER NOT NULL DEFAULT 0,
	-- bumped on every change of the settings, so that a running fetcher
	-- (an IDLE connection) notices and starts again with the new ones
	generation INTEGER NOT NULL DEFAULT 1,
	-- set by `upstream run` / the API while the daemon runs: fetch soon
	fetch_requested INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL
);
CREATE INDEX upstreams_user ON upstreams(user_id);

-- IMAP: per upstream folder, the UIDVALIDITY last seen and the highest UID
-- fetched under it.  refetch: the UIDVALIDITY changed and the folder is
-- being fetched again from the start, skipping what upstream_hashes knows.
CREATE TABLE upstream_folders (
	upstream_id INTEGER NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
	folder TEXT NOT NULL,
	uidvalidity INTEGER NOT NULL,
	last_uid INTEGER NOT NULL DEFAULT 0,
	refetch INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (upstream_id, folder)
) WITHOUT ROWID;

-- POP3: the UIDLs already fetched (RFC 1939 §7: unique and persistent).
CREATE TABLE upstream_uidls (
	upstream_id INTEGER NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
	uidl TEXT NOT NULL,
	seen INTEGER NOT NULL,		-- when it was last listed by the server
	PRIMARY KEY (upstream_id, uidl)
) WITHOUT ROWID;

-- SHA-256 of each fetched message as the upstream sent it: a refetch after
-- a UIDVALIDITY change, or a POP3 server without UIDL, skips these.
CREATE TABLE upstream_hashes (
	upstream_id INTEGER NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
	hash TEXT NOT NULL,
	PRIMARY KEY (upstream_id, hash)
) WITHOUT ROWID;

-- Per user: SHA-256 of Message-ID and body of messages delivered from
-- accounts with dedupe on, so the same mail sent to two of the user's
-- accounts arrives once.
CREATE TABLE upstream_dedupe (
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	key TEXT NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
