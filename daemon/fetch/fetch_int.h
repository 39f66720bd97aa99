/*
 * fetch_int: what the files of daemon/fetch/ share and nothing else sees.
 */
#ifndef MAILHUB_FETCH_FETCH_INT_H
#define MAILHUB_FETCH_FETCH_INT_H

#include "core/hash.h"
#include "fetch/fetch.h"
#include "mail/hdrfilter.h"
#include "imap/client.h"
#include "store/blob.h"

/* Seconds a read from an upstream may wait (a stuck server is an error). */
#define FETCH_TIMEOUT_MS 60000
/* UIDs fetched (and then deleted) per UID FETCH command. */
#define FETCH_IMAP_BATCH 500
/* Messages retrieved (RETR sent at once with PIPELINING) and committed
 * together, then deleted (DELE) in delete mode. */
#define FETCH_POP3_BATCH 500
/* Header bytes kept for the dedupe key (Message-ID). */
#define FETCH_HEADER_KEEP (256 * 1024)
/* Backoff after failures: 60 s doubled per failure, at most 6 hours. */
#define FETCH_BACKOFF_FIRST 60
#define FETCH_BACKOFF_MAX (6 * 3600)

/* How a folder's pass of a run ended (IMAP), for the account's page. */
struct fetch_folder_note {
	char *folder;
	uint32_t messages;		/* the upstream folder's EXISTS */
	char *error;			/* NULL: synced completely */
};

/* One fetch of one account: what every step needs. */
struct fetch_run {
	struct store *st;
	const struct store_upstream *up;
	const char *hostname;		/* ours, for the Received field */
	uint64_t max_size;		/* a message over this is refused */
	int64_t mailbox_id;		/* the target */
	struct upstream_batch *batch;	/* messages being received */
	struct fetch_committer *committer; /* commits the batch before (commit.c) */
	int stop_fd;			/* readable: stop at the next step (-1: none) */
	struct client_conn_params connect; /* how the clients reach the server */
	unsigned appended;		/* messages added locally */
	unsigned seen;			/* messages fetched */
	uint64_t log_id;
	uint32_t exists;		/* the folder being fetched: its EXISTS */
	struct fetch_folder_note *notes; /* the folders' passes, in order */
	size_t n_notes;
	struct fetch_spam *spam;	/* rspamd's check, or NULL (spam.c) */
	bool sieve;			/* the owner's script runs (sieve.c) */
	struct fetch_sieve_done *sieve_done; /* the committer's (sieve.c) */
	/* IMAP (run_imap.c): the folder the session has selected (NULL: none
	 * or not known), and the one the pass at hand sends commands to */
	char *selected;
	char *pass_folder;
	uint32_t pass_uidvalidity;
	/* two-way: the further sessions the folders' sends may go over
	 * (lanes.c), or NULL */
	struct fetch_lanes *lanes;
};

/* lanes.c: the further sessions of a two-way pass's sends (see there).
 * FETCH_LANES_MAX sessions at most, the pass's own included, and with a
 * server on this machine no more than it has cores (fetch_lanes_cap); a
 * lane
 * unused for FETCH_LANES_KEEP_S is closed by fetch_lanes_expire(). */
#define FETCH_LANES_MAX 4
#define FETCH_LANES_KEEP_S 120
struct fetch_lanes;
/* Up to max further sessions (none open yet), kept between passes or
 * closed at the end of each (keep false); _set_max changes max
 * (closing what is over); _expire closes the sessions unused since
 * now - FETCH_LANES_KEEP_S; _close closes every session; _free all (NULL
 * ok everywhere).  Only while no pass runs over them. */
struct fetch_lanes *fetch_lanes_new(unsigned max, bool keep);
void fetch_lanes_set_max(struct fetch_lanes *ls, unsigned max);
void fetch_lanes_expire(struct fetch_lanes *ls, time_t now);
void fetch_lanes_close(struct fetch_lanes *ls);
void fetch_lanes_free(struct fetch_lanes **ls);
/* The further sessions at most of max when the server is on this machine
 * of cpus cores (see lanes.c): cpus - 1, 1 at least, FETCH_LANES_MAX - 1
 * at most. */
