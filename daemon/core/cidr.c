/* cidr: lists of IP networks; see cidr.h. */
#include "core/cidr.h"

#include <arpa/inet.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xmalloc.h"

/* The longest entry: an IPv6 address (45 characters) and "/128". */
#define CIDR_TEXT_MAX 64

static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* One entry "ADDR[/PREFIX]" of len bytes into *c; 0 or -1. */
static int
parse_one(const char *s, size_t len, struct cidr *c)
{
	char text[CIDR_TEXT_MAX + 1];
	if (len == 0 || len > CIDR_TEXT_MAX)
		return -1;
	memcpy(text, s, len);
	text[len] = '\0';

	char *slash = strchr(text, '/');
	long prefix = -1;
	if (slash != NULL) {
		*slash = '\0';
		const char *p = slash + 1;
		if (*p == '\0' || strlen(p) > 3)
			return -1;
		prefix = 0;
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			prefix = prefix * 10 + (*p - '0');
		}
	}
	memset(c, 0, sizeof *c);
	if (inet_pton(AF_INET, text, c->net) == 1) {
		c->family = AF_INET;
		if (prefix > 32)
			return -1;
		c->prefix = prefix < 0 ? 32 : (unsigned)prefix;
		return 0;
	}
	if (inet_pton(AF_INET6, text, c->net) != 1 || prefix > 128)
		return -1;
	c->family = AF_INET6;
	c->prefix = prefix < 0 ? 128 : (unsigned)prefix;
	if (memcmp(c->net, v4mapped, sizeof v4mapped) == 0 && c->prefix >= 96) {
		/* the dual-stack form of an IPv4 network is that network */
		memmove(c->net, c->net + 12, 4);
		memset(c->net + 4, 0, 12);
		c->family = AF_INET;
		c->prefix -= 96;
	}
	return 0;
}

int
cidr_list_parse(const char *text, struct cidr **list_r, size_t *n_r, const char **error_r)
{
	struct cidr *list = NULL;
	size_t n = 0;
	const char *p = text;

	*list_r = NULL;
	*n_r = 0;
	for (;;) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		size_t len = strcspn(p, ", \t");
		if (n == CIDR_LIST_MAX) {
			*error_r = errfmt("more than %d networks", CIDR_LIST_MAX);
			goto fail;
		}
		list = xreallocarray(list, n + 1, sizeof *list);
		if (parse_one(p, len, &list[n]) < 0) {
			*error_r = errfmt("'%s' is not an IP address or network (ADDRESS/PREFIX)",
					  esc(p, len));
			goto fail;
		}
		n++;
		p += len;
	}
	*list_r = list;
	*n_r = n;
	return 0;
fail:
	free(list);
	return -1;
}
