#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# The docs cannot silently drift from the code:
#  1. every man page in docs/man passes `mandoc -T lint -W warning` and
#     `man --warnings -l` (a deliberately broken page must fail both);
#  2. every op in the op table (src/daemon/ops.c) is in docs/ops.md with the
#     same class, in rampart(1), in rampartd(8) with the same class, and in the
#     README; every config key (src/core/config.c) is in rampartd.json(5);
#     `rampart --help` and rampart(1) list the same commands; `rampartd --help`
#     and rampartd(8) the same options; the error code registry
#     (src/lib/errcodes.h) and docs/errors.md hold the same codes with the same
#     exit status, and every "E_..." literal in src/ is registered; the
#     table of docs/enforcement.md "Where the matchers differ" holds the
#     references and directions tests/e2e/test_containers_differential.py
#     allows to differ (mutated copies of the docs must fail);
#  3. examples/check_image builds against librampart installed to a temp
#     prefix (`cmake --install`), found with `pkg-config rampart`, and answers
#     allowed / denied / invalid / unreadable with the right exit codes.
# Accepted lint messages: mandoc STYLE level is not checked (-W warning): it
# reports "referenced manual not found" for our own pages, which are not
# installed while testing from the source tree.  Every WARNING, ERROR and
# UNSUPP fails the test; there is no accepted WARNING today.
# Needs: bash, python3, cmake, cc, make, pkg-config, openssl; mandoc or man.
set -euo pipefail

SRC=${RAMPART_SRC:?RAMPART_SRC not set}
BUILD=${RAMPART_BUILD:?RAMPART_BUILD not set}
CLI=${RAMPART_CLI:-$BUILD/rampart}
DAEMON=${RAMPARTD:-$BUILD/rampartd}
PY=${RAMPART_PYTHON:-/usr/bin/python3}
SIGN=$BUILD/rampart-sign

tmp=$(mktemp -d /tmp/rampart-test-docs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# --- 1. man pages ----------------------------------------------------------------

# lint_page FILE: prints problems, returns 1 if there are any.
lint_page() {
	local f=$1 out rc=0
	if command -v mandoc >/dev/null; then
		out=$(mandoc -T lint -W warning "$f" 2>&1) || true
		if [ -n "$out" ]; then
			printf '%s\n' "$out"
			rc=1
		fi
	fi
	if command -v man >/dev/null; then
		out=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null |
			grep -v "can't set the locale") || true
		if [ -n "$out" ]; then
			printf 'man --warnings: %s\n' "$out"
			rc=1
		fi
	fi
	return $rc
}

if ! command -v mandoc >/dev/null && ! command -v man >/dev/null; then
	fail "neither mandoc nor man is installed (scripts/deps installs mandoc)"
