/*
 * rfc3339: the date-times API clients send (RFC 3339 §5.6), such as a
 * token's expiry: "2026-11-23T08:30:00Z", "2026-11-23T09:30:00.5+01:00".
 * A pure function, unit tested.
 */
#ifndef MAILHUB_WEB_RFC3339_H
#define MAILHUB_WEB_RFC3339_H

#include <stdbool.h>
#include <stdint.h>

/* Parses a full date-time (date, 'T' or 't' or one space, time with
 * optional fraction, 'Z' or 'z' or a numeric offset) into Unix seconds
 * (the fraction dropped; a leap second, :60, counts as :59).  False for
 * anything else: a date alone, no offset, a day the month does not have,
 * a year before 1970 or after 9999. */
bool rfc3339_parse(const char *text, int64_t *time_r);

#endif
