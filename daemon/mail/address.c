/* address: RFC 5322 address lists; see address.h.  The grammar and the
 * treatment of broken input follow Dovecot's lib-mail/message-address.c so
 * that ENVELOPE answers match. */
#include "mail/address.h"

#include <string.h>

#include "mail/imapquote.h"
#include "mail/rfc822.h"

struct addr_ctx {
	struct rfc822_lex lx;
	struct buf comment;
	struct buf str;
	struct mail_address cur;
	struct mail_address *first, *last;
};

static char *
dup_buf(const struct buf *b)
{
	return xstrndup(b->data != NULL ? b->data : "", b->len);
}

static void
add_address(struct addr_ctx *c)
{
	struct mail_address *a = xmalloc(sizeof *a);
	*a = c->cur;
	a->next = NULL;
	memset(&c->cur, 0, sizeof c->cur);
	if (c->first == NULL)
		c->first = a;
	else
		c->last->next = a;
	c->last = a;
}

static void
set_field(char **field, const char *value)
{
	free(*field);
	*field = xstrdup(value);
}

/* A local part with dots anywhere (".user", "us..er", "user."): not RFC
 * 5322, but common (notably in Japan), and Dovecot accepts it. */
static int
parse_nonstrict_dot_atom(struct addr_ctx *c)
{
	int ret = -1;
	do {
		while (*c->lx.p == '.') {
			buf_putc(&c->str, '.');
			c->lx.p++;
			if (c->lx.p >= c->lx.end)
				return 0;
			ret = 1;
		}
		if (*c->lx.p == '@')
			break;
		ret = rfc822_parse_atom(&c->lx, &c->str);
	} while (ret > 0 && *c->lx.p == '.');
	return ret;
}

static int
parse_local_part(struct addr_ctx *c)
{
	int ret;
	buf_reset(&c->str);
	if (c->lx.p >= c->lx.end)
		return -1;
	if (*c->lx.p == '"')
		ret = rfc822_parse_quoted_string(&c->lx, &c->str);
	else
		ret = parse_nonstrict_dot_atom(c);
	if (ret < 0)
		return -1;
	free(c->cur.mailbox);
	c->cur.mailbox = dup_buf(&c->str);
	return ret;
}

static int
parse_domain(struct addr_ctx *c)
{
	buf_reset(&c->str);
	int ret = rfc822_parse_domain(&c->lx, &c->str);
	if (ret < 0)
		return -1;
	free(c->cur.domain);
	c->cur.domain = dup_buf(&c->str);
	return ret;
}

/* obs-domain-list = "@" domain *(*(CFWS / ",") [CFWS] "@" domain) */
static int
parse_domain_list(struct addr_ctx *c)
{
	struct buf route = BUF_INIT;
	int ret = 1;
	for (;;) {
		if (c->lx.p >= c->lx.end) {
			ret = 0;
			break;
		}
		if (*c->lx.p != '@')
			break;
		if (route.len > 0)
			buf_putc(&route, ',');
		buf_putc(&route, '@');
		if ((ret = rfc822_parse_domain(&c->lx, &route)) <= 0)
			break;
		while (rfc822_skip_cfws(&c->lx) > 0 && *c->lx.p == ',')
			c->lx.p++;
	}
	if (ret > 0) {
		free(c->cur.route);
		c->cur.route = dup_buf(&route);
	}
	buf_free(&route);
	return ret;
}

/* "<" [ "@" route ":" ] local-part "@" domain ">" */
static int
parse_angle_addr(struct addr_ctx *c)
{
	c->lx.p++;
	if (rfc822_skip_cfws(&c->lx) <= 0)
		return -1;
	if (*c->lx.p == '@') {
		if (parse_domain_list(c) > 0 && *c->lx.p == ':') {
			c->lx.p++;
		} else {
			set_field(&c->cur.route, "INVALID_ROUTE");
			c->cur.invalid = true;
			if (c->lx.p >= c->lx.end)
				return -1;
			/* try to continue anyway */
		}
		if (rfc822_skip_cfws(&c->lx) <= 0)
			return -1;
	}
	if (*c->lx.p == '>') {
		/* <> is not a valid address */
	} else {
		if (parse_local_part(c) <= 0)
			return -1;
		if (*c->lx.p == '@' && parse_domain(c) <= 0)
			return -1;
	}
	if (*c->lx.p != '>')
		return -1;
	c->lx.p++;
	return rfc822_skip_cfws(&c->lx);
}