unsigned fetch_lanes_cap(unsigned max, long cpus);
/* How many further sessions n_folders folders to send want (max at most):
 * one each beyond the pass's own. */
unsigned fetch_lanes_want(unsigned max, size_t n_folders);
/* The order the folders of a job are taken in: order[0..n) gets the
 * indexes by weight[i] (fetch_twoway_plan_weight), the heaviest first
 * (ties in their order); returns how many have a weight (send). */
size_t fetch_lanes_order(const unsigned *weight, size_t n, size_t *order);
/* What the sessions share out: items 0..n), each sent by send() over one
 * session with its own run (the pass's, or a lane's), next the item the
 * same session takes after it (SIZE_MAX: none); done[] and errors[]
 * (malloc'd, the caller's to free) say how each ended (neither: not
 * sent, after another failed). */
struct fetch_lane_job {
	size_t n;
	int (*send)(void *ctx, struct fetch_run *run, struct imap_client *c, size_t item,
		    size_t next, const char **error_r);
	void *ctx;
	bool *done;
	char **errors;
};
/* Starts up to want lanes' threads, which log in (or check a kept
 * session) while the pass goes on, then wait for the job; password and
 * run must stay until fetch_lanes_send() or fetch_lanes_join().  The
 * number started. */
unsigned fetch_lanes_open(struct fetch_lanes *ls, const struct fetch_run *run,
			  const char *password, unsigned want);
/* Sends job over the pass's session c (item 0 first: its SELECT may be
 * written ahead) and the lanes ready (ls NULL: c alone); returns when
 * every lane's thread has ended: 0, or -1 with the first failure's
 * error.  *sessions_r: the sessions that sent. */
int fetch_lanes_send(struct fetch_lanes *ls, struct fetch_run *run, struct imap_client *c,
		     struct fetch_lane_job *job, unsigned *sessions_r, const char **error_r);
/* Ends the lanes' threads of a pass that sends nothing. */
void fetch_lanes_join(struct fetch_lanes *ls);

/* The message being received (sink.c). */
struct fetch_sink {
	struct fetch_run *run;
	bool open;			/* a message is begun */
	struct sha256_ctx *raw;		/* the bytes as the upstream sent them */
	struct sha256_ctx *body;	/* the body after the header */
	struct buf header;		/* kept for the Message-ID */
	bool header_done;
	bool header_cut;		/* too long to keep: no dedupe key */
	unsigned eol;			/* state of the header-end search */
	uint64_t raw_size;
	/* rspamd checks the message (spam.c): its verdict fields dropped
	 * as it is written */
	bool spam_check;
	struct mail_hdr_filter filter;
	int filter_ret;			/* the batch's status of a failed write */
	const char *filter_error;
	/* IMAP: where the message came from */
	const char *folder;
	uint32_t uidvalidity;
	bool refetch;
};

void fetch_sink_init(struct fetch_sink *s, struct fetch_run *run);
/* Frees what the sink holds (a begun message is thrown away). */
void fetch_sink_clear(struct fetch_sink *s);
/* Starts a message in run->batch, our Received field first. */
int fetch_sink_begin(struct fetch_sink *s, const char *protocol, const char **error_r);
int fetch_sink_write(struct fetch_sink *s, const void *p, size_t n, const char **error_r);
/* Ends the message: queued in run->batch with its IMAP uid or POP3 uidl
 * (NULL when none), and the flags (store_flag bits) and keywords (NULL or
 * space-separated) it is to have here, and Gmail's X-GM-MSGID (0: none);
 * fetch_flush() delivers it. */
int fetch_sink_end(struct fetch_sink *s, uint32_t uid, const char *uidl,
		   int64_t internal_date, unsigned flags, const char *keywords,
		   uint64_t gm_msgid, const char **error_r);
void fetch_sink_abort(struct fetch_sink *s);

/* sieve.c: the owner's Sieve script on fetched mail (see there).
 * _setup reads the account's choice; _batch makes a batch run the script;
 * _end ends a message in run->batch (store_upstream_batch_end, with what
 * the script needs: the envelope sender, the spam verdict (spamtest),
 * the target folder);
 * _committed sends and remembers what the committed plans say (committed
 * false: drops them).  _batch and _committed: the committer's thread. */
