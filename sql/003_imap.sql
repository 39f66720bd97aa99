-- 003_imap: what the IMAP server reads most, without touching table rows.
--
-- SELECT loads the view of a mailbox (UID, flags, keywords, MODSEQ of every
-- message, in UID order): with this covering index a 100,000-message
-- mailbox is one index scan instead of 100,000 row lookups.
CREATE INDEX messages_imap_view ON messages(mailbox_id, uid, flags, modseq, keywords);
