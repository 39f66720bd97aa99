/*
 * validate: checks a parsed script against the one table of commands and
 * tests (their positional arguments, tagged arguments and the extension
 * each needs), the placement of require/elsif/else, comparators, match
 * types and constant regular expressions.  Errors are line-numbered the
 * way Pigeonhole words them closely enough for a user to find the spot.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/xmalloc.h"
#include "sieve/sieve_int.h"

struct spec {
	const char *name;
	enum sv_code code;
	bool test;
	unsigned ext;
	const char *pos;	/* S string, L string list, N number; '?': optional */
	const char *tags;	/* "name:T" (T: N S L) or "name" (no value);
				 * @cmp @match @addr @idx add the usual groups */
	int tests;		/* -1: a test list; 0: none; 1: one test */
	bool block;
};

static const struct spec specs[] = {
	{ "require", C_REQUIRE, false, 0, "L", "", 0, false },
	{ "if", C_IF, false, 0, "", "", 1, true },
	{ "elsif", C_ELSIF, false, 0, "", "", 1, true },
	{ "else", C_ELSE, false, 0, "", "", 0, true },
	{ "stop", C_STOP, false, 0, "", "", 0, false },
	{ "keep", C_KEEP, false, 0, "", "flags:L", 0, false },
	{ "discard", C_DISCARD, false, 0, "", "", 0, false },
	{ "redirect", C_REDIRECT, false, 0, "S", "copy", 0, false },
	{ "fileinto", C_FILEINTO, false, EXT_FILEINTO, "S", "copy flags:L create", 0, false },
	{ "reject", C_REJECT, false, EXT_REJECT, "S", "", 0, false },
	{ "ereject", C_EREJECT, false, EXT_EREJECT, "S", "", 0, false },
	{ "setflag", C_SETFLAG, false, EXT_IMAP4FLAGS, "?SL", "", 0, false },
	{ "addflag", C_ADDFLAG, false, EXT_IMAP4FLAGS, "?SL", "", 0, false },
	{ "removeflag", C_REMOVEFLAG, false, EXT_IMAP4FLAGS, "?SL", "", 0, false },
	{ "set", C_SET, false, EXT_VARIABLES, "SS",
	  "lower upper lowerfirst upperfirst quotewildcard quoteregex length encodeurl", 0, false },
	{ "vacation", C_VACATION, false, EXT_VACATION, "S",
	  "days:N seconds:N subject:S from:S addresses:L mime handle:S", 0, false },
	{ "notify", C_NOTIFY, false, EXT_ENOTIFY, "S",
	  "from:S importance:S options:L message:S", 0, false },
	{ "addheader", C_ADDHEADER, false, EXT_EDITHEADER, "SS", "last", 0, false },
	{ "deleteheader", C_DELETEHEADER, false, EXT_EDITHEADER, "S?L",
	  "@cmp @match index:N last", 0, false },

	{ "address", T_ADDRESS, true, 0, "LL", "@cmp @match @addr @idx", 0, false },
	{ "allof", T_ALLOF, true, 0, "", "", -1, false },
	{ "anyof", T_ANYOF, true, 0, "", "", -1, false },
	{ "envelope", T_ENVELOPE, true, EXT_ENVELOPE, "LL", "@cmp @match @addr", 0, false },
	{ "exists", T_EXISTS, true, 0, "L", "", 0, false },
	{ "false", T_FALSE, true, 0, "", "", 0, false },
	{ "header", T_HEADER, true, 0, "LL", "@cmp @match @idx", 0, false },
	{ "not", T_NOT, true, 0, "", "", 1, false },
	{ "size", T_SIZE, true, 0, "", "over:N under:N", 0, false },
	{ "true", T_TRUE, true, 0, "", "", 0, false },
	{ "body", T_BODY, true, EXT_BODY, "L", "@cmp @match raw content:L text", 0, false },
	{ "string", T_STRING, true, EXT_VARIABLES, "LL", "@cmp @match", 0, false },
	{ "hasflag", T_HASFLAG, true, EXT_IMAP4FLAGS, "?LL", "@cmp @match", 0, false },
	{ "date", T_DATE, true, EXT_DATE, "SSL", "zone:S originalzone @cmp @match @idx", 0, false },
	{ "currentdate", T_CURRENTDATE, true, EXT_DATE, "SL", "zone:S @cmp @match", 0, false },
	{ "valid_notify_method", T_VALID_NOTIFY_METHOD, true, EXT_ENOTIFY, "L", "", 0, false },
	{ "notify_method_capability", T_NOTIFY_METHOD_CAPABILITY, true, EXT_ENOTIFY, "SSL",
	  "@cmp @match", 0, false },
	{ "duplicate", T_DUPLICATE, true, EXT_DUPLICATE, "",
	  "handle:S header:S uniqueid:S seconds:N last", 0, false },
	{ "spamtest", T_SPAMTEST, true, EXT_SPAMTEST, "S", "percent @cmp @match", 0, false },
	{ "virustest", T_VIRUSTEST, true, EXT_VIRUSTEST, "S", "@cmp @match", 0, false },
	{ "mailboxexists", T_MAILBOXEXISTS, true, EXT_MAILBOX, "L", "", 0, false },
};

