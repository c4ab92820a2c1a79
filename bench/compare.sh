#!/usr/bin/env bash
#
# bench/compare.sh: ringd, Prosody and ejabberd measured side by side with
# cmd/ringbench on this machine, in one run.
#
#   bench/compare.sh            # full run, 3 repetitions, about 15 minutes
#   bench/compare.sh --quick    # sanity run, 1 repetition, about 2 minutes
#
# It installs Debian's prosody, ejabberd, gnuplot-nox, jq, curl and
# python3-slixmpp when missing (without letting their system services
# start), builds ringd and ringbench from this tree, then, one server at a
# time: writes the server's config into a temp directory from
# bench/conf/*.in, starts it on free loopback ports pinned to core 0, checks
# a real login with slixmpp, provisions users with `ringbench provision` and
# runs each scenario with ringbench pinned to core 1. It writes
# bench/results/<date>/summary.md (medians), the raw JSON and PNG charts.
# Everything it started is stopped on exit, also on Ctrl-C.
#
# Not part of CI: it takes minutes and its numbers need a quiet machine.
# See bench/README.md and docs/performance.md.

set -euo pipefail

usage() {
	cat <<'EOF'
usage: bench/compare.sh [--quick] [--reps N] [--servers LIST] [--out DIR]
                        [--no-install] [--keep-tmp] [--budget MINUTES]
       bench/compare.sh --report DIR

  --quick           small counts, 1 repetition: a ~2 minute sanity run
  --reps N          repetitions of every measurement (default 3, quick 1)
  --servers LIST    comma-separated subset of ringd,prosody,ejabberd
  --out DIR         results directory (default bench/results/<date>)
  --no-install      fail instead of installing missing Debian packages
  --keep-tmp        keep the temp directory (configs, server logs)
  --budget MINUTES  skip the remaining measurements once this much time
                    has passed (default 25, quick 6); the summary says what
                    was skipped
  --report DIR      only rewrite DIR/summary.md and the charts from the raw
                    results of an earlier run (no servers, no installs)
  --pprof, --no-pprof  after ringd's measurements, run its scenarios once
                    more, longer and unmeasured, and save ringd's CPU and
                    heap profiles (default: on, off with --quick)

Environment: RINGBENCH=/path/to/ringbench uses that binary instead of
building cmd/ringbench; RINGD=/path/to/ringd likewise for ringd.
EOF
}

# ---------------------------------------------------------------- settings

COMMAND_LINE="bench/compare.sh${*:+ $*}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench

QUICK=0
REPS=
SERVERS=ringd,prosody,ejabberd
OUT=
INSTALL=1
KEEP_TMP=0
BUDGET_MIN=
REPORT=
PPROF=

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--reps) REPS=${2:?--reps needs a number}; shift ;;
	--servers) SERVERS=${2:?--servers needs a list}; shift ;;
	--out) OUT=${2:?--out needs a directory}; shift ;;
	--no-install) INSTALL=0 ;;
	--keep-tmp) KEEP_TMP=1 ;;
	--budget) BUDGET_MIN=${2:?--budget needs minutes}; shift ;;
	--report) REPORT=${2:?--report needs a results directory}; shift ;;
	--pprof) PPROF=1 ;;
	--no-pprof) PPROF=0 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

# A report rewrites an earlier run's summary with that run's settings,
# which the run saved in meta.txt.
if [ -n "$REPORT" ]; then
	[ -s "$REPORT/meta.txt" ] || { echo "compare.sh: $REPORT/meta.txt: not a results directory" >&2; exit 2; }
	while IFS='=' read -r key value; do
		case $key in
		QUICK | REPS | SERVERS | COMMAND_LINE | LOAD_AT_START | SERVER_CPU | TOOL_CPU | RUN_DATE) printf -v "$key" '%s' "$value" ;;
		esac
	done <"$REPORT/meta.txt"
fi

DOMAIN=localhost
PREFIX=bench
PASSWORD=bench-secret
MECH=SCRAM-SHA-1
TLS_MODE=starttls

# Scenario sizes. The full run is sized to finish in about 15 minutes on
# 2 cores; every count is bounded, and so is every ringbench run (TOOL_LIMIT).
if [ "$QUICK" = 1 ]; then
	: "${REPS:=1}"
	: "${BUDGET_MIN:=6}"
	: "${PPROF:=0}"
	CONNECT_USERS=500
	MEM_SIZES="500 2000"
	MSG_PAIRS=20 MSG_WINDOW=16 MSG_COUNT=20000
	MSG_LAT_RATE=2000 MSG_LAT_COUNT=6000
	PRES_USERS=50 PRES_CONTACTS=10 PRES_COUNT=500
	CALL_PAIRS=20 CALL_RATES="100 500 2000"
	CALL_SECONDS=2 CALL_MIN=200 CALL_MAX=1000
else
	: "${REPS:=3}"
	: "${BUDGET_MIN:=25}"
	: "${PPROF:=1}"
	CONNECT_USERS=1000
	MEM_SIZES="1000 5000 10000 19000"
	MSG_PAIRS=50 MSG_WINDOW=16 MSG_COUNT=100000
	MSG_LAT_RATE=4000 MSG_LAT_COUNT=24000
	PRES_USERS=200 PRES_CONTACTS=20 PRES_COUNT=3000
	CALL_PAIRS=50 CALL_RATES="100 250 500 1000 2000 4000 8000"
	CALL_SECONDS=3 CALL_MIN=300 CALL_MAX=6000
fi
# Logins, messages and presence go as fast as the bound on work in flight
# allows (rate 0), so the achieved rate is the server's (or the tool's)
# limit. Calls step through offered rates instead.
CONNECT_RATE=0
CONNECT_INFLIGHT=200
MSG_RATE=0
PRES_RATE=0
CONNECT_HOLD=5s
TOOL_LIMIT=240 # seconds, hard cap on any one ringbench run

# ---------------------------------------------------------------- helpers

log() { printf '%s compare.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

SUDO=()
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || die "run as root, or install sudo"
	SUDO=(sudo)
fi

# over_budget is true once the time budget is spent.
over_budget() { [ "$SECONDS" -ge $((BUDGET_MIN * 60)) ]; }

# free_port VAR sets VAR to a TCP port on 127.0.0.1 that nothing listens
# on, below the ephemeral range, so the tool's own outgoing connections (up
# to 19k) never collide with it. Ports handed out in this run are not
# handed out again. (A variable, not output: $(free_port) would run in a
# subshell and forget USED_PORTS.)
USED_PORTS=" "
free_port() {
	local p tries=0
	while [ $tries -lt 200 ]; do
		p=$((20000 + RANDOM % 12000))
		tries=$((tries + 1))
		case $USED_PORTS in *" $p "*) continue ;; esac
		if [ -z "$(ss -Htln "sport = :$p")" ]; then
			USED_PORTS="$USED_PORTS$p "
			printf -v "$1" '%s' "$p"
			return 0
		fi
	done
	die "no free loopback port found"
}

