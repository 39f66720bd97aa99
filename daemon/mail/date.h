/*
 * date: the dates of mail.  RFC 5322 §3.3 date-time (Date: headers, with
 * the §4.3 obsolete forms: two- and three-digit years, named zones, missing
 * seconds, comments, no day of week), and IMAP's date-time and date
 * (RFC 3501 §9: INTERNALDATE, APPEND, SEARCH SINCE/BEFORE/ON and SENT*).
 *
 * Times are time_t (seconds since the epoch, UTC) plus the zone offset in
 * minutes east of UTC that the text carried.
 */
#ifndef MAILHUB_MAIL_DATE_H
#define MAILHUB_MAIL_DATE_H

#include <stddef.h>
#include <time.h>

#include "core/buf.h"

/* Parses an RFC 5322 date-time.  0, or -1 when it is not a date. */
int mail_date_parse(const char *s, size_t len, time_t *t_r, int *tz_minutes_r);

/* The day of a time as seen in its own zone, as the UTC midnight of that
 * date: what SENTON/SENTBEFORE/SENTSINCE compare (RFC 3501 §6.4.4:
 * "disregarding time and timezone"). */
time_t mail_date_day(time_t t, int tz_minutes);

/* Appends an IMAP date-time without the quotes, as Dovecot writes it:
 * "23-Nov-2026 08:30:00 +0000" (the time shown in the given zone).
 * 0, or -1 when out is full or the time is outside years 1..9999. */
int imap_date_time_format(struct buf *out, time_t t, int tz_minutes);
/* Parses an IMAP date-time (quotes optional; day "1", " 1" or "01").
 * 0, or -1 when malformed. */
int imap_date_time_parse(const char *s, size_t len, time_t *t_r,
			 int *tz_minutes_r);
/* Parses an IMAP date "1-Feb-1994" (quotes optional) into the UTC midnight
 * of that date.  0, or -1 when malformed. */
int imap_date_parse(const char *s, size_t len, time_t *day_r);

#endif
