/* Why a policy selects nothing on this node: the answer to "my policy does nothing" (see
 * policy.h), for the agent's log, metrics and /debug/pods. */
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"

static bool policy_names(const struct store_policy *p, const char *net)
{
	for (uint32_t i = 0; i < p->nnets; i++)
		if (p->nets[i] == net || !strcmp(p->nets[i], net))
			return true;
	return false;
}

/* Whether the pod has an interface on one of the policy's networks that are in scope. */
static bool attached(const struct store *s, const struct policy_opts *o,
		     const struct store_policy *p, const struct store_pod *pod)
{
	for (uint32_t i = 0; i < pod->nstatus; i++) {
		const struct store_nad *nad = store_nad_get_key(s, pod->status[i].network);
		if (policy_names(p, pod->status[i].network) && nad &&
		    policy_plugin_in_scope(o, nad->plugin_type))
			return true;
	}
	for (uint32_t i = 0; i < pod->nnets; i++) {
		const struct store_nad *nad = store_nad_get_key(s, pod->nets[i].network);
		if (policy_names(p, pod->nets[i].network) && nad &&
		    policy_plugin_in_scope(o, nad->plugin_type))
			return true;
	}
	return false;
}

const char *policy_idle_reason(const struct store *s, const struct policy_opts *o,
			       const struct store_policy *p, char *buf, size_t cap)
{
	if (p->nnets == 0) {
		snprintf(buf, cap, "no k8s.v1.cni.cncf.io/policy-for annotation: it names no network");
		return buf;
	}
	if (!p->ingress && !p->egress) {
		snprintf(buf, cap, "its policyTypes name no direction");
		return buf;
	}
	uint32_t in_scope = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < p->nnets; i++) {
		const struct store_nad *nad = store_nad_get_key(s, p->nets[i]);
		if (nad && policy_plugin_in_scope(o, nad->plugin_type)) {
			in_scope++;
			continue;
		}
		size_t len = strlen(buf);
		if (!nad)
			snprintf(buf + len, cap - len, "%sno NetworkAttachmentDefinition %s",
				 len ? "; " : "", p->nets[i]);
		else
			snprintf(buf + len, cap - len, "%s%s's plugin type %s is not in --network-plugins",
				 len ? "; " : "", p->nets[i],
				 nad->plugin_type ? nad->plugin_type : "(none)");
	}
	if (!in_scope)
		return buf;
	const struct store_ns *ns = store_ns_get(s, p->ns);
	bool matched = false;
	for (const struct store_pod *pod = ns ? ns->pods : NULL; pod; pod = pod->ns_next) {
		if (!pod->local || !(p->pod_sel_invalid || selector_matches(&p->pod_sel, &pod->labels)))
			continue;
		if (attached(s, o, p, pod))
			return NULL;
		matched = true;
	}
	snprintf(buf, cap, matched ? "the pods it selects on this node are on none of its networks"
				   : "no pod on this node matches its podSelector");
	return buf;
}
