/*
 * cli/sieve.c: `mailhub sieve ...`: check a script, try it on a message
 * (what the delivery would do, without doing it), and manage the users'
 * stored scripts (the same ones ManageSieve and the panel manage).
 *
 *   sieve check FILE                      errors with line numbers; exit 1 on errors
 *   sieve test SCRIPT MESSAGE [--from ADDR] [--to ADDR] [--orig-to ADDR]
 *              [--spam-score 0-10] [--now UNIXTIME]
 *   sieve list ADDRESS
 *   sieve put ADDRESS NAME FILE [--activate]
 *   sieve show ADDRESS NAME
 *   sieve activate ADDRESS NAME | sieve deactivate ADDRESS
 *   sieve del ADDRESS NAME
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "sieve/sieve.h"
#include "store/sieve_store.h"
#include "store/store.h"

/* Reads a whole file ("-": standard input) into out, at most max bytes. */
static int
read_file(const char *path, struct buf *out, size_t max)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		cli_error("cannot open '%s': %s", esc_str(path), strerror(errno));
		return CLI_FAIL;
	}
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (out->len + n > max) {
			cli_error("'%s' is too big", esc_str(path));
			if (f != stdin)
				fclose(f);
			return CLI_FAIL;
		}
		buf_append(out, chunk, n);
	}
	bool err = ferror(f);
	if (f != stdin)
		fclose(f);
	if (err) {
		cli_error("cannot read '%s'", esc_str(path));
		return CLI_FAIL;
	}
	buf_puts(out, "");
	return CLI_OK;
}

/* The message as the store keeps it: every line end CRLF. */
static void
to_crlf(const struct buf *in, struct buf *out)
{
	for (size_t i = 0; i < in->len; i++) {
		if (in->data[i] == '\n' && (i == 0 || in->data[i - 1] != '\r'))
			buf_putc(out, '\r');
		buf_putc(out, in->data[i]);
	}
	buf_puts(out, "");
}

static int
sieve_check(int argc, char **argv)
{
	const char *pos[1];
	size_t n_pos;
	int ret = cli_parse_args("sieve check", argc, argv, 2, NULL, 0, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1)
		return cli_usage_error("sieve check: FILE is needed");
	struct buf text = BUF_INIT, errors = BUF_INIT;
	if ((ret = read_file(pos[0], &text, SIEVE_SCRIPT_MAX)) != CLI_OK)
		return ret;
	struct sieve_script *s;
	if (sieve_compile(text.data, text.len, &s, &errors) < 0) {
		fputs(buf_cstr(&errors), stdout);
		ret = CLI_FAIL;
	} else {
		printf("ok requires=\"%s\"\n", sieve_script_requires(s));
		sieve_script_free(&s);
	}
	buf_free(&text);
	buf_free(&errors);
	return ret;
}

static int
sieve_test(int argc, char **argv)
{
	struct cli_option opts[] = {
		{ "--from", true, false, NULL },    { "--to", true, false, NULL },
		{ "--orig-to", true, false, NULL }, { "--spam-score", true, false, NULL },
		{ "--now", true, false, NULL },
	};
	const char *pos[2];
	size_t n_pos;
	int ret = cli_parse_args("sieve test", argc, argv, 2, opts, 5, pos, 2, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 2)
		return cli_usage_error("sieve test: SCRIPT and MESSAGE are needed");
	struct buf text = BUF_INIT, raw = BUF_INIT, msg = BUF_INIT, errors = BUF_INIT, out = BUF_INIT;
	struct sieve_script *s = NULL;
	if ((ret = read_file(pos[0], &text, SIEVE_SCRIPT_MAX)) != CLI_OK ||
	    (ret = read_file(pos[1], &raw, 256u << 20)) != CLI_OK)
		goto out;
	to_crlf(&raw, &msg);
	if (sieve_compile(text.data, text.len, &s, &errors) < 0) {
		fputs(buf_cstr(&errors), stdout);
		ret = CLI_FAIL;
		goto out;
	}
	struct sieve_env env;
	memset(&env, 0, sizeof env);
	env.msg = msg.data;
	env.msg_len = msg.len;
	env.sender = opts[0].seen ? opts[0].value : "sender@example.com";
	if (strcmp(env.sender, "<>") == 0)
		env.sender = "";
	env.recipient = opts[1].seen ? opts[1].value : "recipient@example.org";
	env.orig_recipient = opts[2].seen ? opts[2].value : NULL;
	env.spam_score = opts[3].seen ? atoi(opts[3].value) : 0;
	env.spam_percent = opts[3].seen ? atoi(opts[3].value) * 10 : -1;
	env.now = opts[4].seen ? (time_t)strtoll(opts[4].value, NULL, 10) : time(NULL);
	struct sieve_result r;
	sieve_run(s, &env, &r);
	sieve_result_write(&r, &out);
	if (r.header != NULL)
		printf("header %zu bytes edited\n", strlen(r.header));
	fputs(buf_cstr(&out), stdout);
	sieve_result_clear(&r);
out:
	sieve_script_free(&s);
	buf_free(&text);
	buf_free(&raw);
	buf_free(&msg);
	buf_free(&errors);
	buf_free(&out);
	return ret;
}

