/*
 * autoconfig: mail clients that configure themselves from an address.
 *   GET  /mail/config-v1.1.xml, /.well-known/autoconfig/mail/config-v1.1.xml
 *        (Thunderbird, K-9, Evolution: the "autoconfig" format)
 *   POST /autodiscover/autodiscover.xml, /Autodiscover/Autodiscover.xml
 *        (Outlook and Apple Mail: Microsoft's POX autodiscover)
 * Both describe the listeners of the config under [server] hostname.
 */
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "web/internal.h"

/* Appends s with the five XML special characters escaped. */
static void
xml_text(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<': (void)buf_puts(b, "&lt;"); break;
		case '>': (void)buf_puts(b, "&gt;"); break;
		case '&': (void)buf_puts(b, "&amp;"); break;
		case '"': (void)buf_puts(b, "&quot;"); break;
		case '\'': (void)buf_puts(b, "&apos;"); break;
		default:
			/* Control characters are not allowed in XML 1.0. */
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				(void)buf_putc(b, *s);
		}
	}
}

static void
tb_server(struct buf *b, const struct config *cfg, const char *tag, const char *type,
	  enum listen_kind kind, const char *socket_type)
{
	if (!cfg->listen[kind].enabled)
		return;
	(void)buf_printf(b, "    <%s type=\"%s\">\n      <hostname>", tag, type);
	xml_text(b, cfg->hostname);
	(void)buf_printf(b, "</hostname>\n      <port>%u</port>\n"
			 "      <socketType>%s</socketType>\n"
			 "      <authentication>password-cleartext</authentication>\n"
			 "      <username>%%EMAILADDRESS%%</username>\n    </%s>\n",
			 cfg->listen[kind].port, socket_type, tag);
}

static enum MHD_Result
thunderbird(struct web_request *r)
{
	const struct config *cfg = r->srv->cfg;
	struct buf b = BUF_INIT;
	struct store_domain *domains = NULL;
	size_t n = 0;
	const char *error;

	if (store_domain_list(r->st, &domains, &n, &error) != STORE_OK)
		return reply_store_error(r, STORE_ERROR, error);
	(void)buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		       "<clientConfig version=\"1.1\">\n  <emailProvider id=\"");
	xml_text(&b, cfg->hostname);
	(void)buf_puts(&b, "\">\n");
	for (size_t i = 0; i < n; i++) {
		(void)buf_puts(&b, "    <domain>");
		xml_text(&b, domains[i].name);
		(void)buf_puts(&b, "</domain>\n");
	}
	(void)buf_puts(&b, "    <displayName>");
	xml_text(&b, cfg->hostname);
	(void)buf_puts(&b, "</displayName>\n");
	/* Preference order: implicit TLS before STARTTLS, IMAP before POP3. */
	tb_server(&b, cfg, "incomingServer", "imap", LISTEN_IMAPS, "SSL");
	tb_server(&b, cfg, "incomingServer", "imap", LISTEN_IMAP, "STARTTLS");
	tb_server(&b, cfg, "incomingServer", "pop3", LISTEN_POP3S, "SSL");
	tb_server(&b, cfg, "incomingServer", "pop3", LISTEN_POP3, "STARTTLS");
	tb_server(&b, cfg, "outgoingServer", "smtp", LISTEN_SUBMISSIONS, "SSL");
	tb_server(&b, cfg, "outgoingServer", "smtp", LISTEN_SUBMISSION, "STARTTLS");
	(void)buf_puts(&b, "  </emailProvider>\n</clientConfig>\n");
	store_domain_list_free(&domains, n);
	enum MHD_Result res = reply_bytes(r, 200, "application/xml; charset=utf-8", b.data,
					  b.len, "no-cache");
	buf_free(&b);
	return res;
}

static void
ms_protocol(struct buf *b, const struct config *cfg, const char *type,
	    enum listen_kind tls_kind, enum listen_kind plain_kind, const char *email)
{
	enum listen_kind kind = cfg->listen[tls_kind].enabled ? tls_kind : plain_kind;
	if (!cfg->listen[kind].enabled)
		return;
	(void)buf_printf(b, "      <Protocol>\n        <Type>%s</Type>\n        <Server>", type);
	xml_text(b, cfg->hostname);
	(void)buf_printf(b, "</Server>\n        <Port>%u</Port>\n"
			 "        <DomainRequired>off</DomainRequired>\n        <LoginName>",
			 cfg->listen[kind].port);
	xml_text(b, email);
	(void)buf_printf(b, "</LoginName>\n        <SPA>off</SPA>\n"
			 "        <SSL>on</SSL>\n%s"
			 "        <AuthRequired>on</AuthRequired>\n      </Protocol>\n",
			 kind == tls_kind ? "" : "        <Encryption>TLS</Encryption>\n");
}

/* The address from the request's <EMailAddress> element, if any. */
static char *
request_email(const struct web_request *r)
{
	const char *body = buf_cstr(&r->body);
	const char *start = strstr(body, "<EMailAddress>");
	if (start == NULL)
		return NULL;
	start += strlen("<EMailAddress>");
	const char *end = strstr(start, "</EMailAddress>");
	if (end == NULL || end - start > 320)
		return NULL;
	return xstrndup(start, (size_t)(end - start));
}

static enum MHD_Result
autodiscover(struct web_request *r)
{
	const struct config *cfg = r->srv->cfg;
	struct buf b = BUF_INIT;
	char *email = request_email(r);

	(void)buf_puts(&b,
		"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		"<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n"
		"  <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n"
		"    <Account>\n      <AccountType>email</AccountType>\n"
		"      <Action>settings</Action>\n");
	ms_protocol(&b, cfg, "IMAP", LISTEN_IMAPS, LISTEN_IMAP, email != NULL ? email : "");
	ms_protocol(&b, cfg, "POP3", LISTEN_POP3S, LISTEN_POP3, email != NULL ? email : "");
	ms_protocol(&b, cfg, "SMTP", LISTEN_SUBMISSIONS, LISTEN_SUBMISSION,
		    email != NULL ? email : "");
	(void)buf_puts(&b, "    </Account>\n  </Response>\n</Autodiscover>\n");
	free(email);
	enum MHD_Result res = reply_bytes(r, 200, "application/xml; charset=utf-8", b.data,
					  b.len, "no-cache");
	buf_free(&b);
	return res;
}

bool
web_autoconfig_serve(struct web_request *r, enum MHD_Result *result_r)
{
	if (strcmp(r->path, "/mail/config-v1.1.xml") == 0 ||
	    strcmp(r->path, "/.well-known/autoconfig/mail/config-v1.1.xml") == 0) {
		if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
			r->allow = "GET, HEAD";
			*result_r = reply_problem(r, 405, "use GET");
		}
		else
			*result_r = thunderbird(r);
		return true;
	}
	if (str_eq_nocase(r->path, "/autodiscover/autodiscover.xml")) {
		if (strcmp(r->method, "POST") != 0 && strcmp(r->method, "GET") != 0) {
			r->allow = "POST, GET";
			*result_r = reply_problem(r, 405, "use POST");
		}
		else if (r->body_too_large)
			*result_r = reply_problem(r, 413, "the request body is too large");
		else
			*result_r = autodiscover(r);
		return true;
	}
	return false;
}
