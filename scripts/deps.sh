#!/usr/bin/env bash
# Fetches and builds every dependency of the static binary from Debian's archive, as pinned in
# third_party/deps.lock, into DEPSDIR:
#   DEPSDIR/musl/{include,lib}  musl-gcc prefix: BearSSL, nghttp2, nanopb, libnftnl, libmnl, jsmn,
#                               kernel UAPI headers (musl-gcc must never see /usr/include)
#   DEPSDIR/host/{include,lib}  host gcc: libnanopb.a (-fPIC) and pb*.h for unit tests and fuzzers
#   DEPSDIR/src                 the fetched, checksum-verified source packages and .debs
#   DEPSDIR/.stamp              written last, only when everything above is complete
# Installs the Debian packages of third_party/packages.txt that are missing first.
# Re-running is cheap: each part is redone only when its pinned input changed.
#
# With --arch ARCH (arm64, armhf) it builds the same musl prefix for that architecture with the
# Debian cross compiler, into DEPSDIR/ARCH (sources are shared with DEPSDIR/src):
#   DEPSDIR/ARCH/sysroot        musl-dev of that architecture (a pinned .deb, unpacked)
#   DEPSDIR/ARCH/bin/musl-gcc   the cross gcc with a musl specs file pointing at that sysroot
#   DEPSDIR/ARCH/musl/...       as above, plus libcmocka.a for the cross-built unit tests
#   DEPSDIR/ARCH/.stamp
# Target-architecture .debs come through a private apt state of that architecture: the system's
# dpkg architectures and apt lists stay untouched.
#
# With --arch ARCH --vm it also fetches what tests/t-arch-vm boots: Debian's kernel of ARCH and
# busybox-static (pinned `vm-ARCH` lines), unpacked into DEPSDIR/ARCH/vm (vmlinuz, and root/
# holding busybox and the kernel's net, lib and crypto modules with their modules.dep).
#
# usage: scripts/deps.sh [--arch ARCH [--vm]] DEPSDIR
set -euo pipefail

die() {
	echo "deps.sh: error: $*" >&2
	exit 1
}
say() { echo "deps.sh: $*"; }

MODE=build
if [ "${1:-}" = --print-apt-entries ]; then
	# deps.sh --print-apt-entries TYPES [SUITE]: the entries deps.sh would write, for tests
	MODE=print
	shift
else
	XARCH= VM=
	if [ "${1:-}" = --arch ]; then
		XARCH=${2:-}
		shift 2 || die "usage: $0 [--arch ARCH [--vm]] DEPSDIR"
	fi
	if [ "${1:-}" = --vm ]; then
		VM=1
		shift
	fi
	[ $# -eq 1 ] || die "usage: $0 [--arch ARCH [--vm]] DEPSDIR"
fi
# Cross targets: Debian architecture → GNU triplet of the cross gcc, musl's triplet, qemu-user.
case ${XARCH:-} in
'' | x86_64) XARCH= ;;
arm64) XGNU=aarch64-linux-gnu XMUSL=aarch64-linux-musl XQEMU=qemu-aarch64-static ;;
armhf) XGNU=arm-linux-gnueabihf XMUSL=arm-linux-musleabihf XQEMU=qemu-arm-static ;;
*) die "--arch $XARCH: one of arm64, armhf" ;;
esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCK=$ROOT/third_party/deps.lock
PKGS=$ROOT/third_party/packages.txt
DEPS=
if [ $MODE = build ]; then
	mkdir -p "$1"
	DEPS=$(cd "$1" && pwd)
fi
SRC=$DEPS/src
WORK=$DEPS/work
MUSL=$DEPS/musl
HOST=$DEPS/host
# Where this run's parts and stamp live, and the compiler of the musl prefix.
PARTS=$DEPS
MUSLGCC=musl-gcc
AR=ar
if [ -n "$XARCH" ]; then
	PARTS=$DEPS/$XARCH
	MUSL=$PARTS/musl
	WORK=$PARTS/work
	MUSLGCC=$PARTS/bin/musl-gcc
	AR=$XGNU-ar
