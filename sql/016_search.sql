-- 016_search: what SORT, THREAD and SEARCH read instead of message files.
--
-- blob_keys: the sort and thread keys of a message file (mail/sortkeys.h),
-- one row per blob, so a message copied to five mailboxes or delivered to
-- five users is parsed and indexed once.  Written with the first message
-- row of the blob at delivery or APPEND (the parse runs before the write
-- transaction), or by the background pass for mail stored before this
-- migration; removed with the last message row of its blob.
--   sent_date: Date: in UTC seconds, NULL when missing or unparsable (SORT
--     DATE then uses the internal date, RFC 5256 §2.2).
--   subject: the base subject (RFC 5256 §2.1), case-mapped; subject_reply
--     when the subject said reply or forward.
--   from_addr, to_addr, cc_addr: addr-mailbox of the first address;
--   display_from, display_to: RFC 5957's display names; all case-mapped.
--   message_id, refs: for THREAD=REFERENCES (space-separated ids).
--   indexed: 1 when blob_text holds the message's SEARCH TEXT text (a
--     message whose text has a NUL byte is searched by reading it).
CREATE TABLE blob_keys (
	id INTEGER PRIMARY KEY,
	blob TEXT NOT NULL UNIQUE,
	sent_date INTEGER,
	subject TEXT NOT NULL,
	subject_reply INTEGER NOT NULL,
	from_addr TEXT NOT NULL,
	to_addr TEXT NOT NULL,
	cc_addr TEXT NOT NULL,
	display_from TEXT NOT NULL,
	display_to TEXT NOT NULL,
	message_id TEXT,
	refs TEXT,
	indexed INTEGER NOT NULL
);

-- blob_text: the decoded, case-folded text of SEARCH TEXT (headers and
-- text parts in every charset and transfer encoding, embedded messages
-- included), rowid = blob_keys.id.  The trigram index finds the messages
-- that hold every trigram of a string of three or more characters (with
-- detail=none it keeps no positions, a third of the size); the stored
-- text then confirms it byte for byte, so answers equal a scan of the
-- files.
CREATE VIRTUAL TABLE blob_text USING fts5(text, tokenize = 'trigram',
	detail = 'none');

CREATE TRIGGER messages_blob_keys_delete AFTER DELETE ON messages
	WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob = OLD.blob)
BEGIN
	DELETE FROM blob_text WHERE rowid =
		(SELECT id FROM blob_keys WHERE blob = OLD.blob);
	DELETE FROM blob_keys WHERE blob = OLD.blob;
END;

-- search_pending: the messages whose blob has no indexed text (yet), so
-- that SEARCH TEXT knows which to read without joining every message of
-- the mailbox to blob_keys.  A row comes with a message whose blob is not
-- indexed, and goes when its blob's keys arrive indexed or the message
-- goes.
CREATE TABLE search_pending (
	mailbox_id INTEGER NOT NULL,
	uid INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE TRIGGER messages_search_pending AFTER INSERT ON messages
	WHEN NOT EXISTS (SELECT 1 FROM blob_keys WHERE blob = NEW.blob AND indexed = 1)
BEGIN
	INSERT OR IGNORE INTO search_pending (mailbox_id, uid)
		VALUES (NEW.mailbox_id, NEW.uid);
END;
CREATE TRIGGER messages_search_pending_delete AFTER DELETE ON messages BEGIN
	DELETE FROM search_pending WHERE mailbox_id = OLD.mailbox_id
		AND uid = OLD.uid;
END;
CREATE TRIGGER blob_keys_indexed AFTER INSERT ON blob_keys
	WHEN NEW.indexed = 1
BEGIN
	DELETE FROM search_pending WHERE (mailbox_id, uid) IN
		(SELECT mailbox_id, uid FROM messages WHERE blob = NEW.blob);
END;
-- the mail stored before: all of it, until the background pass
INSERT INTO search_pending (mailbox_id, uid)
	SELECT mailbox_id, uid FROM messages;
