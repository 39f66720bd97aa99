/*
 * reply: every response of the admin listener goes through here, so that
 * each one carries the same security headers and problems have one shape
 * (RFC 9457).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "web/internal.h"

/*
 * The panel is plain files from this listener: nothing may load from
 * elsewhere, nothing may frame it, and no inline script runs.
 */
#define CSP "default-src 'self'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; connect-src 'self'; object-src 'none'; " \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

void
reply_add_security_headers(struct MHD_Response *resp)
{
	MHD_add_response_header(resp, "Content-Security-Policy", CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
}

static enum MHD_Result
queue(struct web_request *r, unsigned status, struct MHD_Response *resp)
{
	reply_add_security_headers(resp);
	r->replied = true;
	enum MHD_Result res = MHD_queue_response(r->mhd, status, resp);
	MHD_destroy_response(resp);
	return res;
}

enum MHD_Result
reply_bytes(struct web_request *r, unsigned status, const char *content_type,
	    const void *data, size_t len, const char *cache_control)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, (void *)data, MHD_RESPMEM_MUST_COPY);
	if (content_type != NULL)
		MHD_add_response_header(resp, "Content-Type", content_type);
	MHD_add_response_header(resp, "Cache-Control",
				cache_control != NULL ? cache_control : "no-store");
	return queue(r, status, resp);
}

enum MHD_Result
reply_json(struct web_request *r, unsigned status, cJSON *body)
{
	char *text = body != NULL ? cJSON_PrintUnformatted(body) : NULL;
	cJSON_Delete(body);
	if (body != NULL && text == NULL)
		fatal("out of memory printing JSON");
	size_t len = text != NULL ? strlen(text) : 0;
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, text, text != NULL ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (text != NULL)
		MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return queue(r, status, resp);
}

enum MHD_Result
reply_empty(struct web_request *r, unsigned status)
{
	return reply_json(r, status, NULL);
}

static const char *
reason_phrase(unsigned status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	default: return "Error";
	}
}

enum MHD_Result
reply_problem(struct web_request *r, unsigned status, const char *detail_fmt, ...)
{
	char detail[1024];
	va_list ap;

	va_start(ap, detail_fmt);
	vsnprintf(detail, sizeof detail, detail_fmt, ap);
	va_end(ap);

	cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "type", "about:blank");
	cJSON_AddStringToObject(body, "title", reason_phrase(status));
	cJSON_AddNumberToObject(body, "status", status);
	cJSON_AddStringToObject(body, "detail", detail);
	char *text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/problem+json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"mailhub\"");
	if (status == 405 && r->allow != NULL)
		MHD_add_response_header(resp, "Allow", r->allow);
	return queue(r, status, resp);
}

enum MHD_Result
reply_store_error(struct web_request *r, int status, const char *error)
{
	unsigned http;
	switch (status) {
	case STORE_NOTFOUND: http = 404; break;
	case STORE_EXISTS: http = 409; break;
	case STORE_BUSY: http = 409; break;
	case STORE_LOOP: http = 409; break;
	case STORE_INVALID: http = 422; break;
	case STORE_NOTLOCAL: http = 422; break;
	case STORE_OVERQUOTA: http = 507; break;
	case STORE_NOSPACE: http = 507; break;	/* RFC 4918 §11.5 */
	default:
		log_error("web store error: %s", error != NULL ? error : "unknown");
		return reply_problem(r, 500, "internal error; see the server log");
	}
	return reply_problem(r, http, "%s", error != NULL ? error : "error");
}

cJSON *
json_time(int64_t t)
{
	if (t == 0)
		return cJSON_CreateNull();
	char text[32];
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return cJSON_CreateString(text);
}
