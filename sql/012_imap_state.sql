-- 012_imap_state: what IMAP sessions share beyond the messages themselves.
--
-- expunged: what is left of an expunged message, for the sessions that
-- have not been told yet.  RFC 3501 §7.4.1 lets a server send EXPUNGE only
-- between commands that allow it, so a session may still FETCH a message
-- that another session expunged a moment ago: it gets the message (as from
-- Dovecot), not NO [EXPUNGEISSUED].  The row also records the MODSEQ of
-- the expunge, which a QRESYNC client's VANISHED (EARLIER) asks for.
--
-- blob: the message file, while sessions may still read it (the store's
-- sweep clears it after a while, and removes files no row refers to).
CREATE TABLE expunged (
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	uid INTEGER NOT NULL,
	modseq INTEGER NOT NULL,
	blob TEXT,
	size INTEGER NOT NULL,
	internal_date INTEGER NOT NULL,
	envelope TEXT,
	bodystructure TEXT,
	expunged_at INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX expunged_blob ON expunged(blob) WHERE blob IS NOT NULL;
CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);

-- Every way a message leaves a mailbox (EXPUNGE, MOVE, POP3 DELE) deletes
-- its row; the mailbox's MODSEQ is raised once after the deletes of a
-- transaction, which is the MODSEQ recorded here.  When the mailbox itself
-- is being deleted (its row is gone before the cascade reaches the
-- messages) nothing is kept.
CREATE TRIGGER messages_expunged AFTER DELETE ON messages
	WHEN EXISTS (SELECT 1 FROM mailboxes WHERE id = OLD.mailbox_id)
BEGIN
	INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq, blob, size,
		internal_date, envelope, bodystructure, expunged_at)
	VALUES (OLD.mailbox_id, OLD.uid,
		(SELECT highestmodseq + 1 FROM mailboxes WHERE id = OLD.mailbox_id),
		OLD.blob, OLD.size, OLD.internal_date, OLD.envelope,
		OLD.bodystructure, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- mailbox_keywords: every keyword ever set on a message of the mailbox, the
-- list each session announces in FLAGS and PERMANENTFLAGS (RFC 3501
-- §7.2.6).  It only grows, as Dovecot's does, so no session's FLAGS ever
-- leaves out a keyword another session has shown its client.  Keywords are
-- IMAP atoms (no '"', '\' or controls), so the space-separated list is
-- read as a JSON array; one that is not (a message stored some other way)
-- is left out here and noted from the messages when a session opens the
-- mailbox.
CREATE TABLE mailbox_keywords (
	mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
	keyword TEXT NOT NULL COLLATE NOCASE,
	PRIMARY KEY (mailbox_id, keyword)
) WITHOUT ROWID;
CREATE TRIGGER messages_keywords_insert AFTER INSERT ON messages
	WHEN NEW.keywords IS NOT NULL AND
	     json_valid('["' || replace(NEW.keywords, ' ', '","') || '"]')
BEGIN
	INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, keyword)
		SELECT NEW.mailbox_id, value
		FROM json_each('["' || replace(NEW.keywords, ' ', '","') || '"]')
		WHERE value <> '';
END;
CREATE TRIGGER messages_keywords_update AFTER UPDATE OF keywords ON messages
	WHEN NEW.keywords IS NOT NULL AND
	     json_valid('["' || replace(NEW.keywords, ' ', '","') || '"]')
BEGIN
	INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, keyword)
		SELECT NEW.mailbox_id, value
		FROM json_each('["' || replace(NEW.keywords, ' ', '","') || '"]')
		WHERE value <> '';
END;
-- the keywords of the messages there already
WITH RECURSIVE split(mailbox_id, keyword, rest) AS (
	SELECT mailbox_id, '', keywords || ' ' FROM messages
		WHERE keywords IS NOT NULL
	UNION ALL
	SELECT mailbox_id, substr(rest, 1, instr(rest, ' ') - 1),
		substr(rest, instr(rest, ' ') + 1)
		FROM split WHERE rest <> ''
)
INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, keyword)
	SELECT mailbox_id, keyword FROM split WHERE keyword <> '';
