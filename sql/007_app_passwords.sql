-- 007_app_passwords: what mail clients log in with besides the password.

-- The user's SCRAM-SHA-256 keys (RFC 5802 §3, RFC 7677) in Dovecot's form
-- "{SCRAM-SHA-256}ITERATIONS,SALT,STOREDKEY,SERVERKEY" (base64 fields), set
-- with the password; NULL for a password set before this column existed
-- (such a user cannot use SCRAM until the password is next changed).
ALTER TABLE users ADD COLUMN scram TEXT;

-- App passwords: server-generated passwords for IMAP, POP3 and SMTP AUTH
-- only (never the panel), one per mail client, revocable.  tag is
-- HMAC-SHA-256 under a key derived from data_dir/secret.key over the
-- password, so a login finds its one candidate row without trying every
-- hash; password_hash ({CRYPT}$y$..., yescrypt) is then checked as for the
-- user's password.  scram holds the password's SCRAM keys (same form as
-- users.scram, and the user's salt).
CREATE TABLE app_passwords (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	tag TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	scram TEXT NOT NULL,
	created INTEGER NOT NULL,
	last_used INTEGER NOT NULL DEFAULT 0,	-- 0: never
	last_protocol TEXT,			-- "imap", "pop3", "smtp"
	UNIQUE (user_id, name),
	UNIQUE (user_id, tag)
);