struct upstream_delivery;
struct fetch_spam_verdict;
int fetch_sieve_setup(struct fetch_run *run, const char **error_r);
void fetch_sieve_batch(struct fetch_run *run, struct upstream_batch *b);
int fetch_sieve_end(struct fetch_run *run, const struct upstream_delivery *d,
		    const char *sender, const struct fetch_spam_verdict *spam,
		    const char *target, const char **error_r);
/* The envelope sender from the Return-Path field of header[0..len) (RFC
 * 5321 §4.4: the upstream's final delivery wrote it); "" for none or the
 * null sender.  malloc'd. */
char *fetch_return_path(const char *header, size_t header_len);
void fetch_sieve_committed(struct fetch_run *run, struct store *st, bool committed);

/* spam.c: rspamd's verdict on fetched mail (see there).  _setup makes
 * run->spam when [spam] rspamd is set and the account is checked; _free
 * frees it; _applies says whether a message of folder (NULL: POP3) is
 * checked; _fields are the field names of the verdict, dropped from a
 * checked message as it arrives; _check asks rspamd about the message
 * begun in run->batch (complete) and puts the verdict's fields in front of
 * it: -1 only when that fails (the message is lost: abort it). */
struct fetch_spam_verdict {
	bool junk;			/* spam: into Junk */
	int spamtest;			/* RFC 5235 1..10, 0: not checked */
	int percent;			/* 0..100 */
};
void fetch_spam_setup(struct fetch_run *run, const struct config *cfg);
void fetch_spam_free(struct fetch_run *run);
bool fetch_spam_applies(const struct fetch_run *run, const char *folder);
const char *const *fetch_spam_fields(void);
int fetch_spam_check(struct fetch_run *run, const char *sender, struct fetch_spam_verdict *v,
		     const char **error_r);

/* commit.c: run->batch and the committer thread that makes the batch
 * before it durable while run->batch fills (see there).  _new makes both
 * batches; _free waits for a commit in flight and frees them. */
int fetch_committer_new(struct fetch_run *run, const char **error_r);
void fetch_committer_free(struct fetch_run *run);
/* Hands run->batch to the committer (nothing may be in flight: wait
 * first) and gives the run an empty batch.  run->st is the committer's
 * until fetch_flush_wait(). */
int fetch_flush_start(struct fetch_run *run, const char **error_r);
/* Waits for the commit in flight (none: 0, *delivered_r 0).  *delivered_r
 * (may be NULL) counts the first messages of that batch delivered, in
 * order; -1 unless all were.  Nothing of that batch may be deleted
 * upstream before this returns. */
int fetch_flush_wait(struct fetch_run *run, size_t *delivered_r, const char **error_r);
/* Both at once for run->batch, after waiting for any commit in flight
 * (whose failure is returned, run->batch then left as it is). */
int fetch_flush(struct fetch_run *run, size_t *delivered_r, const char **error_r);
/* Whether a commit is in flight (run->st is not the run's to use). */
bool fetch_commit_busy(const struct fetch_run *run);
/* run->st, for the run's thread: panics while a commit is in flight. */
struct store *fetch_run_store(const struct fetch_run *run);

/* The account's target mailbox, created when missing. */
int fetch_target_mailbox(struct fetch_run *run, const char **error_r);
/* The local mailbox of the upstream folder (the target, or target/folder
 * when the account mirrors its folders), created when missing, into
 * run->mailbox_id. */
int fetch_folder_mailbox(struct fetch_run *run, const char *folder, const char **error_r);
/* Whether stop was asked (polls run->stop_fd). */
bool fetch_should_stop(const struct fetch_run *run);

/* One folder over an open IMAP session (run_imap.c). */
int fetch_imap_folder(struct fetch_run *run, struct imap_client *c,
		      const char *folder, const char **error_r);
/* Every configured folder (or only only_folder): opens the session (or
 * uses *c_io when set), leaves it open in *c_io when c_io is not NULL (and
 * closes it and sets NULL on failure). */
