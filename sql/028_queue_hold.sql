-- 028_queue_hold: outbound mail held back by a verdict (issue 21: mail a
-- local user submits that rspamd scores as spam is not sent).
--
-- held: why the recipient is held ("rspamd: reject, score=...") or NULL.
-- A held recipient stays pending but no relay worker takes it, retry and
-- flush leave it alone and it never expires; `mailhub queue release ID`
-- (or POST /api/v1/queue/{id}/release) clears it and makes it due now,
-- `mailhub queue delete ID` drops the message.
ALTER TABLE queue_recipients ADD COLUMN held TEXT;
