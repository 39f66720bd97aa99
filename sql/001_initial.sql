-- 001_initial: domains, users, aliases, mailboxes, messages, API tokens.
--
-- Applied once by store_open() inside a transaction and recorded in
-- schema_migrations (created by the store itself).  Never edit this file
-- once released: add sql/NNN_name.sql instead.
--
-- Addresses and domain names are stored lowercased; COLLATE NOCASE keeps
-- the unique indexes right even for a row written by hand.

-- Small settings the store keeps for itself (the UIDVALIDITY counter).
CREATE TABLE meta (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE domains (
	id INTEGER PRIMARY KEY,
	name TEXT NOT NULL UNIQUE COLLATE NOCASE,
	created INTEGER NOT NULL
);

CREATE TABLE users (
	id INTEGER PRIMARY KEY,
	domain_id INTEGER NOT NULL REFERENCES domains(id),
	address TEXT NOT NULL UNIQUE COLLATE NOCASE,
	password_hash TEXT NOT NULL,
	admin INTEGER NOT NULL DEFAULT 0,
	quota INTEGER NOT NULL DEFAULT 0,	-- bytes, 0: unlimited
	used INTEGER NOT NULL DEFAULT 0,	-- sum of messages.size (triggers)
	enabled INTEGER NOT NULL DEFAULT 1,
	created INTEGER NOT NULL
);
CREATE INDEX users_domain ON users(domain_id);

-- source is "local@domain" or "@domain" (the domain's catch-all).
CREATE TABLE aliases (
	id INTEGER PRIMARY KEY,
	domain_id INTEGER NOT NULL REFERENCES domains(id),
	source TEXT NOT NULL UNIQUE COLLATE NOCASE,
	created INTEGER NOT NULL
);
CREATE INDEX aliases_domain ON aliases(domain_id);

CREATE TABLE alias_destinations (
	alias_id INTEGER NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,
	position INTEGER NOT NULL,
	address TEXT NOT NULL,
	PRIMARY KEY (alias_id, position)
) WITHOUT ROWID;

-- uidvalidity comes from meta 'uidvalidity_last' (max(now, last + 1)), so a
-- mailbox deleted and created again never reuses one (RFC 3501 §2.3.1.1).
-- messages and unseen are kept by the triggers below, so STATUS and SELECT
-- on a 100,000-message mailbox do not count rows.
CREATE TABLE mailboxes (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	uidvalidity INTEGER NOT NULL,
	uidnext INTEGER NOT NULL DEFAULT 1,
	highestmodseq INTEGER NOT NULL DEFAULT 1,
	special_use TEXT,
	subscribed INTEGER NOT NULL DEFAULT 1,
	first_recent_uid INTEGER NOT NULL DEFAULT 1,
	messages INTEGER NOT NULL DEFAULT 0,
	unseen INTEGER NOT NULL DEFAULT 0,
	UNIQUE (user_id, name)
);

-- flags: bit 0 \Seen, 1 \Answered, 2 \Flagged, 3 \Deleted, 4 \Draft
-- (enum store_flag).  keywords: space-separated, NULL when none.
-- envelope and bodystructure: the IMAP cache, filled later.
CREATE TABLE messages (
	id INTEGER PRIMARY KEY,
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid INTEGER NOT NULL,
	modseq INTEGER NOT NULL,
	flags INTEGER NOT NULL DEFAULT 0,
	keywords TEXT,
	internal_date INTEGER NOT NULL,
	size INTEGER NOT NULL,
	blob TEXT NOT NULL,
	envelope TEXT,
	bodystructure TEXT,
	UNIQUE (mailbox_id, uid)
);
-- fsck, gc and "is this blob referenced" look messages up by blob.
CREATE INDEX messages_blob ON messages(blob);
-- CONDSTORE: FETCH/SEARCH (CHANGEDSINCE n), RFC 7162 §3.1.
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
-- SELECT's [UNSEEN n] and SEARCH UNSEEN; the query must use the same
-- expression "flags & 1 = 0" for SQLite to pick the partial index.
CREATE INDEX messages_unseen ON messages(mailbox_id, uid) WHERE flags & 1 = 0;
-- EXPUNGE / CLOSE: the \Deleted messages, "flags & 8 <> 0".
CREATE INDEX messages_deleted ON messages(mailbox_id, uid) WHERE flags & 8 <> 0;

CREATE TRIGGER messages_insert AFTER INSERT ON messages BEGIN
	UPDATE mailboxes SET messages = messages + 1,
		unseen = unseen + (NEW.flags & 1 = 0)
		WHERE id = NEW.mailbox_id;
	UPDATE users SET used = used + NEW.size
		WHERE id = (SELECT user_id FROM mailboxes WHERE id = NEW.mailbox_id);
END;

-- A cascade from a deleted mailbox runs after the mailbox row is gone, when
-- this trigger no longer finds its user: delete a mailbox's messages first.
CREATE TRIGGER messages_delete AFTER DELETE ON messages BEGIN
	UPDATE mailboxes SET messages = messages - 1,
		unseen = unseen - (OLD.flags & 1 = 0)
		WHERE id = OLD.mailbox_id;
	UPDATE users SET used = max(used - OLD.size, 0)
		WHERE id = (SELECT user_id FROM mailboxes WHERE id = OLD.mailbox_id);
END;

CREATE TRIGGER messages_seen AFTER UPDATE OF flags ON messages
	WHEN (OLD.flags & 1) <> (NEW.flags & 1) BEGIN
	UPDATE mailboxes SET unseen = unseen + (NEW.flags & 1 = 0) - (OLD.flags & 1 = 0)
		WHERE id = NEW.mailbox_id;
END;

-- API bearer tokens: only the SHA-256 of the token is kept.
CREATE TABLE api_tokens (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	hash TEXT NOT NULL UNIQUE,
	prefix TEXT NOT NULL,
	name TEXT NOT NULL,
	created INTEGER NOT NULL,
	last_used INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);
