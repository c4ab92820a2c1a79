#!/usr/bin/env bash
# scripts/test.sh — run ringd's whole test suite on a fresh Debian machine,
# doing all of its own set-up. This is the test command (CI runs it through
# .ci/run with CI=true).
#
#   1. set-up: python3-slixmpp for the e2e clients (apt-get, only if missing);
#      Node.js (apt-get, only if missing) and `npm ci` for e2e/stanzajs
#   2. gofmt -l must list nothing
#   3. go vet ./...
#   4. go test -count=1 ./...   (e2e runs a race-detector build of ringd)
#   5. go test -race -count=1 on every package but e2e
#
# Services the tests need are started here and stopped on exit (see
# start_mariadb / stop_mariadb). Needs Go on PATH (go.mod's toolchain line
# makes any Go >= 1.21 fetch the right toolchain through the module proxy).
#
# Environment:
#   CI=true            e2e tests fail instead of skipping when a client is missing
#   RINGD_E2E_RACE=0   build the ringd under e2e test without -race (faster)
#   TEST_SKIP_RACE=1   skip step 5
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

readonly PYTHON=/usr/bin/python3 # Debian's, where python3-slixmpp lives
SCRIPT_START=$SECONDS

log() { printf '==> %s\n' "$*" >&2; }
die() {
	printf 'test.sh: %s\n' "$*" >&2
	exit 1
}

# step NAME CMD... runs one step and reports its duration.
step() {
	local name=$1 start=$SECONDS
	shift
	log "$name"
	"$@"
	log "$name: ok ($((SECONDS - start))s)"
}

# as_root runs a command as root: directly when we are root, else via sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root (or sudo) to run: $*"
	fi
}

# apt_install installs Debian packages, running apt-get update only when
# the first attempt fails (stale or empty package lists). It waits for a
# dpkg lock held by someone else instead of failing on it.
apt_install() {
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -o DPkg::Lock::Timeout=600)
	if ! as_root "${apt[@]}" install "$@"; then
		log "apt-get install failed; updating package lists and retrying"
		as_root "${apt[@]}" update
		as_root "${apt[@]}" install "$@"
	fi
}

setup_clients() {
	if "$PYTHON" -c 'import slixmpp' >/dev/null 2>&1; then
		return
	fi
	command -v apt-get >/dev/null 2>&1 || die "slixmpp missing and no apt-get: install python3-slixmpp for $PYTHON"
	apt_install python3-slixmpp
	"$PYTHON" -c 'import slixmpp' || die "python3-slixmpp installed, but $PYTHON still cannot import slixmpp"
}

# setup_node_clients prepares the StanzaJS interop client (e2e/stanzajs):
# Node.js from Debian if there is no node at all, then the npm packages
# pinned by its package-lock.json, unless they are installed already.
setup_node_clients() {
	if ! command -v node >/dev/null 2>&1; then
		command -v apt-get >/dev/null 2>&1 || die "node missing and no apt-get: install Node.js (>= 18) and npm"
		apt_install nodejs npm
	fi
	command -v npm >/dev/null 2>&1 || die "node is installed but npm is not: install npm for $(command -v node)"
	if [ -f e2e/stanzajs/node_modules/stanza/package.json ]; then
		return
	fi
	(cd e2e/stanzajs && npm ci --no-audit --no-fund) || die "npm ci in e2e/stanzajs failed"
}

# setup_coturn installs coturn's turnserver for the TURN interop tests
# (turn/coturn_test.go), only if missing. Debian's package may start a
# system coturn; the tests run their own on loopback, so it is stopped
# and disabled again.
setup_coturn() {
	if command -v turnserver >/dev/null 2>&1; then
		return
	fi
	command -v apt-get >/dev/null 2>&1 || die "turnserver missing and no apt-get: install coturn"
	apt_install coturn
	as_root service coturn stop >/dev/null 2>&1 || true
	if command -v systemctl >/dev/null 2>&1; then
		as_root systemctl disable --now coturn >/dev/null 2>&1 || true
	fi
	command -v turnserver >/dev/null 2>&1 || die "coturn installed, but turnserver is not on PATH"
}

# start_mariadb / stop_mariadb (scripts/mariadb.sh): a throwaway MariaDB on
# loopback for the storage/mysql tests and the MySQL e2e runs, installed
# from Debian if missing. start_mariadb exports RINGD_TEST_MYSQL_DSN;
# stop_mariadb (from the EXIT trap) shuts it down and removes its files.
# shellcheck source=scripts/mariadb.sh
source scripts/mariadb.sh

WORK_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ringd-test.XXXXXX")
cleanup() {
	local status=$?
	stop_mariadb || status=1
	rm -rf "$WORK_DIR"
	log "total: $((SECONDS - SCRIPT_START))s"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

check_gofmt() {
	local unformatted
	unformatted=$(gofmt -l .)
	if [ -n "$unformatted" ]; then
		printf 'gofmt: these files need formatting (run gofmt -w):\n%s\n' "$unformatted" >&2
		return 1
	fi
}

race_packages() {
	go list ./... | grep -v '/e2e$'
}

run_race() {
	if [ "${TEST_SKIP_RACE:-0}" = 1 ]; then
		log "race: skipped (TEST_SKIP_RACE=1)"
		return
	fi
	local pkgs
	pkgs=$(race_packages)
	# shellcheck disable=SC2086 # one package per word
	go test -race -count=1 $pkgs
}

command -v go >/dev/null 2>&1 || die "go not found on PATH"
log "$(go version)"

step "set-up: slixmpp clients" setup_clients
step "set-up: StanzaJS client" setup_node_clients
step "set-up: coturn" setup_coturn
step "set-up: services" start_mariadb
step "gofmt" check_gofmt
step "go vet" go vet ./...
# The e2e package builds ringd itself; with -race (default here) a data
# race in the server fails the test that provoked it.
step "go test" env RINGD_E2E_RACE="${RINGD_E2E_RACE:-1}" go test -count=1 ./...
step "go test -race (all but e2e)" run_race