# wait_port PORT SECONDS waits until something accepts on 127.0.0.1:PORT.
wait_port() {
	local port=$1 deadline=$((SECONDS + $2))
	while [ $SECONDS -lt $deadline ]; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# is_descendant PID ROOT is true when PID is ROOT or runs under it.
is_descendant() {
	local pid=$1
	while [ -n "$pid" ] && [ "$pid" -gt 1 ]; do
		[ "$pid" = "$2" ] && return 0
		pid=$(ps -o ppid= -p "$pid" | tr -d ' ')
	done
	return 1
}

# fill TEMPLATE OUT KEY=VALUE... replaces @KEY@ with VALUE.
fill() {
	local in=$1 out=$2 expr=() kv
	shift 2
	for kv in "$@"; do
		expr+=(-e "s|@${kv%%=*}@|${kv#*=}|g")
	done
	sed "${expr[@]}" "$in" >"$out"
	if grep -q '@[A-Z_]*@' "$out"; then
		die "unfilled placeholder in $out: $(grep -o '@[A-Z_]*@' "$out" | head -1)"
	fi
}

# ---------------------------------------------------------------- packages

POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=0

# install_packages installs what is missing. Debian starts a daemon from
# its package's postinst through invoke-rc.d unless policy-rc.d says no, so
# a temporary policy-rc.d (exit 101: "action forbidden") keeps Prosody and
# ejabberd from starting on the default ports with the default configs.
install_packages() {
	local want=(prosody ejabberd gnuplot-nox jq python3-slixmpp openssl util-linux iproute2 curl)
	local missing=() p
	for p in "${want[@]}"; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$INSTALL" = 1 ] || die "missing packages: ${missing[*]} (run without --no-install)"
	log "installing ${missing[*]}"
	if [ ! -e "$POLICY_RC" ]; then
		printf '#!/bin/sh\n# temporary, from ringd bench/compare.sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY_RC" >/dev/null
		"${SUDO[@]}" chmod 755 "$POLICY_RC"
		POLICY_RC_OURS=1
	fi
	"${SUDO[@]}" apt-get update -qq
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
	remove_policy_rc
}

remove_policy_rc() {
	if [ "$POLICY_RC_OURS" = 1 ]; then
		"${SUDO[@]}" rm -f "$POLICY_RC"
		POLICY_RC_OURS=0
	fi
}

# quiet_system_services keeps the packages' own daemons out of the way:
# they would listen on 5222 and take CPU and memory during the run. With
# systemd they are stopped and disabled; with SysV init (or none, as in a
# container) a running one is stopped through its init script and its boot
# links are disabled. A system ejabberd is only asked to stop when its pid
# file says it runs: `service ejabberd status` alone would start epmd.
quiet_system_services() {
	local s
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		for s in prosody ejabberd; do
			if systemctl is-enabled --quiet "$s" 2>/dev/null || systemctl is-active --quiet "$s" 2>/dev/null; then
				log "systemd: stopping and disabling the system $s service"
				"${SUDO[@]}" systemctl disable --now "$s" >/dev/null 2>&1 || log "warning: could not disable $s"
			fi
		done
		return 0
	fi
	for s in prosody ejabberd; do
		if [ -x "/etc/init.d/$s" ] && command -v update-rc.d >/dev/null; then
			"${SUDO[@]}" update-rc.d "$s" disable >/dev/null 2>&1 || true
		fi
	done
	if [ -s /run/prosody/prosody.pid ] && [ -d "/proc/$(cat /run/prosody/prosody.pid)" ]; then
		log "stopping the system prosody (init script)"
		"${SUDO[@]}" service prosody stop >/dev/null 2>&1 || log "warning: could not stop the system prosody"
	fi
	if [ -s /run/ejabberd/ejabberd.pid ] && [ -d "/proc/$(cat /run/ejabberd/ejabberd.pid)" ]; then
		log "stopping the system ejabberd (init script)"
		"${SUDO[@]}" service ejabberd stop >/dev/null 2>&1 || log "warning: could not stop the system ejabberd"
	fi
}

# ---------------------------------------------------------------- servers

TMP=
RINGD_CONFIG=ringd.toml # ringd-pprof.toml during the profiling pass
PPROF_PORT=
declare -A SRV_DIR SRV_PORT SRV_TLS_PORT SRV_PID SRV_LAUNCHER
RUNNING=" "

user_home() { getent passwd "$1" | cut -d: -f6; }

# as_user_args USER prints the setpriv arguments that run a command as the
# package's system user with this shell's limits. ejabberdctl run as root
# would `su` to ejabberd, and PAM (pam_limits) then lowers the open-files
# limit to 1024, which caps the node near 1000 sessions; setpriv keeps the
# 20,000 of this shell.
as_user_args() {
	echo "--reuid=$1 --regid=$1 --init-groups env HOME=$(user_home "$1")"
}

# server_ctl KIND prints the admin command (prosodyctl, ejabberdctl) for
# the bench instance, as one line: ringbench provision takes it as -ctl.
# Run as root, both drop to their package's user themselves.
server_ctl() {
	local cmd
	case $1 in
	prosody) cmd="prosodyctl --config ${SRV_DIR[prosody]}/prosody.cfg.lua" ;;
	ejabberd) cmd="ejabberdctl --config-dir ${SRV_DIR[ejabberd]}" ;;
	esac
	echo "${SUDO[*]}${SUDO[*]:+ }$cmd"
}

# ctl KIND ARGS... runs the bench instance's admin command, its output
# appended to $TMP/ctl.log. The redirection is on the command, never on a
# call of a shell function: a trap that fires during the call would run
# with that redirection, and cleanup's messages would vanish with it.
ctl() {
	local -a cmd
	read -r -a cmd <<<"$(server_ctl "$1")"
	shift
	"${cmd[@]}" "$@" >>"$TMP/ctl.log" 2>&1
}

# prepare_server KIND writes the server's directory and config.
prepare_server() {
	local kind=$1 dir=$TMP/$1 c2s tls dist
	mkdir -p "$dir"
	free_port c2s
	free_port tls
	SRV_DIR[$kind]=$dir
	SRV_PORT[$kind]=$c2s
	SRV_TLS_PORT[$kind]=$tls
	case $kind in
	ringd)
		cp "$TMP/cert.pem" "$TMP/key.pem" "$dir/"
		fill "$BENCH/conf/ringd.toml.in" "$dir/ringd.toml" DIR="$dir" DOMAIN="$DOMAIN" \
			C2S_PORT="$c2s" TLS_PORT="$tls" CERT="$dir/cert.pem" KEY="$dir/key.pem" \
			METRICS=- PPROF=false
		# The same server with /debug/pprof/, for the profiling pass only.
		free_port PPROF_PORT
		fill "$BENCH/conf/ringd.toml.in" "$dir/ringd-pprof.toml" DIR="$dir" DOMAIN="$DOMAIN" \
			C2S_PORT="$c2s" TLS_PORT="$tls" CERT="$dir/cert.pem" KEY="$dir/key.pem" \
			METRICS="127.0.0.1:$PPROF_PORT" PPROF=true
		;;
	prosody)
		mkdir -p "$dir/data"
		cp "$TMP/cert.pem" "$TMP/key.pem" "$dir/"
		fill "$BENCH/conf/prosody.cfg.lua.in" "$dir/prosody.cfg.lua" DIR="$dir" DOMAIN="$DOMAIN" \
			C2S_PORT="$c2s" TLS_PORT="$tls" CERT="$dir/cert.pem" KEY="$dir/key.pem"
		"${SUDO[@]}" chown -R prosody:prosody "$dir"
		;;
	ejabberd)
		mkdir -p "$dir/spool" "$dir/logs"
		cat "$TMP/key.pem" "$TMP/cert.pem" >"$dir/server.pem"
		cp /etc/ejabberd/inetrc "$dir/inetrc" 2>/dev/null || true
		fill "$BENCH/conf/ejabberd.yml.in" "$dir/ejabberd.yml" DIR="$dir" DOMAIN="$DOMAIN" \
			C2S_PORT="$c2s" TLS_PORT="$tls" PEM="$dir/server.pem"
		free_port dist
		fill "$BENCH/conf/ejabberdctl.cfg.in" "$dir/ejabberdctl.cfg" DIR="$dir" \
			NODE="ringbench$$@localhost" DIST_PORT="$dist"
		cp "$BENCH/conf/vm.args.in" "$dir/vm.args"
		"${SUDO[@]}" chown -R ejabberd:ejabberd "$dir"
		;;
	esac
}

