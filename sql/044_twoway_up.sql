-- 044_twoway_up: two-way sync of what is made here (daemon/fetch/twoway_up.c):
-- messages added locally to a mirrored folder go up by APPEND, and folders
-- created, renamed and deleted locally under the account's tree go up too.
--
-- The local mailbox each upstream folder was last synced with (mirroring
-- two-way accounts): a mailbox of that id under another name was renamed
-- here, no mailbox of that id was deleted here.  No foreign key: the row
-- must outlive its mailbox to tell that.
ALTER TABLE upstream_folders ADD COLUMN mailbox_id INTEGER;

-- upstream_links gains two states for messages going up:
--   state 6 uploading       APPEND to folder recorded before it is sent;
--                           uid 0 until APPENDUID (or the search by
--                           Message-ID, or the raw hash when the folder is
--                           fetched) says which upstream message it is
--         7 uploading_gone  the same, deleted here meanwhile
-- raw_hash is then the local blob's hash: the bytes sent are the blob's.
DROP TRIGGER upstream_links_message_gone;
CREATE TRIGGER upstream_links_message_gone AFTER DELETE ON messages
	WHEN EXISTS (SELECT 1 FROM upstream_links WHERE message_id = OLD.id)
BEGIN
	DELETE FROM upstream_links WHERE message_id = OLD.id AND state = 5;
	UPDATE upstream_links SET message_id = NULL,
		state = CASE state WHEN 0 THEN 1 WHEN 3 THEN 4 WHEN 6 THEN 7 ELSE state END
		WHERE message_id = OLD.id;
END;

-- A message moved here from another folder of the account is found by the
-- blob of the link its source left (state 1, message_id NULL).
CREATE INDEX upstream_links_gone_blob ON upstream_links(blob) WHERE message_id IS NULL;