fi
# The apt configuration folder whose Debian entries are mirrored (tests point it elsewhere).
APT_ETC=${DEPS_APT_ETC:-/etc/apt}
JOBS=$(nproc 2>/dev/null || echo 2)
export DEBIAN_FRONTEND=noninteractive
# Our deb-src entry, mirroring the system's Debian entries (created only when none exists).
DEBSRC_FILE=$APT_ETC/sources.list.d/multi-networkpolicy-nftables-src.sources
# The nanopb options both the library and the generated code are compiled with; they are written
# into the installed pb.h so that every build (musl, host, fuzz) sees the same ones.
NANOPB_DEFINES="PB_FIELD_32BIT PB_ENABLE_MALLOC"
# Optimisation for the musl libraries; sections let the final link drop what is unused. The
# hardening matches the binary's own code (Makefile MUSL_HARDEN): canaries, stack clash probes,
# position-independent code for the static PIE.
MUSL_LIB_CFLAGS="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables"
MUSL_LIB_CFLAGS="$MUSL_LIB_CFLAGS -fstack-protector-strong -fstack-clash-protection -fPIE"

[ -r "$LOCK" ] || die "missing $LOCK"
if [ $MODE = build ]; then
	[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (this is $(uname -m))"
	# One run at a time per DEPSDIR: parallel makes in one tree would share work folders.
	exec 9>"$DEPS/.lock"
	flock 9
	rm -f "$PARTS/.stamp"
	mkdir -p "$SRC" "$WORK" "$MUSL/include" "$MUSL/lib"
	[ -n "$XARCH" ] || mkdir -p "$HOST/include" "$HOST/lib"
fi

# --- lock file access -------------------------------------------------------------------------
lock_lines() { # kind [name] → matching lock lines without comments
	awk -v k="$1" -v n="${2:-}" '!/^[[:space:]]*(#|$)/ && $1 == k && (n == "" || $2 == n)' "$LOCK"
}
lock_version() { # kind name → the pinned version
	local v
	v=$(lock_lines "$1" "$2" | awk '{print $3}' | sort -u)
	[ -n "$v" ] || die "$LOCK: no '$1 $2' entry"
	[ "$(echo "$v" | wc -l)" -eq 1 ] || die "$LOCK: '$1 $2' has more than one version"
	echo "$v"
}
lock_files() { lock_lines "$1" "$2" | awk '{print $4}'; }
lock_sha() { # kind name file → sha256
	lock_lines "$1" "$2" | awk -v f="$3" '$4 == f {print $5}'
}
sha_of() { sha256sum "$1" | awk '{print $1}'; }
verify() { # path expected-sha256
	local got
	got=$(sha_of "$1")
	[ "$got" = "$2" ] || die "checksum mismatch for $1: got $got, $LOCK pins $2"
}
# A part is rebuilt when the stamp that names its inputs differs from what is on disk.
part_key() { printf '%s\n' "$@" "$(sha_of "$0")" | sha256sum | awk '{print $1}'; }
part_done() { [ -f "$PARTS/.part-$1" ] && [ "$(cat "$PARTS/.part-$1")" = "$2" ]; }
part_mark() { echo "$2" >"$PARTS/.part-$1"; }

# --- Debian packages --------------------------------------------------------------------------
apt_updated=0
apt_update() {
	if [ "$apt_updated" -eq 0 ]; then
		say "apt-get update"
		apt-get update -qq || die "apt-get update failed"
		apt_updated=1
	fi
}
pkg_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]
}
install_missing_packages() {
	local missing=() p
	[ -r "$PKGS" ] || die "missing $PKGS"
	for p in $(sed 's/#.*//' "$PKGS"); do
		pkg_installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "packages missing (${missing[*]}); run as root to install them"
	apt_update
	say "installing ${missing[*]}"
	# Only missing packages are named: naming installed ones would upgrade them.
	apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
		die "apt-get install ${missing[*]} failed"
}

