-- 054_blob_names_pending: messages whose rows committed before the name of
-- their blob was known to be durable.  The SMTP server links a message's
-- blob into blobs/XX and commits its rows while the fsync of that folder
-- runs (store/blob.h, blob_writer_link()); it answers 250 only once both
-- the folder's fsync and the WAL's flush are done.  A crash between them
-- (power, kernel) may leave rows whose blob has no name, for a message
-- never acknowledged: `mailhub fsck --repair` removes those rows (the
-- messages referring to blob with id >= first_message), and no others.
-- Each row is written in the delivery's transaction and deleted by a
-- later one once the fsync succeeded.
CREATE TABLE blob_names_pending (
	id INTEGER PRIMARY KEY,
	blob TEXT NOT NULL,
	first_message INTEGER NOT NULL
);
