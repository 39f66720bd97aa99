/*
 * fetch/import_job.h: the panel's import from a remote IMAP account, run
 * in the background by the daemon (POST /api/v1/users/{address}/import).
 *
 * The import is `mailhub import ADDRESS imap` (fetch/import.h) in a thread
 * of its own: resumable, nothing twice.  The job is a row of the store
 * (store/import_jobs.h) that holds, while it runs, the source's password
 * sealed; each thread unseals it for its own use and the row loses it when
 * the job ends.  Progress (folders, messages done of the total, counts,
 * errors in plain words) is kept in memory for the panel and written to
 * the row every IMPORT_JOB_SAVE_MS and at the end of each folder.
 *
 * At most IMPORT_JOBS_MAX jobs run at once in the process and one per
 * user.  SIGTERM stops them between messages and leaves their rows
 * running; the next start resumes them (as after SIGKILL: a batch not
 * committed is fetched again, nothing twice).
 *
 * This module owns the list of running jobs behind its own lock; the web
 * only calls the functions below.
 */
#ifndef MAILHUB_FETCH_IMPORT_JOB_H
#define MAILHUB_FETCH_IMPORT_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "store/import_jobs.h"

/* Jobs running at once in the process. */
#define IMPORT_JOBS_MAX 2
/* Error lines a job keeps (the first ones; later ones are counted). */
#define IMPORT_JOB_ERRORS_MAX 20
/* The longest error line kept. */
#define IMPORT_JOB_ERROR_LEN 300
/* How often a running job's progress is written to its row. */
#define IMPORT_JOB_SAVE_MS 2000

/* Resumes the jobs left running (the seal key must be loaded) and takes
 * new ones.  0, or -1 with *error_r. */
int import_jobs_start(const struct config *cfg, const char **error_r);
/* Stops every job between messages, their rows left running to resume at
 * the next start; waits for the threads.  No-op when not started. */
void import_jobs_stop(void);

enum import_job_start_result {
	IMPORT_JOB_STARTED,
	IMPORT_JOB_USER_BUSY,	/* one runs for this user */
	IMPORT_JOB_FULL,	/* IMPORT_JOBS_MAX run */
	IMPORT_JOB_OFF,		/* no jobs in this process (not serving) */
	IMPORT_JOB_ERROR,	/* *error_r */
};
/* Records job (state running, password_sealed set) for job->user_id,
 * replacing the user's last one, and starts it. */
enum import_job_start_result import_job_start(struct store *st,
					      const struct store_import_job *job,
					      const char **error_r);
/* The live state of the user's job when it runs in this process: true with
 * *p, the folder under way (*folder_r, malloc'd, may be NULL) and the
 * errors so far (*errors_r, malloc'd lines, may be NULL). */
bool import_job_live(int64_t user_id, struct import_job_progress *p, char **folder_r,
		     char **errors_r);
/* Asks the user's running job to stop (it ends "cancelled"); false when
 * none runs in this process. */
bool import_job_cancel(int64_t user_id);

#endif
