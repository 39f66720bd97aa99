-- 034_search_html: SEARCH reads HTML parts as their text (mail/htmltext.h:
-- tags, comments, script and style removed, character references decoded,
-- white space collapsed), in the scan and in the full-text index alike.
-- The index of a message stored before holds its HTML with the markup, so
-- the blobs that may have an HTML part lose their keys and indexed text
-- here: their messages are searched by reading them (pending) until the
-- background pass (searchdb_index_pass()) indexes them again, and SORT
-- computes their keys from the file meanwhile.  "May have": a cached
-- BODYSTRUCTURE that names html anywhere, or none cached; the others'
-- text does not change and their index stays.
DELETE FROM blob_text WHERE rowid IN (SELECT k.id FROM blob_keys k
	WHERE k.blob IN (SELECT m.blob FROM messages m
		WHERE m.bodystructure IS NULL OR m.bodystructure LIKE '%html%'));
-- (the trigger blob_keys_fields_delete removes their blob_fields rows)
DELETE FROM blob_keys WHERE blob IN (SELECT m.blob FROM messages m
	WHERE m.bodystructure IS NULL OR m.bodystructure LIKE '%html%');
INSERT OR IGNORE INTO search_pending (mailbox_id, uid)
	SELECT m.mailbox_id, m.uid FROM messages m
	WHERE NOT EXISTS (SELECT 1 FROM blob_keys k WHERE k.blob = m.blob);
INSERT OR IGNORE INTO fields_pending (mailbox_id, uid)
	SELECT m.mailbox_id, m.uid FROM messages m
	WHERE NOT EXISTS (SELECT 1 FROM blob_keys k WHERE k.blob = m.blob);
