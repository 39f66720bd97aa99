/*
 * check_cli: the operator's tools for the inbound checks (cli/check.c):
 * what SPF and DMARC say about a sender, computed by the same evaluators
 * (trust/) and the same resolver ([dns] resolver) the daemon uses.
 * main.c lists them in its command table.
 */
#ifndef MAILHUB_CLI_CHECK_CLI_H
#define MAILHUB_CLI_CHECK_CLI_H

#include "cli/cli.h"

/* `mailhub check-spf IP SENDER [HELO]`: the SPF verdict (RFC 7208) for
 * mail from SENDER (empty: the null sender, checked by HELO) sent by a
 * client at IP, as spfquery and pyspf print it. */
cli_command_fn cmd_check_spf;

#endif
