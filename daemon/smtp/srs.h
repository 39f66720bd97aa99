/*
 * srs: the Sender Rewriting Scheme, as libsrs2 and postsrsd write it, so
 * that mail an alias forwards to another domain leaves with an envelope
 * sender of ours (the receiver's SPF check passes) and bounces to it find
 * their way back:
 *
 *     alice@remote.example, forwarded through example.org, leaves as
 *     SRS0=HHHH=TT=remote.example=alice@example.org
 *
 * TT is the day (two base32 characters of days since the epoch, modulo
 * 1024), HHHH the first four base64 characters of HMAC-SHA1(secret,
 * lowercase(TT domain local)).  A sender that is an SRS0 address of
 * another forwarder is wrapped as SRS1 ("guarded" scheme), whose reversal
 * gives back that forwarder's SRS0 address.  A reversal checks the hash
 * (with any of the secrets, ASCII case ignored as libsrs2 does, since some
 * MTAs change it) and the age (SRS_MAX_AGE_DAYS).
 *
 * The functions over a key are pure (time comes in), for tests; the
 * process's key is derived from data_dir/secret.key once at start.
 */
#ifndef MAILHUB_SMTP_SRS_H
#define MAILHUB_SMTP_SRS_H

#include <stddef.h>
#include <time.h>

#include "core/buf.h"

/* How long a bounce address stays good (libsrs2's default). */
#define SRS_MAX_AGE_DAYS 21
/* Base64 characters of the hash. */
#define SRS_HASH_LEN 4
/* The longest address we make or read (RFC 5321 §4.5.3.1.3: a path is
 * 256 octets with its angle brackets). */
#define SRS_ADDRESS_MAX 254

struct srs_key {
	const char *const *secrets;	/* the first signs; all verify */
	size_t n;
};

/*
 * The address to send as when mail from sender is forwarded through
 * alias_domain: 1 with it appended to out, 0 when sender needs no
 * rewriting (the null sender, no '@', or already of alias_domain), -1 when
 * the result would be too long (then the caller keeps the sender).
 */
int srs_forward(const struct srs_key *k, const char *sender, const char *alias_domain,
		time_t now, struct buf *out);

/*
 * Reverses an address of ours (its local part is what counts): 1 with the
 * address to send to appended to out, 0 when it is no SRS address (does
 * not start with "SRS0=" or "SRS1="), -1 when it is one that does not
 * hold (syntax, hash or age) with *error_r saying which.
 */
int srs_reverse(const struct srs_key *k, const char *address, time_t now,
		struct buf *out, const char **error_r);

/* The process's key: derived from the sealing key (seal_derive(), which
 * must be loaded).  0, or -1 with *error_r. */
int srs_key_init(const char **error_r);
/* The process's key, or NULL before srs_key_init(). */
const struct srs_key *srs_key_current(void);

#endif
