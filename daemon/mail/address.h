/*
 * address: RFC 5322 §3.4 address lists (mailboxes, groups, display names,
 * comments, routes and the obsolete forms) as the IMAP address structure of
 * RFC 3501 §7.4.2 needs them.
 *
 * The parser never fails: broken input gives as many addresses as could be
 * told apart, with missing pieces filled in the way Dovecot does it
 * ("MISSING_MAILBOX", "MISSING_DOMAIN", "SYNTAX_ERROR", "INVALID_ROUTE")
 * and the address marked invalid.  Display names stay as written (RFC 2047
 * words are not decoded: IMAP clients decode them).  Like Dovecot, local
 * parts may have dots anywhere ("us..er", ".user"), NUL bytes end atoms and
 * become U+FFFD inside quoted strings and comments, and words without an
 * address ("John Smith") are a display name with MISSING_MAILBOX.  The
 * results were checked byte for byte against Dovecot 2.3.19's ENVELOPE.
 */
#ifndef MAILHUB_MAIL_ADDRESS_H
#define MAILHUB_MAIL_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

/*
 * One entry of an address list.  A group is written as a start entry
 * (mailbox = group name, domain = NULL) and an end entry (everything NULL)
 * around its members, exactly as IMAP lists it.
 */
struct mail_address {
	struct mail_address *next;
	char *name;	/* display name or the comment after an addr-spec; NULL if none */
	char *route;	/* obsolete source route "@a,@b"; NULL if none */
	char *mailbox;	/* local part; group name at a group start; NULL at a group end */
	char *domain;	/* NULL at group start and end */
	bool invalid;	/* something was wrong or missing */
};

/* Parses the value of an address header (From, To, ...), at most
 * max_addresses of them (0: no limit).  Returns NULL when the value holds
 * no address at all. */
struct mail_address *mail_address_parse(const char *value, size_t len,
					unsigned max_addresses);
void mail_address_free(struct mail_address **list);

/* Appends an address list in IMAP syntax: NIL for an empty list, else
 * ((name route mailbox host)...) (RFC 3501 §7.4.2, ENVELOPE). */
void mail_address_write_imap(struct buf *out, const struct mail_address *list);

/* Appends "mailbox@domain" of a plain address (no group entry); what SMTP
 * and the submission checks compare.  Returns -1 for a group entry or an
 * invalid address. */
int mail_address_append_addr_spec(struct buf *out,
				  const struct mail_address *addr);

#endif
