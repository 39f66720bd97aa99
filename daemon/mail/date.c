/* date: RFC 5322 and IMAP dates; see date.h. */
#include "mail/date.h"

#include <stdbool.h>
#include <string.h>

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static bool
valid_date(int year, int mon, int day, int h, int mi, int s)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30,
				       31, 31, 30, 31, 30, 31 };
	if (year < 1 || year > 9999 || mon < 1 || mon > 12 || day < 1 ||
	    day > mdays[mon - 1] || h > 23 || mi > 59 || s > 60)
		return false;
	if (mon == 2 && day == 29 &&
	    !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return false;
	return true;
}

static time_t
make_time(int year, int mon, int day, int h, int mi, int s, int tz)
{
	long long days = days_from_civil(year, (unsigned)mon, (unsigned)day);
	long long t = days * 86400 + h * 3600 + mi * 60 + s;
	return (time_t)(t - (long long)tz * 60);
}

struct scan {
	const char *p, *end;
};

/* Skips white space and comments (CFWS). */
static void
skip_cfws(struct scan *sc)
{
	while (sc->p < sc->end) {
		if (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\r' ||
		    *sc->p == '\n') {
			sc->p++;
		} else if (*sc->p == '(') {
			int depth = 0;
			while (sc->p < sc->end) {
				if (*sc->p == '\\' && sc->p + 1 < sc->end)
					sc->p++;
				else if (*sc->p == '(')
					depth++;
				else if (*sc->p == ')' && --depth == 0)
					break;
				sc->p++;
			}
			if (sc->p < sc->end)
				sc->p++;
		} else {
			break;
		}
	}
}

/* Reads 1..max digits; -1 when there are none. */
static int
read_num(struct scan *sc, int max, int *digits_r)
{
	int v = 0, n = 0;
	while (sc->p < sc->end && n < max && *sc->p >= '0' && *sc->p <= '9') {
		v = v * 10 + (*sc->p - '0');
		sc->p++;
		n++;
	}
	if (digits_r != NULL)
		*digits_r = n;
	return n == 0 ? -1 : v;
}

/* Reads a word of letters. */
static size_t
read_word(struct scan *sc, char *w, size_t max)
{
	size_t n = 0;
	while (sc->p < sc->end && ((*sc->p >= 'a' && *sc->p <= 'z') ||
				   (*sc->p >= 'A' && *sc->p <= 'Z'))) {
		if (n + 1 < max)
			w[n++] = *sc->p;
		sc->p++;
	}
	w[n] = '\0';
	return n;
}

static int
month_of(const char *w)
{
	for (int i = 0; i < 12; i++) {
		if (strlen(w) >= 3 && mem_eq_nocase(w, months[i], 3))
			return i + 1;
	}
	return -1;
}

/* RFC 5322 §4.3 obs-zone; military zones count as -0000 (unknown). */
static bool
named_zone(const char *w, int *tz)
{
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 }, { "Z", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 },
		{ "CDT", -300 }, { "MST", -420 }, { "MDT", -360 },
		{ "PST", -480 }, { "PDT", -420 },
	};
	for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++) {
		if (str_eq_nocase(w, zones[i].name)) {
			*tz = zones[i].minutes;
			return true;
		}
	}
	if (strlen(w) == 1) {
		*tz = 0;
		return true;
	}
	return false;
}

int
mail_date_parse(const char *s, size_t len, time_t *t_r, int *tz_minutes_r)
{
	struct scan sc = { s, s + len };
	char w[16];
	int day, mon, year, h, mi, sec = 0, tz = 0, digits;

	skip_cfws(&sc);
	/* [ day-of-week "," ] */
	const char *save = sc.p;
	if (read_word(&sc, w, sizeof w) > 0) {
		skip_cfws(&sc);
		if (sc.p < sc.end && *sc.p == ',')
			sc.p++;
		skip_cfws(&sc);
	} else {
		sc.p = save;
	}
	if ((day = read_num(&sc, 2, NULL)) < 0)
		return -1;
	skip_cfws(&sc);
	if (sc.p < sc.end && *sc.p == '-')
		sc.p++;
	if (read_word(&sc, w, sizeof w) == 0 || (mon = month_of(w)) < 0)
		return -1;
	skip_cfws(&sc);
	if (sc.p < sc.end && *sc.p == '-')
		sc.p++;
	if ((year = read_num(&sc, 4, &digits)) < 0)
		return -1;
	/* RFC 5322 §4.3: two-digit years below 50 are 20xx, others 19xx;
	 * three-digit years add 1900 */
	if (digits == 2)
		year += year < 50 ? 2000 : 1900;
	else if (digits == 3)
		year += 1900;
	skip_cfws(&sc);
	if ((h = read_num(&sc, 2, NULL)) < 0)
		return -1;
	skip_cfws(&sc);
	if (sc.p >= sc.end || *sc.p != ':')
		return -1;
	sc.p++;
	skip_cfws(&sc);
	if ((mi = read_num(&sc, 2, NULL)) < 0)
		return -1;
	skip_cfws(&sc);
	if (sc.p < sc.end && *sc.p == ':') {
		sc.p++;
		skip_cfws(&sc);
		if ((sec = read_num(&sc, 2, NULL)) < 0)
			return -1;
		skip_cfws(&sc);
	}
	if (sc.p < sc.end && (*sc.p == '+' || *sc.p == '-')) {
		int sign = *sc.p == '-' ? -1 : 1;
		sc.p++;
		int z = read_num(&sc, 4, &digits);
		if (z < 0 || digits != 4 || z % 100 > 59)
			return -1;
		tz = sign * ((z / 100) * 60 + z % 100);
	} else if (read_word(&sc, w, sizeof w) > 0) {
		if (!named_zone(w, &tz))
			tz = 0;
	}
	if (!valid_date(year, mon, day, h, mi, sec))
		return -1;
	if (sec == 60)
		sec = 59;
	*t_r = make_time(year, mon, day, h, mi, sec, tz);
	*tz_minutes_r = tz;
	return 0;
}

