-- 055_twoway_dirty: what a two-way sync of a folder must read
-- (daemon/fetch/twoway.c) found without reading every link of the folder
-- and every message of its mailbox.
--
-- upstream_links.dirty: 1 when the link's local message has other synced
-- flags (23: \Seen \Answered \Flagged \Draft) or other keywords than the
-- link's base, or no message is there; kept true by the triggers below
-- whichever code writes a message's flags or a link.  With QRESYNC the
-- upstream says which of its messages changed or went (RFC 7162 §3.2.5),
-- so a folder's sync reads the links it names, and those that are dirty
-- or not LIVE (state <> 0): upstream_links_pending holds just those.
ALTER TABLE upstream_links ADD COLUMN dirty INTEGER NOT NULL DEFAULT 0;
UPDATE upstream_links SET dirty = coalesce((SELECT (m.flags & 23) <> (upstream_links.flags & 23)
	OR coalesce(m.keywords, '') <> upstream_links.keywords FROM messages m
	WHERE m.id = upstream_links.message_id), 1);
-- The queries name the same expression for SQLite to use the index.
CREATE INDEX upstream_links_pending ON upstream_links(upstream_id, folder, uid)
	WHERE (state <> 0 OR dirty <> 0);

-- Each writes only when the mark changes (a link is written, and the
-- partial index kept, for a real difference only).
CREATE TRIGGER upstream_links_dirty_message AFTER UPDATE OF flags, keywords ON messages
	WHEN (OLD.flags & 23) <> (NEW.flags & 23) OR OLD.keywords IS NOT NEW.keywords
BEGIN
	UPDATE upstream_links SET dirty = NOT dirty WHERE message_id = NEW.id
		AND dirty <> ((NEW.flags & 23) <> (flags & 23)
			OR coalesce(NEW.keywords, '') <> keywords);
END;
CREATE TRIGGER upstream_links_dirty_insert AFTER INSERT ON upstream_links
	WHEN NEW.dirty <> coalesce((SELECT (m.flags & 23) <> (NEW.flags & 23)
		OR coalesce(m.keywords, '') <> NEW.keywords FROM messages m
		WHERE m.id = NEW.message_id), 1)
BEGIN
	UPDATE upstream_links SET dirty = NOT dirty WHERE id = NEW.id;
END;
CREATE TRIGGER upstream_links_dirty_update AFTER UPDATE OF flags, keywords, message_id
	ON upstream_links
	WHEN NEW.dirty <> coalesce((SELECT (m.flags & 23) <> (NEW.flags & 23)
		OR coalesce(m.keywords, '') <> NEW.keywords FROM messages m
		WHERE m.id = NEW.message_id), 1)
BEGIN
	UPDATE upstream_links SET dirty = NOT dirty WHERE id = NEW.id;
END;
