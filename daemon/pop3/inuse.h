/*
 * inuse: the process-wide registry of maildrops that a POP3 session holds.
 *
 * RFC 1939 §8 lets a server refuse a second session on a maildrop that is
 * already in use; RFC 2449 §8.1.2 names the reply "[IN-USE]".  mailhub
 * allows one POP3 session per user at a time (the message list of a POP3
 * session is a snapshot whose deletions are applied at QUIT, and two of them
 * would delete from each other's view), while IMAP sessions go on beside it.
 *
 * The registry is owned by this module behind its own mutex; it holds one
 * entry per logged-in POP3 session, so it is bounded by the listener's
 * connection limit.
 */
#ifndef MAILHUB_POP3_INUSE_H
#define MAILHUB_POP3_INUSE_H

#include <stdbool.h>
#include <stdint.h>

/* Takes the lock of user_id's maildrop: true when taken, false when another
 * session holds it. */
bool pop3_inuse_acquire(int64_t user_id);
/* Gives the lock back (a user_id not held is a bug: panic). */
void pop3_inuse_release(int64_t user_id);
/* True when some session holds user_id's lock (for tests). */
bool pop3_inuse_held(int64_t user_id);

#endif
