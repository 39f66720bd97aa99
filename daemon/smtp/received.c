#include "smtp/received.h"

#include <string.h>

#include "core/hash.h"

static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

void
smtp_date_format(struct buf *out, time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	/* names from tables: strftime's %a/%b would follow the locale */
	buf_printf(out, "%s, %d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
		   tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
		   tm.tm_min, tm.tm_sec);
}

const char *
smtp_with_protocol(bool esmtp, bool tls, bool auth, bool utf8)
{
	if (utf8) {
		static const char *const u[] = { "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA",
						 "UTF8SMTPSA" };
		return u[(tls ? 1 : 0) + (auth ? 2 : 0)];
	}
	if (!esmtp)
		return "SMTP";
	static const char *const e[] = { "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA" };
	return e[(tls ? 1 : 0) + (auth ? 2 : 0)];
}

void
smtp_received_build(struct buf *out, const struct smtp_received_info *info)
{
	/* RFC 5321 §4.4: From-domain By-domain Opt-info ";" date-time, with
	 * TCP-info "([ip])"; we do no reverse lookup, so only the address */
	bool v6 = strchr(info->ip, ':') != NULL;
	/* RFC 5321 §4.1.3: an IPv6 address literal is tagged "IPv6:" */
	buf_printf(out, "Received: from %s ([%s%s])\r\n\tby %s (mailhub) with %s id %s",
		   info->helo != NULL && info->helo[0] != '\0' ? info->helo : "unknown",
		   v6 ? "IPv6:" : "", info->ip, info->hostname, info->with, info->id);
	if (info->tls_version != NULL)
		buf_printf(out, "\r\n\t(using %s with cipher %s)", info->tls_version,
			   info->tls_cipher != NULL ? info->tls_cipher : "unknown");
	if (info->for_rcpt != NULL)
		buf_printf(out, "\r\n\tfor <%s>", info->for_rcpt);
	buf_puts(out, "; ");
	smtp_date_format(out, info->when);
	buf_puts(out, "\r\n");
}

void
smtp_tx_id_build(char out[17])
{
	unsigned char r[8];
	static const char hex[] = "0123456789ABCDEF";
	random_bytes(r, sizeof r);
	for (size_t i = 0; i < sizeof r; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[16] = '\0';
}

void
smtp_message_id_build(struct buf *out, const char *hostname, time_t t)
{
	unsigned char r[12];
	char hex[2 * sizeof r + 1];
	random_bytes(r, sizeof r);
	hex_encode(r, sizeof r, hex);
	buf_printf(out, "<%s.%lld@%s>", hex, (long long)t, hostname);
}
