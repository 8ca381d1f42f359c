#!/usr/bin/env bash
# Builds the image of Dockerfile.scratch without a container engine: an OCI image layout packed as
# one tar file (`ctr images import` and `skopeo copy oci-archive:` read it). The image is one OCI
# image index with a manifest per platform: linux/amd64, linux/arm64 and linux/arm/v7 (the static
# binaries of make, make ARCH=arm64 and make ARCH=armhf; the script runs make for the two cross
# builds, a no-op when they are up to date). Each platform has one layer holding its binary and the
# licence texts; its config carries Entrypoint and User. The output is reproducible: same binaries
# and licences, same digests.
#
# usage: scripts/build-image.sh [OUTPUT.tar]     (default build/image/multi-networkpolicy-nftables.oci.tar)
#   IMAGE=name:tag    image name recorded in the archive (default localhost/multi-networkpolicy-nftables:VERSION)
#   BINARY=FILE       package this static x86_64 binary instead, as a linux/amd64-only image
#   IMAGE_USER=U:G    numeric user of the image (default 0:0, see Dockerfile.scratch)
# BINARY and IMAGE_USER exist for tests that package a probe in the same kind of image.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=multi-networkpolicy-nftables
VERSION=$(cat VERSION)
IMAGE=${IMAGE:-localhost/$BIN:$VERSION}
BINARY_SET=${BINARY:-}
BINARY=${BINARY:-$BIN}
OUT=${1:-build/image/$BIN.oci.tar}
USER_ID=${IMAGE_USER:-0:0}

die() {
	echo "build-image.sh: error: $*" >&2
	exit 1
}
[[ $IMAGE == *:* ]] || die "IMAGE must be name:tag"
[[ $USER_ID =~ ^[0-9]+:[0-9]+$ ]] || die "IMAGE_USER must be numeric uid:gid"

# platform (architecture[/variant]) → binary; the OCI names, then the Debian ones of make ARCH=.
PLATFORMS=(amd64)
declare -A BINARY_OF=([amd64]=$BINARY)
if [ -z "${BINARY_SET:-}" ]; then
	PLATFORMS+=(arm64 arm/v7)
	BINARY_OF[arm64]=build/arm64/$BIN
	BINARY_OF[arm/v7]=build/armhf/$BIN
	for arch in arm64 armhf; do
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s ARCH=$arch all >&2 ||
			die "make ARCH=$arch failed"
	done
fi
for p in "${PLATFORMS[@]}"; do
	b=${BINARY_OF[$p]}
	[ -x "$b" ] || die "$b is not built (run make)"
	file -b "$b" | grep -qE 'static(ally|-pie) linked' || die "$b is not statically linked"
done

# Timestamps from the last commit (or 0), so that rebuilding the same tree gives the same digests.
EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
CREATED=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
layout=$work/layout
mkdir -p "$layout/blobs/sha256"

blob() { # file → prints "digest size" after storing the file as a blob
	local d s
	d=$(sha256sum "$1" | awk '{print $1}')
	s=$(stat -c %s "$1")
	cp "$1" "$layout/blobs/sha256/$d"
	echo "$d $s"
}

# One platform's manifest: a layer with exactly what Dockerfile.scratch copies, and its config.
# platform_manifest PLATFORM BINARY → prints the manifest's descriptor (JSON) for the index.
platform_manifest() {
	local platform=$1 binary=$2 arch=${1%%/*} variant= dir=$work/${1//\//-} diff_id
	local layer_digest layer_size config_digest config_size manifest_digest manifest_size
	[[ $platform == */* ]] && variant=${platform#*/}
	local root=$dir/rootfs
	mkdir -p "$root/licenses"
	install -m 0755 "$binary" "$root/$BIN"
	install -m 0644 LICENSE third_party/LICENSES/* "$root/licenses/"
	tar -C "$root" --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner \
		--format=ustar -cf "$dir/layer.tar" "$BIN" licenses
	diff_id=$(sha256sum "$dir/layer.tar" | awk '{print $1}')
	gzip -9 -n <"$dir/layer.tar" >"$dir/layer.tar.gz"
	read -r layer_digest layer_size < <(blob "$dir/layer.tar.gz")

	printf '%s' "{\"created\":\"$CREATED\",\"architecture\":\"$arch\",\"os\":\"linux\",\
${variant:+\"variant\":\"$variant\",}\
\"config\":{\"User\":\"$USER_ID\",\"Entrypoint\":[\"/$BIN\"],\"WorkingDir\":\"/\",\
\"Labels\":{\"org.opencontainers.image.title\":\"$BIN\",\"org.opencontainers.image.version\":\"$VERSION\",\
\"org.opencontainers.image.licenses\":\"GPL-3.0-or-later\"}},\
\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diff_id\"]},\
\"history\":[{\"created\":\"$CREATED\",\"created_by\":\"scripts/build-image.sh (Dockerfile.scratch)\"}]}" \
		>"$dir/config.json"
	read -r config_digest config_size < <(blob "$dir/config.json")

	printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\
\"digest\":\"sha256:$config_digest\",\"size\":$config_size},\
\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\
\"digest\":\"sha256:$layer_digest\",\"size\":$layer_size}]}" >"$dir/manifest.json"
	read -r manifest_digest manifest_size < <(blob "$dir/manifest.json")
	printf '%s' "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
\"digest\":\"sha256:$manifest_digest\",\"size\":$manifest_size,\
\"platform\":{\"architecture\":\"$arch\",\"os\":\"linux\"${variant:+,\"variant\":\"$variant\"}}}"
}

descriptors=
for p in "${PLATFORMS[@]}"; do
	descriptors=$descriptors${descriptors:+,}$(platform_manifest "$p" "${BINARY_OF[$p]}")
done
# The image's index (a blob), named by the layout's index.json.
printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\
\"manifests\":[$descriptors]}" >"$work/index.json"
read -r index_digest index_size < <(blob "$work/index.json")

printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\
\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\
\"digest\":\"sha256:$index_digest\",\"size\":$index_size,\
\"annotations\":{\"io.containerd.image.name\":\"$IMAGE\",\
\"org.opencontainers.image.ref.name\":\"${IMAGE##*:}\"}}]}" >"$layout/index.json"
printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

mkdir -p "$(dirname "$OUT")"
tar -C "$layout" --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner \
	--format=ustar -cf "$OUT.tmp" oci-layout index.json blobs
mv "$OUT.tmp" "$OUT"
echo "$OUT: $IMAGE index sha256:$index_digest (${PLATFORMS[*]})"
