/*
 * cli/util.c: what every subcommand needs: messages, argument splitting,
 * opening the store, reading a password from standard input, sizes, times.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "core/limits.h"
#include "core/log.h"
#include "store/store.h"

static void
cli_vmessage(const char *fmt, va_list ap)
{
	fputs("mailhub: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmessage(fmt, ap);
	va_end(ap);
}

int
cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cli_vmessage(fmt, ap);
	va_end(ap);
	return CLI_USAGE;
}

static struct cli_option *
find_option(struct cli_option *opts, size_t n_opts, const char *arg, size_t name_len)
{
	for (size_t i = 0; i < n_opts; i++) {
		if (strlen(opts[i].name) == name_len && strncmp(opts[i].name, arg, name_len) == 0)
			return &opts[i];
	}
	return NULL;
}

int
cli_parse_args(const char *what, int argc, char **argv, int first, struct cli_option *opts,
               size_t n_opts, const char **pos, size_t max_pos, size_t *n_pos_r)
{
	bool options_done = false;
	size_t n_pos = 0;

	for (size_t i = 0; i < n_opts; i++) {
		opts[i].seen = false;
		opts[i].value = NULL;
	}
	for (int i = first; i < argc; i++) {
		const char *arg = argv[i];

		if (!options_done && strcmp(arg, "--") == 0) {
			options_done = true;
			continue;
		}
		if (options_done || arg[0] != '-' || arg[1] == '\0') {
			if (n_pos == max_pos)
				return cli_usage_error("%s: unexpected argument '%s'", what,
				                       esc_str(arg));
			pos[n_pos++] = arg;
			continue;
		}

		const char *eq = strchr(arg, '=');
		size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		struct cli_option *o = find_option(opts, n_opts, arg, name_len);
		if (o == NULL)
			return cli_usage_error("%s: unknown option '%s'", what, esc(arg, name_len));
		if (o->seen)
			return cli_usage_error("%s: %s given twice", what, o->name);
		o->seen = true;
		if (!o->takes_value) {
			if (eq != NULL)
				return cli_usage_error("%s: %s takes no value", what, o->name);
			continue;
		}
		if (eq != NULL) {
			o->value = eq + 1;
		} else if (i + 1 < argc) {
			o->value = argv[++i];
		} else {
			return cli_usage_error("%s: %s needs a value", what, o->name);
		}
	}
	*n_pos_r = n_pos;
	return CLI_OK;
}

int
cli_store_open(const struct cli_ctx *ctx, struct store **st_r)
{
	const char *data_dir = ctx->cfg->data_dir;
	const char *error;
	struct stat sb;

	/* store_open() would create a database anywhere it is pointed at; a
	 * typo in data_dir must not leave a fresh empty one behind. */
	char *db = xasprintf("%s/mailhub.db", data_dir);
	int ret = stat(db, &sb);
	int saved = errno;
	free(db);
	if (ret < 0) {
		if (saved == ENOENT)
			cli_error("data_dir '%s' is not initialised (run 'mailhub init' first)",
			          esc_str(data_dir));
		else
			cli_error("data_dir '%s': %s", esc_str(data_dir), strerror(saved));
		return CLI_FAIL;
	}
	if (store_open(data_dir, st_r, &error) != STORE_OK) {
		cli_error("cannot open the store in '%s': %s", esc_str(data_dir), error);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Reads one byte at a time so that nothing after the first line is taken
 * from standard input (a script may feed more to the same process). */
static int
read_line(int fd, char *out, size_t size, size_t *len_r, const char **error_r)
{
	size_t len = 0;
	bool too_long = false;

	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*error_r = errfmt("cannot read the password: %s", strerror(errno));
			return -1;
		}
		if (n == 0 || c == '\n')
			break;
		if (len + 1 < size)
			out[len++] = c;
		else
			too_long = true;
	}
	if (too_long) {
		*error_r = errfmt("the password is longer than %d bytes", PASSWORD_MAX);
		return -1;
	}
	/* A file written on Windows ends its lines with CRLF. */
	if (len > 0 && out[len - 1] == '\r')
		len--;
	out[len] = '\0';
	*len_r = len;
	return 0;
}

int
cli_read_password(char **password_r)
{
	struct termios saved, quiet;
	bool echo_off = false;
	const char *error = NULL;
	size_t size = PASSWORD_MAX + 2; /* the bytes, a CR, the NUL */
	size_t len = 0;

	if (isatty(STDIN_FILENO)) {
		fputs("Password: ", stderr);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &saved) == 0) {
			quiet = saved;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
		}
	}
	char *password = xmalloc(size);
	int ret = read_line(STDIN_FILENO, password, size, &len, &error);
	if (echo_off) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fputc('\n', stderr);
	}
	if (ret == 0 && len == 0)
		error = "empty password refused (the first line of standard input is the password)";
	else if (ret == 0 && memchr(password, '\0', len) != NULL)
		error = "the password contains a NUL byte";
	if (error != NULL) {
		explicit_bzero(password, size);
		xfree(password);
		cli_error("%s", error);
		return CLI_FAIL;
	}
	*password_r = password;
	return CLI_OK;
}

void
cli_password_free(char **password)
{
	if (*password == NULL)
		return;
	explicit_bzero(*password, strlen(*password));
	xfree(*password);
}

int
cli_parse_size(const char *text, uint64_t *bytes_r)
{
	uint64_t n = 0;
	const char *p = text;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned digit = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - digit) / 10)
			return -1;
		n = n * 10 + digit;
	}

	unsigned shift = 0;
	switch (*p) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	default:
		return -1;
	}
	if (shift != 0 && *++p != '\0')
		return -1;
	if (n > (UINT64_MAX >> shift))
		return -1;
	*bytes_r = n << shift;
	return 0;
}

void
cli_format_time(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, size, "%lld", (long long)t);
}
