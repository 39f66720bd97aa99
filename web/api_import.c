/*
 * api_import: the panel's import from a remote IMAP account, run in the
 * background by the daemon (fetch/import_job.h), for one user:
 *   POST   /api/v1/users/{address}/import  {"host","port","tls","tls_verify",
 *          "username","password","folders"} starts it (202 and the job as
 *          GET shows it); 409 while one runs for the user, 429 while
 *          IMPORT_JOBS_MAX run in all
 *   GET    /api/v1/users/{address}/import  the last import started for the
 *          user: {"state": "running" | "done" | "failed" | "cancelled",
 *          "host","port","tls","tls_verify","username","folders",
 *          "started_by","started","finished","resumed","folder",
 *          "progress": {"folders_done","folders_total","messages_done",
 *          "messages_total"},"imported","skipped","failed","errors": [...]}
 *   DELETE /api/v1/users/{address}/import  stops the running one (202; it
 *          ends "cancelled"); 409 when none runs
 * The user themself or an admin.  The password is used only for the job:
 * sealed (core/seal.h) in the job's row while it runs, wiped at its end,
 * never returned nor logged.  An admin may name a host on the home
 * network (the old mail server); a user only a public one unless [fetch]
 * allow_private_hosts, as for upstream accounts.
 */
#include <string.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/seal.h"
#include "fetch/import_job.h"
#include "store/upstreams.h"
#include "web/api.h"
#include "web/internal.h"

static cJSON *
job_json(const struct store_import_job *j)
{
	struct import_job_progress p = j->p;
	char *folder = NULL, *errors = NULL;
	bool live = j->state == IMPORT_JOB_RUNNING &&
		    import_job_live(j->user_id, &p, &folder, &errors);
	const char *errs = live ? errors : j->errors;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "address", j->address);
	cJSON_AddStringToObject(o, "state", import_job_state_name(j->state));
	cJSON_AddStringToObject(o, "host", j->host);
	cJSON_AddNumberToObject(o, "port", j->port);
	cJSON_AddStringToObject(o, "tls", j->tls);
	cJSON_AddStringToObject(o, "tls_verify", j->tls_verify);
	cJSON_AddStringToObject(o, "username", j->username);
	if (j->folders != NULL) {
		cJSON *arr = cJSON_AddArrayToObject(o, "folders");
		const char *s = j->folders;
		while (*s != '\0') {
			const char *comma = strchr(s, ',');
			size_t l = comma != NULL ? (size_t)(comma - s) : strlen(s);
			char *name = xstrndup(s, l);
			cJSON_AddItemToArray(arr, cJSON_CreateString(name));
			free(name);
			s += l + (comma != NULL);
		}
	} else {
		cJSON_AddNullToObject(o, "folders");
	}
	cJSON_AddStringToObject(o, "started_by", j->started_by);
	cJSON_AddItemToObject(o, "started", json_time(j->started));
	cJSON_AddItemToObject(o, "finished", json_time(j->finished));
	cJSON_AddNumberToObject(o, "resumed", j->resumed);
	if (folder != NULL)
		cJSON_AddStringToObject(o, "folder", folder);
	else
		cJSON_AddNullToObject(o, "folder");
	cJSON *pr = cJSON_AddObjectToObject(o, "progress");
	cJSON_AddNumberToObject(pr, "folders_done", (double)p.folders_done);
	cJSON_AddNumberToObject(pr, "folders_total", (double)p.folders_total);
	cJSON_AddNumberToObject(pr, "messages_done", (double)p.messages_done);
	cJSON_AddNumberToObject(pr, "messages_total", (double)p.messages_total);
	cJSON_AddNumberToObject(o, "imported", (double)p.imported);
	cJSON_AddNumberToObject(o, "skipped", (double)p.skipped);
	cJSON_AddNumberToObject(o, "failed", (double)p.failed);
	cJSON *arr = cJSON_AddArrayToObject(o, "errors");
	for (const char *s = errs != NULL ? errs : ""; *s != '\0';) {
		const char *nl = strchr(s, '\n');
		size_t l = nl != NULL ? (size_t)(nl - s) : strlen(s);
		char *line = xstrndup(s, l);
		cJSON_AddItemToArray(arr, cJSON_CreateString(line));
		free(line);
		s += l + (nl != NULL);
	}
	free(folder);
	free(errors);
	return o;
}