# start_server KIND starts it pinned to core 0 and waits until it accepts
# connections. SRV_PID, the process ringbench watches, is the one that
# listens on the c2s port: the launcher (setpriv, ejabberdctl's shell) is
# not the server, and ejabberdctl runs short-lived Erlang nodes of its own
# before it starts the real one.
start_server() {
	local kind=$1 dir=${SRV_DIR[$1]} launcher pid
	local -a user=()
	if [ "$kind" != ringd ]; then read -r -a user <<<"$(as_user_args "$kind")"; fi
	# setsid: each server gets a process group of its own, which
	# stop_server can end as a whole (ejabberd's port programs included).
	case $kind in
	ringd)
		(cd "$dir" && exec setsid taskset -c "$SERVER_CPU" "$RINGD_BIN" serve -config "$dir/$RINGD_CONFIG") \
			>>"$dir/stdout.log" 2>>"$dir/stderr.log" &
		;;
	prosody)
		setsid "${SUDO[@]}" setpriv "${user[@]}" \
			taskset -c "$SERVER_CPU" prosody --config "$dir/prosody.cfg.lua" -F \
			>>"$TMP/prosody.stdout.log" 2>&1 &
		;;
	ejabberd)
		setsid "${SUDO[@]}" setpriv "${user[@]}" \
			taskset -c "$SERVER_CPU" ejabberdctl --config-dir "$dir" foreground \
			>>"$TMP/ejabberd.stdout.log" 2>&1 &
		;;
	esac
	launcher=$!
	SRV_LAUNCHER[$kind]=$launcher
	RUNNING="$RUNNING$kind "
	wait_port "${SRV_PORT[$kind]}" 90 || die "$kind does not accept on port ${SRV_PORT[$kind]} (see $dir)"
	if [ "$kind" = ejabberd ]; then
		ctl ejabberd started || die "ejabberd node did not come up (see $dir/logs)"
	fi
	pid=$("${SUDO[@]}" ss -Htlnp "sport = :${SRV_PORT[$kind]}" | sed -n 's/.*pid=\([0-9]*\),.*/\1/p' | head -1)
	[ -n "$pid" ] || die "$kind: no process listens on ${SRV_PORT[$kind]}"
	is_descendant "$pid" "$launcher" ||
		die "$kind: port ${SRV_PORT[$kind]} belongs to pid $pid, which this script did not start"
	SRV_PID[$kind]=$pid
}

# stop_server KIND stops it and waits until its whole process group is
# gone: SIGTERM (after `ejabberdctl stop` for ejabberd) to the server, then
# to the group, then SIGKILL to the group after 15 s.
stop_server() {
	local kind=$1 pid=${SRV_PID[$1]:-} group=${SRV_LAUNCHER[$1]:-} i
	case $RUNNING in *" $kind "*) ;; *) return 0 ;; esac
	if [ "$kind" = ejabberd ] && group_alive "$group"; then
		ctl ejabberd stop || true
	fi
	if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
		"${SUDO[@]}" kill -TERM "$pid" 2>/dev/null || true
	fi
	for ((i = 0; i < 75; i++)); do
		group_alive "$group" || break
		[ $i = 25 ] && "${SUDO[@]}" kill -TERM -- "-$group" 2>/dev/null
		sleep 0.2
	done
	if group_alive "$group"; then
		log "warning: $kind (process group $group) ignored SIGTERM for 15s, killing it"
		"${SUDO[@]}" kill -KILL -- "-$group" 2>/dev/null || true
	fi
	wait "$group" 2>/dev/null || true
	RUNNING=${RUNNING/ $kind / }
	SRV_PID[$kind]=
}

# group_alive PGID is true while any process of the group runs (zombies,
# which only wait for their parent, do not count).
group_alive() {
	[ -n "$1" ] && ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

restart_server() {
	stop_server "$1"
	start_server "$1"
}

cleanup() {
	local rc=$? kind
	trap - EXIT INT TERM
	for kind in $RUNNING; do
		stop_server "$kind" || true
	done
	remove_policy_rc
	if [ -n "$TMP" ] && [ -d "$TMP" ]; then
		if [ "$KEEP_TMP" = 1 ] || [ $rc -ne 0 ]; then
			log "temp directory kept: $TMP"
		else
			"${SUDO[@]}" rm -rf "$TMP"
		fi
	fi
	exit $rc
}

# register_check_user KIND creates the account login_check.py uses, with
# the server's own tool, so the check does not depend on ringbench.
register_check_user() {
	local kind=$1
	case $kind in
	ringd)
		"$RINGD_BIN" user add -config "${SRV_DIR[ringd]}/ringd.toml" -password "$PASSWORD" "check@$DOMAIN" >>"$TMP/ctl.log" 2>&1
		;;
	prosody)
		ctl prosody register check "$DOMAIN" "$PASSWORD"
		;;
	ejabberd)
		ctl ejabberd register check "$DOMAIN" "$PASSWORD"
		;;
	esac
}

# ---------------------------------------------------------------- measuring

# run_tool KIND NAME SUBCOMMAND ARGS... runs one ringbench measurement
# pinned to the tool's core, writes raw/KIND/NAME.json and records its exit
# status. A failed run (loss, errors, timeout) is kept and flagged, not
# fatal: the other servers still get measured. ringbench writes its summary
# even when it exits 1; a run that could not start (setup failed) has none
# and counts in "runs" only as a failure.
run_tool() {
	local kind=$1 name=$2 sub=$3 rc=0
	shift 3
	local json=$OUT/raw/$kind/$name.json
	mkdir -p "$OUT/raw/$kind" "$OUT/logs/$kind"
	timeout --kill-after=10 "$TOOL_LIMIT" taskset -c "$TOOL_CPU" "$RINGBENCH_BIN" "$sub" \
		-addr "127.0.0.1:${SRV_PORT[$kind]}" -domain "$DOMAIN" -prefix "$PREFIX" -password "$PASSWORD" \
		-json "$json" -quiet "$@" \
		>"$OUT/logs/$kind/$name.stdout" 2>"$OUT/logs/$kind/$name.stderr" || rc=$?
	echo "$rc" >"$OUT/raw/$kind/$name.rc"
	if [ $rc -ne 0 ]; then
		log "  $kind $name: ringbench exited $rc (see logs/$kind/$name.stderr)"
	fi
	return 0
}