int fetch_imap_account(struct fetch_run *run, const char *password,
		       struct imap_client **c_io, const char *only_folder,
		       const char **error_r);
/* twoway.c: what the SELECT of a two-way folder brought with it in the
 * same round trip (imap_client_select_sync): every UID, and the flags
 * changed since the folder's last sync (flags_read; remote: twoway.c's). */
struct fetch_twoway_pre {
	uint32_t *present;
	size_t n_present;
	bool flags_read;
	uint64_t since;
	void *remote;
	uint32_t advance;	/* the last UID fetched to record (0: none) */
	/* QRESYNC (RFC 7162 §3.2.5): the SELECT reported what was expunged
	 * since the folder's last sync (vanished) instead of every UID
	 * (present NULL), and the UIDs above the last one fetched (fresh) */
	bool qresync;
	uint32_t *vanished;
	size_t n_vanished;
	uint32_t *fresh;
	size_t n_fresh;
};
/* Selects folder read-write with the above into *pre (free it with
 * fetch_twoway_pre_free, also after a failure). */
int fetch_twoway_select(struct fetch_run *run, struct imap_client *c, const char *folder,
			struct imapc_mailbox *mb_r, struct fetch_twoway_pre *pre,
			const char **error_r);
void fetch_twoway_pre_free(struct fetch_twoway_pre *pre);
/* For a SELECT with QRESYNC that the caller sends (run_imap.c's pipeline
 * of several folders): _begin makes *pre ready (the folder's last MODSEQ
 * in pre->since) and gives the callback (and its ctx) for the FETCH of
 * changed flags; _qresync takes the SELECT's answer and its VANISHED
 * UIDs (*vanished taken), -1 when the folder's UIDVALIDITY is not
 * uidvalidity any more (the run ends: the next one starts it again). */
int fetch_twoway_pre_begin(struct fetch_run *run, const char *folder, struct fetch_twoway_pre *pre,
			   imapc_flags_fn **fn_r, void **ctx_r, const char **error_r);
int fetch_twoway_pre_qresync(struct fetch_run *run, const char *folder, uint32_t uidvalidity,
			     struct fetch_twoway_pre *pre, const struct imapc_mailbox *mb,
			     uint32_t **vanished, size_t n_vanished, const char **error_r);
/* run_imap.c: _selected records that folder was selected with mb (the
 * pass's folder from then on; NULL: none, or not known); fetch_pass_select
 * selects the pass's folder read-write unless it is selected, and checks
 * that its UIDVALIDITY is still the pass's: a folder whose pass has
 * nothing to send upstream is not selected again. */
void fetch_pass_selected(struct fetch_run *run, const char *folder,
			 const struct imapc_mailbox *mb);
int fetch_pass_select(struct fetch_run *run, struct imap_client *c, const char **error_r);
/* twoway.c, a folder's two-way pass in two steps (fetch_twoway_folder
 * below is both): _plan reads the links against what the folder's SELECT
 * brought (pre: its UIDs or QRESYNC's VANISHED) and records the
 * intentions and the upstream's expunges here (steps 1, 2 and 5 there):
 * grouped, in the store group the caller holds (several folders' in one
 * durable commit, which must end before any _send; the folder need not
 * be selected), else in a durable commit of its own; _send does the rest
 * (3, 4, 6, 7), selecting the folder when it sends anything.  Free the
 * plan with _plan_free (NULL ok), after a failure too. */
struct fetch_twoway_plan;
int fetch_twoway_plan(struct fetch_run *run, struct imap_client *c, const char *folder,
		      const struct imapc_mailbox *mb, const struct fetch_twoway_pre *pre,
		      bool grouped, struct fetch_twoway_plan **plan_r, const char **error_r);
int fetch_twoway_send(struct fetch_run *run, struct imap_client *c, struct fetch_twoway_plan *p,
		      unsigned fresh, struct fetch_twoway_pre *pre, const char *next,
		      const char **error_r);
/* Whether the plan's _send is likely to send anything (deletions, moves,
 * flags changed here): its folder's SELECT is then written ahead by the
 * _send before it, whose next it is (NULL: none). */
bool fetch_twoway_plan_sends(const struct fetch_twoway_plan *p);
/* About how many commands (so round trips) the plan's _send sends: 0
 * when none. */
