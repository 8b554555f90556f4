#!/usr/bin/env bash
# Build a Debian base image for the worker image locally, without any image registry:
# debootstrap a minimal Debian with Python 3 and import it into the Docker daemon.
#
#   packaging/docker/make-base.sh [IMAGE] [SUITE] [MIRROR]
#
# IMAGE defaults to hamad-base:bookworm. Needs root, debootstrap and a Docker daemon.
# The image is rebuilt only when it does not exist yet (HAMAD_REBUILD_BASE=1 forces it).
set -euo pipefail
image="${1:-hamad-base:bookworm}"
suite="${2:-bookworm}"
mirror="${3:-http://deb.debian.org/debian}"

if [ "${HAMAD_REBUILD_BASE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image exists (HAMAD_REBUILD_BASE=1 rebuilds it)"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
root="$(mktemp -d /var/tmp/hamad-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "$suite" "$root" "$mirror"
# Keep the image small: no apt lists, caches or docs.
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
  "$root"/usr/share/locale/* "$root"/var/cache/debconf/*-old
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' - "$image"
echo "built base image $image ($suite from $mirror)"
