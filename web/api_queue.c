/*
 * api_queue: the outbound queue (admin).
 *   GET    /api/v1/queue             every message, oldest first, with counts
 *   GET    /api/v1/queue/{id}        one message with its recipients
 *   DELETE /api/v1/queue/{id}        drop a message and its recipients
 *   POST   /api/v1/queue/{id}/retry  make its open recipients due now
 *   POST   /api/v1/queue/{id}/release  send its held recipients (issue 21:
 *                                      outbound mail rspamd scored as spam)
 * The panel only marks rows in the store; the relay workers do the rest
 * (DESIGN.md: web/ never reaches into protocol code).
 */
#include <string.h>

#include "core/log.h"
#include "store/queue.h"
#include "web/api.h"
#include "web/internal.h"

static cJSON *
message_json(const struct store_queue_message *m)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", (double)m->id);
	cJSON_AddStringToObject(o, "qid", m->qid != NULL ? m->qid : "");
	cJSON_AddStringToObject(o, "sender", m->sender != NULL ? m->sender : "");
	cJSON_AddNumberToObject(o, "size", (double)m->size);
	cJSON_AddStringToObject(o, "kind", m->kind != NULL ? m->kind : "relay");
	cJSON_AddItemToObject(o, "created", json_time(m->created));
	cJSON_AddNumberToObject(o, "recipients", m->n_recipients);
	cJSON_AddNumberToObject(o, "open", m->n_open);
	cJSON_AddNumberToObject(o, "held", m->n_held);
	cJSON_AddItemToObject(o, "next_attempt", json_time(m->next_attempt));
	return o;
}

static cJSON *
recipient_json(const struct store_queue_recipient *q)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "address", q->address != NULL ? q->address : "");
	/* a held recipient is pending for the store, "held" for people */
	cJSON_AddStringToObject(o, "state", q->held != NULL && q->state == STORE_QUEUE_PENDING
					    ? "held" : store_queue_state_name(q->state));
	if (q->held != NULL)
		cJSON_AddStringToObject(o, "held", q->held);
	else
		cJSON_AddNullToObject(o, "held");
	cJSON_AddNumberToObject(o, "attempts", q->attempts);
	cJSON_AddItemToObject(o, "next_attempt", json_time(q->next_attempt));
	cJSON_AddItemToObject(o, "last_attempt", json_time(q->last_attempt));
	if (q->last_reply != NULL)
		cJSON_AddStringToObject(o, "last_reply", q->last_reply);
	else
		cJSON_AddNullToObject(o, "last_reply");
	return o;
}

enum MHD_Result
api_queue_list(struct web_request *r)
{
	struct store_queue_message *list = NULL;
	size_t n = 0;
	const char *error;
	int st = store_queue_list(r->st, &list, &n, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, message_json(&list[i]));
	store_queue_message_list_free(&list, n);
	return reply_json(r, 200, arr);
}

enum MHD_Result
api_queue_get(struct web_request *r)
{
	struct store_queue_message m;
	struct store_queue_recipient *rcpts = NULL;
	size_t n = 0;
	int64_t id;
	const char *error;

	if (web_param_id(r, 0, &id) < 0)
		return MHD_YES;
	memset(&m, 0, sizeof m);
	int st = store_queue_get(r->st, id, &m, &rcpts, &n, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *o = message_json(&m);
	cJSON *arr = cJSON_AddArrayToObject(o, "recipient_list");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, recipient_json(&rcpts[i]));
	store_queue_recipient_list_free(&rcpts, n);
	store_queue_message_clear(&m);
	return reply_json(r, 200, o);
}

enum MHD_Result
api_queue_delete(struct web_request *r)
{
	int64_t id;
	const char *error;
	if (web_param_id(r, 0, &id) < 0)
		return MHD_YES;
	int st = store_queue_delete(r->st, id, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web queue id=%lld deleted by=%s", (long long)id, r->user.address);
	return reply_empty(r, 204);
}

enum MHD_Result
api_queue_release(struct web_request *r)
{
	int64_t id;
	const char *error;
	unsigned n = 0;
	if (web_param_id(r, 0, &id) < 0)
		return MHD_YES;
	int st = store_queue_release(r->st, id, &n, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web queue id=%lld released=%u by=%s", (long long)id, n, r->user.address);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "released", n);
	return reply_json(r, 200, o);
}

enum MHD_Result
api_queue_retry(struct web_request *r)
{
	int64_t id;
	const char *error;
	if (web_param_id(r, 0, &id) < 0)
		return MHD_YES;
	int st = store_queue_retry(r->st, id, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	log_info("web queue id=%lld retry by=%s", (long long)id, r->user.address);
	return reply_empty(r, 204);
}