# skip NOTE records a measurement left out, for the summary.
skip() {
	echo "$*" >>"$OUT/skipped.txt"
	log "skipped: $*"
}

# common_tls prints the session flags every scenario shares. The SCRAM
# cache keeps each account's salted password (PBKDF2, 4096 rounds) across
# runs: the server never computes it during SCRAM, so without the cache the
# tool's core would spend more per login than the server's does.
common_tls() { echo -tls "$TLS_MODE" -mech "$MECH" -scram-cache "$TMP/scram-$1.cache"; }

# warm_scram KIND USERS logs every account in once, unmeasured, to fill
# the SCRAM cache.
warm_scram() {
	log "$1: filling the SCRAM cache ($2 logins, not measured)"
	# shellcheck disable=SC2046
	run_tool "$1" "warmup-$2" connect $(common_tls "$1") -users "$2" -rate "$CONNECT_RATE" -inflight "$CONNECT_INFLIGHT" -hold 0s -timeout 180s
}

scenario_connect() {
	local kind=$1 r
	warm_scram "$kind" "$(max_users "$kind")"
	log "$kind: connect $CONNECT_USERS sessions x$REPS"
	for ((r = 1; r <= REPS; r++)); do
		over_budget && { skip "$kind connect rep $r (time budget)"; return 0; }
		# A fresh server per repetition: RSS per session is only meaningful
		# when the sessions are the first the process has held.
		restart_server "$kind"
		# shellcheck disable=SC2046
		run_tool "$kind" "connect-$CONNECT_USERS-r$r" connect $(common_tls "$kind") \
			-users "$CONNECT_USERS" -rate "$CONNECT_RATE" -inflight "$CONNECT_INFLIGHT" -hold "$CONNECT_HOLD" -timeout 120s -server-pid "${SRV_PID[$kind]}"
	done
}

scenario_memory() {
	local kind=$1 n r
	for n in $MEM_SIZES; do
		[ "$n" = "$CONNECT_USERS" ] && continue # measured by scenario_connect
		log "$kind: memory at $n sessions x$REPS"
		for ((r = 1; r <= REPS; r++)); do
			over_budget && { skip "$kind memory $n rep $r (time budget)"; continue 2; }
			restart_server "$kind"
			# shellcheck disable=SC2046
			run_tool "$kind" "connect-$n-r$r" connect $(common_tls "$kind") \
				-users "$n" -rate "$CONNECT_RATE" -inflight "$CONNECT_INFLIGHT" -hold "$CONNECT_HOLD" -timeout 120s -server-pid "${SRV_PID[$kind]}"
		done
	done
}

scenario_messages() {
	local kind=$1 r
	restart_server "$kind"
	log "$kind: messages at saturation ($MSG_PAIRS pairs, window $MSG_WINDOW, $MSG_COUNT msgs) x$REPS"
	for ((r = 1; r <= REPS; r++)); do
		over_budget && { skip "$kind messages rep $r (time budget)"; break; }
		# shellcheck disable=SC2046
		run_tool "$kind" "messages-max-r$r" messages $(common_tls "$kind") -pairs "$MSG_PAIRS" -window "$MSG_WINDOW" \
			-count "$MSG_COUNT" -rate "$MSG_RATE" -timeout 180s -server-pid "${SRV_PID[$kind]}"
	done
	log "$kind: messages at $MSG_LAT_RATE/s offered x$REPS"
	for ((r = 1; r <= REPS; r++)); do
		over_budget && { skip "$kind messages at $MSG_LAT_RATE/s rep $r (time budget)"; break; }
		# shellcheck disable=SC2046
		run_tool "$kind" "messages-$MSG_LAT_RATE-r$r" messages $(common_tls "$kind") -pairs "$MSG_PAIRS" -window "$MSG_WINDOW" \
			-count "$MSG_LAT_COUNT" -rate "$MSG_LAT_RATE" -timeout 180s -server-pid "${SRV_PID[$kind]}"
	done
}

scenario_presence() {
	local kind=$1 r
	restart_server "$kind"
	log "$kind: presence ($PRES_USERS users, $PRES_CONTACTS contacts, $PRES_COUNT changes) x$REPS"
	for ((r = 1; r <= REPS; r++)); do
		over_budget && { skip "$kind presence rep $r (time budget)"; break; }
		# shellcheck disable=SC2046
		run_tool "$kind" "presence-r$r" presence $(common_tls "$kind") -users "$PRES_USERS" -contacts "$PRES_CONTACTS" \
			-rate "$PRES_RATE" -count "$PRES_COUNT" -timeout 180s -server-pid "${SRV_PID[$kind]}"
	done
}

# scenario_calls steps the offered load up and stops one step after the
# server saturates (achieved below 80 % of offered): beyond that a step only
# measures the queue.
scenario_calls() {
	local kind=$1 rate count r achieved
	restart_server "$kind"
	for rate in $CALL_RATES; do
		count=$((rate * CALL_SECONDS))
		[ $count -lt "$CALL_MIN" ] && count=$CALL_MIN
		[ $count -gt "$CALL_MAX" ] && count=$CALL_MAX
		log "$kind: calls at $rate/s offered ($count setups) x$REPS"
		for ((r = 1; r <= REPS; r++)); do
			over_budget && { skip "$kind calls at $rate/s rep $r (time budget)"; return 0; }
			# shellcheck disable=SC2046
			run_tool "$kind" "calls-$rate-r$r" calls $(common_tls "$kind") -pairs "$CALL_PAIRS" -rate "$rate" \
				-count "$count" -timeout 180s -server-pid "${SRV_PID[$kind]}"
		done
		achieved=$(median_of "$kind" "calls-$rate" rate)
		if [ -z "$achieved" ]; then
			log "$kind: calls at $rate/s gave no result; not going higher"
			break
		fi
		if awk -v a="$achieved" -v o="$rate" 'BEGIN { exit !(a < 0.8 * o) }'; then
			log "$kind: calls saturated at $achieved/s (offered $rate/s)"
			break
		fi
	done
}

