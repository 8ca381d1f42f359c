#!/usr/bin/env bash
# Makes one pinned container runtime of third_party/runtimes.lock ready to run, without
# installing anything system-wide, and prints the folder holding its binaries:
#   containerd, containerd-shim-runc-v2, ctr, runc   (links to the installed package's files for
#                                                     `host` entries; unpacked .debs for `deb` ones)
#
#   scripts/runtimes.sh VERSION        VERSION: 1.6, 1.7, 2.1 (a runtime named in the lock)
#   scripts/runtimes.sh --list         the runtimes of the lock, oldest first
#
# Lives under RUNTIMES_DIR (default build/runtimes): debs/ (verified .debs), apt-SUITE/ (the
# private apt state: the system's Debian entry re-pointed at SUITE; the system's sources, lists,
# cache and preferences stay untouched), VERSION/ (the unpacked tree and bin/). Re-running is
# cheap: a .deb is fetched only when missing or not matching its sha256.
set -euo pipefail

die() {
	echo "runtimes.sh: error: $*" >&2
	exit 1
}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCK=$ROOT/third_party/runtimes.lock
[ -r "$LOCK" ] || die "missing $LOCK"
lines() { awk '!/^[[:space:]]*(#|$)/' "$LOCK"; }

if [ "${1:-}" = --list ]; then
	lines | awk '{print $2}' | sort -u -t. -k1,1n -k2,2n
	exit 0
fi
[ $# -eq 1 ] || die "usage: $0 VERSION | --list"
want=$1
lines | awk -v v="$want" '$2 == v {f = 1} END {exit !f}' ||
	die "no runtime $want in $LOCK (known: $(lines | awk '{print $2}' | sort -u | tr '\n' ' '))"

TOP=${RUNTIMES_DIR:-$ROOT/build/runtimes}
mkdir -p "$TOP/debs"
TOP=$(cd "$TOP" && pwd)
exec 9>"$TOP/.lock"
flock 9

sha_of() { sha256sum "$1" | awk '{print $1}'; }

fetch_deb() { # package suite version file sha256
	local p=$1 suite=$2 v=$3 f=$4 sha=$5 aptdir=$TOP/apt-$2
	[ -f "$TOP/debs/$f" ] && [ "$(sha_of "$TOP/debs/$f")" = "$sha" ] && return 0
	mkdir -p "$aptdir/sources" "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
	"$ROOT/scripts/deps.sh" --print-apt-entries deb "$suite" >"$aptdir/sources/debian.sources"
	[ -s "$aptdir/sources/debian.sources" ] || die "found no Debian entry in ${DEPS_APT_ETC:-/etc/apt} to mirror for $suite"
	local opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$aptdir/sources"
		-o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache"
		-o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null"
		-o "Dir::State::status=/dev/null" -o "APT::Sandbox::User=root")
	echo "runtimes.sh: fetching $p $v from $suite" >&2
	apt-get "${opts[@]}" update -qq >&2 || die "apt-get update for $suite failed"
	rm -f "$TOP/debs/$f"
	(cd "$TOP/debs" && apt-get "${opts[@]}" download -qq "$p=$v" >&2) ||
		die "apt-get download $p=$v from $suite failed (is $v still in $suite? update $LOCK)"
	[ -f "$TOP/debs/$f" ] || die "apt-get download $p=$v did not deliver $f"
	local got
	got=$(sha_of "$TOP/debs/$f")
	[ "$got" = "$sha" ] || die "checksum mismatch for $f: got $got, $LOCK pins $sha"
}

host_bin() { # package version binary → its path, after checking the installed version
	local v
	v=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null) || die "package $1 is not installed"
	[ "$v" = "$2" ] || die "package $1 is $v here, $LOCK pins $2"
	[ -x "/usr/bin/$3" ] || die "/usr/bin/$3 (from $1) is missing"
	echo "/usr/bin/$3"
}

bins_of() { # package → the binaries the runtime uses from it
	case $1 in
	containerd) echo containerd containerd-shim-runc-v2 ctr ;;
	runc) echo runc ;;
	*) die "$LOCK: unknown package $1" ;;
	esac
}

out=$TOP/$want
key=$(lines | awk -v v="$want" '$2 == v' | sha256sum | awk '{print $1}')
if [ "$(cat "$out/.key" 2>/dev/null)" != "$key" ]; then
	rm -rf "$out"
	mkdir -p "$out/bin"
	while read -r kind _ p rest; do
		set -- $rest
		if [ "$kind" = host ]; then
			for b in $(bins_of "$p"); do ln -s "$(host_bin "$p" "$1" "$b")" "$out/bin/$b"; done
		elif [ "$kind" = deb ]; then
			fetch_deb "$p" "$1" "$2" "$3" "$4"
			dpkg-deb -x "$TOP/debs/$3" "$out/tree" || die "dpkg-deb -x $3 failed"
			for b in $(bins_of "$p"); do
				[ -x "$out/tree/usr/bin/$b" ] || die "$3 has no usr/bin/$b"
				ln -s "../tree/usr/bin/$b" "$out/bin/$b"
			done
		else
			die "$LOCK: unknown kind $kind"
		fi
	done < <(lines | awk -v v="$want" '$2 == v')
	for b in containerd containerd-shim-runc-v2 ctr runc; do
		[ -e "$out/bin/$b" ] || die "runtime $want has no $b (see $LOCK)"
	done
	"$out/bin/containerd" --version >/dev/null || die "$out/bin/containerd does not run here"
	"$out/bin/runc" --version >/dev/null || die "$out/bin/runc does not run here"
	echo "$key" >"$out/.key"
fi
echo "$out/bin"
