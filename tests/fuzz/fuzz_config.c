/*
 * libFuzzer target for core/config: the input is a config file.  Whatever
 * it holds, config_parse() either builds a config that passes its own
 * promises or fails with a "FILE:..." reason, and never leaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	const char *error = NULL;

	if (config_parse("f.conf", (const char *)data, size, &cfg, &error) < 0) {
		if (cfg != NULL || error == NULL || strncmp(error, "f.conf", 6) != 0)
			panic("config_parse failed without a proper reason");
		return 0;
	}
	if (cfg->data_dir == NULL || cfg->data_dir[0] != '/' || cfg->hostname == NULL)
		panic("config_parse accepted a config without data_dir or hostname");
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
		panic("config_parse accepted a cert without a key");
	for (int k = 0; k < LISTEN_COUNT; k++) {
		const struct config_listen *l = &cfg->listen[k];
		if (l->enabled && (l->port == 0 || l->port > 65535 || l->text == NULL))
			panic("config_parse accepted a bad listener");
	}
	if (cfg->dns_resolver != NULL) {
		char *host = NULL;
		unsigned port;
		if (config_parse_address(cfg->dns_resolver, false, &host, &port, &error) < 0 ||
		    host == NULL)
			panic("config_parse stored a resolver that does not parse");
		free(host);
	}
	config_free(&cfg);
	return 0;
}