static const struct {
	const char *name;
	unsigned ext;
} extensions[] = {
	{ "fileinto", EXT_FILEINTO }, { "reject", EXT_REJECT }, { "ereject", EXT_EREJECT },
	{ "envelope", EXT_ENVELOPE }, { "imap4flags", EXT_IMAP4FLAGS }, { "copy", EXT_COPY },
	{ "body", EXT_BODY }, { "variables", EXT_VARIABLES }, { "relational", EXT_RELATIONAL },
	{ "subaddress", EXT_SUBADDRESS }, { "date", EXT_DATE }, { "index", EXT_INDEX },
	{ "regex", EXT_REGEX }, { "vacation", EXT_VACATION },
	{ "vacation-seconds", EXT_VACATION_SECONDS | EXT_VACATION }, { "enotify", EXT_ENOTIFY },
	{ "duplicate", EXT_DUPLICATE }, { "editheader", EXT_EDITHEADER },
	{ "spamtest", EXT_SPAMTEST }, { "spamtestplus", EXT_SPAMTESTPLUS | EXT_SPAMTEST },
	{ "virustest", EXT_VIRUSTEST }, { "mailbox", EXT_MAILBOX },
	{ "encoded-character", EXT_ENCODED_CHAR },
	{ "comparator-i;ascii-numeric", EXT_NUMERIC }, { "comparator-i;octet", 0 },
	{ "comparator-i;ascii-casemap", 0 },
};

const char sieve_capability[] =
	"fileinto reject ereject envelope encoded-character vacation vacation-seconds "
	"subaddress comparator-i;ascii-numeric relational regex imap4flags copy body "
	"variables date index enotify duplicate editheader spamtest spamtestplus "
	"virustest mailbox";

struct vctx {
	struct sieve_script *s;
	struct buf *errors;
	int n_errors;
};

static void MH_PRINTF(3, 4)
verror(struct vctx *v, int line, const char *fmt, ...)
{
	if (v->n_errors++ >= 10)
		return;
	va_list ap;
	buf_printf(v->errors, "line %d: error: ", line);
	va_start(ap, fmt);
	buf_vprintf(v->errors, fmt, ap);
	va_end(ap);
	buf_puts(v->errors, "\n");
}

static const char *
ext_name(unsigned ext)
{
	for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++)
		if (extensions[i].ext == ext)
			return extensions[i].name;
	return "?";
}

struct sv_arg *
sv_tag(const struct sv_node *n, const char *name)
{
	for (size_t i = 0; i < n->n_tags; i++)
		if (strcmp(n->tags[i].name, name) == 0)
			return n->tags[i].arg;
	return NULL;
}

bool
sv_has_tag(const struct sv_node *n, const char *name)
{
	for (size_t i = 0; i < n->n_tags; i++)
		if (strcmp(n->tags[i].name, name) == 0)
			return true;
	return false;
}