/* The user of the path, when the caller may act for them; -1 after a
 * reply. */
static int
path_user(struct web_request *r, struct store_user *u)
{
	const char *error;
	if (!web_may_access_user(r, r->params[0])) {
		reply_problem(r, 403, "only the user or an admin may import mail for this user");
		return -1;
	}
	int st = store_user_get(r->st, r->params[0], u, &error);
	if (st != STORE_OK) {
		reply_store_error(r, st, error);
		return -1;
	}
	return 0;
}

static enum MHD_Result
reply_job(struct web_request *r, unsigned status, int64_t user_id)
{
	struct store_import_job j;
	const char *error;
	int st = store_import_job_get(r->st, user_id, &j, &error);
	if (st != STORE_OK)
		return reply_store_error(r, st, error);
	cJSON *o = job_json(&j);
	store_import_job_clear(&j);
	return reply_json(r, status, o);
}

static const char *const import_fields[] = {
	"host", "port", "tls", "tls_verify", "username", "password", "folders", NULL,
};

enum MHD_Result
api_import_start(struct web_request *r)
{
	struct store_user u = { 0 };
	struct upstream_settings set = { 0 };
	struct store_import_job job = { 0 };
	struct buf folders = BUF_INIT;
	const char *host = NULL, *tls = NULL, *verify = NULL, *username = NULL,
		   *password = NULL, *error;
	uint64_t port = 0;
	enum MHD_Result res = MHD_NO;
	if (path_user(r, &u) < 0)
		return MHD_YES;
	const cJSON *o = r->json;
	if (json_only_fields(r, o, import_fields) < 0 ||
	    json_get_text(r, o, "host", true, UPSTREAM_HOST_MAX, &host) < 0 ||
	    json_get_uint(r, o, "port", false, 65535, &port) < 0 ||
	    json_get_string(r, o, "tls", false, &tls) < 0 ||
	    json_get_text(r, o, "tls_verify", false, 100, &verify) < 0 ||
	    json_get_text(r, o, "username", true, UPSTREAM_USERNAME_MAX, &username) < 0 ||
	    json_get_string(r, o, "password", true, &password) < 0)
		goto replied;
	if (*password == '\0' || strlen(password) > PASSWORD_MAX) {
		res = reply_problem(r, 422, "field 'password' must be 1-%d bytes", PASSWORD_MAX);
		goto out;
	}
	set.protocol = UPSTREAM_IMAP;
	set.tls = UPSTREAM_TLS_IMPLICIT;
	if (tls != NULL && upstream_tls_parse(tls, &set.tls) < 0) {
		res = reply_problem(r, 422,
				    "field 'tls' must be \"implicit\", \"starttls\" or \"none\"");
		goto out;
	}
	set.host = xstrdup(host);
	set.port = (unsigned)port;
	set.username = xstrdup(username);
	set.tls_verify = verify != NULL ? xstrdup(verify) : NULL;
	set.keep = true;
	set.enabled = true;
	const cJSON *fl = cJSON_GetObjectItemCaseSensitive(o, "folders");
	if (fl != NULL && !cJSON_IsNull(fl)) {
		const cJSON *item;
		if (!cJSON_IsArray(fl) || cJSON_GetArraySize(fl) < 1 ||
		    cJSON_GetArraySize(fl) > UPSTREAM_FOLDERS_MAX) {
			res = reply_problem(r, 422, "field 'folders' must be null or an array of "
					    "1-%d folder names", UPSTREAM_FOLDERS_MAX);
			goto out;
		}
		cJSON_ArrayForEach(item, fl) {
			const char *name = cJSON_IsString(item) ? item->valuestring : NULL;
			if (name == NULL || *name == '\0' || strchr(name, ',') != NULL ||
			    strlen(name) > 1024) {
				res = reply_problem(r, 422, "field 'folders' must hold folder names "
						    "(without commas)");
				goto out;
			}
			if (folders.len > 0)
				buf_putc(&folders, ',');
			buf_puts(&folders, name);
		}
	}
	if (upstream_settings_check(&set, &error) < 0) {
		res = reply_problem(r, 422, "%s", error);
		goto out;
	}
	if (seal(password, strlen(password), &job.password_sealed, &error) < 0) {
		log_error("web cannot seal an import password: %s", error);
		res = reply_problem(r, 500, "cannot seal the password: %s", error);
		goto out;
	}
	job.user_id = u.id;
	job.host = set.host;
	job.port = set.port;
	job.tls = (char *)upstream_tls_name(set.tls);
	job.tls_verify = set.tls_verify;
	job.username = set.username;
	job.folders = folders.len > 0 ? (char *)buf_cstr(&folders) : NULL;
	/* the admin names the old server, often on the home network; a user
	 * only what the fetcher lets users reach */
	job.allow_private = web_is_admin(r) || r->srv->cfg->fetch_allow_private_hosts;
	job.started_by = r->user.address;
	error = "";
	switch (import_job_start(r->st, &job, &error)) {
	case IMPORT_JOB_STARTED:
		log_info("web import user=%s host=%s by=%s", u.address, esc_str(set.host),
			 r->user.address);
		res = reply_job(r, 202, u.id);
		break;
	case IMPORT_JOB_USER_BUSY:
		res = reply_problem(r, 409, "an import for %s is running already; cancel it or "
				    "wait for its end", u.address);
		break;
	case IMPORT_JOB_FULL:
		/* RFC 6585 §4 */
		res = reply_problem(r, 429, "%d imports are running already; try again when one "
				    "has ended", IMPORT_JOBS_MAX);
		break;
	case IMPORT_JOB_OFF:
		res = reply_problem(r, 503, "the daemon is starting or stopping; try again in a "
				    "moment");
		break;
	case IMPORT_JOB_ERROR:
		log_error("web import user=%s: %s", u.address, error);
		res = reply_problem(r, 500, "cannot start the import: %s", error);
		break;
	}
	goto out;
replied:
	res = MHD_YES;
out:
	if (job.password_sealed != NULL) {
		explicit_bzero(job.password_sealed, strlen(job.password_sealed));
		free(job.password_sealed);
	}
	buf_free(&folders);
	upstream_settings_clear(&set);
	store_user_clear(&u);
	return res;
}