/* Opens the store of the config (the script commands need it). */
static int
open_store(struct cli_ctx *ctx, struct store **st_r)
{
	const char *error;
	if (ctx->cfg == NULL && config_load(ctx->config_path, &ctx->cfg, &error) < 0) {
		cli_error("%s", error);
		return CLI_FAIL;
	}
	return cli_store_open(ctx, st_r);
}

static int
sieve_manage(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *sub = argv[1];
	struct cli_option opts[] = { { "--activate", false, false, NULL } };
	const char *pos[3];
	size_t n_pos;
	bool is_put = strcmp(sub, "put") == 0;
	int ret = cli_parse_args("sieve", argc, argv, 2, opts, is_put ? 1 : 0, pos, 3, &n_pos);
	if (ret != CLI_OK)
		return ret;
	size_t want = is_put ? 3 : (strcmp(sub, "list") == 0 || strcmp(sub, "deactivate") == 0) ? 1 : 2;
	if (n_pos != want)
		return cli_usage_error("sieve %s: %zu arguments are needed", sub, want);
	struct store *st;
	if ((ret = open_store(ctx, &st)) != CLI_OK)
		return ret;
	const char *error = NULL;
	struct store_user user;
	int sret = store_user_get(st, pos[0], &user, &error);
	if (sret != STORE_OK) {
		cli_error("%s: %s", esc_str(pos[0]), error);
		store_close(&st);
		return CLI_FAIL;
	}
	int64_t uid = user.id;
	store_user_clear(&user);
	if (strcmp(sub, "list") == 0) {
		struct store_sieve_script *list = NULL;
		size_t n = 0;
		sret = store_sieve_list(st, uid, &list, &n, &error);
		for (size_t i = 0; sret == STORE_OK && i < n; i++)
			printf("%s%s\n", list[i].name, list[i].active ? " (active)" : "");
		store_sieve_list_free(&list, n);
	} else if (is_put) {
		struct buf text = BUF_INIT, errors = BUF_INIT;
		if ((ret = read_file(pos[2], &text, SIEVE_SCRIPT_MAX)) != CLI_OK) {
			store_close(&st);
			return ret;
		}
		struct sieve_script *s;
		if (sieve_compile(text.data, text.len, &s, &errors) < 0) {
			fputs(buf_cstr(&errors), stdout);
			sret = STORE_INVALID;
			error = "the script has errors";
		} else {
			sieve_script_free(&s);
			sret = store_sieve_put(st, uid, pos[1], text.data, text.len, &error);
			if (sret == STORE_OK && opts[0].seen)
				sret = store_sieve_activate(st, uid, pos[1], &error);
		}
		buf_free(&text);
		buf_free(&errors);
	} else if (strcmp(sub, "show") == 0) {
		char *text = NULL;
		sret = store_sieve_get(st, uid, pos[1], &text, NULL, &error);
		if (sret == STORE_OK)
			fputs(text, stdout);
		free(text);
	} else if (strcmp(sub, "activate") == 0) {
		sret = store_sieve_activate(st, uid, pos[1], &error);
	} else if (strcmp(sub, "deactivate") == 0) {
		sret = store_sieve_activate(st, uid, NULL, &error);
	} else {
		sret = store_sieve_delete(st, uid, pos[1], &error);
	}
	store_close(&st);
	if (sret != STORE_OK) {
		cli_error("%s", error != NULL ? error : "failed");
		return CLI_FAIL;
	}
	return CLI_OK;
}

int
cmd_sieve(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("sieve: a subcommand is needed");
	const char *sub = argv[1];
	if (strcmp(sub, "check") == 0)
		return sieve_check(argc, argv);
	if (strcmp(sub, "test") == 0)
		return sieve_test(argc, argv);
	static const char *const manage[] = { "list", "put", "show", "activate", "deactivate",
					      "del" };
	for (size_t i = 0; i < sizeof manage / sizeof manage[0]; i++)
		if (strcmp(sub, manage[i]) == 0)
			return sieve_manage(ctx, argc, argv);
	return cli_usage_error("sieve: unknown subcommand '%s'", esc_str(sub));
}
