/*
 * parse: the Sieve grammar of RFC 5228 §8 (lexical tokens, then commands,
 * arguments, string lists, tests and blocks) into a tree of sv_node.
 * Strings keep their text (quoted-string escapes and multi-line dot-stuffing
 * undone); variables are expanded at run time.  Errors name the line.
 */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "core/xmalloc.h"
#include "sieve/sieve_int.h"

enum tok_type { TK_EOF, TK_ID, TK_TAG, TK_NUM, TK_STR, TK_PUNCT, TK_ERR };

struct lexer {
	const char *p, *end;
	int line;
	/* the current token */
	enum tok_type type;
	int tline;
	char punct;
	uint64_t num;
	struct buf text;
	struct buf *errors;
	int n_errors;
};

static void MH_PRINTF(3, 4)
lex_error(struct lexer *lx, int line, const char *fmt, ...)
{
	if (lx->n_errors++ >= 10)
		return;
	va_list ap;
	buf_printf(lx->errors, "line %d: error: ", line);
	va_start(ap, fmt);
	buf_vprintf(lx->errors, fmt, ap);
	va_end(ap);
	buf_puts(lx->errors, "\n");
}

/* Skips white space and comments; -1 on an unterminated comment. */
static int
skip_space(struct lexer *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == '\n') {
			lx->line++;
			lx->p++;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			lx->p++;
		} else if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (c == '/' && lx->p + 1 < lx->end && lx->p[1] == '*') {
			int start = lx->line;
			lx->p += 2;
			for (;;) {
				if (lx->p + 1 >= lx->end) {
					lex_error(lx, start, "%sunterminated comment", "");
					lx->p = lx->end;
					return -1;
				}
				if (lx->p[0] == '*' && lx->p[1] == '/') {
					lx->p += 2;
					break;
				}
				if (*lx->p == '\n')
					lx->line++;
				lx->p++;
			}
		} else {
			break;
		}
	}
	return 0;
}

/* text: multi-line string after "text:" (RFC 5228 §2.4.2). */
static int
lex_multiline(struct lexer *lx)
{
	/* rest of the "text:" line: white space, maybe a hash comment */
	while (lx->p < lx->end && (*lx->p == ' ' || *lx->p == '\t'))
		lx->p++;
	if (lx->p < lx->end && *lx->p == '#')
		while (lx->p < lx->end && *lx->p != '\n')
			lx->p++;
	if (lx->p < lx->end && *lx->p == '\r')
		lx->p++;
	if (lx->p >= lx->end || *lx->p != '\n') {
		lex_error(lx, lx->line, "%sinvalid multi-line string start", "");
		return -1;
	}
	lx->p++;
	lx->line++;
	for (;;) {
		if (lx->p >= lx->end) {
			lex_error(lx, lx->tline, "%sunterminated multi-line string", "");
			return -1;
		}
		const char *nl = memchr(lx->p, '\n', (size_t)(lx->end - lx->p));
		const char *eol = nl != NULL ? nl : lx->end;
		size_t n = (size_t)(eol - lx->p);
		if (n > 0 && lx->p[n - 1] == '\r')
			n--;
		if (n == 1 && lx->p[0] == '.') {
			lx->p = nl != NULL ? nl + 1 : lx->end;
			lx->line++;
			return 0;
		}
		const char *s = lx->p;
		if (n > 0 && s[0] == '.') {
			s++;
			n--;
		}
		buf_append(&lx->text, s, n);
		buf_puts(&lx->text, "\r\n");
		lx->p = nl != NULL ? nl + 1 : lx->end;
		lx->line++;
	}
}

