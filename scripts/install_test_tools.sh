#!/usr/bin/env bash
# Install the programs that the observability and page tests run, from Debian's packages:
#   prometheus, promtool  (package prometheus)  tests/integration/test_prometheus.py
#   chromium              (package chromium)    tests/integration/test_page.py
#   (and fonts-dejavu-core with chromium, so the page screenshots have a font to draw text with)
#
# Idempotent: does nothing when every program is already on the PATH. Installing needs root and
# apt-get; without them it says what is missing and exits 0, and the tests that need a missing
# program skip with the same message (they never pass without running it).
#
# Debian's prometheus package ships a systemd unit that would start a server on :9090. A
# temporary policy-rc.d (only when none exists) keeps the package scripts from starting it;
# the tests run their own prometheus binary with their own config, port and data directory.
set -euo pipefail

log() { echo "install_test_tools: $*"; }

declare -A PACKAGE_OF=([prometheus]=prometheus [promtool]=prometheus [chromium]=chromium)
missing_packages=()
for program in prometheus promtool chromium; do
    if ! command -v "$program" >/dev/null 2>&1; then
        package="${PACKAGE_OF[$program]}"
        [[ " ${missing_packages[*]-} " == *" $package "* ]] || missing_packages+=("$package")
    fi
done
if [[ " ${missing_packages[*]-} " == *" chromium "* ]]; then
    missing_packages+=(fonts-dejavu-core)
fi

if [[ ${#missing_packages[@]} -eq 0 ]]; then
    log "prometheus, promtool and chromium are installed; nothing to do"
    exit 0
fi
if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    log "missing Debian packages: ${missing_packages[*]} (needs root and apt-get: apt-get install -y ${missing_packages[*]});" \
        "the tests that need them will be skipped"
    exit 0
fi

policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# written by claimstream scripts/install_test_tools.sh; removed when it ends\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    made_policy=1
fi
cleanup() { if [[ $made_policy == 1 ]]; then rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y -q --no-install-recommends "${missing_packages[@]}"; }
log "installing ${missing_packages[*]}"
if ! install; then
    log "apt-get install failed; updating the package lists and trying once more"
    apt-get update -q
    install
fi
for program in prometheus promtool chromium; do
    command -v "$program" >/dev/null 2>&1 || { echo "install_test_tools: error: $program still missing" >&2; exit 1; }
done
log "installed: $(prometheus --version 2>&1 | head -1); $(chromium --version 2>/dev/null || echo chromium)"