/* name-addr = [display-name] angle-addr */
static int
parse_name_addr(struct addr_ctx *c)
{
	buf_reset(&c->str);
	if (rfc822_parse_phrase(&c->lx, &c->str) <= 0 || *c->lx.p != '<')
		return -1;
	free(c->cur.name);
	/* "<address>" without a display name */
	c->cur.name = c->str.len > 0 ? dup_buf(&c->str) : NULL;
	if (parse_angle_addr(c) < 0) {
		set_field(&c->cur.domain, "SYNTAX_ERROR");
		c->cur.invalid = true;
	}
	return c->lx.p < c->lx.end ? 1 : 0;
}

/* addr-spec = local-part "@" domain; a comment after it is the name, and
 * words after a bare local part make it a display name (Dovecot 2.3) */
static int
parse_addr_spec(struct addr_ctx *c)
{
	int ret, ret2 = -2;
	bool quoted = c->lx.p < c->lx.end && *c->lx.p == '"';

	buf_reset(&c->comment);
	ret = parse_local_part(c);
	if (ret <= 0)
		c->cur.invalid = true;
	if (ret != 0 && c->lx.p < c->lx.end && *c->lx.p == '@') {
		ret2 = parse_domain(c);
		if (ret2 <= 0)
			ret = ret2;
	}
	if (c->comment.len > 0) {
		free(c->cur.name);
		c->cur.name = dup_buf(&c->comment);
	} else if (ret2 == -2) {
		/* no @domain: "user" alone is a mailbox, "user more words"
		 * is a display name */
		buf_putc(&c->str, ' ');
		size_t before = c->str.len;
		(void)rfc822_parse_phrase(&c->lx, &c->str);
		if (c->str.len != before) {
			xfree(c->cur.mailbox);
			free(c->cur.name);
			c->cur.name = dup_buf(&c->str);
		} else if (!quoted) {
			set_field(&c->cur.domain, "");
		}
		c->cur.invalid = true;
		ret = -1;
	}
	return ret;
}

static void
add_fixed_address(struct addr_ctx *c)
{
	if (c->cur.mailbox == NULL) {
		c->cur.mailbox = xstrdup("MISSING_MAILBOX");
		c->cur.invalid = true;
	}
	if (c->cur.domain == NULL || c->cur.domain[0] == '\0') {
		free(c->cur.domain);
		c->cur.domain = xstrdup("MISSING_DOMAIN");
		c->cur.invalid = true;
	}
	add_address(c);
}

static void
reset_cur(struct addr_ctx *c)
{
	free(c->cur.name);
	free(c->cur.route);
	free(c->cur.mailbox);
	free(c->cur.domain);
	memset(&c->cur, 0, sizeof c->cur);
}

static int
parse_mailbox(struct addr_ctx *c)
{
	const unsigned char *start = c->lx.p;
	int ret = parse_name_addr(c);
	if (ret < 0) {
		/* not name-addr: try addr-spec from the start again */
		reset_cur(c);
		c->lx.p = start;
		ret = parse_addr_spec(c);
		/* a broken quoted local part without a domain is taken as a
		 * display name (Dovecot 2.3) */
		if (c->cur.invalid && c->cur.name == NULL &&
		    c->cur.mailbox != NULL && c->cur.domain == NULL) {
			c->cur.name = c->cur.mailbox;
			c->cur.mailbox = NULL;
		}
	}
	if (ret < 0)
		c->cur.invalid = true;
	add_fixed_address(c);
	return ret;
}

