-- 018_sieve: Sieve scripts (RFC 5228) and what delivery remembers for them.
--
-- sieve_scripts: each user's scripts by name (RFC 5804 §1.6 names); at
-- most one is active and runs at final delivery.  The text is stored as
-- uploaded, and was compiled without error when it was stored.
CREATE TABLE sieve_scripts (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	script TEXT NOT NULL,
	active INTEGER NOT NULL DEFAULT 0,
	updated INTEGER NOT NULL,
	UNIQUE (user_id, name)
);
CREATE UNIQUE INDEX sieve_scripts_active ON sieve_scripts(user_id) WHERE active = 1;

-- sieve_memory: vacation replies sent (kind 1, RFC 5230 §4.2: once per
-- period per sender and handle) and duplicate ids seen (kind 2, RFC 7352),
-- by the SHA-256 the interpreter gives, until they expire.
CREATE TABLE sieve_memory (
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	kind INTEGER NOT NULL,
	id TEXT NOT NULL,
	expires INTEGER NOT NULL,
	PRIMARY KEY (user_id, kind, id)
);
CREATE INDEX sieve_memory_expires ON sieve_memory(expires);

-- Whether the user's active script also runs on what an upstream
-- account fetches (off by default: fetched mail goes to its target).
ALTER TABLE upstreams ADD COLUMN sieve INTEGER NOT NULL DEFAULT 0;
