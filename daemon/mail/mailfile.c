/*
 * mailfile: Maildir names, Dovecot's index files, mbox lines (mailfile.h).
 */
#include "mail/mailfile.h"

#include <stdio.h>
#include <string.h>

#include "mail/date.h"

size_t
maildir_base_len(const char *name, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (name[i] == ':' || name[i] == '!')
			return i;
	return len;
}

static const char SYSTEM_LETTERS[] = "DFPRST";

static unsigned
letter_flag(char c)
{
	switch (c) {
	case 'D': return MAILFILE_DRAFT;
	case 'F': return MAILFILE_FLAGGED;
	case 'R': return MAILFILE_ANSWERED;
	case 'S': return MAILFILE_SEEN;
	case 'T': return MAILFILE_DELETED;
	default: return 0;	/* P (passed) has no IMAP flag: Dovecot drops it too */
	}
}

unsigned
maildir_name_flags(const char *name, size_t len, uint32_t *keywords_r)
{
	size_t base = maildir_base_len(name, len);
	unsigned flags = 0;
	*keywords_r = 0;
	if (len - base < 3 || name[base + 1] != '2' || name[base + 2] != ',')
		return 0;
	for (size_t i = base + 3; i < len; i++) {
		char c = name[i];
		if (c == ',')
			break;	/* Dovecot's own fields after the flags */
		if (c >= 'a' && c <= 'z')
			*keywords_r |= 1u << (c - 'a');
		else
			flags |= letter_flag(c);
	}
	return flags;
}

void
maildir_info(unsigned flags, uint32_t keywords, struct buf *out)
{
	buf_reset(out);
	buf_append(out, ":2,", 3);
	for (const char *p = SYSTEM_LETTERS; *p != '\0'; p++)
		if (letter_flag(*p) != 0 && (flags & letter_flag(*p)) != 0)
			buf_append(out, p, 1);
	for (unsigned i = 0; i < 26; i++)
		if ((keywords & (1u << i)) != 0) {
			char c = (char)('a' + i);
			buf_append(out, &c, 1);
		}
}

/* A decimal number of 1-10 digits that fits 32 bits at *p..end; moves *pos. */
static int
parse_u32(const char *line, size_t len, size_t *pos, uint32_t *v_r)
{
	uint64_t v = 0;
	size_t i = *pos, start = i;
	while (i < len && line[i] >= '0' && line[i] <= '9' && i - start < 11)
		v = v * 10 + (uint64_t)(line[i++] - '0');
	if (i == start || i - start > 10 || v > UINT32_MAX)
		return -1;
	*pos = i;
	*v_r = (uint32_t)v;
	return 0;
}

int
dovecot_uidlist_header(const char *line, size_t len, uint32_t *uidvalidity_r,
		       uint32_t *next_uid_r)
{
	size_t pos = 0;
	uint32_t version;
	*uidvalidity_r = 0;
	*next_uid_r = 0;
	if (parse_u32(line, len, &pos, &version) < 0)
		return -1;
	if (version == 1) {
		if (pos >= len || line[pos++] != ' ' ||
		    parse_u32(line, len, &pos, uidvalidity_r) < 0 || pos >= len ||
		    line[pos++] != ' ' || parse_u32(line, len, &pos, next_uid_r) < 0)
			return -1;
		return 0;
	}
	if (version != 3)
		return -1;
	/* space-separated fields, each a letter and its value */
	while (pos < len) {
		if (line[pos] == ' ') {
			pos++;
			continue;
		}
		char key = line[pos++];
		if (key == 'V' || key == 'N') {
			uint32_t v;
			if (parse_u32(line, len, &pos, &v) < 0)
				return -1;
			if (key == 'V')
				*uidvalidity_r = v;
			else
				*next_uid_r = v;
		}
		while (pos < len && line[pos] != ' ')
			pos++;
	}
	return *uidvalidity_r != 0 ? 0 : -1;
}

int
dovecot_uidlist_entry(const char *line, size_t len, uint32_t *uid_r,
		      const char **base_r, size_t *base_len_r)
{
	size_t pos = 0;
	if (parse_u32(line, len, &pos, uid_r) < 0 || *uid_r == 0 || pos >= len ||
	    line[pos] != ' ')
		return -1;
	pos++;
	const char *name;
	/* version 3: extension fields ("W1234", "GGUID"), then ":" and the
	 * name, which may hold spaces; version 1: the name */
	const char *colon = memchr(line + pos, ':', len - pos);
	const char *space = memchr(line + pos, ' ', len - pos);
	if (line[pos] == ':' || (colon != NULL && space != NULL && space < colon &&
				 colon[-1] == ' '))
		name = colon + 1;
	else
		name = line + pos;
	size_t name_len = len - (size_t)(name - line);
	if (name_len == 0)
		return -1;
	*base_r = name;
	*base_len_r = maildir_base_len(name, name_len);
	return *base_len_r > 0 ? 0 : -1;
}

