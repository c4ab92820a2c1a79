# shellcheck shell=bash
#
# A throwaway MariaDB server for ringd's MySQL tests. Source this file, then:
#
#   start_mariadb   # installs mariadb-server if needed, starts a private
#                   # server on a free loopback port, creates database
#                   # ringd_test and user ringd, and exports
#                   # RINGD_TEST_MYSQL_DSN='ringd:…@tcp(127.0.0.1:PORT)/ringd_test'
#   go test ./storage/mysql/...
#   stop_mariadb    # shuts it down and removes its files
#
# Both functions are idempotent: start_mariadb on a running server only
# re-exports the DSN, stop_mariadb without a server does nothing. The server
# lives entirely under one temporary directory (data, socket, log, pid) and
# listens on 127.0.0.1 only; it shares nothing with a system MariaDB.
#
# The ringd user may create and drop databases named ringd_test*, so each
# test can work in a database of its own. Set RINGD_MARIADB_ARGS to pass
# extra server options (for example --innodb-flush-log-at-trx-commit=2).
#
# This file is sourced into the caller's bash, so it sets no shell options,
# never exits, and runs under the caller's set -e and set -u; each function
# returns non-zero with a message on stderr.

_ringd_mariadb_log() { printf 'mariadb.sh: %s\n' "$*" >&2; }

# _ringd_mariadb_find NAME… prints the path of the first NAME found in PATH
# or the sbin directories, which a non-root PATH often lacks.
_ringd_mariadb_find() {
	local name dir
	for name in "$@"; do
		if command -v "$name" >/dev/null 2>&1; then
			command -v "$name"
			return 0
		fi
		for dir in /usr/sbin /usr/local/sbin /usr/libexec /sbin; do
			if [ -x "$dir/$name" ]; then
				printf '%s\n' "$dir/$name"
				return 0
			fi
		done
	done
	return 1
}

# _ringd_mariadb_install installs mariadb-server with apt-get, running
# apt-get update only when the first attempt fails (stale or empty lists).
_ringd_mariadb_install() {
	local sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			_ringd_mariadb_log "mariadb-server is not installed and neither root nor sudo is available"
			return 1
		fi
		sudo="sudo"
	fi
	_ringd_mariadb_log "installing mariadb-server with apt-get"
	local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mariadb-server mariadb-client)
	if ! $sudo "${install[@]}" >&2; then
		$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || return 1
		$sudo "${install[@]}" >&2 || return 1
	fi
}

# _ringd_mariadb_port prints a TCP port on 127.0.0.1 that nothing listens
# on right now. The server may still lose a race for it; start_mariadb
# tries again with another port then.
_ringd_mariadb_port() {
	local port
	for _ in $(seq 1 50); do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		# A refused connection means the port is free.
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			printf '%s\n' "$port"
			return 0
		fi
	done
	return 1
}

# _ringd_mariadb_alive reports whether the server this shell started still
# answers.
_ringd_mariadb_alive() {
	[ -n "${RINGD_MARIADB_DIR:-}" ] && [ -S "$RINGD_MARIADB_DIR/mysqld.sock" ] &&
		"${RINGD_MARIADB_ADMIN:-mariadb-admin}" --no-defaults --user=root \
			--socket="$RINGD_MARIADB_DIR/mysqld.sock" --connect-timeout=2 ping >/dev/null 2>&1
}

# _ringd_mariadb_now prints the time in milliseconds.
_ringd_mariadb_now() { local t=${EPOCHREALTIME/[.,]/}; printf '%s\n' "${t:0:-3}"; }