/* The extension a tag needs on this command (0: none beyond the command's). */
static unsigned
tag_ext(enum sv_code code, const char *tag)
{
	static const struct {
		const char *tag;
		unsigned ext;
	} map[] = {
		{ "copy", EXT_COPY }, { "flags", EXT_IMAP4FLAGS }, { "create", EXT_MAILBOX },
		{ "regex", EXT_REGEX }, { "quoteregex", EXT_REGEX }, { "count", EXT_RELATIONAL },
		{ "value", EXT_RELATIONAL }, { "user", EXT_SUBADDRESS },
		{ "detail", EXT_SUBADDRESS }, { "index", EXT_INDEX }, { "encodeurl", EXT_ENOTIFY },
		{ "percent", EXT_SPAMTESTPLUS },
	};
	if (strcmp(tag, "last") == 0)
		return code == C_ADDHEADER || code == T_DUPLICATE ? 0 : EXT_INDEX;
	if (strcmp(tag, "seconds") == 0)
		return code == C_VACATION ? EXT_VACATION_SECONDS : 0;
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(map[i].tag, tag) == 0)
			return map[i].ext;
	return 0;
}

/* Which group of mutually exclusive tags a tag is in (0: none). */
static int
tag_group(const char *tag)
{
	static const char *const groups[] = {
		"", " is contains matches regex count value ",
		" all localpart domain user detail ", " raw content text ",
		" days seconds ", " zone originalzone ", " header uniqueid ",
		" over under ", " lower upper ", " lowerfirst upperfirst ",
	};
	char key[40];
	if (strlen(tag) > sizeof key - 3)
		return 0;
	snprintf(key, sizeof key, " %s ", tag);
	for (size_t g = 1; g < sizeof groups / sizeof groups[0]; g++)
		if (strstr(groups[g], key) != NULL)
			return (int)g;
	return 0;
}

/* Finds tag in the spec's tag list; its value type in *type_r ('-' none). */
static bool
spec_tag(const char *tags, const char *tag, char *type_r)
{
	static const char groups[] =
		"@cmp comparator:S @match is contains matches regex count:S value:S "
		"@addr all localpart domain user detail @idx index:N last ";
	struct buf expanded = BUF_INIT;
	/* expand the groups */
	const char *p = tags;
	while (*p != 0) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e != 0 && *e != ' ')
			e++;
		if (e == p)
			break;
		if (*p == '@') {
			const char *g = groups;
			size_t n = (size_t)(e - p);
			while ((g = strstr(g, "@")) != NULL) {
				if (strncmp(g, p, n) == 0 && g[n] == ' ') {
					const char *ge = strchr(g + n + 1, '@');
					size_t gl = ge != NULL ? (size_t)(ge - g - n - 1) : strlen(g + n + 1);
					buf_append(&expanded, g + n + 1, gl);
					break;
				}
				g++;
			}
		} else {
			buf_append(&expanded, p, (size_t)(e - p));
			buf_append(&expanded, " ", 1);
		}
		p = e;
	}
	size_t tl = strlen(tag);
	bool found = false;
	p = buf_cstr(&expanded);
	while (*p != 0) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e != 0 && *e != ' ' && *e != ':')
			e++;
		if ((size_t)(e - p) == tl && strncmp(p, tag, tl) == 0) {
			*type_r = *e == ':' ? e[1] : '-';
			found = true;
			break;
		}
		while (*e != 0 && *e != ' ')
			e++;
		p = e;
	}
	buf_free(&expanded);
	return found;
}

static bool
arg_fits(const struct sv_arg *a, char type)
{
	switch (type) {
	case 'N':
		return a->type == SV_NUM;
	case 'S':
		return a->type == SV_STRS && a->n == 1 && !a->list;
	case 'L':
		return a->type == SV_STRS;
	}
	return false;
}

static const char *
type_name(char t)
{
	return t == 'N' ? "number" : t == 'S' ? "string" : "string list";
}

static bool
has_var(const char *s)
{
	return strstr(s, "${") != NULL;
}

static int validate_block(struct vctx *v, struct sv_node *cmds, size_t n, bool top);

