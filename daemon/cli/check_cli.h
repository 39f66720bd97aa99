/*
 * check_cli: the operator's tools for the inbound checks (cli/check.c):
 * what SPF, DMARC and DKIM say about a sender or a message, computed by
 * the same evaluators (trust/) and the same resolver ([dns] resolver) the
 * daemon uses.
 * main.c lists them in its command table.
 */
#ifndef MAILHUB_CLI_CHECK_CLI_H
#define MAILHUB_CLI_CHECK_CLI_H

#include "cli/cli.h"

/* `mailhub check-spf IP SENDER [HELO]`: the SPF verdict (RFC 7208) for
 * mail from SENDER (empty: the null sender, checked by HELO) sent by a
 * client at IP, as spfquery and pyspf print it. */
cli_command_fn cmd_check_spf;
/* `mailhub check-dmarc FROM [--spf RESULT:DOMAIN] [--dkim RESULT:DOMAIN,...]
 * [--sample N]`: the DMARC verdict (RFC 7489) for mail whose From: is in
 * FROM's domain, given how SPF and DKIM went, as OpenDMARC's
 * Authentication-Results shows it. */
cli_command_fn cmd_check_dmarc;

/* `mailhub check-dkim [FILE]`: the DKIM verdict of each signature (RFC
 * 6376) and the ARC verdict (RFC 8617) of a message file or of standard
 * input, one line each as dkimpy's dkimverify would judge them, and the
 * Authentication-Results field the daemon would add (cli/check_dkim.c). */
cli_command_fn cmd_check_dkim;

#endif
