/*
 * cli/backup.c: `mailhub backup DIR` (while the daemon runs) and
 * `mailhub restore DIR` (into an empty data_dir), store/backup.h.
 */
#include "cli/cli.h"

#include <stdio.h>

#include "core/config.h"
#include "core/log.h"
#include "store/backup.h"
#include "store/store.h"

cli_command_fn cmd_backup;
cli_command_fn cmd_restore;

int
cmd_backup(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[1];
	size_t n_pos;
	struct store *st;
	struct store_backup_report r;
	const char *error;
	int ret = cli_parse_args("backup", argc, argv, 1, NULL, 0, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1)
		return cli_usage_error("backup: DIR is missing");
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	ret = store_backup(st, pos[0], &r, &error);
	store_close(&st);
	if (ret != STORE_OK) {
		cli_error("backup: %s", error);
		return CLI_FAIL;
	}
	printf("backup: %u blobs referenced, %u copied (%llu bytes), %u removed\n", r.blobs,
	       r.copied, (unsigned long long)r.bytes, r.removed);
	return CLI_OK;
}

int
cmd_restore(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[1];
	size_t n_pos;
	struct store_backup_report r;
	const char *error;
	int ret = cli_parse_args("restore", argc, argv, 1, NULL, 0, pos, 1, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos != 1)
		return cli_usage_error("restore: DIR is missing");
	if (store_restore(pos[0], ctx->cfg->data_dir, &r, &error) != STORE_OK) {
		cli_error("restore: %s", error);
		return CLI_FAIL;
	}
	printf("restore: %u blobs restored into %s (run 'mailhub fsck' to check)\n", r.copied,
	       esc_str(ctx->cfg->data_dir));
	return CLI_OK;
}
