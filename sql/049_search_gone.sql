-- 049_search_gone: the search index rows of a message file (sql/016
-- blob_keys and blob_text, sql/025 blob_fields) outlive its last message
-- until the background indexer removes them (searchdb_gone_pass()), rather
-- than going in the expunge's own transaction: an FTS5 delete tokenizes the
-- text again, the larger part of what an expunge cost.  SEARCH never
-- returns such a message: every query of the index joins it to messages
-- (live rows), and search_pending and fields_pending lose the message's
-- rows with it.  A file delivered again meanwhile has the same bytes and
-- so the same keys: its rows are its own again and stay.
--
-- blob_keys_gone: the files whose last message went while they had keys.
CREATE TABLE blob_keys_gone (
	blob TEXT PRIMARY KEY
) WITHOUT ROWID;

DROP TRIGGER messages_blob_keys_delete;
CREATE TRIGGER messages_blob_keys_gone AFTER DELETE ON messages
	WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob = OLD.blob)
	AND EXISTS (SELECT 1 FROM blob_keys WHERE blob = OLD.blob)
BEGIN
	INSERT OR IGNORE INTO blob_keys_gone (blob) VALUES (OLD.blob);
END;