# scenario_profile runs ringd's scenarios once more, longer, on a ringd
# that serves /debug/pprof/, and saves a CPU profile taken in the middle of
# each (and a heap profile with the largest number of sessions held) to
# pprof/, with `go tool pprof -top` text next to each. The runs are sized
# for 8-10 s at the rates ringd reached here, and the profile starts after
# their set-up. Nothing here is measured: the profiles say where the time
# goes, the runs above say how much there is.
scenario_profile() {
	local users bg d=$OUT/pprof
	over_budget && { skip "ringd profiles (time budget)"; return 0; }
	mkdir -p "$d"
	RINGD_CONFIG=ringd-pprof.toml
	restart_server ringd
	log "ringd: profiling (pprof on 127.0.0.1:$PPROF_PORT)"
	users=$(max_users ringd)

	# shellcheck disable=SC2046
	run_tool_bg ringd "profile-connect" connect $(common_tls ringd) -users "$users" -rate 0 \
		-inflight "$CONNECT_INFLIGHT" -hold 8s -timeout 120s
	bg=$!
	sleep 0.3
	profile cpu connect 4
	wait_sessions "$users" 90 && profile heap connect
	wait "$bg" || true

	# shellcheck disable=SC2046
	run_tool_bg ringd "profile-messages" messages $(common_tls ringd) -pairs "$MSG_PAIRS" \
		-window "$MSG_WINDOW" -count 3000000 -rate 0 -timeout 120s
	bg=$!
	sleep 2
	profile cpu messages 5
	wait "$bg" || true

	# About 1.5 million deliveries: 8 s at the rates seen so far.
	# shellcheck disable=SC2046
	run_tool_bg ringd "profile-presence" presence $(common_tls ringd) -users "$PRES_USERS" \
		-contacts "$PRES_CONTACTS" -rate 0 -count $((1500000 / PRES_CONTACTS)) -timeout 120s
	bg=$!
	sleep 1.5
	profile cpu presence 5
	wait "$bg" || true

	# shellcheck disable=SC2046
	run_tool_bg ringd "profile-calls" calls $(common_tls ringd) -pairs "$CALL_PAIRS" -rate 8000 \
		-count 60000 -timeout 120s
	bg=$!
	sleep 2
	profile cpu calls 5
	wait "$bg" || true

	stop_server ringd
	RINGD_CONFIG=ringd.toml
}

# run_tool_bg KIND NAME SUBCOMMAND ARGS... starts one unmeasured ringbench
# run in the background, pinned like the measured ones; its summary and
# logs go to logs/KIND/NAME.*.
run_tool_bg() {
	local kind=$1 name=$2 sub=$3
	shift 3
	mkdir -p "$OUT/logs/$kind"
	timeout --kill-after=10 "$TOOL_LIMIT" taskset -c "$TOOL_CPU" "$RINGBENCH_BIN" "$sub" \
		-addr "127.0.0.1:${SRV_PORT[$kind]}" -domain "$DOMAIN" -prefix "$PREFIX" -password "$PASSWORD" \
		-quiet "$@" >"$OUT/logs/$kind/$name.stdout" 2>"$OUT/logs/$kind/$name.stderr" &
}

# wait_sessions N SECONDS waits until ringd holds N established client
# connections.
wait_sessions() {
	local deadline=$((SECONDS + $2)) n=0
	while [ $SECONDS -lt $deadline ]; do
		n=$(ss -Htn state established "sport = :${SRV_PORT[ringd]}" | wc -l)
		[ "$n" -ge "$1" ] && return 0
		sleep 0.5
	done
	log "ringd: only $n of $1 sessions up; no heap profile"
	return 1
}

# profile cpu|heap NAME [SECONDS] saves one ringd profile and its top list.
profile() {
	local kind=$1 name=$2 secs=${3:-0} url file
	case $kind in
	cpu) url="http://127.0.0.1:$PPROF_PORT/debug/pprof/profile?seconds=$secs" ;;
	heap) url="http://127.0.0.1:$PPROF_PORT/debug/pprof/heap" ;;
	esac
	file=$OUT/pprof/ringd-$name.$kind.pb.gz
	if ! curl -fsS --max-time $((secs + 30)) -o "$file" "$url" 2>>"$OUT/logs/pprof.log"; then
		log "ringd: $kind profile of $name failed (see logs/pprof.log)"
		return 0
	fi
	(cd "$ROOT" && go tool pprof -top -nodecount=30 "$RINGD_BIN" "$file") >"${file%.pb.gz}.top.txt" 2>>"$OUT/logs/pprof.log" || true
}

# ---------------------------------------------------------------- results

# JSON fields of a ringbench summary, by meaning. If ringbench renames a
# field, this table is the one place to change.
jq_field() {
	case $1 in
	rate) echo '.rate' ;;
	p50) echo '.latency_us.p50' ;;
	p90) echo '.latency_us.p90' ;;
	p99) echo '.latency_us.p99' ;;
	p999) echo '.latency_us.p999' ;;
	max) echo '.latency_us.max' ;;
	loss) echo '.loss' ;;
	errors) echo '.errors' ;;
	cpu_per_op) echo '.server.cpu_us_per_op' ;;
	rss_delta) echo '.server.rss_delta_kb * 1024' ;;
	rss_per_session) echo '.server.rss_bytes_per_op' ;;
	# Share of its core each side used over the measured phase: a server
	# well under 100 % at "as fast as possible" was not the bottleneck.
	server_busy) echo 'if .elapsed_s > 0 then .server.cpu_s / .elapsed_s * 100 else null end' ;;
	tool_busy) echo '.client.cpu_utilization * 100' ;;
	*) die "unknown field $1" ;;
	esac
}

# median_of KIND NAME FIELD prints the median of FIELD over the runs
# raw/KIND/NAME-r*.json that produced a summary, or nothing.
median_of() {
	local kind=$1 name=$2 expr files=()
	expr=$(jq_field "$3")
	shopt -s nullglob
	files=("$OUT/raw/$kind/$name"-r*.json)
	shopt -u nullglob
	[ ${#files[@]} -gt 0 ] || return 0
	jq -rs "[.[] | (try ($expr) catch null) | numbers] | sort |
		if length == 0 then empty
		elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end" "${files[@]}" 2>/dev/null || true
}

# runs_ok KIND NAME prints "ok/total" for the runs of one measurement.
runs_ok() {
	local f ok=0 total=0
	shopt -s nullglob
	for f in "$OUT/raw/$1/$2"-r*.rc; do
		total=$((total + 1))
		[ "$(cat "$f")" = 0 ] && ok=$((ok + 1))
	done
	shopt -u nullglob
	echo "$ok/$total"
}

# fmt VALUE SCALE DECIMALS prints VALUE/SCALE with thousands separators,
# or "–" when there is no value.
fmt() {
	[ -n "${1:-}" ] || { echo "–"; return 0; }
	LC_ALL=C awk -v v="$1" -v s="${2:-1}" -v d="${3:-0}" 'BEGIN {
		x = sprintf("%." d "f", v / s); neg = (x ~ /^-/); sub(/^-/, "", x)
		split(x, parts, "."); i = parts[1]; out = ""
		while (length(i) > 3) { out = "," substr(i, length(i) - 2) out; i = substr(i, 1, length(i) - 3) }
		out = i out; if (d > 0) out = out "." parts[2]
		print (neg ? "-" : "") out }'
}

ratio() {
	if [ -n "${1:-}" ] && [ -n "${2:-}" ]; then
		awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "–" }'
	else
		echo "–"
	fi
}

