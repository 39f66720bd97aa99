/*
 * cli/queue.c: `mailhub queue list|retry ID|release ID|delete ID|flush`.
 *
 * These only change rows in the store (store/queue.h); a running daemon's
 * relay workers see a retried or flushed recipient within a second.
 */
#include "cli/relay_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "store/queue.h"
#include "store/store.h"

static int
parse_id(const char *text, int64_t *id_r)
{
	char *end;
	errno = 0;
	long long v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v <= 0)
		return -1;
	*id_r = v;
	return 0;
}

static void
print_time(const char *label, int64_t t)
{
	char when[32];
	if (t <= 0) {
		printf(" %s=-", label);
		return;
	}
	cli_format_time(t, when, sizeof when);
	printf(" %s=%s", label, when);
}

static int
queue_list(struct store *st)
{
	struct store_queue_message *list;
	size_t n;
	const char *error;

	if (store_queue_list(st, &list, &n, &error) != STORE_OK) {
		cli_error("queue list: %s", error);
		return CLI_FAIL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_queue_message *m = &list[i];
		struct store_queue_recipient *rcpts;
		size_t n_rcpts;
		printf("%" PRId64 " %s from=<%s> size=%" PRIu64 " kind=%s open=%u/%u",
		       m->id, m->qid, esc_str(m->sender), m->size, m->kind, m->n_open,
		       m->n_recipients);
		if (m->n_held > 0)
			printf(" held=%u", m->n_held);
		print_time("created", m->created);
		print_time("next", m->next_attempt);
		printf("\n");
		struct store_queue_message full;
		if (store_queue_get(st, m->id, &full, &rcpts, &n_rcpts, &error) != STORE_OK)
			continue;	/* delivered and removed meanwhile */
		for (size_t k = 0; k < n_rcpts; k++) {
			const struct store_queue_recipient *r = &rcpts[k];
			bool held = r->held != NULL && r->state == STORE_QUEUE_PENDING;
			printf("  <%s> %s attempts=%u", esc_str(r->address),
			       held ? "held" : store_queue_state_name(r->state), r->attempts);
			if (held)
				printf(" why=\"%s\"", esc_str(r->held));
			else if (r->state == STORE_QUEUE_PENDING || r->state == STORE_QUEUE_DEFERRED)
				print_time("next", r->next_attempt);
			if (r->last_reply != NULL)
				printf(" reply=\"%s\"", esc_str(r->last_reply));
			printf("\n");
		}
		store_queue_recipient_list_free(&rcpts, n_rcpts);
		store_queue_message_clear(&full);
	}
	if (n == 0)
		printf("the queue is empty\n");
	store_queue_message_list_free(&list, n);
	return CLI_OK;
}

int
cmd_queue(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *pos[2];
	size_t n_pos;
	struct store *st;
	const char *error;
	int64_t id = 0;

	int ret = cli_parse_args("queue", argc, argv, 1, NULL, 0, pos, 2, &n_pos);
	if (ret != CLI_OK)
		return ret;
	if (n_pos == 0)
		return cli_usage_error("queue: list, retry, release, delete or flush?");
	const char *action = pos[0];
	bool with_id = strcmp(action, "retry") == 0 || strcmp(action, "delete") == 0 ||
		       strcmp(action, "release") == 0;
	if (!with_id && strcmp(action, "list") != 0 && strcmp(action, "flush") != 0)
		return cli_usage_error("queue: unknown action '%s'", esc_str(action));
	if (with_id && n_pos != 2)
		return cli_usage_error("queue %s: ID is missing", action);
	if (!with_id && n_pos != 1)
		return cli_usage_error("queue %s takes no argument", action);
	if (with_id && parse_id(pos[1], &id) < 0)
		return cli_usage_error("queue %s: '%s' is not a queue id", action,
		                       esc_str(pos[1]));

	if (cli_store_open(ctx, &st) != CLI_OK)
		return CLI_FAIL;
	ret = CLI_OK;
	if (strcmp(action, "list") == 0) {
		ret = queue_list(st);
	} else if (strcmp(action, "flush") == 0) {
		unsigned n = 0;
		if (store_queue_flush(st, &n, &error) != STORE_OK) {
			cli_error("queue flush: %s", error);
			ret = CLI_FAIL;
		} else {
			printf("%u recipients due now\n", n);
		}
	} else if (strcmp(action, "release") == 0) {
		unsigned n = 0;
		int s = store_queue_release(st, id, &n, &error);
		if (s == STORE_NOTFOUND) {
			cli_error("queue release: no queued message %" PRId64, id);
			ret = CLI_FAIL;
		} else if (s != STORE_OK) {
			cli_error("queue release: %s", error);
			ret = CLI_FAIL;
		} else {
			printf("%u recipients released\n", n);
		}
	} else {
		int s = strcmp(action, "retry") == 0 ? store_queue_retry(st, id, &error)
		                                     : store_queue_delete(st, id, &error);
		if (s == STORE_NOTFOUND) {
			cli_error("queue %s: no queued message %" PRId64, action, id);
			ret = CLI_FAIL;
		} else if (s != STORE_OK) {
			cli_error("queue %s: %s", action, error);
			ret = CLI_FAIL;
		}
	}
	store_close(&st);
	return ret;
}
