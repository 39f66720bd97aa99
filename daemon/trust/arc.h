/*
 * arc: verification of the Authenticated Received Chain (RFC 8617) that
 * mailing lists and forwarders put on the mail they pass on, so that the
 * result can be recorded (arc=pass/fail/none in Authentication-Results)
 * and local policy may trust an intermediary's word on SPF and DKIM.
 * Sealing is not done.
 *
 * Used like the DKIM verifier (dkim_verify.h, whose dkim_verify_fd() runs
 * both over one read of the message): made from the header block, fed the
 * body (only the newest ARC-Message-Signature's body hash is computed,
 * streaming), finished with a DNS source for the keys.
 *
 * RFC 8617 §5.2: the chain is the ARC sets i=1..N (an
 * ARC-Authentication-Results, an ARC-Message-Signature and an ARC-Seal
 * each, N <= ARC_INSTANCE_MAX).  It passes when every set is there exactly
 * once, the newest seal does not say cv=fail, seal 1 says cv=none and the
 * others cv=pass, the newest message signature verifies, and every seal
 * verifies.  Anything else fails it; no ARC field at all is "none".
 */
#ifndef MAILHUB_TRUST_ARC_H
#define MAILHUB_TRUST_ARC_H

#include <stddef.h>
#include <stdint.h>

struct dns_source;

enum arc_status {
	ARC_NONE,
	ARC_PASS,
	ARC_FAIL,
};

/* "none", "pass", "fail". */
const char *arc_status_name(enum arc_status status);

struct arc_result {
	enum arc_status status;
	const char *reason;	/* plain words, static */
	unsigned instances;	/* N, the newest instance (0: none) */
	char *domain;		/* d= of the newest seal, or NULL */
	char *selector;		/* s= of the newest seal, or NULL */
};

struct arc_verify;

struct arc_verify *arc_verify_new(const char *hdr, size_t hdr_len, int64_t now);
void arc_verify_body(struct arc_verify *a, const void *p, size_t n);
void arc_verify_finish(struct arc_verify *a, const struct dns_source *dns);
/* The verdict (after finish). */
const struct arc_result *arc_verify_result(const struct arc_verify *a);
void arc_verify_free(struct arc_verify **a);

#endif
