-- 014_spam: the state of the spam defence ([spam] in mailhub.conf(5)).
--
-- spam_learn: messages a user moved into Junk (learn as spam) or out of it
-- (learn as ham), waiting for the spam worker to teach rspamd's controller
-- (POST /learnspam, /learnham).  Rows are written in the transaction of
-- the IMAP MOVE/COPY (or after the APPEND) that caused them, so a job is
-- never lost to a restart, and the IMAP command does not wait for rspamd.
-- A row holds its blob (store_blob_gc() counts it as a reference) until it
-- is done.  One row per (user, blob): moving a message back replaces it.
CREATE TABLE spam_learn (
	id INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	blob TEXT NOT NULL,
	spam INTEGER NOT NULL,		-- 1: spam, 0: ham
	created INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_try INTEGER NOT NULL,
	last_error TEXT,
	UNIQUE (user_id, blob)
);
CREATE INDEX spam_learn_due ON spam_learn(next_try);
CREATE INDEX spam_learn_blob ON spam_learn(blob);

-- greylist: the (client network, sender, recipient) triplets seen on
-- port 25, by the SHA-256 of their text (trust/greylist.h), with when the
-- triplet was first tried and last passed.  A triplet passes once it is
-- retried after [spam] greylist_delay (within greylist_retry_window), and
-- goes on passing until it has not been seen for greylist_expire; the
-- spam worker sweeps the rest.
CREATE TABLE greylist (
	key TEXT PRIMARY KEY,
	first_seen INTEGER NOT NULL,
	last_seen INTEGER NOT NULL,
	passed INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX greylist_last_seen ON greylist(last_seen);