int
dovecot_keywords_line(const char *line, size_t len, unsigned *index_r,
		      const char **keyword_r, size_t *keyword_len_r)
{
	size_t pos = 0;
	uint32_t idx;
	if (parse_u32(line, len, &pos, &idx) < 0 || idx > 25 || pos >= len ||
	    line[pos] != ' ' || pos + 1 >= len)
		return -1;
	pos++;
	for (size_t i = pos; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		/* RFC 3501 atom characters, no '\\' */
		if (c <= ' ' || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return -1;
	}
	*index_r = idx;
	*keyword_r = line + pos;
	*keyword_len_r = len - pos;
	return 0;
}

bool
mbox_is_from_line(const char *line, size_t len)
{
	return len >= 5 && memcmp(line, "From ", 5) == 0;
}

static const char *const MONTHS[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};
static const char *const DAYS[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

static bool
word_in(const char *w, size_t n, const char *const *list, size_t count)
{
	if (n != 3)
		return false;
	for (size_t i = 0; i < count; i++)
		if (strncmp(w, list[i], 3) == 0)
			return true;
	return false;
}

int
mbox_from_date(const char *line, size_t len, time_t *t_r)
{
	/* the words of the line; the date is the last run of
	 * "DAY MON DD HH:MM[:SS] [ZONE] YYYY [ZONE]" */
	const char *w[64];
	size_t wl[64], n = 0;
	for (size_t i = 0; i < len && n < 64;) {
		while (i < len && line[i] == ' ')
			i++;
		if (i >= len)
			break;
		size_t s = i;
		while (i < len && line[i] != ' ')
			i++;
		w[n] = line + s;
		wl[n++] = i - s;
	}
	for (size_t i = n; i-- > 1;) {
		if (i + 4 > n || !word_in(w[i], wl[i], DAYS, 7) ||
		    !word_in(w[i + 1], wl[i + 1], MONTHS, 12))
			continue;
		/* "DD MON YYYY HH:MM:SS [ZONE]" for mail_date_parse() */
		const char *year = NULL, *zone = NULL;
		size_t year_len = 0, zone_len = 0;
		for (size_t j = i + 4; j < n && j < i + 7; j++) {
			if (wl[j] == 4 && w[j][0] >= '0' && w[j][0] <= '9' && year == NULL) {
				year = w[j];
				year_len = wl[j];
			} else if (zone == NULL && (w[j][0] == '+' || w[j][0] == '-' ||
						    (w[j][0] >= 'A' && w[j][0] <= 'Z'))) {
				zone = w[j];
				zone_len = wl[j];
			}
		}
		if (year == NULL)
			return -1;
		char text[128];
		int k = snprintf(text, sizeof text, "%.*s %.*s %.*s %.*s %.*s",
				 (int)wl[i + 2], w[i + 2], (int)wl[i + 1], w[i + 1],
				 (int)year_len, year, (int)wl[i + 3], w[i + 3],
				 zone != NULL ? (int)zone_len : 5, zone != NULL ? zone : "+0000");
		if (k < 0 || (size_t)k >= sizeof text)
			return -1;
		time_t t;
		int tz;
		if (mail_date_parse(text, (size_t)k, &t, &tz) < 0 &&
		    mail_date_parse(text, (size_t)k - (zone != NULL ? zone_len + 1 : 6), &t,
				    &tz) < 0)
			return -1;
		*t_r = t;
		return 0;
	}
	return -1;
}

size_t
mbox_unescape_len(const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && line[i] == '>')
		i++;
	return i > 0 && mbox_is_from_line(line + i, len - i) ? 1 : 0;
}

bool
mbox_needs_escape(const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && line[i] == '>')
		i++;
	return mbox_is_from_line(line + i, len - i);
}

unsigned
mbox_status_flags(const char *value, size_t len, bool x_status)
{
	unsigned flags = 0;
	for (size_t i = 0; i < len; i++) {
		switch (value[i]) {
		case 'R': flags |= x_status ? 0 : MAILFILE_SEEN; break;
		case 'A': flags |= x_status ? MAILFILE_ANSWERED : 0; break;
		case 'F': flags |= x_status ? MAILFILE_FLAGGED : 0; break;
		case 'T': flags |= x_status ? MAILFILE_DRAFT : 0; break;
		case 'D': flags |= x_status ? MAILFILE_DELETED : 0; break;
		default: break;
		}
	}
	return flags;
}

bool
mbox_state_field(const char *name, size_t len)
{
	static const char *const fields[] = {
		"Content-Length", "Status", "X-IMAP", "X-IMAPbase",
		"X-Keywords", "X-Status", "X-UID",
	};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (strlen(fields[i]) == len && mem_eq_nocase(fields[i], name, len))
			return true;
	return false;
}

void
mbox_from_line(const char *sender, time_t t, struct buf *out)
{
	struct tm tm;
	char date[64];
	gmtime_r(&t, &tm);
	/* asctime(3) form, as mutt and Dovecot write it */
	snprintf(date, sizeof date, "%s %s %2d %02d:%02d:%02d %d", DAYS[tm.tm_wday % 7],
		 MONTHS[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 tm.tm_year + 1900);
	buf_reset(out);
	buf_printf(out, "From %s %s\n", sender != NULL && *sender != '\0' ? sender : "MAILER-DAEMON",
		    date);
}
