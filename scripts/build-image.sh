#!/usr/bin/env bash
# Builds the image of Dockerfile.scratch without a container engine: an OCI image layout packed as
# one tar file (`ctr images import` and `skopeo copy oci-archive:` read it). One layer holds the
# static binary and the licence texts; the config carries Entrypoint and User. The output is
# reproducible: same binary and licences, same digests.
#
# usage: scripts/build-image.sh [OUTPUT.tar]     (default build/image/multi-networkpolicy-nftables.oci.tar)
#   IMAGE=name:tag    image name recorded in the archive (default localhost/multi-networkpolicy-nftables:VERSION)
#   BINARY=FILE       the static binary to package (default ./multi-networkpolicy-nftables)
#   IMAGE_USER=U:G    numeric user of the image (default 0:0, see Dockerfile.scratch)
# BINARY and IMAGE_USER exist for tests that package a probe in the same kind of image.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=multi-networkpolicy-nftables
VERSION=$(cat VERSION)
IMAGE=${IMAGE:-localhost/$BIN:$VERSION}
BINARY=${BINARY:-$BIN}
OUT=${1:-build/image/$BIN.oci.tar}
USER_ID=${IMAGE_USER:-0:0}

die() {
	echo "build-image.sh: error: $*" >&2
	exit 1
}
[ -x "$BINARY" ] || die "$BINARY is not built (run make)"
file -b "$BINARY" | grep -qE 'static(ally|-pie) linked' || die "$BINARY is not statically linked"
[[ $IMAGE == *:* ]] || die "IMAGE must be name:tag"
[[ $USER_ID =~ ^[0-9]+:[0-9]+$ ]] || die "IMAGE_USER must be numeric uid:gid"

# Timestamps from the last commit (or 0), so that rebuilding the same tree gives the same digests.
EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
CREATED=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
layout=$work/layout
mkdir -p "$root/licenses" "$layout/blobs/sha256"

# The layer: exactly what Dockerfile.scratch copies.
install -m 0755 "$BINARY" "$root/$BIN"
install -m 0644 LICENSE third_party/LICENSES/* "$root/licenses/"
tar -C "$root" --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner \
	--format=ustar -cf "$work/layer.tar" "$BIN" licenses
diff_id=$(sha256sum "$work/layer.tar" | awk '{print $1}')
gzip -9 -n <"$work/layer.tar" >"$work/layer.tar.gz"

blob() { # file → prints "digest size" after storing the file as a blob
	local d s
	d=$(sha256sum "$1" | awk '{print $1}')
	s=$(stat -c %s "$1")
	cp "$1" "$layout/blobs/sha256/$d"
	echo "$d $s"
}
read -r layer_digest layer_size < <(blob "$work/layer.tar.gz")

printf '%s' "{\"created\":\"$CREATED\",\"architecture\":\"amd64\",\"os\":\"linux\",\
\"config\":{\"User\":\"$USER_ID\",\"Entrypoint\":[\"/$BIN\"],\"WorkingDir\":\"/\",\
\"Labels\":{\"org.opencontainers.image.title\":\"$BIN\",\"org.opencontainers.image.version\":\"$VERSION\",\
\"org.opencontainers.image.licenses\":\"GPL-3.0-or-later\"}},\
\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:$diff_id\"]},\
\"history\":[{\"created\":\"$CREATED\",\"created_by\":\"scripts/build-image.sh (Dockerfile.scratch)\"}]}" \
	>"$work/config.json"
read -r config_digest config_size < <(blob "$work/config.json")

printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\
\"digest\":\"sha256:$config_digest\",\"size\":$config_size},\
\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\
\"digest\":\"sha256:$layer_digest\",\"size\":$layer_size}]}" >"$work/manifest.json"
read -r manifest_digest manifest_size < <(blob "$work/manifest.json")

printf '%s' "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\
\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\
\"digest\":\"sha256:$manifest_digest\",\"size\":$manifest_size,\
\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},\
\"annotations\":{\"io.containerd.image.name\":\"$IMAGE\",\
\"org.opencontainers.image.ref.name\":\"${IMAGE##*:}\"}}]}" >"$layout/index.json"
printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

mkdir -p "$(dirname "$OUT")"
tar -C "$layout" --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner \
	--format=ustar -cf "$OUT.tmp" oci-layout index.json blobs
mv "$OUT.tmp" "$OUT"
echo "$OUT: $IMAGE manifest sha256:$manifest_digest, layer $layer_size bytes"