enum MHD_Result
api_import_get(struct web_request *r)
{
	struct store_user u = { 0 };
	if (path_user(r, &u) < 0)
		return MHD_YES;
	enum MHD_Result res = reply_job(r, 200, u.id);
	store_user_clear(&u);
	return res;
}

enum MHD_Result
api_import_cancel(struct web_request *r)
{
	struct store_user u = { 0 };
	struct store_import_job j = { 0 };
	const char *error;
	enum MHD_Result res;
	if (path_user(r, &u) < 0)
		return MHD_YES;
	int st = store_import_job_get(r->st, u.id, &j, &error);
	if (st != STORE_OK) {
		res = reply_store_error(r, st, error);
	} else if (j.state != IMPORT_JOB_RUNNING) {
		res = reply_problem(r, 409, "the import is not running (it is %s)",
				    import_job_state_name(j.state));
	} else {
		if (!import_job_cancel(u.id)) {
			/* a row left running without its thread here */
			st = store_import_job_finish(r->st, u.id, IMPORT_JOB_CANCELLED, &j.p,
						     j.errors, &error);
			if (st != STORE_OK)
				log_error("web import cancel user=%s: %s", u.address, error);
		}
		log_info("web import cancel user=%s by=%s", u.address, r->user.address);
		res = reply_job(r, 202, u.id);
	}
	store_import_job_clear(&j);
	store_user_clear(&u);
	return res;
}
