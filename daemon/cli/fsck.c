/*
 * cli/fsck.c: `mailhub fsck [--repair]`: database against blob files, and
 * the modes of data_dir's files.
 *
 * The store prints each problem on stdout as it finds it, and its counts;
 * a verdict line follows.  Exit 0 when nothing is wrong (or everything found
 * was repaired), 1 when problems remain, so that a cron job can tell.  Safe
 * while the daemon runs: repair never removes a referenced blob, nor a young
 * file that may belong to a delivery in progress (such a file still counts
 * as a problem that remains).
 */
#include "cli/cli.h"

#include <stdio.h>

#include "store/store.h"

int
cmd_fsck(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_option opts[] = {
	        {.name = "--repair"},
	};
	const char *pos[1];
	size_t n_pos;
	struct store *st;
	struct store_fsck_report r = {0};
	const char *error;

	int ret = cli_parse_args("fsck", argc, argv, 1, opts, 1, pos, 0, &n_pos);
	if (ret != CLI_OK)
		return ret;
	bool repair = opts[0].seen;
	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	int status = store_fsck(st, repair, stdout, &r, &error);
	store_close(&st);
	if (status != STORE_OK) {
		cli_error("fsck: %s", error);
		return CLI_FAIL;
	}

	/* Corrupt and missing blobs cannot be repaired (the message is lost or
	 * damaged; the row stays so that nothing is hidden); orphans and stray
	 * files are repaired by removal, wrong used bytes by recounting, modes
	 * that let others read by taking the extra bits off. */
	unsigned long long removable = (unsigned long long)r.orphan_blobs + r.stray_files;
	/* rows of messages never acknowledged whose blob a crash took: repair
	 * removes them (store.h) */
	unsigned long long unacked = r.unacked - (repair ? r.unacked_removed : 0);
	/* blobs a crash took whose bytes are in their records (sql/056):
	 * repair writes them out */
	unsigned long long recorded = r.recorded - (repair ? r.recorded_written : 0);
	unsigned long long remaining = (unsigned long long)r.corrupt_blobs + r.missing_blobs +
				       unacked + recorded;
	if (repair)
		remaining += (removable > r.removed ? removable - r.removed : 0) +
			     (r.wrong_modes - r.modes_fixed);
	else
		remaining += removable + r.used_fixed + r.wrong_modes;

	/* store_fsck() printed the problems and its counts; this line is
	 * the verdict the exit status gives. */
	if (remaining == 0)
		printf("fsck: ok\n");
	else
		printf("fsck: %llu problem(s) remain%s\n", remaining,
		       repair ? "" : " (--repair fixes orphan and stray files, used bytes, modes and"
		       " the rows of unacknowledged messages a crash left without a blob, and"
		       " writes out the blobs whose bytes are in the database)");
	return remaining == 0 ? CLI_OK : CLI_FAIL;
}
