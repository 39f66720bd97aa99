/*
 * import_jobs: the panel's background imports from a remote IMAP account
 * (sql/036), one row per user: the last import started for them.  The
 * fetcher's import jobs (fetch/import_job.h) keep the row in step with
 * what they do; a row left 'running' by a daemon that stopped (or was
 * killed) is resumed at the next start.
 */
#ifndef MAILHUB_STORE_IMPORT_JOBS_H
#define MAILHUB_STORE_IMPORT_JOBS_H

#include <stdbool.h>
#include <stdint.h>

struct store;

enum import_job_state {
	IMPORT_JOB_RUNNING,
	IMPORT_JOB_DONE,	/* every folder went through (some messages may
				 * have failed: see failed and errors) */
	IMPORT_JOB_FAILED,	/* it stopped on an error */
	IMPORT_JOB_CANCELLED,	/* the user or an admin stopped it */
};
const char *import_job_state_name(enum import_job_state s);

/* Progress of a job (also what the panel is shown while it runs). */
struct import_job_progress {
	uint64_t folders_done, folders_total;
	uint64_t messages_done, messages_total;
	uint64_t imported, skipped, failed;
};

struct store_import_job {
	int64_t user_id;
	char *address;		/* the user's */
	char *host;
	unsigned port;
	char *tls;		/* "implicit", "starttls", "none" */
	char *tls_verify;	/* "system", "off", "pin:HEX" */
	char *username;
	char *password_sealed;	/* while running; NULL after */
	char *folders;		/* comma-separated server names, NULL: all */
	bool allow_private;
	char *started_by;	/* address of who started it */
	enum import_job_state state;
	int64_t started, finished;	/* finished 0 while running */
	struct import_job_progress p;
	unsigned resumed;	/* times resumed after a restart */
	char *errors;		/* plain words, one a line; NULL: none */
};
void store_import_job_clear(struct store_import_job *j);

/* Records a new running job for j->user_id, replacing the user's last one
 * unless that one still runs (STORE_EXISTS). */
int store_import_job_start(struct store *st, const struct store_import_job *j,
			   const char **error_r);
/* The user's last job (STORE_NOTFOUND: none yet). */
int store_import_job_get(struct store *st, int64_t user_id, struct store_import_job *j,
			 const char **error_r);
/* Every job left running (to resume at start). */
int store_import_job_list_running(struct store *st, struct store_import_job **list_r,
				  size_t *n_r, const char **error_r);
void store_import_job_list_free(struct store_import_job **list, size_t n);
/* Saves the progress and errors of a running job. */
int store_import_job_progress(struct store *st, int64_t user_id,
			      const struct import_job_progress *p, const char *errors,
			      const char **error_r);
/* Counts one more resume of a running job. */
int store_import_job_resumed(struct store *st, int64_t user_id, const char **error_r);
/* Ends a running job in state, with its last progress and errors; the
 * sealed password is wiped. */
int store_import_job_finish(struct store *st, int64_t user_id, enum import_job_state state,
			    const struct import_job_progress *p, const char *errors,
			    const char **error_r);

#endif
