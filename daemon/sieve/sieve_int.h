/*
 * sieve_int: the compiled form shared by the parser (parse.c), the checker
 * (validate.c), the matcher (match.c) and the interpreter (interp.c).
 */
#ifndef MAILHUB_SIEVE_SIEVE_INT_H
#define MAILHUB_SIEVE_SIEVE_INT_H

#include <stdint.h>

#include "sieve/sieve.h"

enum sv_arg_type { SV_NUM, SV_STRS, SV_TAG };

struct sv_arg {
	enum sv_arg_type type;
	int line;
	uint64_t num;
	char **strs;		/* SV_STRS */
	size_t n;
	bool list;		/* written as [ ... ] */
	char *tag;		/* SV_TAG: without the colon, lower case */
};

/* Extensions, as bits of sieve_script.ext. */
enum sv_ext {
	EXT_FILEINTO = 1 << 0, EXT_REJECT = 1 << 1, EXT_EREJECT = 1 << 2,
	EXT_ENVELOPE = 1 << 3, EXT_IMAP4FLAGS = 1 << 4, EXT_COPY = 1 << 5,
	EXT_BODY = 1 << 6, EXT_VARIABLES = 1 << 7, EXT_RELATIONAL = 1 << 8,
	EXT_SUBADDRESS = 1 << 9, EXT_DATE = 1 << 10, EXT_INDEX = 1 << 11,
	EXT_REGEX = 1 << 12, EXT_VACATION = 1 << 13, EXT_VACATION_SECONDS = 1 << 14,
	EXT_ENOTIFY = 1 << 15, EXT_DUPLICATE = 1 << 16, EXT_EDITHEADER = 1 << 17,
	EXT_SPAMTEST = 1 << 18, EXT_SPAMTESTPLUS = 1 << 19, EXT_VIRUSTEST = 1 << 20,
	EXT_MAILBOX = 1 << 21, EXT_ENCODED_CHAR = 1 << 22, EXT_NUMERIC = 1 << 23,
};

enum sv_match { MATCH_IS, MATCH_CONTAINS, MATCH_MATCHES, MATCH_REGEX, MATCH_COUNT,
		MATCH_VALUE };
enum sv_rel { REL_GT, REL_GE, REL_LT, REL_LE, REL_EQ, REL_NE };
enum sv_cmp { CMP_CASEMAP, CMP_OCTET, CMP_NUMERIC };
enum sv_addrpart { AP_ALL, AP_LOCAL, AP_DOMAIN, AP_USER, AP_DETAIL };

/* Commands and tests. */
enum sv_code {
	C_REQUIRE, C_IF, C_ELSIF, C_ELSE, C_STOP, C_KEEP, C_DISCARD, C_REDIRECT,
	C_FILEINTO, C_REJECT, C_EREJECT, C_SETFLAG, C_ADDFLAG, C_REMOVEFLAG, C_SET,
	C_VACATION, C_NOTIFY, C_ADDHEADER, C_DELETEHEADER,
	T_ADDRESS, T_ALLOF, T_ANYOF, T_ENVELOPE, T_EXISTS, T_FALSE, T_HEADER, T_NOT,
	T_SIZE, T_TRUE, T_BODY, T_STRING, T_HASFLAG, T_DATE, T_CURRENTDATE,
	T_VALID_NOTIFY_METHOD, T_NOTIFY_METHOD_CAPABILITY, T_DUPLICATE, T_SPAMTEST,
	T_VIRUSTEST, T_MAILBOXEXISTS,
};

struct sv_tagval {
	const char *name;	/* points into the arg */
	struct sv_arg *arg;	/* its value, NULL for a flag tag */
};

struct sv_node {
	enum sv_code code;
	char *id;
	int line;
	struct sv_arg *args;
	size_t n_args;
	struct sv_node *tests;	/* a test's tests, or an if's one test */
	size_t n_tests;
	struct sv_node *block;
	size_t n_block;
	bool has_block;
	/* filled by validate.c */
	struct sv_arg **pos;	/* positional arguments */
	size_t n_pos;
	struct sv_tagval *tags;
	size_t n_tags;
	enum sv_match match;
	enum sv_rel rel;
	enum sv_cmp cmp;
	enum sv_addrpart ap;
	int index;		/* 0: none */
	bool last;
	void *regex;		/* compiled keys when constant (regex_t[]) */
	size_t n_regex;
};

struct sieve_script {
	struct sv_node *cmds;
	size_t n_cmds;
	unsigned ext;
	char *requires;
};

