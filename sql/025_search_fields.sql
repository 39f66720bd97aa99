-- 025_search_fields: the full-text index of SEARCH SUBJECT, FROM, TO, CC,
-- BCC and BODY, beside sql/016's of TEXT.
--
-- blob_fields: per message file (rowid = blob_keys.id), the decoded,
-- case-folded text that each of those keys compares with
-- (mail/searchfields.h): the occurrences of a header field one a line
-- (address fields with their addresses spelled out), the text parts for
-- BODY.  A MATCH of the trigrams of a string in one column narrows; the
-- stored column then confirms with instr() byte for byte, so answers
-- equal a scan of the files.  detail=column (not none) because a query
-- names its column.  Written with the blob's keys at delivery or APPEND,
-- in the same transaction; removed with them.
CREATE VIRTUAL TABLE blob_fields USING fts5(subject, hfrom, hto, hcc,
	hbcc, body, tokenize = 'trigram', detail = 'column');

CREATE TRIGGER blob_keys_fields_delete AFTER DELETE ON blob_keys BEGIN
	DELETE FROM blob_fields WHERE rowid = OLD.id;
END;

-- fields_pending: the messages whose blob has no row in blob_fields (yet),
-- searched by reading them until the background pass indexes them
-- (searchdb_index_pass()), which also removes their rows here.
CREATE TABLE fields_pending (
	mailbox_id INTEGER NOT NULL,
	uid INTEGER NOT NULL,
	PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE TRIGGER messages_fields_pending AFTER INSERT ON messages
	WHEN NOT EXISTS (SELECT 1 FROM blob_fields WHERE rowid =
		(SELECT id FROM blob_keys WHERE blob = NEW.blob))
BEGIN
	INSERT OR IGNORE INTO fields_pending (mailbox_id, uid)
		VALUES (NEW.mailbox_id, NEW.uid);
END;
CREATE TRIGGER messages_fields_pending_delete AFTER DELETE ON messages BEGIN
	DELETE FROM fields_pending WHERE mailbox_id = OLD.mailbox_id
		AND uid = OLD.uid;
END;
-- the mail stored before: all of it, until the background pass
INSERT INTO fields_pending (mailbox_id, uid)
	SELECT mailbox_id, uid FROM messages;

-- SAVEDATE (RFC 8514): when a message was stored in its mailbox (delivery,
-- APPEND, COPY, MOVE), in UTC seconds; NULL for mail stored before this
-- migration, for which FETCH SAVEDATE and SEARCH SAVED* take the internal
-- date.
ALTER TABLE messages ADD COLUMN save_date INTEGER;

-- QUOTA's MESSAGE resource (RFC 9208 §5.2): the most messages a user may
-- keep in all their mailboxes, 0 for no limit (`mailhub user add
-- --quota-messages`).  Delivery and APPEND refuse a message past it as
-- they do one past the bytes quota.
ALTER TABLE users ADD COLUMN quota_messages INTEGER NOT NULL DEFAULT 0;
