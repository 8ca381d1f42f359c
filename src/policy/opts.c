/* Policy options from the parsed flags (plugins, ICMP, custom rule files). */
#include "policy/policy.h"

#include <string.h>

#include "flags.h"

int policy_opts_init(struct policy_opts *o, const struct flags *f, char *err, size_t errcap)
{
	memset(o, 0, sizeof(*o));
	o->nplugins = f->nplugins;
	o->plugins = (const char *const *)f->plugins;
	o->accept_icmp = f->accept_icmp;
	o->accept_icmpv6 = f->accept_icmpv6;
	o->accept_ipv6_router_advertisements = f->accept_ipv6_router_advertisements;
	for (int fam = 0; fam < 2; fam++)
		for (int d = 0; d < 2; d++) {
			const char *path = f->custom_rule_file[fam][d];
			if (path && custom_rules_load(&o->custom[fam][d], path, fam ? 6 : 4, err,
						      errcap) < 0) {
				policy_opts_free(o);
				return -1;
			}
		}
	return 0;
}

void policy_opts_free(struct policy_opts *o)
{
	for (int fam = 0; fam < 2; fam++)
		for (int d = 0; d < 2; d++)
			custom_rules_free(&o->custom[fam][d]);
}