/* Years 1..9999: what the formats can express, and far from overflow. */
#define TIME_MIN (-62135596800LL)
#define TIME_MAX 253402300799LL

static bool
time_ok(time_t t, int tz_minutes)
{
	return (long long)t >= TIME_MIN && (long long)t <= TIME_MAX &&
	       tz_minutes > -100 * 60 && tz_minutes < 100 * 60;
}

time_t
mail_date_day(time_t t, int tz_minutes)
{
	if (!time_ok(t, tz_minutes))
		tz_minutes = 0;
	if ((long long)t < TIME_MIN)
		t = (time_t)TIME_MIN;
	else if ((long long)t > TIME_MAX)
		t = (time_t)TIME_MAX;
	long long local = (long long)t + (long long)tz_minutes * 60;
	long long days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
	return (time_t)(days * 86400);
}

int
imap_date_time_format(struct buf *out, time_t t, int tz_minutes)
{
	struct tm tm;
	if (!time_ok(t, tz_minutes))
		return -1;
	time_t local = t + (time_t)tz_minutes * 60;
	if (gmtime_r(&local, &tm) == NULL)
		return -1;
	int a = tz_minutes < 0 ? -tz_minutes : tz_minutes;
	return buf_printf(out, "%02d-%s-%04d %02d:%02d:%02d %c%02d%02d",
			  tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
			  tm.tm_hour, tm.tm_min, tm.tm_sec,
			  tz_minutes < 0 ? '-' : '+', a / 60, a % 60);
}

/* "dd-Mon-yyyy" at sc; day 1-2 digits, optionally after one space. */
static int
parse_imap_day(struct scan *sc, int *day, int *mon, int *year)
{
	char w[8];
	int digits;
	if (sc->p < sc->end && *sc->p == ' ')
		sc->p++;
	if ((*day = read_num(sc, 2, NULL)) < 0)
		return -1;
	if (sc->p >= sc->end || *sc->p++ != '-')
		return -1;
	if (read_word(sc, w, sizeof w) != 3 || (*mon = month_of(w)) < 0)
		return -1;
	if (sc->p >= sc->end || *sc->p++ != '-')
		return -1;
	if ((*year = read_num(sc, 4, &digits)) < 0 || digits != 4)
		return -1;
	return 0;
}

static void
strip_quotes(const char **s, size_t *len)
{
	if (*len >= 2 && (*s)[0] == '"' && (*s)[*len - 1] == '"') {
		(*s)++;
		*len -= 2;
	}
}

int
imap_date_time_parse(const char *s, size_t len, time_t *t_r, int *tz_minutes_r)
{
	strip_quotes(&s, &len);
	struct scan sc = { s, s + len };
	int day, mon, year, h, mi, sec, z, digits;
	if (parse_imap_day(&sc, &day, &mon, &year) < 0)
		return -1;
	if (sc.p >= sc.end || *sc.p++ != ' ')
		return -1;
	if ((h = read_num(&sc, 2, &digits)) < 0 || digits != 2 ||
	    sc.p >= sc.end || *sc.p++ != ':' ||
	    (mi = read_num(&sc, 2, &digits)) < 0 || digits != 2 ||
	    sc.p >= sc.end || *sc.p++ != ':' ||
	    (sec = read_num(&sc, 2, &digits)) < 0 || digits != 2)
		return -1;
	if (sc.p >= sc.end || *sc.p++ != ' ' || sc.p >= sc.end ||
	    (*sc.p != '+' && *sc.p != '-'))
		return -1;
	int sign = *sc.p++ == '-' ? -1 : 1;
	if ((z = read_num(&sc, 4, &digits)) < 0 || digits != 4 ||
	    z % 100 > 59 || sc.p != sc.end)
		return -1;
	if (!valid_date(year, mon, day, h, mi, sec))
		return -1;
	if (sec == 60)
		sec = 59;
	int tz = sign * ((z / 100) * 60 + z % 100);
	*t_r = make_time(year, mon, day, h, mi, sec, tz);
	*tz_minutes_r = tz;
	return 0;
}

int
imap_date_parse(const char *s, size_t len, time_t *day_r)
{
	strip_quotes(&s, &len);
	struct scan sc = { s, s + len };
	int day, mon, year;
	if (parse_imap_day(&sc, &day, &mon, &year) < 0 || sc.p != sc.end)
		return -1;
	if (!valid_date(year, mon, day, 0, 0, 0))
		return -1;
	*day_r = make_time(year, mon, day, 0, 0, 0, 0);
	return 0;
}
