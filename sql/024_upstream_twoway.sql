-- 024_upstream_twoway: two-way sync of IMAP upstream accounts
-- (daemon/fetch/twoway.c): local flag changes, moves and deletions of
-- fetched messages go back to the upstream, upstream changes come down.
ALTER TABLE upstreams ADD COLUMN two_way INTEGER NOT NULL DEFAULT 0;
-- The upstream folder's HIGHESTMODSEQ (RFC 7162) when its last two-way
-- sync completed: the next one asks only for what changed since (0: scan
-- every message's flags).
ALTER TABLE upstream_folders ADD COLUMN modseq INTEGER NOT NULL DEFAULT 0;

-- One row per fetched message of a two-way account: the local message and
-- the upstream one (folder, UIDVALIDITY, UID), the raw SHA-256 the upstream
-- sent (to know it again after a UIDVALIDITY change or a move without
-- COPYUID), the local blob (to find it after a local move), and the flags
-- and keywords both sides had at the last sync (the base of the three-way
-- merge).  It is also the journal of what is owed to the upstream:
--   state 0 live         both sides have it
--         1 local_gone   deleted (or moved) here: delete (or move) upstream
--         2 moving       UID MOVE to dest is being sent (recorded before)
--         3 unresolved   its upstream UID is unknown (UIDVALIDITY changed,
--                        or a move without COPYUID): found again by hash
--         4 unresolved_gone  the same, deleted here meanwhile
--         5 remote_gone  expunged upstream: being expunged here
-- Every state is written in a committed transaction before the upstream
-- command it stands for is sent, and every command is idempotent, so a
-- crash at any instant is repaired by sending it again.
CREATE TABLE upstream_links (
	id INTEGER PRIMARY KEY,
	upstream_id INTEGER NOT NULL REFERENCES upstreams(id) ON DELETE CASCADE,
	message_id INTEGER,
	folder TEXT NOT NULL,
	uidvalidity INTEGER NOT NULL,
	uid INTEGER NOT NULL,
	raw_hash TEXT NOT NULL,
	blob TEXT NOT NULL,
	flags INTEGER NOT NULL DEFAULT 0,
	keywords TEXT NOT NULL DEFAULT '',
	state INTEGER NOT NULL DEFAULT 0,
	dest TEXT
);
CREATE INDEX upstream_links_message ON upstream_links(message_id)
	WHERE message_id IS NOT NULL;
CREATE INDEX upstream_links_folder ON upstream_links(upstream_id, folder, uid);
CREATE INDEX upstream_links_hash ON upstream_links(upstream_id, raw_hash);

-- A local message goes (expunge, the source of a move, its mailbox
-- deleted), whichever code removes it: its link remembers that the
-- upstream owes a deletion, unless the upstream expunged it first.
CREATE TRIGGER upstream_links_message_gone AFTER DELETE ON messages
	WHEN EXISTS (SELECT 1 FROM upstream_links WHERE message_id = OLD.id)
BEGIN
	DELETE FROM upstream_links WHERE message_id = OLD.id AND state = 5;
	UPDATE upstream_links SET message_id = NULL,
		state = CASE state WHEN 0 THEN 1 WHEN 3 THEN 4 ELSE state END
		WHERE message_id = OLD.id;
END;
