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