unsigned fetch_twoway_plan_weight(const struct fetch_twoway_plan *p);
void fetch_twoway_plan_free(struct fetch_twoway_plan **p);
/* twoway.c: after a folder's new messages are fetched (fresh of them
 * added here by this pass), the two-way sync of its changes (see there);
 * the folder is selected read-write; pre (NULL: none) what its SELECT
 * brought, used instead of asking again. */
int fetch_twoway_folder(struct fetch_run *run, struct imap_client *c, const char *folder,
			const struct imapc_mailbox *mb, unsigned fresh,
			struct fetch_twoway_pre *pre, const char **error_r);
/* Drops from uids[0..*n) those linked already (moved here by a UID MOVE
 * whose COPYUID gave them); *skipped_max_r the highest dropped (0: none). */
int fetch_twoway_filter(struct fetch_run *run, const char *folder, uint32_t uidvalidity,
			uint32_t *uids, size_t *n, uint32_t *skipped_max_r, const char **error_r);
/* twoway_up.c (see there): after a mirrored folder's two-way pass, its
 * local messages that no link holds go up by APPEND (run->mailbox_id:
 * the folder's local mailbox); and at the start of a run over every
 * folder, the folders created, renamed and deleted here are so upstream,
 * *listed_io (LIST's names) changed to match. */
int fetch_twoway_up_messages(struct fetch_run *run, struct imap_client *c, const char *folder,
			     const struct imapc_mailbox *mb, const char **error_r);
int fetch_twoway_up_folders(struct fetch_run *run, struct imap_client *c, char ***listed_io,
			    size_t *n_listed_io, const char **error_r);
/* Whether the account fetches every folder the server lists ("*"). */
bool fetch_all_folders(const struct upstream_settings *set);
/* A whole POP3 run (run_pop3.c). */
int fetch_pop3_account(struct fetch_run *run, const char *password,
		       const char **error_r);

/* watch.c: IDLE sessions on an account's further folders, each of which
 * marks its folder and writes to wake_fd when the server reports news.
 * _start unseals the password and starts one thread per folder (n 0:
 * *w_r NULL, nothing started); _take hands over the folders marked since
 * the last call (malloc'd names, free with imapc_names_free); _stop ends
 * and joins the threads; NULL ok. */
struct fetch_watch;
int fetch_watch_start(const struct config *cfg, const struct store_upstream *up,
		      const char *const *folders, size_t n, int wake_fd,
		      struct fetch_watch **w_r, const char **error_r);
size_t fetch_watch_take(struct fetch_watch *w, char ***folders_r);
void fetch_watch_stop(struct fetch_watch **w);

/* watch.c, two-way accounts: a thread that waits for committed changes
 * to the account's local mailboxes (store_watch) and then, after
 * LOCAL_SETTLE_MS, marks the account and writes to wake_fd, so that local
 * changes go up within a second.  _take says whether a change came since
 * the last call.  n 0: *lw_r NULL; NULL ok everywhere. */
struct fetch_local_watch;
int fetch_local_watch_start(const int64_t *mailbox_ids, size_t n, int wake_fd,
			    struct fetch_local_watch **lw_r);
bool fetch_local_watch_take(struct fetch_local_watch *lw);
void fetch_local_watch_stop(struct fetch_local_watch **lw);

/* push.c: the IDLE thread and the watchers say how folder is watched
 * (FETCH_PUSH_POLL when they stop). */
void fetch_push_set(int64_t id, const char *folder, enum fetch_push mode);

/* account.c: one complete run with result recording; lanes (NULL: the
 * run makes its own, within [fetch] idle_connections) the further
 * sessions of a two-way pass's sends, kept by the caller. */
int fetch_account_once(const struct config *cfg, struct store *st,
		       const struct store_upstream *up, int stop_fd,
		       struct imap_client **keep_c, struct fetch_lanes *lanes,
		       const char *only_folder, unsigned *fetched_r, const char **error_r);
/* Seconds until the next poll of an account after a run. */
unsigned fetch_next_delay(const struct store_upstream *up, bool failed);

#endif
