#!/usr/bin/env bash
# Builds the kube-apiserver that the e2e tests run against, from Go modules
# only: no release binaries can be downloaded where CI runs, but the Go module
# proxy serves k8s.io/kubernetes and its published staging modules.
#
# The Kubernetes version and every dependency hash are pinned by
# kube-apiserver/go.mod and go.sum beside this script; bump both together with
# `go get -tool k8s.io/kubernetes/cmd/kube-apiserver@vX && go mod tidy` after
# rewriting the replace block to the matching v0.X versions.
#
# Idempotent: does nothing when the cached binary already reports the pinned
# version. Output: <repo>/.cache/bin/kube-apiserver (override the cache root
# with GPU_AUTOSCALER_CACHE_DIR).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/../../../.." && pwd)"
MOD_DIR="${SCRIPT_DIR}/kube-apiserver"
CACHE_DIR="${GPU_AUTOSCALER_CACHE_DIR:-${REPO_ROOT}/.cache}"
BIN_DIR="${CACHE_DIR}/bin"
BIN="${BIN_DIR}/kube-apiserver"
BUILD_DIR="${CACHE_DIR}/kube-apiserver-build"

log() { printf '[build-kube-apiserver] %s\n' "$*" >&2; }

K8S_VERSION="$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "${MOD_DIR}/go.mod")"
if [[ ! "${K8S_VERSION}" =~ ^v1\.([0-9]+)\.[0-9]+$ ]]; then
  log "cannot read the k8s.io/kubernetes version from ${MOD_DIR}/go.mod"
  exit 1
fi
K8S_MINOR="${BASH_REMATCH[1]}"

have_wanted_binary() {
  [[ -x "${BIN}" ]] && [[ "$("${BIN}" --version 2>/dev/null)" == "Kubernetes ${K8S_VERSION}" ]]
}

if have_wanted_binary; then
  log "${BIN} is already ${K8S_VERSION}; nothing to do"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  log "the go command is required (Go >= $(awk '$1 == "go" { print $2 }' "${MOD_DIR}/go.mod"))"
  exit 1
fi

mkdir -p "${BIN_DIR}" "${BUILD_DIR}"

# Test files that start servers may call this concurrently; one build is
# enough and two would double the memory a link needs.
exec 9>"${CACHE_DIR}/kube-apiserver-build.lock"
log "waiting for the build lock ${CACHE_DIR}/kube-apiserver-build.lock"
flock 9
if have_wanted_binary; then
  log "another process built ${BIN} meanwhile; nothing to do"
  exit 0
fi

# Building in a copy keeps go.sum in the source tree read-only: -mod=readonly
# fails instead of silently accepting a dependency that is not pinned.
cp "${MOD_DIR}/go.mod" "${MOD_DIR}/go.sum" "${BUILD_DIR}/"

# The version fields are what `kube-apiserver --version` and /version report;
# left at their defaults the binary would claim v0.0.0-master.
VERSION_PKG="k8s.io/component-base/version"
LDFLAGS="-s -w"
LDFLAGS+=" -X ${VERSION_PKG}.gitVersion=${K8S_VERSION}"
LDFLAGS+=" -X ${VERSION_PKG}.gitMajor=1"
LDFLAGS+=" -X ${VERSION_PKG}.gitMinor=${K8S_MINOR}"
LDFLAGS+=" -X ${VERSION_PKG}.gitTreeState=clean"
LDFLAGS+=" -X ${VERSION_PKG}.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"

log "go: $(go version)"
log "module cache: $(go env GOMODCACHE); build cache: $(go env GOCACHE)"
log "building k8s.io/kubernetes/cmd/kube-apiserver ${K8S_VERSION} in ${BUILD_DIR}"
start=${SECONDS}
(
  cd "${BUILD_DIR}"
  # Upstream release builds are static with cgo off; that also spares CI a C
  # toolchain. The build dir sits inside this repo's git work tree, whose
  # commit says nothing about the binary, hence no VCS stamping.
  CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" go build \
    -trimpath \
    -ldflags "${LDFLAGS}" \
    -o "${BIN}.tmp" \
    k8s.io/kubernetes/cmd/kube-apiserver
)
mv -f "${BIN}.tmp" "${BIN}"
log "built ${BIN} ($("${BIN}" --version)) in $((SECONDS - start))s"
