-- 008_accounts: stronger panel accounts.  A credentials epoch that ends a
-- user's sessions and API tokens when their password changes or they are
-- disabled, tokens that expire, and two-factor sign-in with TOTP
-- (RFC 6238) and recovery codes.

-- cred_epoch: a random number drawn again whenever the user's credentials
-- change.  A panel session remembers the epoch it was made under and ends
-- when the user's differs.  It lives here, not in the daemon's memory, so
-- that a change made by another process (`mailhub user passwd` while the
-- daemon runs) ends the daemon's sessions too.  Random rather than a
-- counter: SQLite may give a new user the id of one just deleted, and the
-- new user's epoch must not be one an old session holds.
ALTER TABLE users ADD COLUMN cred_epoch INTEGER NOT NULL DEFAULT 0;
UPDATE users SET cred_epoch = random();

CREATE TRIGGER users_cred_epoch_new AFTER INSERT ON users BEGIN
	UPDATE users SET cred_epoch = random() WHERE id = NEW.id;
END;

-- A new password or a disabled account ends every session and deletes
-- every API token of the user, whichever code wrote the change (the API,
-- the CLI, anything later): the rule lives with the data.
CREATE TRIGGER users_password_changed AFTER UPDATE OF password_hash ON users
	WHEN OLD.password_hash IS NOT NEW.password_hash BEGIN
	UPDATE users SET cred_epoch = random() WHERE id = NEW.id;
	DELETE FROM api_tokens WHERE user_id = NEW.id;
END;
CREATE TRIGGER users_disabled AFTER UPDATE OF enabled ON users
	WHEN OLD.enabled <> 0 AND NEW.enabled = 0 BEGIN
	UPDATE users SET cred_epoch = random() WHERE id = NEW.id;
	DELETE FROM api_tokens WHERE user_id = NEW.id;
END;

-- expires: the Unix time from which the token is refused; 0: never.
ALTER TABLE api_tokens ADD COLUMN expires INTEGER NOT NULL DEFAULT 0;

-- The TOTP secret of a user, sealed like upstream passwords (core/seal:
-- AES-256-GCM under data_dir/secret.key).  enabled is 0 from enrolment
-- until the user confirms with a first code.  last_step is the time step of
-- the last code accepted: a code of that step or an earlier one is refused
-- (RFC 6238 §5.2: each code is accepted once).
CREATE TABLE user_totp (
	user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	secret_sealed TEXT NOT NULL,
	enabled INTEGER NOT NULL DEFAULT 0,
	last_step INTEGER NOT NULL DEFAULT 0,
	created INTEGER NOT NULL
);

-- Single-use recovery codes: the SHA-256 of the code's canonical form
-- (80 random bits each), used: when it was used, 0 while it is not.
CREATE TABLE user_recovery_codes (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	hash TEXT NOT NULL,
	used INTEGER NOT NULL DEFAULT 0,
	UNIQUE (user_id, hash)
);