/* group = display-name ":" [group-list] ";" [CFWS] */
static int
parse_group(struct addr_ctx *c)
{
	int ret;
	buf_reset(&c->str);
	if (rfc822_parse_phrase(&c->lx, &c->str) <= 0 || *c->lx.p != ':')
		return -1;
	/* from here on it is a group, whatever follows */
	c->lx.p++;
	if ((ret = rfc822_skip_cfws(&c->lx)) <= 0)
		c->cur.invalid = true;
	c->cur.mailbox = dup_buf(&c->str);
	add_address(c);

	if (ret > 0 && *c->lx.p != ';') {
		for (;;) {
			/* a broken mailbox does not end the group */
			(void)parse_mailbox(c);
			if (c->lx.p >= c->lx.end || *c->lx.p != ',')
				break;
			c->lx.p++;
			if (rfc822_skip_cfws(&c->lx) <= 0) {
				ret = -1;
				break;
			}
		}
	}
	if (ret >= 0) {
		if (c->lx.p >= c->lx.end || *c->lx.p != ';') {
			ret = -1;
		} else {
			c->lx.p++;
			ret = rfc822_skip_cfws(&c->lx);
		}
	}
	if (ret < 0)
		c->cur.invalid = true;
	add_address(c);
	return ret == 0 ? 0 : 1;
}

static int
parse_address(struct addr_ctx *c)
{
	const unsigned char *start = c->lx.p;
	int ret = parse_group(c);
	if (ret < 0) {
		reset_cur(c);
		c->lx.p = start;
		ret = parse_mailbox(c);
	}
	return ret;
}

struct mail_address *
mail_address_parse(const char *value, size_t len, unsigned max_addresses)
{
	struct addr_ctx c;
	memset(&c, 0, sizeof c);
	rfc822_lex_init(&c.lx, value, len, &c.comment);

	if (rfc822_skip_cfws(&c.lx) <= 0) {
		buf_free(&c.comment);
		return NULL;
	}
	unsigned left = max_addresses == 0 ? (unsigned)-1 : max_addresses;
	/* address-list = (address *("," address)) / obs-addr-list */
	while (left-- > 0) {
		const unsigned char *before = c.lx.p;
		if (parse_address(&c) == 0)
			break;
		if (c.lx.p >= c.lx.end || *c.lx.p != ',') {
			/* garbage after an address ends the list */
			if (c.last != NULL)
				c.last->invalid = true;
			break;
		}
		c.lx.p++;
		int ret = rfc822_skip_cfws(&c.lx);
		if (ret <= 0) {
			if (ret < 0)
				add_fixed_address(&c);
			break;
		}
		if (c.lx.p == before)
			break;
	}
	reset_cur(&c);
	buf_free(&c.comment);
	buf_free(&c.str);
	return c.first;
}

void
mail_address_free(struct mail_address **list)
{
	struct mail_address *a = *list;
	while (a != NULL) {
		struct mail_address *next = a->next;
		free(a->name);
		free(a->route);
		free(a->mailbox);
		free(a->domain);
		free(a);
		a = next;
	}
	*list = NULL;
}

static void
append_nstr(struct buf *out, const char *s)
{
	imap_append_nstring(out, s, s != NULL ? strlen(s) : 0);
}

void
mail_address_write_imap(struct buf *out, const struct mail_address *list)
{
	if (list == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	buf_putc(out, '(');
	for (const struct mail_address *a = list; a != NULL; a = a->next) {
		buf_putc(out, '(');
		if (a->name == NULL)
			buf_puts(out, "NIL");
		else
			imap_append_string_for_humans(out, a->name,
						      strlen(a->name));
		buf_putc(out, ' ');
		append_nstr(out, a->route);
		buf_putc(out, ' ');
		append_nstr(out, a->mailbox);
		buf_putc(out, ' ');
		append_nstr(out, a->domain);
		buf_putc(out, ')');
	}
	buf_putc(out, ')');
}

int
mail_address_append_addr_spec(struct buf *out, const struct mail_address *addr)
{
	if (addr->invalid || addr->mailbox == NULL || addr->domain == NULL)
		return -1;
	if (buf_puts(out, addr->mailbox) < 0 || buf_putc(out, '@') < 0 ||
	    buf_puts(out, addr->domain) < 0)
		return -1;
	return 0;
}
