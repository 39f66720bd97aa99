-- 009_subscriptions: IMAP subscriptions as a list of names of their own
-- (RFC 3501 §6.3.6): a name may be subscribed without a mailbox of that
-- name (a client subscribes before it creates, or the mailbox was deleted:
-- the server must not drop the subscription on its own), and creating a
-- mailbox over IMAP does not subscribe it.
CREATE TABLE subscriptions (
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	PRIMARY KEY (user_id, name)
) WITHOUT ROWID;
INSERT INTO subscriptions (user_id, name)
	SELECT user_id, name FROM mailboxes WHERE subscribed = 1;
-- mailboxes.subscribed now says only whether a new mailbox starts out
-- subscribed: the ones the server makes (INBOX, Sent, Junk, a fetcher's
-- target) do, the ones a client CREATEs do not.
CREATE TRIGGER mailboxes_subscribe_new AFTER INSERT ON mailboxes
	WHEN NEW.subscribed = 1
BEGIN
	INSERT OR IGNORE INTO subscriptions (user_id, name)
		VALUES (NEW.user_id, NEW.name);
END;
