/*
 * data: the pure streaming reader of the DATA body (RFC 5321 §4.1.1.4,
 * §4.5.2).
 *
 * Bytes go in as they come, in pieces of any size; the reader removes the
 * leading dot of dot-stuffed lines, finds the end marker CRLF "." CRLF, and
 * hands the message (with its CRLF line ends, without the end marker) to a
 * sink in runs, so nothing is held whole in memory.
 *
 * Only CRLF ends a line.  A bare LF or a bare CR anywhere is recorded as an
 * error and never taken as a line end, so "<LF>.<LF>" or "<LF>.<CRLF>" can
 * never end the data early (SMTP smuggling); the session refuses such a
 * message once the real end marker has arrived.  Lines over the maximum are
 * recorded too, and the reader must be given every byte of them: only the
 * CRLF that really ends a line, however long, puts it at the start of the
 * next one (the caller never skips bytes it cannot hold; conn has
 * conn_read_line_part() for that).  After the first sink failure the reader
 * stops calling the sink but keeps looking for the end, so the session
 * stays in step.
 *
 * The chunked mode is the same reader for BDAT (RFC 3030): the chunks carry
 * the message as it is, with no dot-stuffing and no end marker, and the
 * same line rules apply, so BDAT and DATA refuse the same messages.
 */
#ifndef MAILHUB_SMTP_DATA_H
#define MAILHUB_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Takes n bytes of message; 0, or -1 to stop the flow (recorded as
 * SMTP_DATA_ERR_SINK). */
typedef int smtp_data_sink(void *ctx, const void *p, size_t n);

/* Problems found in the body, as bits. */
enum smtp_data_error {
	SMTP_DATA_ERR_BARE_LF = 1 << 0,
	SMTP_DATA_ERR_BARE_CR = 1 << 1,
	SMTP_DATA_ERR_LONG_LINE = 1 << 2,
	SMTP_DATA_ERR_SINK = 1 << 3,
};

struct smtp_data {
	int state;		/* internal */
	bool chunked;		/* BDAT: no dot-stuffing, no end marker */
	size_t line_len;	/* bytes of the current line so far */
	size_t max_line;	/* longest line with its CRLF; 0: no limit */
	unsigned errors;	/* enum smtp_data_error bits */
	uint64_t bytes_in;	/* bytes consumed, end marker included */
	uint64_t bytes_out;	/* bytes given to the sink (or that would have been) */
	bool done;
	smtp_data_sink *sink;
	void *ctx;
};

/* Starts reading a DATA body. */
void smtp_data_init(struct smtp_data *d, size_t max_line, smtp_data_sink *sink,
		    void *ctx);
/* Starts reading a BDAT body (all its chunks, in order). */
void smtp_data_init_chunked(struct smtp_data *d, size_t max_line,
			    smtp_data_sink *sink, void *ctx);

/*
 * Feeds in[0..n).  Returns the number of bytes consumed: all of them, or
 * fewer when the end marker was found (then d->done is set and the bytes
 * after it belong to the next command).  Never fails: problems are recorded
 * in d->errors.  In chunked mode all bytes are always consumed.
 */
size_t smtp_data_feed(struct smtp_data *d, const void *in, size_t n);

/* Chunked mode: the last chunk has been fed.  A CR that ended it had no LF
 * after it: it was bare.  Sets d->done. */
void smtp_data_end(struct smtp_data *d);

#endif