static int
validate_node(struct vctx *v, struct sv_node *n, bool want_test)
{
	const struct spec *sp = NULL;
	for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		if (strcmp(specs[i].name, n->id) == 0 && specs[i].test == want_test) {
			sp = &specs[i];
			break;
		}
	}
	if (sp == NULL || (sp->ext != 0 && !(v->s->ext & sp->ext))) {
		verror(v, n->line, "unknown %s '%s' (%s)", want_test ? "test" : "command", n->id,
		       sp != NULL ? "its extension is not required" : "not supported");
		return -1;
	}
	n->code = sp->code;
	n->match = MATCH_IS;
	n->cmp = CMP_CASEMAP;
	n->ap = AP_ALL;
	int groups_seen[16] = { 0 };
	bool cmp_set = false;

	for (size_t i = 0; i < n->n_args; i++) {
		struct sv_arg *a = &n->args[i];
		if (a->type != SV_TAG) {
			n->pos = xreallocarray(n->pos, n->n_pos + 1, sizeof *n->pos);
			n->pos[n->n_pos++] = a;
			continue;
		}
		char type;
		if (!spec_tag(sp->tags, a->tag, &type)) {
			verror(v, a->line, "unknown tagged argument ':%s' for the %s %s", a->tag,
			       n->id, want_test ? "test" : "command");
			return -1;
		}
		unsigned te = tag_ext(n->code, a->tag);
		if (te != 0 && !(v->s->ext & te)) {
			verror(v, a->line, "tagged argument ':%s' needs the '%s' extension", a->tag,
			       ext_name(te));
			return -1;
		}
		if (sv_has_tag(n, a->tag) || (strcmp(a->tag, "comparator") == 0 && cmp_set)) {
			verror(v, a->line, "tagged argument ':%s' given twice", a->tag);
			return -1;
		}
		int g = tag_group(a->tag);
		if (g > 0 && groups_seen[g]++) {
			verror(v, a->line, "tagged argument ':%s' conflicts with an earlier one",
			       a->tag);
			return -1;
		}
		struct sv_arg *val = NULL;
		if (type != '-') {
			if (i + 1 >= n->n_args || !arg_fits(&n->args[i + 1], type)) {
				verror(v, a->line, "tagged argument ':%s' needs a %s", a->tag,
				       type_name(type));
				return -1;
			}
			val = &n->args[++i];
		}
		n->tags = xreallocarray(n->tags, n->n_tags + 1, sizeof *n->tags);
		n->tags[n->n_tags].name = a->tag;
		n->tags[n->n_tags++].arg = val;

		const char *t = a->tag;
		if (strcmp(t, "comparator") == 0) {
			const char *c = val->strs[0];
			cmp_set = true;
			if (strcmp(c, "i;octet") == 0)
				n->cmp = CMP_OCTET;
			else if (strcmp(c, "i;ascii-casemap") == 0)
				n->cmp = CMP_CASEMAP;
			else if (strcmp(c, "i;ascii-numeric") == 0 && (v->s->ext & EXT_NUMERIC))
				n->cmp = CMP_NUMERIC;
			else {
				verror(v, val->line, "unknown comparator '%s'", c);
				return -1;
			}
		} else if (strcmp(t, "is") == 0) {
			n->match = MATCH_IS;
		} else if (strcmp(t, "contains") == 0) {
			n->match = MATCH_CONTAINS;
		} else if (strcmp(t, "matches") == 0) {
			n->match = MATCH_MATCHES;
		} else if (strcmp(t, "regex") == 0) {
			n->match = MATCH_REGEX;
		} else if (strcmp(t, "count") == 0 || strcmp(t, "value") == 0) {
			static const char *const rels[] = { "gt", "ge", "lt", "le", "eq", "ne" };
			n->match = t[0] == 'c' ? MATCH_COUNT : MATCH_VALUE;
			size_t r = 0;
			while (r < 6 && !str_eq_nocase(rels[r], val->strs[0]))
				r++;
			if (r == 6) {
				verror(v, val->line, "invalid relational match '%s'", val->strs[0]);
				return -1;
			}
			n->rel = (enum sv_rel)r;
		} else if (strcmp(t, "all") == 0) {
			n->ap = AP_ALL;
		} else if (strcmp(t, "localpart") == 0) {
			n->ap = AP_LOCAL;
		} else if (strcmp(t, "domain") == 0) {
			n->ap = AP_DOMAIN;
		} else if (strcmp(t, "user") == 0) {
			n->ap = AP_USER;
		} else if (strcmp(t, "detail") == 0) {
			n->ap = AP_DETAIL;
		} else if (strcmp(t, "index") == 0) {
			if (val->num < 1 || val->num > 1000000) {
				verror(v, val->line, "the :index must be at least 1");
				return -1;
			}
			n->index = (int)val->num;
		} else if (strcmp(t, "last") == 0 && n->code != C_ADDHEADER &&
			   n->code != T_DUPLICATE) {
			n->last = true;
		}
	}
	if (n->last && n->index == 0) {
		verror(v, n->line, "the :last tag needs an :index");
		return -1;
	}
	if (n->cmp == CMP_NUMERIC &&
	    (n->match == MATCH_CONTAINS || n->match == MATCH_MATCHES || n->match == MATCH_REGEX)) {
		verror(v, n->line, "the comparator 'i;ascii-numeric' does not support this match type");
		return -1;
	}
	/* positional arguments against the pattern, optional ones filled
	 * left to right while there are enough */
	size_t required = 0, total = 0;
	for (const char *p = sp->pos; *p != 0; p++) {
		if (*p == '?')
			continue;
		total++;
		if (p == sp->pos || p[-1] != '?')
			required++;
	}
	if (n->n_pos < required || n->n_pos > total) {
		verror(v, n->line, "the %s %s takes %zu positional argument%s, not %zu", n->id,
		       want_test ? "test" : "command", required, required == 1 ? "" : "s",
		       n->n_pos);
		return -1;
	}
	size_t optional = n->n_pos - required, k = 0;
	struct sv_arg **placed = xcalloc(total + 1, sizeof *placed);
	size_t slot = 0;
	for (const char *p = sp->pos; *p != 0; p++) {
		bool opt = *p == '?';
		if (opt)
			p++;
		if (opt && optional == 0) {
			slot++;
			continue;
		}
		if (opt)
			optional--;
		struct sv_arg *a = n->pos[k++];
		if (!arg_fits(a, *p)) {
			verror(v, a->line, "the %s %s expects a %s here", n->id,
			       want_test ? "test" : "command", type_name(*p));
			free(placed);
			return -1;
		}
		placed[slot++] = a;
	}
	/* pos[] keeps the written ones; a missing optional one is NULL */
	free(n->pos);
	n->pos = placed;
	n->n_pos = total;

	if (n->code == T_SIZE && n->n_tags != 1) {
		verror(v, n->line, "the size test needs :over or :under");
		return -1;
	}
	if (sp->tests == 1 && n->n_tests != 1) {
		verror(v, n->line, "the %s %s needs one test", n->id, want_test ? "test" : "command");
		return -1;
	}
	if (sp->tests == 0 && n->n_tests > 0) {
		verror(v, n->line, "the %s %s takes no test", n->id, want_test ? "test" : "command");
		return -1;
	}
	if (sp->tests == -1 && n->n_tests == 0) {
		verror(v, n->line, "the %s test needs a list of tests", n->id);
		return -1;
	}
	if (!want_test && sp->block != n->has_block) {
		verror(v, n->line, sp->block ? "the %s command needs a block"
					     : "the %s command takes no block", n->id);
		return -1;
	}
	for (size_t i = 0; i < n->n_tests; i++)
		if (validate_node(v, &n->tests[i], true) < 0)
			return -1;

	/* what the table cannot say */
	if (n->code == C_SET) {
		const char *name = n->pos[0]->strs[0];
		bool ok = *name != 0 && !isdigit((unsigned char)*name);
		for (const char *p = name; *p != 0; p++)
			if (!isalnum((unsigned char)*p) && *p != '_')
				ok = false;
		if (!ok) {
			verror(v, n->line, "invalid variable name '%s'", name);
			return -1;
		}
	}
	if (n->code == C_REDIRECT && !has_var(n->pos[0]->strs[0]) &&
	    !sv_address_ok(n->pos[0]->strs[0])) {
		verror(v, n->line, "specified redirect address '%s' is invalid",
		       n->pos[0]->strs[0]);
		return -1;
	}
	if (n->code == C_VACATION) {
		struct sv_arg *from = sv_tag(n, "from");
		if (from != NULL && !has_var(from->strs[0]) && !sv_mailbox_ok(from->strs[0])) {
			verror(v, n->line, "specified :from address '%s' is invalid",
			       from->strs[0]);
			return -1;
		}
	}
	if ((n->code == C_ADDHEADER || n->code == C_DELETEHEADER) &&
	    !has_var(n->pos[0]->strs[0])) {
		const char *h = n->pos[0]->strs[0];
		bool ok = *h != 0;
		for (const char *p = h; *p != 0; p++)
			if ((unsigned char)*p <= 32 || (unsigned char)*p >= 127 || *p == ':')
				ok = false;
		if (!ok) {
			verror(v, n->line, "specified header field name '%s' is invalid", h);
			return -1;
		}
	}
	if (n->match == MATCH_REGEX) {
		/* the key list is the last positional argument */
		struct sv_arg *keys = n->pos[n->n_pos - 1];
		bool constant = true;
		for (size_t i = 0; keys != NULL && i < keys->n; i++)
			if ((v->s->ext & EXT_VARIABLES) && has_var(keys->strs[i]))
				constant = false;
		if (keys != NULL && constant) {
			void **res = xcalloc(keys->n + 1, sizeof *res);
			n->regex = res;
			n->n_regex = keys->n;
			for (size_t i = 0; i < keys->n; i++) {
				const char *err;
				if (sv_regex_compile(keys->strs[i], n->cmp, &res[i], &err) < 0) {
					verror(v, keys->line, "invalid regular expression '%s': %s",
					       keys->strs[i], err);
					return -1;
				}
			}
		}
	}
	if (n->has_block)
		return validate_block(v, n->block, n->n_block, false);
	return 0;
}

