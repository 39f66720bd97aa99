#include "core/xmalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

static void *
checked(void *p, size_t size)
{
	if (p == NULL && size != 0)
		fatal("out of memory allocating %zu bytes", size);
	return p;
}

void *
xmalloc(size_t size)
{
	return checked(malloc(size == 0 ? 1 : size), size);
}

void *
xcalloc(size_t nmemb, size_t size)
{
	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	return checked(calloc(nmemb, size), nmemb * size);
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	if (size != 0 && nmemb > SIZE_MAX / size)
		panic("xreallocarray overflow: %zu * %zu", nmemb, size);
	return xrealloc(ptr, nmemb * size);
}

void *
xrealloc(void *ptr, size_t size)
{
	return checked(realloc(ptr, size == 0 ? 1 : size), size);
}

char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	return xmemdup(s, strnlen(s, n));
}

void *
xmemdup(const void *p, size_t n)
{
	if (n == SIZE_MAX)
		panic("xmemdup overflow");
	char *d = xmalloc(n + 1);
	if (n > 0)
		memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		fatal("out of memory formatting a string");
	return s;
}
