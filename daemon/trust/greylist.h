/*
 * greylist: the triplet a greylisting server remembers (the client's
 * network, the envelope sender, the recipient), in the form that stays
 * the same when a real MTA tries again: the client's /24 (IPv4) or /64
 * (IPv6), since big senders retry from another host of the same pool;
 * the sender lowercased, with a BATV tag (prvs=TAG=user) taken off and
 * each run of digits in its local part as '#', since bounce addresses
 * (VERP) change at every try; the recipient lowercased.  Postgrey and
 * Postfix's postscreen work alike.  Pure; the store keeps the triplets
 * (store.h: store_greylist_check()).
 */
#ifndef MAILHUB_TRUST_GREYLIST_H
#define MAILHUB_TRUST_GREYLIST_H

#include "core/buf.h"
#include "core/hash.h"
#include "trust/ipaddr.h"

/* Appends the triplet as text: "192.0.2.0/24 <sender> <rcpt>". */
void greylist_triplet(const struct ip_addr *ip, const char *sender, const char *rcpt,
		      struct buf *out);
/* The store's key of the triplet: the SHA-256 of its text, in hex (the
 * table holds no addresses, and every key has the same size). */
void greylist_key(const struct ip_addr *ip, const char *sender, const char *rcpt,
		  char key[SHA256_HEX_LEN + 1]);

#endif
