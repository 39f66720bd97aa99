/*
 * api_upstream_folders: GET /api/v1/upstreams/{id}/folders, the account's
 * page in the panel (api_upstreams.h): per fetched folder the local folder
 * it goes to, its last complete sync, the upstream's message count then,
 * how it is pushed now (fetch_push_state), and its last error in plain
 * words.
 */
#include <string.h>

#include "fetch/fetch.h"
#include "store/upstreams.h"
#include "web/api_upstreams.h"
#include "web/internal.h"

/* The folder's entry; f NULL: not synced yet. */
static cJSON *
folder_json(const struct store_upstream *up, const char *folder,
	    const struct store_upstream_folder_state *f)
{
	const struct upstream_settings *set = &up->set;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "folder", folder);
	char *local = set->mirror ? xasprintf("%s/%s", set->target, folder) : xstrdup(set->target);
	cJSON_AddStringToObject(o, "local", local);
	free(local);
	cJSON_AddItemToObject(o, "last_sync", json_time(f != NULL ? f->last_sync : 0));
	if (f != NULL && f->last_sync != 0)
		cJSON_AddNumberToObject(o, "messages", f->messages);
	else
		cJSON_AddNullToObject(o, "messages");
	/* a disabled account, or one waiting to be connected again, is not
	 * fetched at all */
	const char *push = !set->enabled || up->reconnect ? "off"
			 : fetch_push_name(fetch_push_state(up->id, folder));
	cJSON_AddStringToObject(o, "push", push);
	cJSON_AddItemToObject(o, "last_attempt", json_time(f != NULL ? f->last_attempt : 0));
	if (f != NULL && f->last_error != NULL)
		cJSON_AddStringToObject(o, "last_error", f->last_error);
	else
		cJSON_AddNullToObject(o, "last_error");
	return o;
}

enum MHD_Result
api_upstreams_folders(struct web_request *r)
{
	struct store_upstream up;
	if (api_upstream_path_account(r, &up) < 0)
		return MHD_YES;
	struct store_upstream_folder_state *states = NULL;
	size_t n = 0;
	const char *error;
	int st = store_upstream_folder_states(r->st, up.id, &states, &n, &error);
	if (st != STORE_OK) {
		store_upstream_clear(&up);
		return reply_store_error(r, st, error);
	}
	cJSON *a = cJSON_CreateArray();
	const struct upstream_settings *set = &up.set;
	bool all = set->n_folders == 1 && strcmp(set->folders[0], "*") == 0;
	if (set->protocol == UPSTREAM_POP3) {
		/* one maildrop, no folders */
	} else if (all) {
		/* "*": every folder the server listed and the fetcher synced */
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(a, folder_json(&up, states[i].folder, &states[i]));
	} else {
		/* the folders fetched now, in their order (a folder no longer
		 * fetched is not shown) */
		for (size_t k = 0; k < set->n_folders; k++) {
			const struct store_upstream_folder_state *f = NULL;
			for (size_t i = 0; i < n && f == NULL; i++)
				if (strcmp(states[i].folder, set->folders[k]) == 0)
					f = &states[i];
			cJSON_AddItemToArray(a, folder_json(&up, set->folders[k], f));
		}
	}
	store_upstream_folder_states_free(&states, n);
	store_upstream_clear(&up);
	return reply_json(r, 200, a);
}
