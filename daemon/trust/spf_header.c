/*
 * spf_header: what an SPF verdict writes into the message: the
 * Received-SPF header field (RFC 7208 §9.1) and the "spf" resinfo of
 * Authentication-Results (RFC 8601 §2.7.2).
 * Everything from the peer (sender, HELO) goes through header_text.h, so
 * no value can end the header field or the comment it stands in.
 */
#include <string.h>

#include "trust/header_text.h"
#include "trust/spf.h"

void
spf_received_spf(struct buf *out, const struct spf_verdict *v, const struct spf_request *req)
{
	struct buf ip = BUF_INIT;
	ip_addr_text(&ip, &req->ip);
	const char *receiver = req->receiver != NULL ? req->receiver : "unknown";
	const char *sender = v->sender != NULL ? v->sender : "";
	buf_printf(out, "%s (", spf_result_name(v->result));
	header_put_ctext(out, receiver);
	buf_puts(out, ": ");
	switch (v->result) {
	case SPF_PASS:
	case SPF_FAIL:
	case SPF_SOFTFAIL:
		buf_puts(out, v->result == SPF_SOFTFAIL ? "domain of transitioning " : "domain of ");
		header_put_ctext(out, sender);
		buf_printf(out, " %s %s as permitted sender",
			   v->result == SPF_PASS ? "designates" : "does not designate",
			   buf_cstr(&ip));
		break;
	case SPF_NEUTRAL:
		buf_printf(out, "%s is neither permitted nor denied by domain of ", buf_cstr(&ip));
		header_put_ctext(out, sender);
		break;
	case SPF_NONE:
		buf_puts(out, "domain of ");
		header_put_ctext(out, sender);
		buf_puts(out, " does not designate permitted sender hosts");
		break;
	case SPF_TEMPERROR:
		buf_puts(out, "temporary error in processing during lookup of ");
		header_put_ctext(out, sender);
		break;
	case SPF_PERMERROR:
		buf_puts(out, "permanent error in processing domain of ");
		header_put_ctext(out, sender);
		break;
	}
	buf_puts(out, ")\r\n\tclient-ip=");
	buf_append(out, ip.data, ip.len);
	buf_puts(out, "; envelope-from=");
	header_put_value(out, sender);
	buf_puts(out, "; helo=");
	header_put_value(out, req->helo != NULL ? req->helo : "");
	buf_puts(out, ";\r\n\treceiver=");
	header_put_value(out, receiver);
	buf_printf(out, "; identity=%s", v->identity == SPF_ID_HELO ? "helo" : "mailfrom");
	if (v->mechanism != NULL) {
		buf_puts(out, "; mechanism=");
		header_put_value(out, v->mechanism);
	}
	if (v->problem != NULL) {
		buf_puts(out, ";\r\n\tproblem=");
		header_put_value(out, v->problem);
	}
	buf_free(&ip);
}

void
spf_authres(struct buf *out, const struct spf_verdict *v)
{
	buf_printf(out, "spf=%s ", spf_result_name(v->result));
	buf_puts(out, v->identity == SPF_ID_HELO ? "smtp.helo=" : "smtp.mailfrom=");
	header_put_value(out, v->domain != NULL ? v->domain : "");
}