# The system's Debian archive entries for this release, as deb822 stanzas with Types: $1 and, if
# $2 is given, Suites: $2 (first entry only: the main archive, not -security/-updates).
debian_entries() {
	local types=$1 suite=${2:-} codename
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$codename" ] || die "cannot tell the Debian release from /etc/os-release"
	{
		# deb822 files
		for f in "$APT_ETC"/sources.list.d/*.sources; do
			[ -r "$f" ] && [ "$f" != "$DEBSRC_FILE" ] && cat "$f" && echo
		done
		# one-line format, converted to deb822
		for f in "$APT_ETC"/sources.list "$APT_ETC"/sources.list.d/*.list; do
			[ -r "$f" ] || continue
			sed 's/#.*//' "$f" | awk '$1 == "deb" {
				signed = ""; i = 2
				if ($2 ~ /^\[/) {
					while (i <= NF) {
						o = $i; gsub(/[\[\]]/, "", o)
						if (o ~ /^signed-by=/) { sub(/^signed-by=/, "", o); signed = o }
						if ($i ~ /\]$/) { i++; break }
						i++
					}
				}
				printf "Types: deb\nURIs: %s\nSuites: %s\nComponents:", $i, $(i + 1)
				for (j = i + 2; j <= NF; j++) printf " %s", $j
				printf "\n"
				if (signed != "") printf "Signed-By: %s\n", signed
				printf "\n"
			}'
		done
	} | awk -v RS= -v types="$types" -v suite="$suite" -v cn="$codename" '
		# keep stanzas that are binary Debian entries of this release
		/(^|\n)Types:[^\n]*deb([ \n]|$)/ && /(^|\n)URIs:[^\n]*debian/ && $0 ~ ("Suites:[^\n]*" cn) &&
		!/(^|\n)Enabled: *no/ {
			if (suite != "" && done) next
			out = ""
			n = split($0, l, "\n")
			for (k = 1; k <= n; k++) {
				if (l[k] ~ /^#/) continue
				if (l[k] ~ /^Types:/) l[k] = "Types: " types
				if (suite != "" && l[k] ~ /^Suites:/) {
					if (l[k] !~ ("Suites:.*[ \t]" cn "([ \t]|$)")) { out = ""; break }
					l[k] = "Suites: " suite
				}
				if (suite != "" && l[k] ~ /^Components:/) l[k] = "Components: main"
				out = out l[k] "\n"
			}
			if (out != "") { printf "%s\n", out; done = 1 }
		}'
}

ensure_deb_src() {
	if apt-cache showsrc --only-source bearssl 2>/dev/null | grep -q '^Package:'; then
		return 0
	fi
	[ "$(id -u)" -eq 0 ] || die "no deb-src entry for Debian; run as root to add $DEBSRC_FILE"
	local entries
	entries=$(debian_entries deb-src)
	[ -n "$entries" ] || die "found no Debian entry in $APT_ETC to mirror as deb-src"
	say "adding $DEBSRC_FILE"
	printf '# Added by multi-networkpolicy-nftables scripts/deps.sh: the source packages of the\n# system Debian entries, for apt-get source.\n%s\n' \
		"$entries" >"$DEBSRC_FILE"
	apt_updated=0
	apt_update
}

# --- fetching ---------------------------------------------------------------------------------
src_fetched() { # package → 0 when every pinned file is present and verified
	local f
	for f in $(lock_files src "$1"); do
		[ -f "$SRC/$f" ] && [ "$(sha_of "$SRC/$f")" = "$(lock_sha src "$1" "$f")" ] || return 1
	done
}
fetch_sources() {
	local pkgs p f need=()
	pkgs=$(lock_lines src | awk '{print $2}' | sort -u)
	for p in $pkgs; do src_fetched "$p" || need+=("$p")
	done
	[ ${#need[@]} -eq 0 ] && return 0
	ensure_deb_src
	for p in "${need[@]}"; do
		local v
		v=$(lock_version src "$p")
		say "fetching source $p $v"
		for f in $(lock_files src "$p"); do rm -f "$SRC/$f"; done
		(cd "$SRC" && apt-get -o APT::Sandbox::User=root source -qq --download-only "$p=$v" >/dev/null) ||
			die "apt-get source $p=$v failed (is $v still in the archive? update $LOCK)"
		for f in $(lock_files src "$p"); do
			[ -f "$SRC/$f" ] || die "apt-get source $p=$v did not deliver $f"
			verify "$SRC/$f" "$(lock_sha src "$p" "$f")"
		done
	done
	# Nothing unpinned may come along with a source package.
	for f in "$SRC"/*; do
		case $(basename "$f") in *.deb) continue ;; esac
		lock_lines src | awk '{print $4}' | grep -qxF "$(basename "$f")" ||
			die "$f was fetched but is not pinned in $LOCK"
	done
}

# Binary .debs from another suite or architecture, through an apt configuration of our own: the
# system's sources, lists, cache, preferences and dpkg architectures stay untouched.
# fetch_debs KIND [ARCH]: the lock's KIND lines (`deb`: this machine's architecture; `deb-ARCH`,
# `vm-ARCH`: packages of ARCH).
fetch_debs() {
	local p v f suite aptdir kind=$1 archopts=()
	if [ -n "${2:-}" ]; then
		archopts=(-o "APT::Architecture=$2" -o "APT::Architectures::=$2")
	fi
	for p in $(lock_lines $kind | awk '{print $2}' | sort -u); do
		v=$(lock_version $kind "$p")
		f=$(lock_files $kind "$p")
		if [ -f "$SRC/$f" ] && [ "$(sha_of "$SRC/$f")" = "$(lock_sha $kind "$p" "$f")" ]; then
			continue
		fi
		suite=$(lock_lines suite "$p" | awk '{print $3}')
		[ -n "$suite" ] || die "$LOCK: no 'suite $p' entry"
		aptdir=$WORK/apt-$suite${2:+-$2}
		mkdir -p "$aptdir/sources" "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
		debian_entries deb "$suite" >"$aptdir/sources/debian.sources"
		[ -s "$aptdir/sources/debian.sources" ] || die "found no Debian entry in $APT_ETC to mirror for $suite"
		local opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$aptdir/sources"
			-o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache"
			-o "Dir::Etc::Preferences=/dev/null" -o "Dir::Etc::PreferencesParts=/dev/null"
			-o "Dir::State::status=/dev/null" -o "APT::Sandbox::User=root" "${archopts[@]}")
		say "fetching $p $v from $suite"
		apt-get "${opts[@]}" update -qq || die "apt-get update for $suite failed"
		rm -f "$SRC/$f"
		(cd "$SRC" && apt-get "${opts[@]}" download -qq "$p=$v") ||
			die "apt-get download $p=$v from $suite failed"
		[ -f "$SRC/$f" ] || die "apt-get download $p=$v did not deliver $f"
		verify "$SRC/$f" "$(lock_sha $kind "$p" "$f")"
	done
}

# An installed package's file, checked against its pinned version and checksum.
host_file() { # package path → path (verified)
	local v want
	want=$(lock_version host "$1")
	v=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null) || die "$1 is not installed"
	[ "$v" = "$want" ] || die "$1 is $v here, $LOCK pins $want"
	[ -f "$2" ] || die "$2 (from $1) is missing"
	verify "$2" "$(lock_sha host "$1" "$2")"
	echo "$2"
}

unpack_source() { # package → unpacked tree under $WORK (Debian patches applied)
	local p=$1 v dsc dir
	v=$(lock_version src "$p")
	dsc=$SRC/$(lock_files src "$p" | grep '\.dsc$')
	dir=$WORK/$p-$v
	rm -rf "$dir"
	# Checksums were verified against the lock; dpkg-source also checks them against the .dsc.
	dpkg-source --no-check -x "$dsc" "$dir" >/dev/null || die "dpkg-source -x $dsc failed"
	echo "$dir"
}

# --- building ---------------------------------------------------------------------------------
build_bearssl() {
	local v key dir
	v=$(lock_version src bearssl)
	key=$(part_key "$v" "$MUSL_LIB_CFLAGS" "$(lock_lines src bearssl)")
	part_done bearssl "$key" && [ -f "$MUSL/lib/libbearssl.a" ] && return 0
	say "building BearSSL $v"
	dir=$(unpack_source bearssl)
	# Not a sub-make of the caller: its jobserver flags do not apply here.
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$dir" -j"$JOBS" CONF=Unix CC="$MUSLGCC" AR="$AR" \
		CFLAGS="-W -Wall $MUSL_LIB_CFLAGS" lib >/dev/null || die "BearSSL build failed"
	install -m 644 "$dir/build/libbearssl.a" "$MUSL/lib/"
	install -m 644 "$dir"/inc/bearssl*.h "$MUSL/include/"
	rm -rf "$dir"
	part_mark bearssl "$key"
}

build_nghttp2() {
	local v key dir
	v=$(lock_version src nghttp2)
	key=$(part_key "$v" "$MUSL_LIB_CFLAGS" "$(lock_lines src nghttp2)")
	part_done nghttp2 "$key" && [ -f "$MUSL/lib/libnghttp2.a" ] && return 0
	say "building nghttp2 $v"
	dir=$(unpack_source nghttp2)
	local cross=()
	# A cross build: cmake then only compiles its checks, never runs them.
	[ -z "$XARCH" ] || cross=(-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_AR="$(command -v "$AR")")
	cmake -S "$dir" -B "$dir/_build" -DCMAKE_C_COMPILER="$MUSLGCC" -DCMAKE_BUILD_TYPE=MinSizeRel \
		"${cross[@]}" \
		-DCMAKE_C_FLAGS_MINSIZEREL="$MUSL_LIB_CFLAGS -DNDEBUG" \
		-DENABLE_LIB_ONLY=ON -DENABLE_STATIC_LIB=ON -DENABLE_SHARED_LIB=OFF -DENABLE_DOC=OFF \
		-DENABLE_EXAMPLES=OFF -DENABLE_PYTHON_BINDINGS=OFF -DWITH_LIBXML2=OFF \
		-DWITH_JEMALLOC=OFF -DCMAKE_INSTALL_PREFIX="$dir/_install" -DCMAKE_INSTALL_LIBDIR=lib \
		>"$dir/cmake.log" 2>&1 || { tail -30 "$dir/cmake.log"; die "nghttp2 cmake failed"; }
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL cmake --build "$dir/_build" -j"$JOBS" >"$dir/build.log" 2>&1 ||
		{ tail -30 "$dir/build.log"; die "nghttp2 build failed"; }
	cmake --install "$dir/_build" >/dev/null || die "nghttp2 install failed"
	install -m 644 "$dir/_install/lib/libnghttp2.a" "$MUSL/lib/"
	rm -rf "$MUSL/include/nghttp2"
	cp -r "$dir/_install/include/nghttp2" "$MUSL/include/"
	rm -rf "$dir"
	part_mark nghttp2 "$key"
}

# nanopb runtime, once with musl-gcc and once with the host gcc (-fPIC, for tests and fuzzers).
build_nanopb() {
	local v key dir d cc prefix extra
	v=$(lock_version src nanopb)
	key=$(part_key "$v" "$MUSL_LIB_CFLAGS" "$NANOPB_DEFINES" "$(lock_lines src nanopb)")
	part_done nanopb "$key" && [ -f "$MUSL/lib/libnanopb.a" ] &&
		{ [ -n "$XARCH" ] || [ -f "$HOST/lib/libnanopb.a" ]; } && return 0
	say "building nanopb $v ($NANOPB_DEFINES)"
	dir=$(unpack_source nanopb)
	# Bake the options into pb.h, right where nanopb documents them.
	for d in $NANOPB_DEFINES; do
		grep -q "^/\* #define $d 1 \*/\$" "$dir/pb.h" || die "nanopb pb.h has no $d option line"
		sed -i "s|^/\* #define $d 1 \*/\$|#ifndef $d\n#define $d 1 /* multi-networkpolicy-nftables build option */\n#endif|" \
			"$dir/pb.h"
	done
	local ccs="musl host"
	[ -z "$XARCH" ] || ccs=musl
	for cc in $ccs; do
		if [ $cc = musl ]; then
			prefix=$MUSL extra="$MUSLGCC $MUSL_LIB_CFLAGS"
		else
			prefix=$HOST extra="gcc -O2 -g -fPIC"
		fi
		mkdir -p "$dir/_$cc"
		for f in pb_common pb_encode pb_decode; do
			$extra -std=gnu11 -Wall -Wextra -Werror -I"$dir" -c -o "$dir/_$cc/$f.o" "$dir/$f.c" ||
				die "nanopb $f.c ($cc) failed to compile"
		done
		rm -f "$prefix/lib/libnanopb.a"
		$AR rcs "$prefix/lib/libnanopb.a" "$dir/_$cc"/*.o
		install -m 644 "$dir"/pb.h "$dir"/pb_common.h "$dir"/pb_encode.h "$dir"/pb_decode.h \
			"$prefix/include/"
	done
	rm -rf "$dir"
	part_mark nanopb "$key"
}

# glibc-built static archives: libnftnl from the installed libnftnl-dev, libmnl from the .deb.
# Both call glibc's fortify entry points, which src/compat/ supplies to the musl link.
install_netlink_libs() {
	local key deb nftnl dir
	deb=$(lock_files deb libmnl-dev)
	nftnl=$(lock_files host libnftnl-dev)
	key=$(part_key "$(lock_lines deb libmnl-dev)" "$(lock_lines host libnftnl-dev)")
	part_done netlink "$key" && [ -f "$MUSL/lib/libmnl.a" ] && [ -f "$MUSL/lib/libnftnl.a" ] &&
		return 0
	say "installing libnftnl and libmnl archives"
	host_file libnftnl-dev "$nftnl" >/dev/null
	install -m 644 "$nftnl" "$MUSL/lib/libnftnl.a"
	rm -rf "$MUSL/include/libnftnl"
	cp -r /usr/include/libnftnl "$MUSL/include/"
	dir=$WORK/libmnl-dev
	rm -rf "$dir"
	dpkg-deb -x "$SRC/$deb" "$dir" || die "dpkg-deb -x $deb failed"
	install -m 644 "$dir/usr/lib/x86_64-linux-gnu/libmnl.a" "$MUSL/lib/libmnl.a"
	rm -rf "$MUSL/include/libmnl"
	cp -r "$dir/usr/include/libmnl" "$MUSL/include/"
	rm -rf "$dir"
	part_mark netlink "$key"
}

# Headers musl-gcc needs from the system, copied so that it never sees /usr/include.
install_headers() {
	local key jsmn llc
	jsmn=$(lock_files host libjsmn-dev)
	llc=$(dpkg-query -W -f='${Version}' linux-libc-dev 2>/dev/null) || die "linux-libc-dev missing"
	key=$(part_key "$(lock_lines host libjsmn-dev)" "$llc")
	part_done headers "$key" && [ -f "$MUSL/include/jsmn.h" ] && return 0
	say "copying jsmn.h and kernel UAPI headers (linux-libc-dev $llc)"
	host_file libjsmn-dev "$jsmn" >/dev/null
	install -m 644 "$jsmn" "$MUSL/include/jsmn.h"
	rm -rf "$MUSL/include/linux" "$MUSL/include/asm" "$MUSL/include/asm-generic"
	cp -r /usr/include/linux /usr/include/asm-generic "$MUSL/include/"
	cp -r /usr/include/x86_64-linux-gnu/asm "$MUSL/include/asm"
	part_mark headers "$key"
}

# --- cross builds (--arch) -------------------------------------------------------------------
deb_of() { lock_files "deb-$XARCH" "$1"; }
unpack_deb() { # package → folder holding the unpacked pinned .deb of $XARCH
	local dir=$WORK/deb-$1
	rm -rf "$dir"
	dpkg-deb -x "$SRC/$(deb_of "$1")" "$dir" || die "dpkg-deb -x $(deb_of "$1") failed"
	echo "$dir"
}

# musl of the target architecture as a sysroot, and a musl-gcc for it: Debian's own specs file
# from that musl-dev, its /usr paths pointed at the sysroot, driven by the Debian cross gcc.
cross_toolchain() {
	local key dir sys=$PARTS/sysroot
	command -v "$XGNU-gcc" >/dev/null || die "$XGNU-gcc missing (gcc-$XGNU in $PKGS)"
	command -v "$XQEMU" >/dev/null || die "$XQEMU missing (qemu-user-static in $PKGS)"
	key=$(part_key "$(lock_lines "deb-$XARCH" musl-dev)" "$($XGNU-gcc -dumpfullversion)")
	part_done toolchain "$key" && [ -x "$MUSLGCC" ] && return 0
	say "musl sysroot and musl-gcc for $XARCH"
	dir=$(unpack_deb musl-dev)
	rm -rf "$sys"
	mkdir -p "$sys/usr/lib" "$sys/usr/include" "$PARTS/bin"
	cp -a "$dir/usr/lib/$XMUSL" "$sys/usr/lib/"
	cp -a "$dir/usr/include/$XMUSL" "$sys/usr/include/"
	[ -f "$sys/usr/lib/$XMUSL/musl-gcc.specs" ] || die "musl-dev:$XARCH has no musl-gcc.specs"
	sed -e "s|/usr/include/$XMUSL|$sys/usr/include/$XMUSL|g" -e "s|/usr/lib/$XMUSL|$sys/usr/lib/$XMUSL|g" \
		"$sys/usr/lib/$XMUSL/musl-gcc.specs" >"$PARTS/musl-gcc.specs"
	grep -q "$sys/usr/lib/$XMUSL/crti.o" "$PARTS/musl-gcc.specs" || die "unexpected musl-gcc.specs layout"
	printf '#!/bin/sh\n# musl-gcc for %s, written by scripts/deps.sh\nexec %s "$@" -specs "%s"\n' \
		"$XARCH" "$XGNU-gcc" "$PARTS/musl-gcc.specs" >"$MUSLGCC"
	chmod 755 "$MUSLGCC"
	rm -rf "$dir"
	part_mark toolchain "$key"
}

# libnftnl (bookworm) and libmnl (trixie) of the target architecture: glibc-built archives like
# the native ones, from pinned .debs.
cross_netlink_libs() {
	local key dir p
	key=$(part_key "$(lock_lines "deb-$XARCH" libnftnl-dev)" "$(lock_lines "deb-$XARCH" libmnl-dev)")
	part_done netlink "$key" && [ -f "$MUSL/lib/libmnl.a" ] && [ -f "$MUSL/lib/libnftnl.a" ] &&
		return 0
	say "installing libnftnl and libmnl archives ($XARCH)"
	for p in nftnl mnl; do
		dir=$(unpack_deb "lib$p-dev")
		install -m 644 "$dir/usr/lib/$XGNU/lib$p.a" "$MUSL/lib/lib$p.a"
		rm -rf "$MUSL/include/lib$p"
		cp -r "$dir/usr/include/lib$p" "$MUSL/include/"
		rm -rf "$dir"
	done
	part_mark netlink "$key"
}

# jsmn.h, and the kernel UAPI headers of the target from linux-libc-dev-ARCH-cross.
cross_headers() {
	local key jsmn llc inc=/usr/$XGNU/include
	jsmn=$(lock_files host libjsmn-dev)
	llc=$(dpkg-query -W -f='${Version}' "linux-libc-dev-$XARCH-cross" 2>/dev/null) ||
		die "linux-libc-dev-$XARCH-cross missing"
	key=$(part_key "$(lock_lines host libjsmn-dev)" "$llc")
	part_done headers "$key" && [ -f "$MUSL/include/jsmn.h" ] && return 0
	say "copying jsmn.h and kernel UAPI headers (linux-libc-dev-$XARCH-cross $llc)"
	host_file libjsmn-dev "$jsmn" >/dev/null
	install -m 644 "$jsmn" "$MUSL/include/jsmn.h"
	rm -rf "$MUSL/include/linux" "$MUSL/include/asm" "$MUSL/include/asm-generic"
	cp -r "$inc/linux" "$inc/asm-generic" "$inc/asm" "$MUSL/include/"
	part_mark headers "$key"
}

# cmocka for the cross-built unit tests: its one source file, static. The HAVE_ macros are what
# its cmake finds on any Linux libc (musl has all of them). cmocka.h guesses uintptr_t unless
# _UINTPTR_T is defined, wrongly for 64-bit musl: the installed header takes it from stdint.h.
CMOCKA_DEFINES="-D_UINTPTR_T -D_UINTPTR_T_DEFINED -DHAVE_MALLOC_H -DHAVE_INTTYPES_H -DHAVE_SIGNAL_H -DHAVE_STRINGS_H
	-DHAVE_GCC_THREAD_LOCAL_STORAGE -DHAVE_CLOCK_REALTIME -DHAVE_SIGLONGJMP -DHAVE_STRSIGNAL
	-DHAVE_STRUCT_TIMESPEC"
build_cmocka() {
	local v key dir
	v=$(lock_version src cmocka)
	key=$(part_key "$v" "$CMOCKA_DEFINES" "$(lock_lines src cmocka)")
	part_done cmocka "$key" && [ -f "$MUSL/lib/libcmocka.a" ] && return 0
	say "building cmocka $v ($XARCH)"
	dir=$(unpack_source cmocka)
	# shellcheck disable=SC2086
	$MUSLGCC -std=gnu11 -Os $CMOCKA_DEFINES -I"$dir/include" -c -o "$dir/cmocka.o" \
		"$dir/src/cmocka.c" || die "cmocka ($XARCH) failed to compile"
	rm -f "$MUSL/lib/libcmocka.a"
	$AR rcs "$MUSL/lib/libcmocka.a" "$dir/cmocka.o"
	{
		printf '#include <stdint.h>\n#define _UINTPTR_T\n#define _UINTPTR_T_DEFINED\n'
		cat "$dir/include/cmocka.h"
	} >"$MUSL/include/cmocka.h"
	rm -rf "$dir"
	part_mark cmocka "$key"
}

# The VM of tests/t-arch-vm: the kernel image, and a root with busybox and the modules the test
# loads (netfilter, veth and what they need), modules.dep written by busybox's depmod (under
# qemu-user: busybox is the target's).
vm_kit() {
	local key kdeb bdeb dir kver vm=$PARTS/vm
	kdeb=$(lock_files "vm-$XARCH" "$(lock_lines "vm-$XARCH" | awk '$2 ~ /^linux-image-/ {print $2}')")
	bdeb=$(lock_files "vm-$XARCH" busybox-static)
	key=$(part_key "$(lock_lines "vm-$XARCH")")
	part_done vm "$key" && [ -f "$vm/vmlinuz" ] && return 0
	say "unpacking the $XARCH kernel and busybox for the VM test"
	dir=$WORK/vm
	rm -rf "$dir" "$vm"
	mkdir -p "$dir" "$vm/root/bin" "$vm/root/lib/modules"
	dpkg-deb -x "$SRC/$kdeb" "$dir/k" || die "dpkg-deb -x $kdeb failed"
	dpkg-deb -x "$SRC/$bdeb" "$dir/b" || die "dpkg-deb -x $bdeb failed"
	kver=$(ls "$dir/k/lib/modules")
	install -m 644 "$dir/k/boot/vmlinuz-$kver" "$vm/vmlinuz"
	install -m 755 "$dir/b/bin/busybox" "$vm/root/bin/busybox"
	mkdir -p "$vm/root/lib/modules/$kver/kernel/drivers/net"
	cp -a "$dir/k/lib/modules/$kver/kernel/net" "$dir/k/lib/modules/$kver/kernel/lib" \
		"$dir/k/lib/modules/$kver/kernel/crypto" "$vm/root/lib/modules/$kver/kernel/"
	cp "$dir/k/lib/modules/$kver/kernel/drivers/net/veth.ko" "$vm/root/lib/modules/$kver/kernel/drivers/net/"
	cp "$dir/k/lib/modules/$kver/modules.order" "$dir/k/lib/modules/$kver/modules.builtin" \
		"$vm/root/lib/modules/$kver/"
	"$XQEMU" "$vm/root/bin/busybox" depmod -b "$vm/root" "$kver" || die "depmod for $kver failed"
	rm -rf "$dir"
	part_mark vm "$key"
}

# A link of every library with musl-gcc proves the prefix is usable before anyone builds on it.
check_prefix() {
	local d=$WORK/check
	mkdir -p "$d"
	cat >"$d/check.c" <<-'EOF'
		#include <bearssl.h>
		#include <jsmn.h>
		#include <libmnl/libmnl.h>
		#include <libnftnl/table.h>
		#include <linux/netfilter/nf_tables.h>
		#include <nghttp2/nghttp2.h>
		#include <pb_decode.h>
		#include <pb_encode.h>
		#include <stdio.h>
		_Static_assert(sizeof(pb_size_t) == 4, "PB_FIELD_32BIT is baked into pb.h");
		int main(void)
		{
			struct nftnl_table *t = nftnl_table_alloc();
			struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
			br_sha256_context sha;
			jsmn_parser p;
			uint8_t buf[4];
			pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));
			br_sha256_init(&sha);
			jsmn_init(&p);
			printf("%s %d %d\n", nghttp2_version(0)->version_str, nl != NULL,
			       pb_encode_varint(&os, 1));
			if (nl)
				mnl_socket_close(nl);
			nftnl_table_free(t);
			return 0;
		}
	EOF
	# src/compat/ supplies the glibc fortify entry points the glibc-built archives call.
	$MUSLGCC -std=gnu11 -DJSMN_STATIC -I"$MUSL/include" -static -o "$d/check" "$d/check.c" \
		"$ROOT"/src/compat/*.c -L"$MUSL/lib" -lnftnl -lmnl -lnghttp2 -lbearssl -lnanopb \
		>"$d/link.log" 2>&1 || { cat "$d/link.log"; die "static musl link of all dependencies failed"; }
	${XQEMU:-} "$d/check" >/dev/null || die "the static link check binary failed to run"
}

if [ $MODE = print ]; then
	debian_entries "$@"
	exit 0
fi
install_missing_packages
fetch_sources
if [ -n "$XARCH" ]; then
	fetch_debs "deb-$XARCH" "$XARCH"
	cross_toolchain
	cross_headers
	cross_netlink_libs
	build_cmocka
else
	fetch_debs deb
	install_headers
	install_netlink_libs
fi
build_bearssl
build_nghttp2
build_nanopb
check_prefix
if [ -n "$VM" ]; then
	fetch_debs "vm-$XARCH" "$XARCH"
	vm_kit
fi
{
	echo "# dependencies built by scripts/deps.sh from third_party/deps.lock${XARCH:+ for $XARCH}"
	lock_lines src | awk '{print $2, $3}' | sort -u
	lock_lines "deb${XARCH:+-$XARCH}" | awk '{print $2, $3}'
	lock_lines host | awk '{print $2, $3}'
	echo "nanopb-defines $NANOPB_DEFINES"
	echo "musl-lib-cflags $MUSL_LIB_CFLAGS"
	# What the Makefile compares: a stamp that was copied or touched still names its inputs.
	echo "inputs $(cat "$ROOT/scripts/deps.sh" "$LOCK" "$PKGS" | sha256sum | awk '{print $1}')"
} >"$PARTS/.stamp.tmp"
mv "$PARTS/.stamp.tmp" "$PARTS/.stamp"
say "done: $PARTS"
