/*
 * cli/init.c: `mailhub init`, and the data_dir set-up that `serve` shares.
 *
 * Everything is created only when missing, so init may run any number of
 * times (and serve runs it at every start): an existing database is only
 * migrated, an existing certificate or secret key is never replaced.
 */
#include "cli/cli.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/seal.h"
#include "core/tls.h"
#include "store/store.h"

/* data_dir is private to the daemon's user and its group (for backups). */
#define DATA_DIR_MODE 0750

/* Creates a directory with mode unless it exists (as a directory). */
static int
make_dir(const char *path, mode_t mode, const char **error_r)
{
	struct stat sb;

	if (mkdir(path, mode) == 0) {
		/* mkdir() applies the umask; the mode is meant exactly. */
		if (chmod(path, mode) < 0) {
			*error_r = errfmt("chmod %s: %s", path, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (errno != EEXIST) {
		*error_r = errfmt("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (stat(path, &sb) < 0) {
		*error_r = errfmt("%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		*error_r = errfmt("%s exists and is not a directory", path);
		return -1;
	}
	return 0;
}

/*
 * `init` run as root for a config with `user = mailhub` would leave files
 * the daemon cannot write once it has dropped to that user: hand what init
 * manages (and only what root owns) to that user.
 */
static int
chown_to_user(const struct config *cfg, const char **error_r)
{
	static const char *const names[] = {
	        "",    "mailhub.db",        "mailhub.db-wal",   "mailhub.db-shm", "blobs",
	        "tls", TLS_SELFSIGNED_CERT, TLS_SELFSIGNED_KEY, SEAL_KEY_FILE,
	};

	if (cfg->user == NULL || geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam(cfg->user);
	if (pw == NULL) {
		*error_r = errfmt("user '%s' (from the config) does not exist", esc_str(cfg->user));
		return -1;
	}
	/* the names, then blobs/tmp and the blobs/XX folders made ahead
	 * (store/blob.h) */
	size_t n_names = sizeof names / sizeof names[0];
	for (size_t i = 0; i < n_names + 1 + 256; i++) {
		char *path = i < n_names && names[i][0] == '\0' ? xstrdup(cfg->data_dir)
			     : i < n_names ? xasprintf("%s/%s", cfg->data_dir, names[i])
			     : i == n_names ? xasprintf("%s/blobs/tmp", cfg->data_dir)
					    : xasprintf("%s/blobs/%02zx", cfg->data_dir, i - n_names - 1);
		struct stat sb;
		int ret = 0;
		if (lstat(path, &sb) == 0 && sb.st_uid == 0 && !S_ISLNK(sb.st_mode))
			ret = lchown(path, pw->pw_uid, pw->pw_gid);
		if (ret < 0)
			*error_r = errfmt("chown %s: %s", path, strerror(errno));
		free(path);
		if (ret < 0)
			return -1;
	}
	return 0;
}

int
cli_init_data_dir(const struct config *cfg, const char *hostname, const char **error_r)
{
	const char *data_dir = cfg->data_dir;
	struct store *st = NULL;
	const char *error;
	int ret = -1;

	if (make_dir(data_dir, DATA_DIR_MODE, error_r) < 0)
		return -1;
	if (store_open(data_dir, &st, &error) != STORE_OK) {
		*error_r = errfmt("cannot create the database in %s: %s", data_dir, error);
		return -1;
	}
	store_close(&st);

	char *blobs = xasprintf("%s/blobs", data_dir);
	char *tls_dir = xasprintf("%s/tls", data_dir);
	char *cert = xasprintf("%s/%s", data_dir, TLS_SELFSIGNED_CERT);
	char *key = xasprintf("%s/%s", data_dir, TLS_SELFSIGNED_KEY);

	/* store_open() makes blobs/ itself; this only makes sure. */
	if (make_dir(blobs, DATA_DIR_MODE, error_r) < 0 ||
	    make_dir(tls_dir, DATA_DIR_MODE, error_r) < 0)
		goto out;
	if (tls_selfsigned_create(cert, key, hostname, &error) < 0) {
		*error_r = errfmt("cannot create the TLS certificate: %s", error);
		goto out;
	}
	if (seal_key_create(data_dir, &error) < 0) {
		*error_r = errfmt("cannot create %s/%s: %s", data_dir, SEAL_KEY_FILE, error);
		goto out;
	}
	if (chown_to_user(cfg, error_r) < 0)
		goto out;
	ret = 0;
out:
	free(blobs);
	free(tls_dir);
	free(cert);
	free(key);
	return ret;
}

int
cmd_init(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_option opts[] = {
	        {.name = "--hostname", .takes_value = true},
	};
	const char *pos[1];
	size_t n_pos;
	const char *error;

	int ret = cli_parse_args("init", argc, argv, 1, opts, 1, pos, 0, &n_pos);
	if (ret != CLI_OK)
		return ret;

	/* The certificate is made for the host name clients will connect to;
	 * without --hostname, the config's (which defaults to the system's). */
	const char *hostname = opts[0].seen ? opts[0].value : ctx->cfg->hostname;
	if (hostname == NULL || hostname[0] == '\0')
		return cli_usage_error(
		        "init: --hostname NAME is required (the config names no hostname)");
	if (!store_domain_name_valid(hostname)) {
		cli_error("init: '%s' is not a valid host name", esc_str(hostname));
		return CLI_FAIL;
	}
	if (cli_init_data_dir(ctx->cfg, hostname, &error) < 0) {
		cli_error("init: %s", error);
		return CLI_FAIL;
	}
	printf("initialised %s for %s\n", ctx->cfg->data_dir, hostname);
	return CLI_OK;
}