/* parse.c: the syntax tree; -1 with errors written. */
int sv_parse(const char *text, size_t len, struct sv_node **cmds_r, size_t *n_r,
	     struct buf *errors);
void sv_nodes_free(struct sv_node *nodes, size_t n);
/* validate.c: checks the tree, fills the nodes; -1 with errors written. */
int sv_validate(struct sieve_script *s, struct buf *errors);
/* The tag's value on node n, or NULL; sv_has_tag for a flag tag. */
struct sv_arg *sv_tag(const struct sv_node *n, const char *name);
bool sv_has_tag(const struct sv_node *n, const char *name);

/* match.c */
/* Compares a and b as cmp orders them: <0, 0, >0. */
int sv_cmp_order(enum sv_cmp cmp, const char *a, const char *b);
bool sv_rel_holds(enum sv_rel rel, int order);
/* Whether value matches key; for MATCH_MATCHES/MATCH_REGEX fills caps
 * (caps[0] the whole, then the groups; malloc'd) when caps != NULL. */
struct sv_caps {
	char *v[10];
	size_t n;
};
void sv_caps_clear(struct sv_caps *c);
bool sv_glob(enum sv_cmp cmp, const char *key, const char *value, struct sv_caps *caps);
bool sv_contains(enum sv_cmp cmp, const char *value, const char *key);
/* 0 and a compiled regex (regex_t, malloc'd), or -1 with *error_r. */
int sv_regex_compile(const char *key, enum sv_cmp cmp, void **re_r, const char **error_r);
void sv_regex_free(void *re);
bool sv_regex_match(void *re, const char *value, struct sv_caps *caps);
/* Whether the string is a valid mail address (redirect, vacation). */
bool sv_address_ok(const char *s);
/* The same, or a display name with the address in angle brackets. */
bool sv_mailbox_ok(const char *s);
/* Parses one string into number for i;ascii-numeric: false for none. */
bool sv_numeric(const char *s, uint64_t *n_r);

/* ---- the run (interp.c, actions.c) ---------------------------------- */

struct sv_var {
	char *name;		/* lower case */
	char *value;
};

struct sv_run {
	const struct sieve_script *s;
	const struct sieve_env *env;
	struct sieve_result *r;
	const char *hdr;	/* the header block in force (maybe edited) */
	size_t hdr_len;
	const char *body;
	size_t body_len;
	struct buf edited;	/* the edited header block, once edited */
	bool is_edited;
	struct sv_var *vars;
	size_t n_vars;
	struct sv_caps caps;	/* the match variables */
	char **flags;		/* imap4flags' internal variable */
	size_t n_flags;
	/* decoded header values by field name (lower case), kept until the
	 * header is edited: a script of many rules asks for the same few */
	struct sv_hvals {
		char *name;
		char **v;
		size_t n;
	} *hvals;
	size_t n_hvals;
	long steps;
	size_t n_redirects;
	bool stop;
	char *error;
};

/* interp.c */
/* The string with variables (and encoded characters) expanded; malloc'd. */
char *sv_expand(struct sv_run *run, const char *s);
void sv_fail(struct sv_run *run, const char *fmt, ...) MH_PRINTF(2, 3);
/* The decoded, unfolded values of the header fields called name, in order
 * (a NULL-terminated malloc'd array of malloc'd strings). */
char **sv_header_values(struct sv_run *run, const char *name, size_t *n_r);
/* Forgets the values sv_header_values() kept (the header changed). */
void sv_hvals_clear(struct sv_run *run);
void sv_strv_free(char **v, size_t n);
/* Adds a flag list (space-separated items) to a flag set, no duplicates. */
void sv_flags_add(char ***flags, size_t *n, const char *list);
/* actions.c */
struct sieve_action *sv_action_new(struct sv_run *run, enum sieve_action_kind kind);
void sv_vacation(struct sv_run *run, const struct sv_node *n);
void sv_notify(struct sv_run *run, const struct sv_node *n);
bool sv_notify_uri_ok(const char *uri);
void sv_addheader(struct sv_run *run, const struct sv_node *n);
void sv_deleteheader(struct sv_run *run, const struct sv_node *n);
/* Merges duplicate actions, settles the implicit keep, checks conflicts. */
void sv_finish(struct sv_run *run);
/* Whether the test's keys match values (match.c's types, caps set). */
bool sv_match_values(struct sv_run *run, const struct sv_node *n, char **values, size_t nv,
		     const struct sv_arg *keys);

#endif
