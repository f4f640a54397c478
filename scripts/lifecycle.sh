# shellcheck shell=bash disable=SC2034,SC2154 # layout variables shared with the scripts sourcing it
# SPDX-License-Identifier: ISC
# Shared by scripts/install and scripts/uninstall (sourced, never run): the install
# layout, argument checks, and the one-shot rampartd that sets up or removes the links
# and the hosts block when no helper is running.  Every path it writes is under
# $LC_ROOT (the staging root; empty for the real system).  Bash 3.2 compatible (macOS).

LC_PROG=${LC_PROG:-rampart}
LC_TMP=''
LC_PID=''
LC_SOCK=''

lc_die() { echo "$LC_PROG: $*" >&2; exit 1; }
lc_warn() { echo "$LC_PROG: warning: $*" >&2; }
lc_note() { echo "$LC_PROG: $*"; }

# A path we may put into JSON, sed and unit files: absolute, no quote, backslash, '|',
# control characters or "..".
lc_path_ok() {
	case $1 in
	/*) ;;
	*) return 1 ;;
	esac
	case $1 in
	*'"'* | *\\* | *'|'* | *'..'* | *[[:cntrl:]]*) return 1 ;;
	esac
	return 0
}

lc_platform_default() {
	case $(uname -s) in
	Darwin) echo macos ;;
	*) echo linux ;;
	esac
}

# Sets the layout variables for LC_PLATFORM and LC_PREFIX (paths as on the target system,
# without LC_ROOT).
lc_layout() {
	bindir=$LC_PREFIX/bin
	sbindir=$LC_PREFIX/sbin
	libdir=$LC_PREFIX/lib
	libexecdir=$LC_PREFIX/libexec
	incdir=$LC_PREFIX/include
	mandir=$LC_PREFIX/share/man
	sharedir=$LC_PREFIX/share/rampart
	sockpath=/var/run/rampart.sock
	if [ "$LC_PLATFORM" = macos ]; then
		confdir=/Library/Preferences/com.rampart.helper
		statedir="/Library/Application Support/rampart"
		unitdir=/Library/LaunchDaemons
		unit_names="com.rampart.helper.plist"
	else
		confdir=/etc/rampart
		statedir=/var/lib/rampart
		case $LC_PREFIX in
		/usr | /usr/local) unitdir=$LC_PREFIX/lib/systemd/system ;;
		*) unitdir=/etc/systemd/system ;; # systemd does not search other prefixes
		esac
		unit_names="rampartd.socket rampartd.service"
	fi
	keysdir=$confdir/keys
	config=$confdir/rampartd.json
}

lc_need_root() {
	[ "$(id -u)" -eq 0 ] || lc_die "must run as root (files are installed root-owned)"
}

# True when a real systemd manages this machine (never under --root).
lc_systemd_live() {
	[ -z "$LC_ROOT" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
}

lc_launchd_live() {
	[ -z "$LC_ROOT" ] && [ "$LC_PLATFORM" = macos ] && command -v launchctl >/dev/null 2>&1
}

# Writes to $2 the config $1 with every system path moved under LC_ROOT, so a one-shot
# daemon for a staging root never touches the real system.  Output paths always move;
# input paths (keys, CA file, app dir, home) move only if they exist under the root.
lc_stage_config() {
	command -v python3 >/dev/null 2>&1 ||
		lc_die "--root needs python3 to point the one-shot rampartd at the staging root"
	python3 - "$1" "$LC_ROOT" "$2" "$LC_TMP" <<'PY'
import json, os, sys
src, root, out, tmp = sys.argv[1:5]
with open(src) as f:
    c = json.load(f)
def under(p):
    return root + p if p.startswith("/") else p
def maybe(p):
    return under(p) if p and os.path.lexists(under(p)) else p
c["state_dir"] = under(c.get("state_dir", "/var/lib/rampart"))
if c.get("db"):
    c["db"] = under(c["db"])
c["audit_log"] = os.path.join(tmp, "audit.log")
c["socket"] = under(c.get("socket", "/var/run/rampart.sock"))
h = c.setdefault("hosts", {})
h["file"] = under(h.get("file", "/etc/hosts"))
l = c.setdefault("links", {})
l["bin_dir"] = under(l.get("bin_dir", "/usr/local/bin"))
if l.get("app_dir"):
    l["app_dir"] = maybe(l["app_dir"])
s = c.setdefault("socket_link", {})
s["path"] = under(s.get("path", "/var/run/docker.sock"))
if s.get("home"):
    s["home"] = maybe(s["home"])
e = c.setdefault("enforce", {})
e["containers_policy"] = under(e.get("containers_policy", "/etc/containers/policy.json"))
for k, d in (("docker", "/run/rampart-authz/stats"), ("proxy", "/run/rampart-proxy/stats.json")):
    sub = e.setdefault(k, {})
    sub["stats_file"] = under(sub.get("stats_file", d))
hp = c.setdefault("helper", {})
hp["unit_files"] = [under(p) for p in hp.get("unit_files", [])]
if hp.get("binary"):
    hp["binary"] = under(hp["binary"])
p = c.get("policy")
if isinstance(p, dict):
    p["keys"] = [maybe(k) for k in p.get("keys", [])]
    if p.get("ca_file"):
        p["ca_file"] = maybe(p["ca_file"])
with open(out, "w") as f:
    json.dump(c, f, indent=1)
os.chmod(out, 0o644)
PY
}

lc_cleanup() {
	if [ -n "$LC_PID" ]; then
		kill -TERM "$LC_PID" 2>/dev/null || true
		wait "$LC_PID" 2>/dev/null || true
		LC_PID=
	fi
	[ -n "$LC_TMP" ] && rm -rf "$LC_TMP"
	LC_TMP=
}

# Prints the one-shot daemon's log when it reported a problem (a sanitizer, a crash).
lc_oneshot_log_check() {
	if [ -n "$LC_TMP" ] && [ -f "$LC_TMP/rampartd.log" ] &&
		{ [ "${1:-0}" -ne 0 ] || grep -q -e Sanitizer -e 'runtime error:' "$LC_TMP/rampartd.log"; }; then
		echo "$LC_PROG: rampartd (one-shot) log:" >&2
		cat "$LC_TMP/rampartd.log" >&2
		return 1
	fi
	return 0
}

# Starts "$rampartd" with config $1 on a private socket; LC_SOCK, LC_PID set.
lc_oneshot_start() {
	local cfg=$1 i=0
	LC_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rampart-oneshot.XXXXXX") || lc_die "mktemp failed"
	chmod 0700 "$LC_TMP"
	trap lc_cleanup EXIT
	if [ -n "$LC_ROOT" ]; then
		lc_stage_config "$cfg" "$LC_TMP/rampartd.json"
		cfg=$LC_TMP/rampartd.json
	fi
	LC_SOCK=$LC_TMP/rampart.sock
	"$rampartd" -c "$cfg" --socket "$LC_SOCK" >"$LC_TMP/rampartd.log" 2>&1 &
	LC_PID=$!
	while [ $i -lt 200 ]; do
		if ! kill -0 "$LC_PID" 2>/dev/null; then
			wait "$LC_PID" 2>/dev/null || true
			LC_PID=
			lc_oneshot_log_check 1 || true
			return 1
		fi
		"$rampart_cli" --socket "$LC_SOCK" --timeout 1000 ping >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	lc_warn "the one-shot rampartd did not answer"
	lc_oneshot_log_check 1 || true
	return 1
}

# Stops it (SIGTERM) unless it already exited (helper uninstall); 1 if it reported a problem.
lc_oneshot_stop() {
	local rc=0
	if [ -n "$LC_PID" ]; then
		kill -TERM "$LC_PID" 2>/dev/null || true
		wait "$LC_PID" 2>/dev/null || rc=$?
		LC_PID=
	fi
	lc_oneshot_log_check "$rc" || rc=1
	lc_cleanup
	trap - EXIT
	return $rc
}

# Waits (bounded) for the one-shot to exit by itself, as it does after helper.uninstall.
lc_oneshot_wait_exit() {
	local i=0 rc=0
	while [ -n "$LC_PID" ] && [ $i -lt 100 ] && kill -0 "$LC_PID" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ -n "$LC_PID" ] && ! kill -0 "$LC_PID" 2>/dev/null; then
		wait "$LC_PID" 2>/dev/null || rc=$?
		LC_PID=
		lc_oneshot_log_check "$rc" || rc=1
	fi
	return $rc
}

lc_cli() {
	"$rampart_cli" --socket "$LC_SOCK" "$@"
}
