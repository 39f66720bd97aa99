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

-- A new password takes the old one's SCRAM keys with it (the caller stores
-- the new one's), and revokes the user's app passwords, as a disabled
-- account does: whoever knew the old password may have made some.  The
-- rule lives with the data, whichever code changes the password.
CREATE TRIGGER users_password_changed_credentials AFTER UPDATE OF password_hash ON users
	WHEN OLD.password_hash IS NOT NEW.password_hash BEGIN
	UPDATE users SET scram = NULL WHERE id = NEW.id;
	DELETE FROM app_passwords WHERE user_id = NEW.id;
END;
CREATE TRIGGER users_disabled_app_passwords AFTER UPDATE OF enabled ON users
	WHEN OLD.enabled <> 0 AND NEW.enabled = 0 BEGIN
	DELETE FROM app_passwords WHERE user_id = NEW.id;
END;
