-- 006_mailbox_quota: deleting a mailbox gives its bytes back to the user.
--
-- messages_delete (001) lowers users.used through the message's mailbox,
-- but the ON DELETE CASCADE from a deleted mailbox runs after the mailbox
-- row is gone, when that trigger no longer finds the user: IMAP DELETE of a
-- mailbox with mail left the user's quota used for good.  This trigger
-- runs before the mailbox row goes, while its user is known, and takes off
-- whatever the mailbox still holds (nothing when the caller deleted the
-- messages first, so nothing is taken twice); the cascade's own
-- messages_delete then finds no mailbox and changes no user.  When a user
-- is deleted the user row is gone first and this changes nothing.
CREATE TRIGGER mailboxes_delete_used BEFORE DELETE ON mailboxes BEGIN
	UPDATE users SET used = max(used - coalesce((SELECT sum(size) FROM messages
		WHERE mailbox_id = OLD.id), 0), 0)
		WHERE id = OLD.user_id;
END;

-- What earlier deletions left behind: every user's used bytes recounted
-- once, as `mailhub fsck --repair` would.
UPDATE users SET used = (SELECT coalesce(sum(m.size), 0) FROM messages m
	JOIN mailboxes b ON b.id = m.mailbox_id WHERE b.user_id = users.id);
