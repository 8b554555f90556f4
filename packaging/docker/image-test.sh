#!/usr/bin/env bash
# `make image-test`: build the worker image on a locally made base and check it works.
#
#   packaging/docker/image-test.sh [BASE_IMAGE]
#
# 1. the base image (default hamad-base:bookworm) is made with debootstrap if missing
#    (packaging/docker/make-base.sh; no image registry is needed);
# 2. wheels for the package and its dependencies are built here (pip wheel), so the
#    image builds with --network none;
# 3. inside the image, without a network: `hamad simulate` writes a capture and
#    `hamad replay` scores it; its JSON summary is checked (every connection scored,
#    labelled metrics present), as is the user (not root) and the shipped model;
# 4. the entrypoint (`hamad serve`) runs with no Zeek to talk to and the health check
#    (the metrics endpoint) must report the container healthy.
set -euo pipefail
cd "$(dirname "$0")/../.."
base="${1:-${HAMAD_BASE_IMAGE:-hamad-base:bookworm}}"
image="${HAMAD_IMAGE:-hamad-worker:test}"
python="${PYTHON:-python3}"
started=$(date +%s)
say() { printf '== %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

docker info >/dev/null 2>&1 || {
  echo "error: no Docker daemon (start one: dockerd, or systemctl start docker)" >&2; exit 1; }

if ! docker image inspect "$base" >/dev/null 2>&1; then
  if [[ "$base" == hamad-base:* ]]; then
    say "making base image $base with debootstrap"
    packaging/docker/make-base.sh "$base" "${base#hamad-base:}"
  else
    echo "error: base image $base does not exist (and no registry is reachable here)" >&2
    exit 1
  fi
fi

ctx="$(mktemp -d /var/tmp/hamad-image.XXXXXX)"
trap 'rm -rf "$ctx"; docker rm -f hamad-image-test >/dev/null 2>&1 || true' EXIT
mkdir -p "$ctx/models" "$ctx/packaging"
cp -r pyproject.toml README.md hamad_plugin "$ctx/"
cp -r models/default "$ctx/models/"
cp -r packaging/docker "$ctx/packaging/"
rm -rf "$ctx/packaging/docker/wheels"
find "$ctx" -name __pycache__ -prune -exec rm -rf {} +
say "building wheels"
"$python" -m pip wheel --quiet --wheel-dir "$ctx/packaging/docker/wheels" "$ctx" \
  2>"$ctx/pip.log" || { cat "$ctx/pip.log" >&2; exit 1; }

say "building $image on $base (no network)"
docker build --quiet --network none --build-arg "BASE=$base" \
  -f "$ctx/packaging/docker/Dockerfile" -t "$image" "$ctx" >/dev/null 2>"$ctx/build.log" \
  || { cat "$ctx/build.log" >&2; exit 1; }

say "hamad replay of a simulated capture inside the image (no network)"
out=$(docker run --rm --network none --entrypoint sh "$image" -c '
  set -e
  test "$(id -u)" != 0 || { echo "runs as root" >&2; exit 1; }
  hamad info | head -1 >&2
  hamad simulate --out /tmp/sim.conn.log --seed 0 --connections 3000 --hosts 16 --duration 30min 2>/dev/null
  hamad replay /tmp/sim.conn.log --json-summary 2>/dev/null')
"$python" - "$out" <<'PY'
import json, sys
s = json.loads(sys.argv[1])
assert s["connections"] == 3000, s["connections"]
m = s["metrics"]
assert m["n"] == 3000 and m["n_pos"] > 0 and m["n_neg"] > 0, m
assert 0.0 < m["recall"] <= 1.0 and s["anomalous"] > 0, (m, s["anomalous"])
print(f"   replay in the image: {s['connections']} connections, {s['anomalous']} anomalous, "
      f"precision {m['precision']:.3f} recall {m['recall']:.3f} fpr {m['fpr']:.4f}")
PY

say "hamad serve (the entrypoint) until the health check passes"
docker run -d --name hamad-image-test --network none --health-interval 2s \
  --health-start-period 30s "$image" >/dev/null
status=starting
for _ in $(seq 1 60); do
  status=$(docker inspect -f '{{.State.Health.Status}}' hamad-image-test)
  [ "$status" = healthy ] && break
  [ "$(docker inspect -f '{{.State.Running}}' hamad-image-test)" = true ] || break
  sleep 1
done
if [ "$status" != healthy ]; then
  docker logs hamad-image-test >&2 || true
  echo "error: the container did not become healthy (status: $status)" >&2
  exit 1
fi
docker exec hamad-image-test python3 -c "
import urllib.request
text = urllib.request.urlopen('http://127.0.0.1:9761/metrics').read().decode()
assert 'hamad_connected 0.0' in text and 'hamad_connect_failures_total' in text, text[:500]
print('   metrics endpoint answers; not connected to Zeek, as expected')"
size=$(docker image inspect -f '{{.Size}}' "$image")
say "image-test passed: $image on $base, $(( size / 1000000 )) MB"
