# Throwaway network namespaces, veth/macvlan links and background processes for bash tests.
# Source it, call netns_setup once; everything made through these helpers is removed by
# netns_cleanup, which runs on exit (also on failure or a signal).
#
#   netns_setup                 unique prefix $NS_RUN, cleanup trap
#   netns_add NAME              namespace "$NS_RUN-NAME" (lo up, no IPv6 DAD); prints its name
#   netns_path NAME             /run/netns/$NS_RUN-NAME
#   netns_switch                a veth pair, both ends up, in namespace "sw": a macvlan parent
#   netns_pod_if NAME IF ADDR.. a macvlan (bridge mode) on that parent moved into NAME as IF,
#                               with the given addresses (e.g. 192.0.2.10/24 2001:db8::10/64)
#   netns_spawn NAME LOG CMD... start CMD in NAME in the background (output to LOG), tracked
#   netns_track PID             kill PID on cleanup
#   netns_exec NAME CMD...      run CMD inside NAME

NS_RUN=""
NS_MADE=()
NS_PIDS=()

netns_cleanup() {
	local pid ns
	for pid in "${NS_PIDS[@]+"${NS_PIDS[@]}"}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${NS_PIDS[@]+"${NS_PIDS[@]}"}"; do
		wait "$pid" 2>/dev/null
	done
	for ns in "${NS_MADE[@]+"${NS_MADE[@]}"}"; do
		ip netns del "$ns" 2>/dev/null
	done
	NS_PIDS=()
	NS_MADE=()
}

netns_setup() {
	NS_RUN="t$$-$(date +%s%N | tail -c 7)"
	trap 'netns_cleanup' EXIT
	trap 'exit 130' INT TERM
}

netns_add() {
	local ns="$NS_RUN-$1"
	ip netns add "$ns" || return 1
	NS_MADE+=("$ns")
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 || return 1
	echo "$ns"
}

netns_path() {
	echo "/run/netns/$NS_RUN-$1"
}

netns_exec() {
	local ns="$NS_RUN-$1"
	shift
	ip netns exec "$ns" "$@"
}

netns_switch() {
	netns_add sw >/dev/null || return 1
	ip -n "$NS_RUN-sw" link add up0 type veth peer name up1 || return 1
	ip -n "$NS_RUN-sw" link set up0 up && ip -n "$NS_RUN-sw" link set up1 up
}

NS_MACVLANS=0
netns_pod_if() {
	local name=$1 ifname=$2 sw="$NS_RUN-sw" ns="$NS_RUN-$1" tmp a
	shift 2
	NS_MACVLANS=$((NS_MACVLANS + 1))
	tmp="mv$NS_MACVLANS"
	ip -n "$sw" link add link up0 name "$tmp" type macvlan mode bridge || return 1
	ip -n "$sw" link set "$tmp" netns "$ns" || return 1
	ip -n "$ns" link set "$tmp" name "$ifname" || return 1
	for a in "$@"; do
		case $a in
		*:*) ip -n "$ns" addr add "$a" dev "$ifname" nodad || return 1 ;;
		*) ip -n "$ns" addr add "$a" dev "$ifname" || return 1 ;;
		esac
	done
	ip -n "$ns" link set "$ifname" up
}

netns_spawn() {
	local ns="$NS_RUN-$1" log=$2
	shift 2
	# `ip netns exec` execs the command, so $! is the command itself.
	ip netns exec "$ns" "$@" >"$log" 2>&1 &
	NS_PIDS+=("$!")
}

netns_track() {
	NS_PIDS+=("$1")
}
