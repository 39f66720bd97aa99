-- 020_imap_sync: what CONDSTORE/QRESYNC (RFC 7162) need beyond sql/012.
--
-- A QRESYNC client asks for the UIDs expunged since the MODSEQ it last
-- saw (VANISHED (EARLIER)).  The expunged table answers that exactly, but
-- the store forgets its rows after a month (imapdb_expunged_sweep()).
-- vanished_modseq keeps the highest MODSEQ of a forgotten expunge record:
-- a client that last synchronised before it gets, as RFC 7162 §3.2.5.2
-- allows, every UID of its known range that is not in the mailbox, rather
-- than a list that misses some.  MODSEQs themselves never shrink: they
-- come from mailboxes.highestmodseq, which only grows, and a mailbox
-- deleted and created again has a new UIDVALIDITY.
ALTER TABLE mailboxes ADD COLUMN vanished_modseq INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER expunged_forgotten AFTER DELETE ON expunged BEGIN
	UPDATE mailboxes SET vanished_modseq = max(vanished_modseq, OLD.modseq)
		WHERE id = OLD.mailbox_id;
END;

-- PREVIEW (RFC 8970): the preview text of a message file, computed once
-- (by the first FETCH PREVIEW) and shared by its copies; it goes with the
-- last message that uses the file.
CREATE TABLE previews (
	blob TEXT PRIMARY KEY,
	preview TEXT NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER messages_preview_gone AFTER DELETE ON messages
	WHEN NOT EXISTS (SELECT 1 FROM messages WHERE blob = OLD.blob)
BEGIN
	DELETE FROM previews WHERE blob = OLD.blob;
END;
