-- 036_import_jobs: the panel's imports from a remote IMAP account, run in
-- the background by the daemon (fetch/import_job.h).
--
-- One row per user: the last import started for them.  While it runs
-- (state 'running') the row holds what the daemon needs to resume it after
-- a restart, the source's password sealed (core/seal.h); the password is
-- wiped when the import ends, whatever the end.  The counts are those of
-- the last run (a resumed import counts again from the start, the messages
-- it brought in before as "skipped"); errors are in plain words, one a line.
CREATE TABLE import_jobs (
	user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	host TEXT NOT NULL,
	port INTEGER NOT NULL,
	tls TEXT NOT NULL,
	tls_verify TEXT NOT NULL,
	username TEXT NOT NULL,
	password_sealed TEXT,
	folders TEXT,
	allow_private INTEGER NOT NULL DEFAULT 0,
	started_by TEXT NOT NULL,
	state TEXT NOT NULL,
	started INTEGER NOT NULL,
	finished INTEGER,
	folders_done INTEGER NOT NULL DEFAULT 0,
	folders_total INTEGER NOT NULL DEFAULT 0,
	messages_done INTEGER NOT NULL DEFAULT 0,
	messages_total INTEGER NOT NULL DEFAULT 0,
	imported INTEGER NOT NULL DEFAULT 0,
	skipped INTEGER NOT NULL DEFAULT 0,
	failed INTEGER NOT NULL DEFAULT 0,
	resumed INTEGER NOT NULL DEFAULT 0,
	errors TEXT
);
