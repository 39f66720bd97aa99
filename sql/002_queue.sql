-- 002_queue: the outbound queue (mail for remote recipients, and the record
-- of local deliveries that failed after the message was accepted, so that a
-- bounce can be sent).
--
-- One queue_messages row per accepted message that has anything to send;
-- its blob is the same immutable file under blobs/ that local mailboxes
-- reference (a blob referenced here is never garbage-collected).  One
-- queue_recipients row per envelope recipient, each with its own state and
-- retry schedule, so that a message to three hosts is retried per host.

CREATE TABLE queue_messages (
	id INTEGER PRIMARY KEY,
	qid TEXT NOT NULL,			-- the id in "250 ... queued as QID" and in the log
	blob TEXT NOT NULL,			-- SHA-256 hex of the message file
	size INTEGER NOT NULL,
	sender TEXT NOT NULL,			-- envelope sender; '' for the null reverse-path
	user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,	-- who submitted it, NULL for inbound
	ret TEXT CHECK (ret IS NULL OR ret IN ('FULL', 'HDRS')),	-- RFC 3461 §4.3
	envid TEXT,				-- RFC 3461 §4.4, xtext as received
	body TEXT CHECK (body IS NULL OR body IN ('7BIT', '8BITMIME')),	-- RFC 6152
	smtputf8 INTEGER NOT NULL DEFAULT 0,	-- RFC 6531: must be relayed with SMTPUTF8
	kind TEXT NOT NULL DEFAULT 'relay' CHECK (kind IN ('relay', 'bounce')),
	created INTEGER NOT NULL
);
CREATE INDEX queue_messages_blob ON queue_messages(blob);
CREATE INDEX queue_messages_qid ON queue_messages(qid);

-- state: pending (never tried or due), deferred (a temporary failure, due
-- again at next_attempt), delivered, failed (permanent, or past the queue
-- lifetime).  notify: RFC 3461 NOTIFY bits (1 NEVER, 2 SUCCESS, 4 FAILURE,
-- 8 DELAY), 0 when the client gave none.  dsn_sent: a DSN (bounce, delay or
-- success notice) has been generated for this recipient's current state.
CREATE TABLE queue_recipients (
	id INTEGER PRIMARY KEY,
	message_id INTEGER NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
	address TEXT NOT NULL,
	orcpt TEXT,				-- RFC 3461 §4.2, "addr-type;xtext" as received
	notify INTEGER NOT NULL DEFAULT 0,
	state TEXT NOT NULL DEFAULT 'pending'
		CHECK (state IN ('pending', 'deferred', 'delivered', 'failed')),
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,		-- seconds since the epoch
	last_attempt INTEGER,
	last_reply TEXT,			-- the remote reply or our reason, for DSNs and the panel
	dsn_sent INTEGER NOT NULL DEFAULT 0,
	UNIQUE (message_id, address)
);
CREATE INDEX queue_recipients_message ON queue_recipients(message_id);
-- the workers' question: what is due now?
CREATE INDEX queue_recipients_due ON queue_recipients(next_attempt)
	WHERE state IN ('pending', 'deferred');