start_mariadb() {
	if _ringd_mariadb_alive; then
		export RINGD_TEST_MYSQL_DSN="ringd:${RINGD_MARIADB_PASSWORD}@tcp(127.0.0.1:${RINGD_MARIADB_PORT})/ringd_test"
		return 0
	fi
	# A server this shell started earlier died: clear what it left.
	stop_mariadb
	local t0
	t0=$(_ringd_mariadb_now)
	local mariadbd install_db admin client
	if ! mariadbd=$(_ringd_mariadb_find mariadbd mysqld); then
		_ringd_mariadb_install || return 1
		mariadbd=$(_ringd_mariadb_find mariadbd mysqld) || {
			_ringd_mariadb_log "mariadbd not found after installing mariadb-server"
			return 1
		}
	fi
	if ! install_db=$(_ringd_mariadb_find mariadb-install-db mysql_install_db) ||
		! admin=$(_ringd_mariadb_find mariadb-admin mysqladmin) ||
		! client=$(_ringd_mariadb_find mariadb mysql); then
		_ringd_mariadb_log "mariadb-install-db, mariadb-admin or mariadb missing; reinstall mariadb-server"
		return 1
	fi

	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/ringd-mariadb.XXXXXX") || return 1
	local me userarg=()
	me=$(id -un)
	# mariadbd refuses to run as root unless told to.
	if [ "$(id -u)" -eq 0 ]; then
		userarg=(--user=root)
	fi
	# The bootstrap server commits each of its thousands of statements
	# (help tables, sys schema) on its own; without an fsync per commit it
	# takes about 1 s instead of 8–10 s here. It shuts down cleanly, which
	# flushes everything, and the server started below is fully durable.
	if ! "$install_db" --no-defaults --auth-root-authentication-method=normal \
		--datadir="$dir/data" --user="$me" --skip-test-db \
		--innodb-flush-log-at-trx-commit=0 >"$dir/install.log" 2>&1; then
		_ringd_mariadb_log "mariadb-install-db failed:"
		tail -n 20 "$dir/install.log" >&2
		rm -rf "$dir"
		return 1
	fi

	local attempt port pid up
	for attempt in 1 2 3 4 5; do
		port=$(_ringd_mariadb_port) || {
			_ringd_mariadb_log "no free port found"
			rm -rf "$dir"
			return 1
		}
		# Small buffers start fast; the log settings keep durability on
		# (an fsync per commit, as in production) unless the caller says
		# otherwise in RINGD_MARIADB_ARGS.
		# shellcheck disable=SC2086 # RINGD_MARIADB_ARGS is a word list
		"$mariadbd" --no-defaults "${userarg[@]}" \
			--datadir="$dir/data" --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" \
			--log-error="$dir/error.log" --port="$port" --bind-address=127.0.0.1 \
			--skip-name-resolve --innodb-buffer-pool-size=128M --max-connections=500 \
			--character-set-server=utf8mb4 --collation-server=utf8mb4_bin \
			${RINGD_MARIADB_ARGS:-} </dev/null >/dev/null 2>&1 &
		pid=$!
		up=""
		for _ in $(seq 1 300); do # up to 30 s
			if ! kill -0 "$pid" 2>/dev/null; then
				break
			fi
			if "$admin" --no-defaults --user=root --socket="$dir/mysqld.sock" \
				--connect-timeout=1 ping >/dev/null 2>&1; then
				up=1
				break
			fi
			sleep 0.1
		done
		if [ -n "$up" ]; then
			break
		fi
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		if ! grep -qi "address already in use\|do you already have another" "$dir/error.log" 2>/dev/null; then
			_ringd_mariadb_log "mariadbd did not start:"
			tail -n 20 "$dir/error.log" >&2
			rm -rf "$dir"
			return 1
		fi
		: >"$dir/error.log" # port taken in the meantime: try another
	done
	if [ -z "$up" ]; then
		_ringd_mariadb_log "mariadbd did not start after $attempt attempts"
		rm -rf "$dir"
		return 1
	fi

	local pw
	pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	if ! "$client" --no-defaults --user=root --socket="$dir/mysqld.sock" <<-SQL; then
		CREATE DATABASE ringd_test CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
		CREATE USER 'ringd'@'127.0.0.1' IDENTIFIED BY '$pw';
		CREATE USER 'ringd'@'localhost' IDENTIFIED BY '$pw';
		GRANT ALL PRIVILEGES ON \`ringd\\_test%\`.* TO 'ringd'@'127.0.0.1';
		GRANT ALL PRIVILEGES ON \`ringd\\_test%\`.* TO 'ringd'@'localhost';
	SQL
		_ringd_mariadb_log "creating the ringd user and database failed"
		"$admin" --no-defaults --user=root --socket="$dir/mysqld.sock" shutdown >/dev/null 2>&1 || true
		rm -rf "$dir"
		return 1
	fi

	export RINGD_MARIADB_DIR="$dir"
	export RINGD_MARIADB_PID="$pid"
	export RINGD_MARIADB_PORT="$port"
	export RINGD_MARIADB_PASSWORD="$pw"
	export RINGD_MARIADB_ADMIN="$admin"
	export RINGD_MARIADB_SOCKET="$dir/mysqld.sock"
	export RINGD_TEST_MYSQL_DSN="ringd:${pw}@tcp(127.0.0.1:${port})/ringd_test"
	_ringd_mariadb_log "MariaDB $("$mariadbd" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir), started in $(($(_ringd_mariadb_now) - t0)) ms"
}

stop_mariadb() {
	local dir=${RINGD_MARIADB_DIR:-} pid=${RINGD_MARIADB_PID:-}
	if [ -z "$dir" ]; then
		return 0
	fi
	if [ -S "$dir/mysqld.sock" ]; then
		"${RINGD_MARIADB_ADMIN:-mariadb-admin}" --no-defaults --user=root --socket="$dir/mysqld.sock" \
			--connect-timeout=2 --shutdown-timeout=20 shutdown >/dev/null 2>&1 || true
	fi
	if [ -n "$pid" ]; then
		for _ in $(seq 1 100); do # up to 10 s
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			_ringd_mariadb_log "mariadbd $pid did not shut down; killing it"
			kill -9 "$pid" 2>/dev/null || true
		fi
		# Reaps it if this shell started it; harmless otherwise.
		wait "$pid" 2>/dev/null || true
	fi
	case $dir in
	*/ringd-mariadb.*) rm -rf "$dir" ;;
	esac
	unset RINGD_MARIADB_DIR RINGD_MARIADB_PID RINGD_MARIADB_PORT RINGD_MARIADB_PASSWORD \
		RINGD_MARIADB_ADMIN RINGD_MARIADB_SOCKET RINGD_TEST_MYSQL_DSN
}