versions() {
	local kind
	echo "| component | version |"
	echo "|---|---|"
	echo "| ringd | $("$RINGD_BIN" version 2>/dev/null || echo '?'), tree $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' + local changes') |"
	echo "| Go | $(go version 2>/dev/null | awk '{print $3}') |"
	for kind in prosody ejabberd; do
		echo "| $kind (Debian) | $(dpkg-query -W -f '${Version}' "$kind" 2>/dev/null || echo 'not installed') |"
	done
	echo "| Erlang/OTP | $(erl -noshell -eval 'io:format("~s", [erlang:system_info(otp_release)]), halt().' 2>/dev/null || echo '?') (erts $(dpkg-query -W -f '${Version}' erlang-base 2>/dev/null || echo '?')) |"
	echo "| Lua (Prosody) | $("$PROSODY_LUA" -v 2>&1 | awk '{print $2}') |"
	echo "| OpenSSL | $(openssl version | awk '{print $2}') |"
	echo "| kernel | $(uname -r) |"
	echo "| CPU | $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores |"
	echo "| memory | $(free -g | awk '/^Mem:/ {print $2}') GiB |"
}

# rss_slope prints "slope_bytes_per_session intercept_bytes points" from a
# least-squares fit of ringd's RSS growth against sessions.
rss_slope() {
	local n med pts=()
	for n in $MEM_SIZES; do
		med=$(median_of ringd "connect-$n" rss_delta)
		[ -n "$med" ] && pts+=("$n $med")
	done
	[ ${#pts[@]} -ge 2 ] || return 0
	printf '%s\n' "${pts[@]}" | awk '
		{ x[NR] = $1; y[NR] = $2; sx += $1; sy += $2 }
		END {
			mx = sx / NR; my = sy / NR
			for (i = 1; i <= NR; i++) { sxx += (x[i] - mx) ^ 2; sxy += (x[i] - mx) * (y[i] - my) }
			b = sxy / sxx; printf "%.0f %.0f %d\n", b, my - b * mx, NR
		}'
}

# cell KIND NAME FIELD [SCALE DECIMALS] is one table cell: the median of
# FIELD over the runs of measurement NAME, divided by SCALE.
cell() { fmt "$(median_of "$1" "$2" "$3")" "${4:-1}" "${5:-0}"; }

# busy KIND NAME is "server % / tool %": how much of its core each used.
busy() { echo "$(cell "$1" "$2" server_busy) / $(cell "$1" "$2" tool_busy)"; }

# cells KIND NAME prints the usual columns of a measurement: rate, p50,
# p99, p99.9, server CPU per operation, core busy, runs.
cells() {
	echo "$(cell "$1" "$2" rate) | $(cell "$1" "$2" p50 1000 2) | $(cell "$1" "$2" p99 1000 2) | $(cell "$1" "$2" p999 1000 2) | $(cell "$1" "$2" cpu_per_op 1 1) | $(busy "$1" "$2") | $(runs_ok "$1" "$2") |"
}

write_summary() {
	local s=$OUT/summary.md kind rate slope b a npts
	local -a kinds
	IFS=, read -r -a kinds <<<"$SERVERS"
	local head="| p50 ms | p99 ms | p99.9 ms | server CPU µs/op | core busy % server / tool | runs |"
	local line="|---|---|---|---|---|---|"
	{
		echo "# ringd, Prosody and ejabberd side by side"
		echo
		echo "Run ${RUN_DATE:-?}, $(if [ "$QUICK" = 1 ]; then echo "**quick mode**"; else echo "full mode"; fi), medians of $REPS run(s)."
		echo "Command: \`$COMMAND_LINE\`. Load average at start: $LOAD_AT_START."
		if awk -v l="${LOAD_AT_START%% *}" 'BEGIN { exit !(l > 0.5) }'; then
			echo
			echo "**Noisy**: the machine was not idle when this run started (1-minute load average ${LOAD_AT_START%% *}). Other processes also ran on the server's core, so rates are low and tails long by an unknown amount; do not quote these figures."
			echo
		fi
		echo "Each server pinned to core $SERVER_CPU, ringbench to core $TOOL_CPU; loopback, $TLS_MODE + $MECH."
		echo "Latencies in ms. \"runs\": runs that exited 0 (no loss, no errors) / runs."
		echo "\"core busy\": CPU seconds over wall seconds of the measured phase; a server well under 100 % was not what limited the rate."
		echo
		cat "$OUT/versions.md"
		echo
		echo "Login check (slixmpp): $(tr '\n' ';' <"$OUT/logs/login_check.txt" 2>/dev/null | sed 's/;$//; s/;/; /g')"
		echo
		echo "## Logins ($CONNECT_USERS sessions, as fast as $CONNECT_INFLIGHT in flight allow)"
		echo
		echo "| server | logins/s $head RSS KiB/session |"
		echo "|---|---$line---|"
		for kind in "${kinds[@]}"; do
			echo "| $kind | $(cells "$kind" "connect-$CONNECT_USERS") $(cell "$kind" "connect-$CONNECT_USERS" rss_per_session 1024 1) |"
		done
		echo
		if [[ ",$SERVERS," == *,ringd,* ]]; then
			echo "## ringd memory per idle TLS session"
			echo
			echo "| sessions | RSS growth MiB | KiB/session | logins/s | runs |"
			echo "|---|---|---|---|---|"
			for rate in $MEM_SIZES; do
				echo "| $(fmt "$rate") | $(cell ringd "connect-$rate" rss_delta 1048576 1) | $(cell ringd "connect-$rate" rss_per_session 1024 1) | $(cell ringd "connect-$rate" rate) | $(runs_ok ringd "connect-$rate") |"
			done
			slope=$(rss_slope)
			echo
			if [ -n "$slope" ]; then
				read -r b a npts <<<"$slope"
				echo "Least-squares slope over $npts sizes: **$(fmt "$b" 1024 1) KiB per session** (intercept $(fmt "$a" 1048576 1) MiB); 100k sessions would add $(fmt "$((b * 100000))" 1073741824 2) GiB."
			else
				echo "Slope: not enough sizes measured."
			fi
			echo
		fi
		echo "## Messages ($MSG_PAIRS pairs, window $MSG_WINDOW)"
		echo
		echo "| server | offered | msgs/s $head"
		echo "|---|---|---$line"
		for kind in "${kinds[@]}"; do
			echo "| $kind | as fast as possible | $(cells "$kind" messages-max)"
			echo "| $kind | $(fmt "$MSG_LAT_RATE")/s | $(cells "$kind" "messages-$MSG_LAT_RATE")"
		done
		echo
		echo "## Presence ($PRES_USERS users with $PRES_CONTACTS contacts each)"
		echo
		echo "| server | deliveries/s $head"
		echo "|---|---$line"
		for kind in "${kinds[@]}"; do
			echo "| $kind | $(cells "$kind" presence)"
		done
		echo
		echo "## Calls ($CALL_PAIRS caller/callee pairs, callee with two resources)"
		echo
		echo "| server | offered setups/s | achieved setups/s $head"
		echo "|---|---|---$line"
		for kind in "${kinds[@]}"; do
			for rate in $CALL_RATES; do
				[ -n "$(ls "$OUT/raw/$kind/calls-$rate"-r*.rc 2>/dev/null)" ] || continue
				echo "| $kind | $(fmt "$rate") | $(cells "$kind" "calls-$rate")"
			done
		done
		echo
		echo "Saturation (highest median achieved rate): $(for kind in "${kinds[@]}"; do printf '%s %s; ' "$kind" "$(sat_label "$kind")"; done | sed 's/; $//')."
		echo
		if [[ ",$SERVERS," == *,ringd,* && ",$SERVERS," == *,ejabberd,* ]]; then
			echo "## ringd against ejabberd (same run, one server core each)"
			echo
			echo "| what | goal | ringd / ejabberd |"
			echo "|---|---|---|"
			echo "| messages/s at saturation | ≥ 10x | $(ratio "$(median_of ringd messages-max rate)" "$(median_of ejabberd messages-max rate)") |"
			echo "| call setups/s at saturation | ≥ 5x | $(if calls_saturated ringd; then :; else printf '≥ '; fi)$(ratio "$(calls_saturation ringd)" "$(calls_saturation ejabberd)") |"
			echo "| presence deliveries/s | ≥ 5x | $(ratio "$(median_of ringd presence rate)" "$(median_of ejabberd presence rate)") |"
			echo "| logins/s | ≥ 2,000/s for ringd | $(ratio "$(median_of ringd "connect-$CONNECT_USERS" rate)" "$(median_of ejabberd "connect-$CONNECT_USERS" rate)") ($(cell ringd "connect-$CONNECT_USERS" rate)/s) |"
			echo "| message p99 at $(fmt "$MSG_LAT_RATE")/s | below ejabberd's | $(cell ringd "messages-$MSG_LAT_RATE" p99 1000 2) ms vs $(cell ejabberd "messages-$MSG_LAT_RATE" p99 1000 2) ms |"
			echo "| call set-up p99 at 500/s | < 1 ms | $(cell ringd calls-500 p99 1000 2) ms |"
			echo
		fi
		if [ -s "$OUT/failed.txt" ]; then
			echo "## Not measured"
			echo
			sed 's/^/- /' "$OUT/failed.txt"
			echo
		fi
		if [ -s "$OUT/skipped.txt" ]; then
			echo "## Skipped (time budget)"
			echo
			sed 's/^/- /' "$OUT/skipped.txt"
			echo
		fi
		if [ -d "$OUT/pprof" ]; then
			echo "## Where ringd's time goes"
			echo
			# shellcheck disable=SC2016 # Markdown backticks, not a command
			echo 'Profiles from separate, longer, unmeasured runs on a ringd with `[metrics] pprof = true` (files in `pprof/`); the top of each `go tool pprof -top`:'
			echo
			for f in "$OUT"/pprof/*.top.txt; do
				[ -s "$f" ] || continue
				echo "$(basename "$f" .top.txt):"
				echo
				echo '```'
				head -n 20 "$f"
				echo '```'
				echo
			done
		fi
		echo "## Charts"
		echo
		for png in throughput latency calls ringd-memory; do
			if [ -s "$OUT/$png.png" ]; then echo "![$png]($png.png)"; fi
		done
		echo
		echo "Raw ringbench summaries: \`raw/<server>/<measurement>-r<n>.json\` (exit status in \`.rc\`); tool output: \`logs/\`."
	} >"$s"
}

# calls_saturated KIND is true when some step of KIND fell below 80 % of
# its offered rate; otherwise the highest rate is only a lower bound.
calls_saturated() {
	local rate med
	for rate in $CALL_RATES; do
		med=$(median_of "$1" "calls-$rate" rate)
		[ -n "$med" ] || continue
		awk -v a="$med" -v o="$rate" 'BEGIN { exit !(a < 0.8 * o) }' && return 0
	done
	return 1
}

# sat_label KIND prints the saturation rate, with "≥" when it was not
# reached within the offered rates.
sat_label() {
	local v
	v=$(calls_saturation "$1")
	[ -n "$v" ] || { echo "–"; return 0; }
	if calls_saturated "$1"; then echo "$(fmt "$v")/s"; else echo "≥ $(fmt "$v")/s (not saturated)"; fi
}

# calls_saturation KIND prints the highest median achieved setups/s.
calls_saturation() {
	local rate med best=
	for rate in $CALL_RATES; do
		med=$(median_of "$1" "calls-$rate" rate)
		[ -n "$med" ] || continue
		if [ -z "$best" ] || awk -v a="$med" -v b="$best" 'BEGIN { exit !(a > b) }'; then
			best=$med
		fi
	done
	echo "$best"
}

# write_charts writes the gnuplot data files and renders the PNGs.
write_charts() {
	local d=$OUT/data kind rate n
	local -a kinds
	IFS=, read -r -a kinds <<<"$SERVERS"
	mkdir -p "$d"
	{
		echo "server logins_per_s msgs_per_s presence_per_s calls_per_s"
		for kind in "${kinds[@]}"; do
			echo "$kind $(num "$(median_of "$kind" "connect-$CONNECT_USERS" rate)") $(num "$(median_of "$kind" messages-max rate)") $(num "$(median_of "$kind" presence rate)") $(num "$(calls_saturation "$kind")")"
		done
	} >"$d/throughput.dat"
	{
		echo "server msg_p50_ms msg_p99_ms call_p50_ms call_p99_ms"
		for kind in "${kinds[@]}"; do
			echo "$kind $(num "$(median_of "$kind" "messages-$MSG_LAT_RATE" p50)" 1000) $(num "$(median_of "$kind" "messages-$MSG_LAT_RATE" p99)" 1000) $(num "$(median_of "$kind" calls-500 p50)" 1000) $(num "$(median_of "$kind" calls-500 p99)" 1000)"
		done
	} >"$d/latency.dat"
	for kind in "${kinds[@]}"; do
		{
			echo "offered achieved p50_ms p99_ms"
			for rate in $CALL_RATES; do
				[ -n "$(median_of "$kind" "calls-$rate" rate)" ] || continue
				echo "$rate $(num "$(median_of "$kind" "calls-$rate" rate)") $(num "$(median_of "$kind" "calls-$rate" p50)" 1000) $(num "$(median_of "$kind" "calls-$rate" p99)" 1000)"
			done
		} >"$d/calls-$kind.dat"
	done
	{
		echo "sessions rss_mib"
		for n in $MEM_SIZES; do
			[ -n "$(median_of ringd "connect-$n" rss_delta)" ] || continue
			echo "$n $(num "$(median_of ringd "connect-$n" rss_delta)" 1048576)"
		done
	} >"$d/ringd-memory.dat"
	if ! command -v gnuplot >/dev/null; then
		log "gnuplot missing: no charts"
		return 0
	fi
	# Which panels have at least one value (gnuplot stops at an empty plot).
	local tput lat callservers=() mem=0
	tput=$(has_values "$d/throughput.dat" 2 3 4 5)
	lat=$(has_values "$d/latency.dat" 2 4)
	for kind in "${kinds[@]}"; do
		[ "$(wc -l <"$d/calls-$kind.dat")" -gt 1 ] && callservers+=("$kind")
	done
	[ "$(wc -l <"$d/ringd-memory.dat")" -gt 2 ] && mem=1
	gnuplot -e "datadir='$d'; outdir='$OUT'; servers='${kinds[*]}'; msgrate='$MSG_LAT_RATE'; tput='$tput'; lat='$lat'; callservers='${callservers[*]}'; mem=$mem" \
		"$BENCH/plot.gp" 2>"$OUT/logs/gnuplot.log" || log "gnuplot failed (see logs/gnuplot.log)"
	return 0
}

# has_values FILE COL... prints "1" or "0" per column: whether any row
# below the header has a number there.
has_values() {
	local f=$1 col
	shift
	for col in "$@"; do
		awk -v c="$col" 'NR > 1 && $c != "NaN" { found = 1 } END { printf "%d ", found }' "$f"
	done
}

# num VALUE [SCALE] prints VALUE/SCALE for gnuplot, "NaN" when missing.
num() {
	if [ -n "${1:-}" ]; then
		awk -v v="$1" -v s="${2:-1}" 'BEGIN { printf "%.6g", v / s }'
	else
		echo NaN
	fi
}

# ---------------------------------------------------------------- main

main() {
	local kind
	local -a kinds
	IFS=, read -r -a kinds <<<"$SERVERS"
	for kind in "${kinds[@]}"; do
		case $kind in ringd | prosody | ejabberd) ;; *) die "unknown server $kind" ;; esac
	done

	if [ -n "$REPORT" ]; then
		OUT=$(cd "$REPORT" && pwd)
		write_charts
		write_summary
		log "rewrote $OUT/summary.md"
		return 0
	fi

	LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
	RUN_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
	if awk -v l="${LOAD_AT_START%% *}" 'BEGIN { exit !(l > 0.5) }'; then
		log "warning: load average $LOAD_AT_START: other work is running, figures will be noisy"
	fi

	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	install_packages
	quiet_system_services
	PROSODY_LUA=$(sed -n '1s|^#!.*env \(lua[0-9.]*\).*|\1|p' "$(command -v prosody)")
	: "${PROSODY_LUA:=lua5.4}"

	if [ "$(nproc)" -ge 2 ]; then
		SERVER_CPU=0 TOOL_CPU=1
	else
		log "warning: one core only: server and tool share it"
		SERVER_CPU=0 TOOL_CPU=0
	fi

	TMP=$(mktemp -d /tmp/ringd-compare.XXXXXX)
	chmod 755 "$TMP" # the prosody and ejabberd users must reach their dirs
	: "${OUT:=$BENCH/results/$(date +%Y-%m-%d_%H%M)}"
	mkdir -p "$OUT/raw" "$OUT/logs"
	OUT=$(cd "$OUT" && pwd)

	log "building ringd and ringbench"
	if [ -n "${RINGD:-}" ]; then RINGD_BIN=$RINGD; else
		RINGD_BIN=$TMP/bin/ringd
		(cd "$ROOT" && go build -o "$RINGD_BIN" ./cmd/ringd)
	fi
	if [ -n "${RINGBENCH:-}" ]; then RINGBENCH_BIN=$RINGBENCH; else
		[ -d "$ROOT/cmd/ringbench" ] || die "cmd/ringbench is not in this tree yet"
		RINGBENCH_BIN=$TMP/bin/ringbench
		(cd "$ROOT" && go build -o "$RINGBENCH_BIN" ./cmd/ringbench)
	fi

	{
		echo "QUICK=$QUICK"
		echo "REPS=$REPS"
		echo "SERVERS=$SERVERS"
		echo "COMMAND_LINE=$COMMAND_LINE"
		echo "LOAD_AT_START=$LOAD_AT_START"
		echo "SERVER_CPU=$SERVER_CPU"
		echo "TOOL_CPU=$TOOL_CPU"
		echo "RUN_DATE=$RUN_DATE"
	} >"$OUT/meta.txt"
	versions >"$OUT/versions.md"

	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-subj "/CN=$DOMAIN" -addext "subjectAltName=DNS:$DOMAIN" \
		-keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null

	for kind in "${kinds[@]}"; do
		run_server "$kind"
	done

	log "writing $OUT/summary.md and charts"
	write_charts
	write_summary
	log "done in $((SECONDS / 60))m$((SECONDS % 60))s: $OUT/summary.md"
	return "$FAILED"
}

# max_users KIND is how many accounts KIND needs: the largest connect.
max_users() {
	local n users=$CONNECT_USERS
	if [ "$1" = ringd ]; then
		for n in $MEM_SIZES; do [ "$n" -gt "$users" ] && users=$n; done
	fi
	echo "$users"
}

# run_server KIND measures one server from start to stop.
run_server() {
	local kind=$1 users check t0=$SECONDS p0
	prepare_server "$kind"
	start_server "$kind"
	log "$kind: up on 127.0.0.1:${SRV_PORT[$kind]} (STARTTLS), :${SRV_TLS_PORT[$kind]} (direct TLS), pid ${SRV_PID[$kind]}"

	# A server that cannot log in a standard client, or whose accounts
	# cannot be made, is left out (and the run fails at the end); the
	# others are still measured.
	if ! register_check_user "$kind" ||
		! check=$(/usr/bin/python3 "$BENCH/login_check.py" "check@$DOMAIN" "$PASSWORD" "${SRV_PORT[$kind]}" 2>>"$OUT/logs/login_check.log"); then
		fail_server "$kind" "login check failed: ${check:-could not create the account, see ctl.log in the temp directory}"
		return 0
	fi
	log "$kind: login check $check"
	echo "$kind $check" >>"$OUT/logs/login_check.txt"

	users=$(max_users "$kind")
	log "$kind: provisioning $users users"
	local provision=(provision -target "$kind" -users "$users" -prefix "$PREFIX" -password "$PASSWORD" -domain "$DOMAIN")
	case $kind in
	ringd) provision+=(-ringd-bin "$RINGD_BIN" -ringd-config "${SRV_DIR[ringd]}/ringd.toml") ;;
	*) provision+=(-ctl "$(server_ctl "$kind")") ;;
	esac
	p0=$SECONDS
	if ! "$RINGBENCH_BIN" "${provision[@]}" >"$OUT/logs/$kind-provision.stdout" 2>"$OUT/logs/$kind-provision.stderr"; then
		fail_server "$kind" "provisioning failed (see logs/$kind-provision.stderr)"
		return 0
	fi
	log "$kind: provisioned in $((SECONDS - p0))s"

	scenario_connect "$kind"
	if [ "$kind" = ringd ]; then scenario_memory "$kind"; fi
	scenario_messages "$kind"
	scenario_presence "$kind"
	scenario_calls "$kind"
	stop_server "$kind"
	if [ "$kind" = ringd ] && [ "$PPROF" = 1 ]; then scenario_profile; fi
	log "$kind: done in $((SECONDS - t0))s"
}

# fail_server KIND WHY stops KIND, notes WHY for the summary and makes the
# run's exit status 1.
FAILED=0
fail_server() {
	log "$1: $2; not measured"
	echo "$1: $2; not measured" >>"$OUT/failed.txt"
	FAILED=1
	stop_server "$1"
}

main
