/* greylist: the greylisting triplet; see greylist.h. */
#include "trust/greylist.h"

#include <string.h>
#include <sys/socket.h>

/* The local part of a sender as a retry keeps it: BATV's "prvs=TAG="
 * prefix dropped, runs of digits as one '#'. */
static void
sender_local(const char *local, size_t n, struct buf *out)
{
	static const char *const batv[] = { "prvs=", "msprvs1=" };
	for (size_t i = 0; i < sizeof batv / sizeof batv[0]; i++) {
		size_t bl = strlen(batv[i]);
		const char *eq = n > bl && mem_eq_nocase(local, batv[i], bl)
			? memchr(local + bl, '=', n - bl) : NULL;
		if (eq != NULL && eq + 1 < local + n) {
			n -= (size_t)(eq + 1 - local);
			local = eq + 1;
			break;
		}
	}
	for (size_t i = 0; i < n; i++) {
		char c = local[i];
		if (c >= '0' && c <= '9') {
			if (i == 0 || local[i - 1] < '0' || local[i - 1] > '9')
				buf_putc(out, '#');
			continue;
		}
		buf_putc(out, c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c);
	}
}

static void
lower_append(struct buf *out, const char *s)
{
	size_t start = out->len;
	buf_puts(out, s);
	for (size_t i = start; i < out->len; i++)
		if (out->data[i] >= 'A' && out->data[i] <= 'Z')
			out->data[i] = (char)(out->data[i] - 'A' + 'a');
}

void
greylist_triplet(const struct ip_addr *ip, const char *sender, const char *rcpt,
		 struct buf *out)
{
	struct ip_addr net = *ip;
	unsigned prefix = ip->family == AF_INET ? 24 : 64;
	memset(net.a + prefix / 8, 0, sizeof net.a - prefix / 8);
	ip_addr_text(out, &net);
	buf_printf(out, "/%u <", prefix);
	const char *at = strrchr(sender, '@');
	if (at != NULL) {
		sender_local(sender, (size_t)(at - sender), out);
		lower_append(out, at);
	} else {
		lower_append(out, sender);	/* "" for the null sender */
	}
	buf_puts(out, "> <");
	lower_append(out, rcpt);
	buf_putc(out, '>');
}

void
greylist_key(const struct ip_addr *ip, const char *sender, const char *rcpt,
	     char key[SHA256_HEX_LEN + 1])
{
	struct buf t = BUF_INIT;
	greylist_triplet(ip, sender, rcpt, &t);
	sha256_hex(t.data, t.len, key);
	buf_free(&t);
}
