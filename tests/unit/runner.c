#include "tests/unit/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TMPDIRS 64
static char *tmpdirs[MAX_TMPDIRS];
static int n_tmpdirs;
static pid_t owner_pid;

static void
cleanup_tmpdirs(void)
{
	/* Check forks per test: only the process that made a directory removes it. */
	if (getpid() != owner_pid)
		return;
	for (int i = 0; i < n_tmpdirs; i++) {
		char *cmd;
		if (asprintf(&cmd, "rm -rf '%s'", tmpdirs[i]) >= 0) {
			if (system(cmd) != 0)
				fprintf(stderr, "could not remove %s\n", tmpdirs[i]);
			free(cmd);
		}
		free(tmpdirs[i]);
	}
	n_tmpdirs = 0;
}

char *
test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&path, "%s/mailhub-test.XXXXXX", base) < 0 || mkdtemp(path) == NULL) {
		perror("mkdtemp");
		abort();
	}
	if (n_tmpdirs == 0) {
		owner_pid = getpid();
		atexit(cleanup_tmpdirs);
	}
	if (n_tmpdirs < MAX_TMPDIRS && getpid() == owner_pid)
		tmpdirs[n_tmpdirs++] = strdup(path);
	return path;
}

char *
test_srcpath(const char *rel)
{
	const char *src = getenv("MAILHUB_SRCDIR");
	char *path;

	if (src == NULL || *src == '\0')
		src = ".";
	if (asprintf(&path, "%s/%s", src, rel) < 0)
		abort();
	return path;
}

char *
test_read_file(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	size_t len = 0, cap = 65536;
	char *data = malloc(cap + 1);
	size_t n;
	if (data == NULL)
		abort();
	while ((n = fread(data + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			cap *= 2;
			data = realloc(data, cap + 1);
			if (data == NULL)
				abort();
		}
	}
	ck_assert_msg(!ferror(f), "cannot read %s", path);
	fclose(f);
	data[len] = '\0';
	if (len_r != NULL)
		*len_r = len;
	return data;
}

int
main(void)
{
	SRunner *sr = srunner_create(make_suite());
	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