static int
do_require(struct vctx *v, struct sv_node *n)
{
	if (n->n_args != 1 || n->args[0].type != SV_STRS || n->n_tests > 0 || n->has_block) {
		verror(v, n->line, "the require command takes a string list");
		return -1;
	}
	n->code = C_REQUIRE;
	for (size_t i = 0; i < n->args[0].n; i++) {
		const char *name = n->args[0].strs[i];
		size_t k = 0;
		while (k < sizeof extensions / sizeof extensions[0] &&
		       strcmp(extensions[k].name, name) != 0)
			k++;
		if (k == sizeof extensions / sizeof extensions[0]) {
			verror(v, n->line, "require: unknown Sieve capability '%s'", name);
			return -1;
		}
		v->s->ext |= extensions[k].ext;
		if (v->s->requires == NULL)
			v->s->requires = xstrdup(name);
		else {
			char *r = xasprintf("%s %s", v->s->requires, name);
			free(v->s->requires);
			v->s->requires = r;
		}
	}
	return 0;
}

static int
validate_block(struct vctx *v, struct sv_node *cmds, size_t n, bool top)
{
	bool requires_done = false;
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		struct sv_node *c = &cmds[i];
		if (strcmp(c->id, "require") == 0) {
			if (!top || requires_done) {
				verror(v, c->line, "the require command can only be placed at top "
				       "level at the beginning of the file");
				ret = -1;
				continue;
			}
			if (do_require(v, c) < 0)
				ret = -1;
			continue;
		}
		requires_done = true;
		if (strcmp(c->id, "elsif") == 0 || strcmp(c->id, "else") == 0) {
			if (i == 0 || (cmds[i - 1].code != C_IF && cmds[i - 1].code != C_ELSIF) ||
			    strcmp(cmds[i - 1].id, "require") == 0) {
				verror(v, c->line, "the %s command must follow an if or elsif", c->id);
				ret = -1;
				continue;
			}
		}
		if (validate_node(v, c, false) < 0)
			ret = -1;
		if (v->n_errors >= 10)
			break;
	}
	return ret;
}

int
sv_validate(struct sieve_script *s, struct buf *errors)
{
	struct vctx v = { s, errors, 0 };
	int ret = validate_block(&v, s->cmds, s->n_cmds, true);
	return ret < 0 || v.n_errors > 0 ? -1 : 0;
}

int
sieve_compile(const char *text, size_t len, struct sieve_script **script_r,
	      struct buf *errors)
{
	struct sieve_script *s = xcalloc(1, sizeof *s);
	*script_r = NULL;
	if (sv_parse(text, len, &s->cmds, &s->n_cmds, errors) < 0 ||
	    sv_validate(s, errors) < 0) {
		sieve_script_free(&s);
		return -1;
	}
	*script_r = s;
	return 0;
}

void
sieve_script_free(struct sieve_script **script)
{
	if (*script == NULL)
		return;
	sv_nodes_free((*script)->cmds, (*script)->n_cmds);
	free((*script)->requires);
	free(*script);
	*script = NULL;
}

const char *
sieve_script_requires(const struct sieve_script *script)
{
	return script->requires != NULL ? script->requires : "";
}
