#!/usr/bin/env bash
# Build kube-apiserver, kube-controller-manager and etcd from the Go module proxy into a
# per-version cache outside the repository. A no-op when the cache stamp matches.
# Usage: tools/lab/build.sh            (prints the two cache dirs on the last line)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
CACHE=${KIALIOPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kialiops}
K8S_DIR=$CACHE/k8s-$K8S_VERSION
ETCD_DIR=$CACHE/etcd-$ETCD_VERSION

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath -p=${LAB_BUILD_JOBS:-2}"
GOV=$(go env GOVERSION)
sumhash() { sha256sum "$1" | cut -c1-16; }
K8S_STAMP="k8s=$K8S_VERSION go=$GOV sum=$(sumhash "$HERE/kubebins/go.sum")"
ETCD_STAMP="etcd=$ETCD_VERSION go=$GOV sum=$(sumhash "$HERE/etcdbin/go.sum")"

log() { printf '[lab build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
log "go env: $(go env GOVERSION GOPROXY GOSUMDB GOFLAGS GOTOOLCHAIN | tr '\n' ' ')"
mkdir -p "$CACHE"

if [[ -f $K8S_DIR/STAMP && $(cat "$K8S_DIR/STAMP") == "$K8S_STAMP" ]]; then
  log "cached: $K8S_DIR"
else
  grep -q "k8s.io/kubernetes $K8S_VERSION" "$HERE/kubebins/go.mod" \
    || { log "kubebins/go.mod does not pin k8s.io/kubernetes $K8S_VERSION; regenerate it (docs/lab.md)"; exit 2; }
  MINOR=${K8S_VERSION#v1.}; MINOR=${MINOR%%.*}
  stamp() { printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
            "$1" "$K8S_VERSION" "$1" "$1" "$MINOR" "$1"; }
  LDF="-s -w $(stamp k8s.io/component-base/version)$(stamp k8s.io/client-go/pkg/version)"
  TMP=$(mktemp -d "$CACHE/.k8s-build.XXXXXX")
  start=$(date +%s)
  log "building kube-apiserver and kube-controller-manager $K8S_VERSION (cold: 15-30 min on 2 cores)"
  (cd "$HERE/kubebins" && go build -tags=selinux,notest -ldflags="$LDF" -o "$TMP/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
  # not "--version | grep -q": with pipefail, grep leaving at the first match can fail the pipe (SIGPIPE)
  grep -q "$K8S_VERSION" <<<"$("$TMP/kube-apiserver" --version)" || { log "kube-apiserver --version mismatch"; exit 3; }
  echo "$K8S_STAMP" > "$TMP/STAMP"
  rm -rf "$K8S_DIR"; mv "$TMP" "$K8S_DIR"
  log "k8s built in $(( $(date +%s) - start ))s"
  echo "$(date -u +%FT%TZ) k8s $K8S_VERSION $(( $(date +%s) - start ))s" >> "$CACHE/build-times.log"
fi

if [[ -f $ETCD_DIR/STAMP && $(cat "$ETCD_DIR/STAMP") == "$ETCD_STAMP" ]]; then
  log "cached: $ETCD_DIR"
else
  TMP=$(mktemp -d "$CACHE/.etcd-build.XXXXXX")
  start=$(date +%s)
  log "building etcd $ETCD_VERSION"
  (cd "$HERE/etcdbin" && go build -ldflags="-s -w" -o "$TMP/etcd" go.etcd.io/etcd/server/v3)
  grep -q "${ETCD_VERSION#v}" <<<"$("$TMP/etcd" --version)" || { log "etcd --version mismatch"; exit 3; }
  echo "$ETCD_STAMP" > "$TMP/STAMP"
  rm -rf "$ETCD_DIR"; mv "$TMP" "$ETCD_DIR"
  log "etcd built in $(( $(date +%s) - start ))s"
  echo "$(date -u +%FT%TZ) etcd $ETCD_VERSION $(( $(date +%s) - start ))s" >> "$CACHE/build-times.log"
fi
echo "$K8S_DIR $ETCD_DIR"
