#!/usr/bin/env bash
# Install the Docker Compose v2 CLI plugin that tests/integration/test_compose.py needs for
# `docker compose config` (the client only: nothing here needs or starts a Docker engine).
#
# The plugin is built from source, from the Go module proxy (checksums verified against
# sum.golang.org), into the git-ignored .tools/docker/cli-plugins/docker-compose; the test runs
# `docker compose` with DOCKER_CONFIG=.tools/docker, so the user's ~/.docker is never touched.
# A cold build costs ~290 CPU-seconds (est. 3-5 minutes on an idle 2-core machine; 4-11 measured under
# load here) and ~1.5 GB of scratch space under .tools/.build, removed afterwards; once per checkout.
# CLAIMSTREAM_TOOLS=/abs/dir puts the cache elsewhere (e.g. one shared by several clones); the test
# reads the same variable.
#
# Idempotent: does nothing when the cached plugin (of this version) is there, or when the user's
# own `docker compose version` already works. COMPOSE_FORCE_BUILD=1 builds even then.
# COMPOSE_VERSION overrides the version (a tag of github.com/docker/compose/v2).
set -euo pipefail

COMPOSE_VERSION="${COMPOSE_VERSION:-v2.40.3}"
MODULE="github.com/docker/compose/v2"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${CLAIMSTREAM_TOOLS:-$ROOT/.tools}"
PLUGIN_DIR="$TOOLS/docker/cli-plugins"
PLUGIN="$PLUGIN_DIR/docker-compose"
BUILD="$TOOLS/.build"

log() { echo "install_compose: $*"; }
die() { echo "install_compose: error: $*" >&2; exit 1; }

cached_ok() {
    [[ -x "$PLUGIN" ]] && [[ "$("$PLUGIN" version --short 2>/dev/null)" == "${COMPOSE_VERSION#v}" ]]
}

if cached_ok; then
    log "cached plugin present: $PLUGIN ($("$PLUGIN" version --short)); nothing to do"
    exit 0
fi
if [[ "${COMPOSE_FORCE_BUILD:-0}" != 1 ]] && command -v docker >/dev/null 2>&1 \
        && version="$(docker compose version 2>/dev/null)"; then
    log "the user's docker compose works ($version); nothing to do (COMPOSE_FORCE_BUILD=1 builds anyway)"
    exit 0
fi

mkdir -p "$TOOLS"
# One build at a time per checkout; a second caller waits, then finds the cached plugin.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$TOOLS/.install_compose.lock"
    flock 9
    if cached_ok; then
        log "cached plugin present: $PLUGIN (built by a concurrent run); nothing to do"
        exit 0
    fi
fi

if ! command -v go >/dev/null 2>&1; then
    [[ -x /usr/local/go/bin/go ]] || die "Go is needed to build docker compose and 'go' is not on PATH"
    PATH="/usr/local/go/bin:$PATH"
fi

# -modcacherw below keeps the module cache deletable; chmod only if an older run left it read-only.
cleanup() { cd "$ROOT"; rm -rf "$BUILD" 2>/dev/null || { chmod -R u+w "$BUILD"; rm -rf "$BUILD"; }; }
cleanup
trap cleanup EXIT
mkdir -p "$BUILD"

# A private GOPATH/GOCACHE: nothing lands in ~/go or ~/.cache, and it is all deleted afterwards.
export GOPATH="$BUILD/gopath" GOMODCACHE="$BUILD/gopath/pkg/mod" GOCACHE="$BUILD/gocache"
export GOFLAGS="-modcacherw -buildvcs=false" GOWORK=off CGO_ENABLED=0
unset GOBIN GOOS GOARCH

start=$SECONDS
log "building docker compose $COMPOSE_VERSION from the Go module proxy with $(go version | cut -d' ' -f3) (one-off: ~3-5 min on 2 idle cores)"
# `go install $MODULE/cmd@$COMPOSE_VERSION` is refused (compose's go.mod has exclude directives),
# so build inside the downloaded module, with exactly its go.mod/go.sum, like upstream's Makefile.
log "downloading $MODULE@$COMPOSE_VERSION"
go mod download "$MODULE@$COMPOSE_VERSION"
cd "$GOMODCACHE/$MODULE@$COMPOSE_VERSION"
log "fetching the dependencies and compiling (the long part)"
# go lists each of the ~200 modules it downloads: keep its errors, drop that list.
go build -trimpath -ldflags "-s -w -X $MODULE/internal.Version=$COMPOSE_VERSION" \
    -o "$BUILD/docker-compose" ./cmd 2>&1 | { grep -v '^go: downloading ' || true; } >&2
"$BUILD/docker-compose" version >/dev/null || die "the built binary does not run"

mkdir -p "$PLUGIN_DIR"
mv -f "$BUILD/docker-compose" "$PLUGIN.tmp"
mv -f "$PLUGIN.tmp" "$PLUGIN"
log "removing the scratch GOPATH/GOCACHE ($BUILD)"
cleanup
log "installed $PLUGIN ($("$PLUGIN" version --short)) in $((SECONDS - start))s"
log "use it with: DOCKER_CONFIG=$TOOLS/docker docker compose ..."
