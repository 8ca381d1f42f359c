#!/usr/bin/env bash
# Builds the pause image used by real CRI runtimes in tests: a static musl `pause` binary from
# tests/containerd/pause.c, packed as an OCI image layout tarball (one uncompressed layer, config
# Entrypoint ["/pause"], index annotation io.containerd.image.name). Byte-for-byte reproducible.
#
#   scripts/build-pause.sh OUT.tar [IMAGE_NAME]     (default name: registry.local/mnp/pause:1.0)
#
# Import: ctr --address SOCK -n k8s.io images import OUT.tar
set -euo pipefail

out=${1:?usage: build-pause.sh OUT.tar [IMAGE_NAME]}
name=${2:-registry.local/mnp/pause:1.0}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/rootfs" "$work/oci/blobs/sha256"
musl-gcc -static -Os -s -Wall -Wextra -Werror -Wno-unused-parameter -o "$work/rootfs/pause" "$root/tests/containerd/pause.c"
chmod 0755 "$work/rootfs/pause"

tarit() { # DIR OUT: a reproducible tar of DIR's contents
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
		--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
		-C "$1" -cf "$2" .
}
blob() { # FILE: moves it into blobs/, prints "digest size"
	local d s
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(stat -c %s "$1")
	mv "$1" "$work/oci/blobs/sha256/$d"
	echo "$d $s"
}

tarit "$work/rootfs" "$work/layer.tar"
read -r layer layer_size < <(blob "$work/layer.tar")

printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"scripts/build-pause.sh"}]}' \
	"$layer" >"$work/config.json"
read -r config config_size < <(blob "$work/config.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
	"$config" "$config_size" "$layer" "$layer_size" >"$work/manifest.json"
read -r manifest manifest_size < <(blob "$work/manifest.json")

printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"},"platform":{"architecture":"amd64","os":"linux"}}]}' \
	"$manifest" "$manifest_size" "$name" "${name##*:}" >"$work/oci/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$work/oci/oci-layout"

mkdir -p "$(dirname "$out")"
tarit "$work/oci" "$work/image.tar"
mv "$work/image.tar" "$out"
echo "$out: $name (manifest sha256:$manifest, pause $(stat -c %s "$work/rootfs/pause") bytes)"
