-- 017_import: what `mailhub import` has brought in already.
--
-- One row per message imported into a mailbox, named by where it came
-- from: "md:" and the Maildir file's unique part (the name before ":2,",
-- which stays when the old server changes its flags), "mbox:" and the
-- SHA-256 of the message with its occurrence in the file, "imap:" and the
-- source folder's UIDVALIDITY and UID.  The row is written in the same
-- transaction as the message's, so that an import run again, or resumed
-- after an interruption (even SIGKILL), brings nothing in twice.
CREATE TABLE import_keys (
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	key TEXT NOT NULL,
	PRIMARY KEY (mailbox_id, key)
) WITHOUT ROWID;