static void
next(struct lexer *lx)
{
	buf_reset(&lx->text);
	if (skip_space(lx) < 0) {
		lx->type = TK_ERR;
		return;
	}
	lx->tline = lx->line;
	if (lx->p >= lx->end) {
		lx->type = TK_EOF;
		return;
	}
	char c = *lx->p;
	if (isalpha((unsigned char)c) || c == '_' || c == ':') {
		bool tag = c == ':';
		const char *s = lx->p + (tag ? 1 : 0);
		const char *e = s;
		while (e < lx->end && (isalnum((unsigned char)*e) || *e == '_'))
			e++;
		if (e == s || (tag && isdigit((unsigned char)*s))) {
			lex_error(lx, lx->line, "%sinvalid tag", "");
			lx->type = TK_ERR;
			return;
		}
		if (!tag && e - s == 4 && mem_eq_nocase(s, "text", 4) && e < lx->end && *e == ':') {
			lx->p = e + 1;
			lx->type = lex_multiline(lx) < 0 ? TK_ERR : TK_STR;
			buf_puts(&lx->text, "");
			return;
		}
		buf_append(&lx->text, s, (size_t)(e - s));
		for (size_t i = 0; i < lx->text.len; i++)
			lx->text.data[i] = (char)tolower((unsigned char)lx->text.data[i]);
		lx->p = e;
		lx->type = tag ? TK_TAG : TK_ID;
		return;
	}
	if (isdigit((unsigned char)c)) {
		uint64_t n = 0;
		bool over = false;
		while (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
			if (n > (UINT64_MAX - 9) / 10)
				over = true;
			n = n * 10 + (uint64_t)(*lx->p - '0');
			lx->p++;
		}
		unsigned shift = 0;
		if (lx->p < lx->end) {
			switch (*lx->p) {
			case 'K': case 'k': shift = 10; break;
			case 'M': case 'm': shift = 20; break;
			case 'G': case 'g': shift = 30; break;
			}
			if (shift > 0)
				lx->p++;
		}
		if (shift > 0 && n > (UINT64_MAX >> shift))
			over = true;
		n <<= shift;
		/* Pigeonhole keeps numbers in 63 bits */
		if (over || n > (uint64_t)INT64_MAX) {
			lex_error(lx, lx->line, "%snumber is out of range", "");
			lx->type = TK_ERR;
			return;
		}
		lx->num = n;
		lx->type = TK_NUM;
		return;
	}
	if (c == '"') {
		lx->p++;
		int start = lx->line;
		for (;;) {
			if (lx->p >= lx->end) {
				lex_error(lx, start, "%sunterminated string", "");
				lx->type = TK_ERR;
				return;
			}
			char d = *lx->p++;
			if (d == '"')
				break;
			if (d == '\\' && lx->p < lx->end)
				d = *lx->p++;
			if (d == '\n')
				lx->line++;
			buf_putc(&lx->text, d);
		}
		buf_puts(&lx->text, "");
		lx->type = TK_STR;
		return;
	}
	if (strchr("[](){},;", c) != NULL) {
		lx->punct = c;
		lx->p++;
		lx->type = TK_PUNCT;
		return;
	}
	char bad[2] = { c, 0 };
	if (!isprint((unsigned char)c))
		bad[0] = '?';
	lex_error(lx, lx->line, "unexpected character '%s'", bad);
	lx->type = TK_ERR;
}

static bool
is_punct(const struct lexer *lx, char c)
{
	return lx->type == TK_PUNCT && lx->punct == c;
}

static int parse_test(struct lexer *lx, struct sv_node *t, int depth);

static char *
tok_str(struct lexer *lx)
{
	if (memchr(lx->text.data, '\0', lx->text.len) != NULL)
		lex_error(lx, lx->tline, "%sNUL character in string", "");
	return xstrndup(lx->text.data != NULL ? lx->text.data : "", lx->text.len);
}

/* arguments = *argument [ test / test-list ] (tests only when allowed) */
static int
parse_args(struct lexer *lx, struct sv_node *n, int depth)
{
	for (;;) {
		struct sv_arg a;
		memset(&a, 0, sizeof a);
		a.line = lx->tline;
		if (lx->type == TK_NUM) {
			a.type = SV_NUM;
			a.num = lx->num;
			next(lx);
		} else if (lx->type == TK_TAG) {
			a.type = SV_TAG;
			a.tag = xstrdup(lx->text.data);
			next(lx);
		} else if (lx->type == TK_STR) {
			a.type = SV_STRS;
			a.strs = xmalloc(sizeof *a.strs);
			a.strs[0] = tok_str(lx);
			a.n = 1;
			next(lx);
		} else if (is_punct(lx, '[')) {
			a.type = SV_STRS;
			a.list = true;
			next(lx);
			for (;;) {
				if (lx->type != TK_STR) {
					lex_error(lx, lx->tline, "%sexpected a string in the string list", "");
					for (size_t i = 0; i < a.n; i++)
						free(a.strs[i]);
					free(a.strs);
					return -1;
				}
				a.strs = xreallocarray(a.strs, a.n + 1, sizeof *a.strs);
				a.strs[a.n++] = tok_str(lx);
				next(lx);
				if (is_punct(lx, ']'))
					break;
				if (!is_punct(lx, ',')) {
					for (size_t i = 0; i < a.n; i++)
						free(a.strs[i]);
					free(a.strs);
					lex_error(lx, lx->tline, "%sexpected ',' or ']' in the string list", "");
					return -1;
				}
				next(lx);
			}
			next(lx);
		} else {
			break;
		}
		n->args = xreallocarray(n->args, n->n_args + 1, sizeof *n->args);
		n->args[n->n_args++] = a;
	}
	if (lx->type == TK_ID) {
		n->tests = xcalloc(1, sizeof *n->tests);
		n->n_tests = 1;
		return parse_test(lx, &n->tests[0], depth + 1);
	}
	if (is_punct(lx, '(')) {
		next(lx);
		for (;;) {
			if (lx->type != TK_ID) {
				lex_error(lx, lx->tline, "%sexpected a test in the test list", "");
				return -1;
			}
			n->tests = xreallocarray(n->tests, n->n_tests + 1, sizeof *n->tests);
			memset(&n->tests[n->n_tests], 0, sizeof *n->tests);
			if (parse_test(lx, &n->tests[n->n_tests++], depth + 1) < 0)
				return -1;
			if (is_punct(lx, ')'))
				break;
			if (!is_punct(lx, ',')) {
				lex_error(lx, lx->tline, "%sexpected ',' or ')' in the test list", "");
				return -1;
			}
			next(lx);
		}
		next(lx);
	}
	return 0;
}