else
	# control: a broken page must be caught, or the lint proves nothing
	printf '.Dd November 23, 2026\n.Dt BROKEN 1\n.Os\n.Sh NAME\n.Nm broken\n.Nd x\n.Sh DESCRIPTION\n.Bl -tag -width Ds\n.It a\nb\n.Zz bogus\n' >"$tmp/broken.1"
	if lint_page "$tmp/broken.1" >/dev/null; then
		fail "the man page lint accepted a broken page"
	fi
	pages=("$SRC"/docs/man/*.[158])
	for want in rampart.1 rampartd.8 rampart-policy.5 rampartd.json.5; do
		[ -f "$SRC/docs/man/$want" ] || fail "docs/man/$want is missing"
	done
	for p in "${pages[@]}"; do
		if lint_page "$p"; then ok "lint $(basename "$p")"; else fail "lint $(basename "$p")"; fi
	done
fi

# --- 2. drift between code and docs ----------------------------------------------

cat >"$tmp/drift.py" <<'PYEOF'
"""Compares the op table, config keys and --help output with the docs.
usage: drift.py SRC DOCS RAMPART_HELP_FILE RAMPARTD_HELP_FILE; exit 1 on drift."""
import re
import sys

src, docs, cli_help_f, d_help_f = sys.argv[1:5]
problems = []


def read(p):
    with open(p, encoding="utf-8") as f:
        return f.read()


def ops_from_table(text):
    body = text[text.index("op_table[]"):]
    body = body[:body.index("};")]
    rows = re.findall(r'\{\s*"([a-z.\-]+)"\s*,\s*\w+\s*,\s*OP_(ANY|USER|ADMIN)\b', body)
    return [(n, c.lower()) for n, c in rows]


ops = ops_from_table(read(src + "/src/daemon/ops.c"))
if len(ops) < 10:
    problems.append("could only parse %d ops from src/daemon/ops.c" % len(ops))

ops_md = read(docs + "/ops.md")
rampart1 = read(docs + "/man/rampart.1")
rampartd8 = read(docs + "/man/rampartd.8")
readme = read(docs + "/../README.md")
for name, cls in ops:
    q = re.escape(name)
    row = re.search(r"^\|\s*`%s`\s*\|\s*(\w+)\s*\|" % q, ops_md, re.M)
    if row is None:
        problems.append("docs/ops.md: no table row for op %s" % name)
    elif row.group(1) != cls:
        problems.append("docs/ops.md: op %s is class %s in the table, %s in ops.c"
                        % (name, row.group(1), cls))
    if not re.search(r"^###\s+`%s`\s*$" % q, ops_md, re.M):
        problems.append("docs/ops.md: no section '### `%s`'" % name)
    if not re.search(r"\.Li %s\b" % q, rampart1):
        problems.append("rampart.1: op %s is not named (.Li %s)" % (name, name))
    row8 = re.search(r"^\.It Li %s Ta (\w+) Ta" % q, rampartd8, re.M)
    if row8 is None:
        problems.append("rampartd.8: op %s is not in the op list" % name)
    elif row8.group(1) != cls:
        problems.append("rampartd.8: op %s is class %s, %s in ops.c" % (name, row8.group(1), cls))
    if not re.search(r"(?<![\w.])%s(?![\w.])" % q, readme):
        problems.append("README.md: op %s is not in the diagram" % name)
documented = set(re.findall(r"^\|\s*`([a-z.\-]+)`\s*\|\s*(?:any|user|admin)\s*\|", ops_md, re.M))
for extra in sorted(documented - {n for n, _ in ops}):
    problems.append("docs/ops.md: op %s is documented but not in ops.c" % extra)

# every config key (the known[] list of each section) in rampartd.json(5)
cfg = read(src + "/src/core/config.c")
json5 = read(docs + "/man/rampartd.json.5")
nkeys = 0
for m in re.finditer(r"^(?:static )?int (cfg_\w+|config_load)\(.*?\n\}\n", cfg, re.S | re.M):
    fn = m.group(0)
    known = re.search(r"known\[\]\s*=\s*\{(.*?)\};", fn, re.S)
    if not known:
        continue
    keys = re.findall(r'"([a-z_]+)"', known.group(1))
    where = re.search(r'cfg_keys_known\(\w+,\s*"([a-z_.]*)"', fn)
    section = where.group(1) if where else ""
    for k in keys:
        full = section + "." + k if section else k
        nkeys += 1
        if not re.search(r"^\.It Cm %s\b" % re.escape(full), json5, re.M) and \
                not (section == "" and re.search(r"^\.Ss %s$" % re.escape(k), json5, re.M)):
            problems.append("rampartd.json.5: config key %s is not documented" % full)
if nkeys < 40:
    problems.append("could only parse %d config keys from src/core/config.c" % nkeys)

# rampart --help commands <-> rampart.1 command list
cli_help = read(cli_help_f)
cmds = set(re.findall(r"^  ([a-z][a-z\-]*)\s{2,}\S", cli_help.split("Commands:")[1].split("Global options:")[0], re.M))
man_cmds = set(re.findall(r"^\.It (?:Xo\n)?\.?Cm ([a-z][a-z\-]*)", rampart1, re.M))
man_cmds |= set(re.findall(r"^\.It Xo\n\.Cm ([a-z][a-z\-]*)", rampart1, re.M))
if len(cmds) < 5:
    problems.append("could only parse %d commands from rampart --help" % len(cmds))
for c in sorted(cmds - man_cmds):
    problems.append("rampart.1: command %s (in rampart --help) is not documented" % c)
for c in sorted(man_cmds - cmds):
    problems.append("rampart --help: command %s (documented in rampart.1) is not listed" % c)

# rampartd --help options <-> rampartd.8
d_help = read(d_help_f)
opts = set(re.findall(r"--([a-z][a-z\-]+)", d_help))
man_opts = set(re.findall(r"Fl \\-([a-z][a-z\-]+)", rampartd8))
for o in sorted(opts - man_opts):
    problems.append("rampartd.8: option --%s (in rampartd --help) is not documented" % o)
for o in sorted(man_opts - opts):
    problems.append("rampartd --help: option --%s (documented in rampartd.8) is not listed" % o)

# the error code registry <-> docs/errors.md, and every code the code gives
reg = re.findall(r'X\((E_[A-Z0-9_]+), (\d+), "', read(src + "/src/lib/errcodes.h"))
if len(reg) < 60:
    problems.append("could only parse %d codes from src/lib/errcodes.h" % len(reg))
regd = dict(reg)
doc_codes = dict(re.findall(r"^\|\s*`(E_[A-Z0-9_]+)`\s*\|\s*(\d+)\s*\|", read(docs + "/errors.md"), re.M))
for c in sorted(set(regd) - set(doc_codes)):
    problems.append("docs/errors.md: code %s (in errcodes.h) is not documented" % c)
for c in sorted(set(doc_codes) - set(regd)):
    problems.append("docs/errors.md: code %s is documented but not in errcodes.h" % c)
for c in sorted(set(regd) & set(doc_codes)):
    if regd[c] != doc_codes[c]:
        problems.append("docs/errors.md: %s exits %s, errcodes.h says %s" % (c, doc_codes[c], regd[c]))
import os
for root, _, files in os.walk(src + "/src"):
    for fn in files:
        if fn.endswith((".c", ".h")) and fn != "errcodes.h":
            for c in sorted(set(re.findall(r'"(E_[A-Z0-9_]+)"', read(os.path.join(root, fn))))):
                if c not in regd:
                    problems.append("%s: code %s is not in src/lib/errcodes.h" % (fn, c))

# docs/enforcement.md "Where the matchers differ" <-> the differential test's lists
import ast
diff_src = read(src + "/tests/e2e/test_containers_differential.py")
want = {}
for node in ast.parse(diff_src).body:
    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in ("DOCUMENTED", "V2_DOCUMENTED"):
        for ref, dirs in ast.literal_eval(node.value).items():
            want[re.sub(r":[^/:]+$", "", ref)] = tuple(dirs)   # without the tag
enf = read(docs + "/enforcement.md")
sec = enf.split("### Where the matchers differ", 1)[-1].split("\n### ", 1)[0]
got = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
    r"^\|\s*`([^`]+)`[^|]*\|\s*\**(allow|deny)\**\s*\|\s*\**(allow|deny)\**\s*\|", sec, re.M)}
if len(want) < 3:
    problems.append("could only parse %d documented differences from the differential test" % len(want))
if got != want:
    problems.append("docs/enforcement.md, Where the matchers differ: table %s, "
                    "test_containers_differential.py %s" % (sorted(got.items()), sorted(want.items())))

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PYEOF

"$CLI" --help >"$tmp/cli-help.txt"
"$DAEMON" --help >"$tmp/daemon-help.txt"
if "$PY" "$tmp/drift.py" "$SRC" "$SRC/docs" "$tmp/cli-help.txt" "$tmp/daemon-help.txt"; then
	ok "ops, config keys, commands and options are all documented"
else
	fail "the docs drifted from the code (see above)"
fi

# controls: mutated copies of the docs must be caught
mutate() { # mutate NAME SED-EXPR FILE-UNDER-docs
	local d=$tmp/mut-$1
	mkdir -p "$d/docs"
	cp -r "$SRC/docs/." "$d/docs/"
	cp "$SRC/README.md" "$d/README.md"
	sed -i -e "$2" "$d/docs/$3"
	if cmp -s "$SRC/docs/$3" "$d/docs/$3"; then
		fail "control $1: the mutation did not change docs/$3"
	elif "$PY" "$tmp/drift.py" "$SRC" "$d/docs" "$tmp/cli-help.txt" "$tmp/daemon-help.txt" >/dev/null; then
		fail "control $1: the drift check missed it"
	else
		ok "control $1 caught"
	fi
}
mutate op-row-removed '/^| `policy.refresh` |/d' ops.md
mutate op-class-changed 's/^| `port.bind` | user |/| `port.bind` | any |/' ops.md
mutate op-missing-in-rampart1 's/^\.Li helper\.uninstall/.Li helper.gone/' man/rampart.1
mutate command-missing-in-rampart1 's/^\.It Cm ping$/.It Cm pingx/' man/rampart.1
mutate config-key-missing 's/^\.It Cm policy\.jitter_s/.It Cm policy.jitterx/' man/rampartd.json.5
mutate error-code-missing '/^| `E_SOCKET` |/d' errors.md
mutate error-exit-changed 's/^| `E_UNREACHABLE` | 3 |/| `E_UNREACHABLE` | 1 |/' errors.md
mutate matchers-differ-row-removed '/^| `registry-1.docker.io\/alpine` /d' enforcement.md
mutate matchers-differ-direction 's/^| `a.corp.example:5000\/x` | deny | \*\*allow\*\* |/| `a.corp.example:5000\/x` | deny | deny |/' enforcement.md
mutate daemon-option-missing 's/^\.It Fl \\-check-config$/.It Fl \\-check-cfg/' man/rampartd.8

# --- 3. the example, against an installed librampart -------------------------------

prefix=$tmp/prefix
if ! cmake --install "$BUILD" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
	if grep -q "install_manifest.txt" "$tmp/install.log" && [ ! -w "$BUILD" ]; then
		# run as another user than the build's owner: only the manifest failed
		echo "note: could not write $BUILD/install_manifest.txt (not our build dir)"
	else
		cat "$tmp/install.log" >&2
		fail "cmake --install $BUILD --prefix $prefix"
	fi
fi
pc=$(find "$prefix" -name rampart.pc -print -quit)
if [ -z "$pc" ]; then
	fail "no rampart.pc under $prefix"
else
	export PKG_CONFIG_PATH
	PKG_CONFIG_PATH=$(dirname "$pc")
	# the .pc names its prefix relative to itself (${pcfiledir}): no --define-variable,
	# so this shows `cmake --install --prefix` into another tree works as README says
	pkgc="pkg-config"
	cflags=$($pkgc --cflags rampart)
	libdir=$(realpath -m "$($pkgc --variable=libdir rampart)")
	case "$cflags" in
	*"-I$prefix/"*) ok "pkg-config rampart: $cflags" ;;
	*) fail "pkg-config rampart gives '$cflags', not the temp prefix $prefix" ;;
	esac
	mkdir -p "$tmp/ex"
	cp "$SRC/examples/check_image.c" "$SRC/examples/Makefile" "$tmp/ex/"
	extra=""
	case "${RAMPART_SANITIZE:-OFF}" in
	ON | on | 1 | TRUE | true | YES | yes) extra="-fsanitize=address,undefined" ;;
	esac
	if make -s -C "$tmp/ex" PKG_CONFIG="$pkgc" CFLAGS="-O1 -g $extra" \
		LDFLAGS="$extra" >"$tmp/make.log" 2>&1; then
		ok "examples/check_image builds with pkg-config rampart"
	else
		cat "$tmp/make.log" >&2
		fail "examples/check_image does not build"
	fi
fi

if [ -x "$tmp/ex/check_image" ]; then
	# the whole ldd output first: `ldd | grep -q` under pipefail fails when grep exits early
	linked=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/ex/check_image" || true)
	if grep -qF "$libdir/librampart.so" <<<"$linked"; then
		ok "check_image uses the installed librampart"
	else
		fail "check_image is not linked against $libdir/librampart.so"
	fi
	# a signed policy in a DB, made with the tools under test
	"$SRC/policy-samples/gen-test-keys.sh" "$tmp/secret" 2>/dev/null
	mkdir -p "$tmp/keys"
	cp "$tmp/secret/test-ed25519.pub" "$tmp/keys/test.pem"
	"$SIGN" --key "$tmp/secret/test-ed25519.key" "$SRC/policy-samples/small.json" \
		>"$tmp/env.json" 2>/dev/null
	"$CLI" policy import --db "$tmp/policy.db" --keys "$tmp/keys" --org "Example Corp" \
		"$tmp/env.json" >/dev/null
	run() { # run WANT-EXIT DB REF... ; prints the output
		local want=$1 rc=0
		shift
		LD_LIBRARY_PATH=$libdir "$tmp/ex/check_image" "$@" >"$tmp/out" 2>&1 || rc=$?
		if [ "$rc" -eq "$want" ]; then
			ok "check_image $* -> exit $rc"
		else
			cat "$tmp/out" >&2
			fail "check_image $*: exit $rc, want $want"
		fi
	}
	run 0 "$tmp/policy.db" ghcr.io/acme/app:1.2 alpine
	grep -q "^allowed ghcr.io/acme/app:1.2 -> ghcr.io/acme/app:1.2 (rule: ghcr.io; policy v1)" \
		"$tmp/out" || fail "check_image output: $(cat "$tmp/out")"
	run 1 "$tmp/policy.db" ghcr.io/acme/app evil.example.com/x
	grep -q "^denied  evil.example.com/x" "$tmp/out" || fail "no denial line: $(cat "$tmp/out")"
	run 2 "$tmp/policy.db" alpine 'Bad/Ref'
	run 1 "$tmp/no-such.db" alpine # no policy cached: denied
	echo "not a database" >"$tmp/junk.db"
	run 3 "$tmp/junk.db" alpine
	run 2 "$tmp/policy.db" # usage
fi

if [ "$fails" -ne 0 ]; then
	echo "$fails check(s) failed" >&2
	exit 1
fi
echo "all docs checks passed"
