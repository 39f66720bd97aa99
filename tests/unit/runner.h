/*
 * The shared main of the Check programs: each suite file defines
 * `Suite *make_suite(void)` and links runner.c, which runs it and reports
 * every test as one TAP line on stdout (the harness counts tests, not
 * programs).
 */
#ifndef MAILHUB_TESTS_RUNNER_H
#define MAILHUB_TESTS_RUNNER_H

#include <check.h>

Suite *make_suite(void);

/* A fresh directory under $TMPDIR (or /tmp), removed at exit; malloc'd. */
char *test_tmpdir(void);
/* Path of a file inside the source tree (MAILHUB_SRCDIR or "."); malloc'd. */
char *test_srcpath(const char *rel);
/* The whole file at path, NUL-terminated, its length in *len_r (may be
 * NULL); the test fails when it cannot be read.  malloc'd. */
char *test_read_file(const char *path, size_t *len_r);

#endif