static int
parse_test(struct lexer *lx, struct sv_node *t, int depth)
{
	if (depth > SIEVE_NESTING_MAX * 2) {
		lex_error(lx, lx->tline, "%stests nested too deeply", "");
		return -1;
	}
	t->id = xstrdup(lx->text.data);
	t->line = lx->tline;
	next(lx);
	return parse_args(lx, t, depth);
}

static int parse_commands(struct lexer *lx, struct sv_node **cmds, size_t *n, int depth,
			  bool in_block);

static int
parse_command(struct lexer *lx, struct sv_node *c, int depth)
{
	c->id = xstrdup(lx->text.data);
	c->line = lx->tline;
	next(lx);
	if (parse_args(lx, c, depth) < 0)
		return -1;
	if (is_punct(lx, ';')) {
		next(lx);
		return 0;
	}
	if (is_punct(lx, '{')) {
		if (depth >= SIEVE_NESTING_MAX) {
			lex_error(lx, lx->tline, "%sblocks nested too deeply", "");
			return -1;
		}
		c->has_block = true;
		next(lx);
		if (parse_commands(lx, &c->block, &c->n_block, depth + 1, true) < 0)
			return -1;
		next(lx);	/* the '}' */
		return 0;
	}
	if (lx->type != TK_ERR)
		lex_error(lx, lx->tline, "expected ';' or '{' after command '%s'", c->id);
	return -1;
}

static int
parse_commands(struct lexer *lx, struct sv_node **cmds, size_t *n, int depth, bool in_block)
{
	for (;;) {
		if (lx->type == TK_ERR)
			return -1;
		if (lx->type == TK_EOF) {
			if (in_block) {
				lex_error(lx, lx->tline, "%sunexpected end of script: missing '}'", "");
				return -1;
			}
			return 0;
		}
		if (in_block && is_punct(lx, '}'))
			return 0;
		if (lx->type != TK_ID) {
			lex_error(lx, lx->tline, "%sexpected a command", "");
			return -1;
		}
		*cmds = xreallocarray(*cmds, *n + 1, sizeof **cmds);
		memset(&(*cmds)[*n], 0, sizeof **cmds);
		if (parse_command(lx, &(*cmds)[(*n)++], depth) < 0)
			return -1;
	}
}

int
sv_parse(const char *text, size_t len, struct sv_node **cmds_r, size_t *n_r,
	 struct buf *errors)
{
	struct lexer lx;
	memset(&lx, 0, sizeof lx);
	lx.p = text;
	lx.end = text + len;
	lx.line = 1;
	lx.errors = errors;
	*cmds_r = NULL;
	*n_r = 0;
	if (len > SIEVE_SCRIPT_MAX) {
		buf_puts(errors, "line 1: error: script too big\n");
		return -1;
	}
	next(&lx);
	int ret = parse_commands(&lx, cmds_r, n_r, 0, false);
	buf_free(&lx.text);
	if (ret < 0 || lx.n_errors > 0) {
		if (lx.n_errors == 0)
			buf_puts(errors, "line 1: error: syntax error\n");
		sv_nodes_free(*cmds_r, *n_r);
		*cmds_r = NULL;
		*n_r = 0;
		return -1;
	}
	return 0;
}

void
sv_nodes_free(struct sv_node *nodes, size_t n)
{
	if (nodes == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		struct sv_node *c = &nodes[i];
		free(c->id);
		for (size_t j = 0; j < c->n_args; j++) {
			struct sv_arg *a = &c->args[j];
			for (size_t k = 0; k < a->n; k++)
				free(a->strs[k]);
			free(a->strs);
			free(a->tag);
		}
		free(c->args);
		sv_nodes_free(c->tests, c->n_tests);
		sv_nodes_free(c->block, c->n_block);
		free(c->pos);
		free(c->tags);
		if (c->regex != NULL) {
			for (size_t k = 0; k < c->n_regex; k++)
				sv_regex_free(((void **)c->regex)[k]);
			free(c->regex);
		}
	}
	free(nodes);
}
