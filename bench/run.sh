#!/usr/bin/env bash
# Benchmark docker-credential-harbor against docker-credential-secretservice and
# docker-credential-pass on a private D-Bus session, gnome-keyring and kernel
# session keyring. See bench/README.md. Usage: bash bench/run.sh
#
# Knobs (environment): BENCH_N (registries stored, 200), BENCH_RUNS (30),
# BENCH_WARMUP (3), BENCH_CONC (concurrent processes, 64), BENCH_SKIP_BUILD=1,
# BENCH_ROUNDS (interleaved rounds against `keyctl pipe`, 300),
# BENCH_BIN (the binary to measure; default target/release's, built first).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
N=${BENCH_N:-200}
RUNS=${BENCH_RUNS:-30}
WARMUP=${BENCH_WARMUP:-3}
CONC=${BENCH_CONC:-64}
SS=/usr/bin/docker-credential-secretservice
PASSH=/usr/bin/docker-credential-pass

die() { echo "bench: $*" >&2; [[ -n "${INNER:-}" ]] && diagnose >&2; exit 1; }
say() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------- outer part
if [[ "${1:-}" != --inner ]]; then
    missing=()
    for tool in cargo hyperfine pass gpg gpgconf dbus-daemon dbus-send \
                gnome-keyring-daemon keyctl python3 mktemp; do
        command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
    done
    [[ -x $SS ]] || missing+=("$SS (Debian package golang-docker-credential-helpers)")
    [[ -x $PASSH ]] || missing+=("$PASSH (Debian package golang-docker-credential-helpers)")
    if [[ ! -x /usr/bin/time ]]; then
        if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
            say "/usr/bin/time is missing; installing the Debian package 'time'"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null 2>&1 || true
        fi
        [[ -x /usr/bin/time ]] || missing+=("/usr/bin/time (Debian package time)")
    fi
    if ((${#missing[@]})); then
        printf 'bench: missing: %s\n' "${missing[@]}" >&2
        die "install them first, e.g. apt-get install -y hyperfine golang-docker-credential-helpers pass gnupg dbus gnome-keyring keyutils time python3"
    fi
    hyperfine --version >/dev/null || die "hyperfine does not run"
    keyctl session - true >/dev/null 2>&1 \
        || die "keyctl cannot create a session keyring here (is the keyctl syscall allowed?)"

    if [[ -z "${BENCH_SKIP_BUILD:-}" && -z "${BENCH_BIN:-}" ]]; then
        say "building the release binary (cargo build --release --locked)"
        (cd "$ROOT" && cargo build --release --locked) >&2 || die "cargo build failed"
    fi
    [[ -x ${BENCH_BIN:-$ROOT/target/release/docker-credential-harbor} ]] \
        || die "no ${BENCH_BIN:-$ROOT/target/release/docker-credential-harbor}; build it first"
    # A fresh session keyring: the cache and the keyutils store live in it.
    exec keyctl session - bash "${BASH_SOURCE[0]}" --inner
fi

# ---------------------------------------------------------------- inner part
INNER=1
secrets_owner_pid() {
    dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets 2>/dev/null | awk '{print $NF}'
}
default_locked() {  # prints true/false, or nothing when there is no default collection
    dbus-send --session --print-reply=literal --dest=org.freedesktop.secrets \
        /org/freedesktop/secrets/aliases/default org.freedesktop.DBus.Properties.Get \
        string:org.freedesktop.Secret.Collection string:Locked 2>/dev/null | awk '{print $NF}'
}
diagnose() {
    [[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]] || return 0
    echo "--- diagnosis"
    echo "gnome-keyring-daemon started: pid ${KEYRING_PID:-?}, $( [[ -n ${KEYRING_PID:-} ]] && kill -0 "$KEYRING_PID" 2>/dev/null && echo alive || echo gone)"
    echo "org.freedesktop.secrets is now owned by pid $(secrets_owner_pid || true) (a different pid means D-Bus activated a new, locked daemon)"
    echo "default collection locked: $(default_locked || true)"
    [[ -s ${T:-/nonexistent}/gkd.err ]] && { echo "gnome-keyring log:"; tail -n 20 "$T/gkd.err"; }
    echo "load average: $(cat /proc/loadavg)"
}
SRC_BIN=${BENCH_BIN:-$ROOT/target/release/docker-credential-harbor}
RESULTS=$HERE/results
RAW=$RESULTS/raw
mkdir -p "$RAW"

T=$(mktemp -d "${TMPDIR:-/tmp}/harbor-bench.XXXXXX")
DBUS_PID=
KEYRING_PID=
KU_STORED=0
cleanup() {
    set +e
    if ((KU_STORED)) && [[ -x $T/bin/docker-credential-harbor ]]; then
        # The keyutils store links its keys into root's persistent keyring,
        # which outlives this session: take them out again.
        for i in $(seq -f %03g 1 "$N"); do
            printf 'reg-%s.example.com' "$i" | HOME=$T/home-ku DOCKER_CREDENTIAL_HARBOR_STORE=keyutils \
                "$T/bin/docker-credential-harbor" erase >/dev/null 2>&1
        done
    fi
    [[ -d $T/gnupg ]] && GNUPGHOME=$T/gnupg gpgconf --kill all >/dev/null 2>&1
    [[ -n $KEYRING_PID ]] && kill "$KEYRING_PID" 2>/dev/null
    [[ -n $DBUS_PID ]] && kill "$DBUS_PID" 2>/dev/null
    sleep 0.2
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Nothing from the caller's environment may steer a helper.
unset HARBOR_USERNAME HARBOR_PASSWORD HARBOR_HOST XDG_DATA_HOME XDG_CONFIG_HOME XDG_CACHE_HOME \
      DOCKER_CREDENTIAL_HARBOR_STORE DOCKER_CREDENTIAL_HARBOR_CACHE_TTL \
      DOCKER_CREDENTIAL_HARBOR_TIMEOUT DOCKER_CREDENTIAL_HARBOR_REGISTRY \
      GNOME_KEYRING_CONTROL SSH_AUTH_SOCK DBUS_SESSION_BUS_ADDRESS
export LC_ALL=C
export HOME=$T/home XDG_RUNTIME_DIR=$T/run
export GNUPGHOME=$T/gnupg PASSWORD_STORE_DIR=$T/pass
mkdir -m 700 "$HOME" "$XDG_RUNTIME_DIR" "$GNUPGHOME" "$T/home-ku" "$T/home-pass" "$T/pass-harbor"
mkdir -p "$T/bin" "$T/in" "$T/conc"
# A private copy: others rebuilding target/ during the run cannot change it.
install -m 755 "$SRC_BIN" "$T/bin/docker-credential-harbor"
B=$T/bin/docker-credential-harbor

# --- D-Bus session + gnome-keyring (secrets component, unlocked)
say "starting a private D-Bus session and gnome-keyring"
out=$(dbus-daemon --session --fork --print-address=1 --print-pid=1 \
      --address="unix:path=$XDG_RUNTIME_DIR/bus") || die "dbus-daemon failed"
export DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p <<<"$out")
DBUS_PID=$(sed -n 2p <<<"$out")
printf 'test-password' | gnome-keyring-daemon --unlock --components=secrets --daemonize >"$T/gkd.env" 2>"$T/gkd.err" \
    || die "gnome-keyring-daemon failed: $(cat "$T/gkd.err")"
for _ in $(seq 100); do
    KEYRING_PID=$(secrets_owner_pid || true)
    [[ -n $KEYRING_PID ]] && break
    sleep 0.1
done
[[ -n $KEYRING_PID ]] || die "gnome-keyring did not register org.freedesktop.secrets on the bus"
for _ in $(seq 100); do
    [[ $(default_locked || true) == false ]] && break
    sleep 0.1
done
[[ $(default_locked || true) == false ]] || die "gnome-keyring's default (login) collection is not unlocked"

# --- gpg + pass
say "generating a throw-away gpg key and initialising pass"
gpg --batch --quiet --passphrase '' --quick-gen-key 'bench <bench@example.invalid>' default default never \
    >/dev/null 2>"$T/gpg.err" || die "gpg key generation failed: $(cat "$T/gpg.err")"
FPR=$(gpg --list-keys --with-colons 2>/dev/null | awk -F: '/^fpr/{print $10; exit}')
[[ -n $FPR ]] || die "no gpg fingerprint"
pass init "$FPR" >/dev/null || die "pass init failed"
# Ours in a store of its own with the same key (what `pass init` writes), so
# docker-credential-pass's column reads only what it stored.
printf '%s\n' "$FPR" >"$T/pass-harbor/.gpg-id"
# Forced: the private Secret Service would win the automatic choice.
PASSENV=(HOME="$T/home-pass" PASSWORD_STORE_DIR="$T/pass-harbor" DOCKER_CREDENTIAL_HARBOR_STORE=pass)
PASSSH="export HOME=$T/home-pass PASSWORD_STORE_DIR=$T/pass-harbor DOCKER_CREDENTIAL_HARBOR_STORE=pass"

# --- inputs
secret_of() { printf 's3cr3t-%s-%s' "$1" "$(printf '%s' "$1" | sha256sum | cut -c1-21)"; }  # 32 chars
store_json() { printf '{"ServerURL":"%s","Username":"%s","Secret":"%s"}' "$1" "$2" "$3"; }
for i in $(seq -f %03g 1 "$N"); do
    host=reg-$i.example.com
    store_json "$host" "user-$i" "$(secret_of "$i")" >"$T/in/store-$i"
    printf '%s' "$host" >"$T/in/get-$i"
done
sec=$(secret_of 001); ((${#sec} == 32)) || die "secret length ${#sec} != 32"
GETK=$(printf %03g $(((N + 1) / 2)))     # the key every get reads
STOREK=$(printf %03g "$N")               # the key every store re-stores

# --- fill every helper with the same N registries
fill() {  # name, then the command (reads stdin)
    local name=$1 t0 t1; shift
    t0=$(date +%s%N)
    for i in $(seq -f %03g 1 "$N"); do
        "$@" store <"$T/in/store-$i" >"$T/fill.out" 2>"$T/fill.err" \
            || die "$name store of reg-$i failed: $(cat "$T/fill.out" "$T/fill.err")"
    done
    t1=$(date +%s%N)
    say "$(printf '  %-36s %d stores in %d ms' "$name" "$N" $(((t1 - t0) / 1000000)))"
}
say "storing $N registries in each helper"
fill "docker-credential-harbor (SS)" "$B"
fill "docker-credential-harbor (keyutils)" env HOME="$T/home-ku" DOCKER_CREDENTIAL_HARBOR_STORE=keyutils "$B"
KU_STORED=1
fill "docker-credential-harbor (pass)" env "${PASSENV[@]}" "$B"
fill "docker-credential-secretservice" "$SS"
fill "docker-credential-pass" "$PASSH"

# --- correctness of what is about to be timed
expect_get() {  # label, expected secret, command...
    local label=$1 want=$2 got; shift 2
    got=$("$@" get <"$T/in/get-$GETK" 2>"$T/chk.err") || die "$label get failed: $got $(cat "$T/chk.err")"
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["Secret"]==sys.argv[2] and d["ServerURL"]==sys.argv[3] else 1)' \
        "$got" "$want" "reg-$GETK.example.com" || die "$label get returned the wrong credentials: $got"
}
expect_list() {  # label, command...
    local label=$1 got; shift
    got=$("$@" list 2>/dev/null </dev/null) || die "$label list failed"
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if len(d)==int(sys.argv[2]) else 1)' "$got" "$N" \
        || die "$label list does not have $N entries"
}
want=$(secret_of "$GETK")
expect_get harbor "$want" "$B"       # also primes the cache
expect_get harbor-cold "$want" env DOCKER_CREDENTIAL_HARBOR_CACHE_TTL=0 "$B"
expect_get harbor-keyutils "$want" env HOME="$T/home-ku" DOCKER_CREDENTIAL_HARBOR_STORE=keyutils "$B"
expect_get harbor-pass-cold "$want" env "${PASSENV[@]}" DOCKER_CREDENTIAL_HARBOR_CACHE_TTL=0 "$B"
expect_get harbor-pass "$want" env "${PASSENV[@]}" "$B"
expect_get secretservice "$want" "$SS"
expect_get pass "$want" "$PASSH"
expect_list harbor "$B"
expect_list secretservice "$SS"
expect_list pass "$PASSH"
keyctl search @s user "docker-credential-harbor-cache:reg-$GETK.example.com" >/dev/null 2>&1 \
    || say "warning: no cache entry in the session keyring after a get; the warm row is not warm"

# --- timings. hyperfine 1.15 has no --input, so every command is
#   sh -c 'exec HELPER ACTION < FILE'
# and a bare sh -c 'true < FILE' baseline (same shell start-up and redirect)
# is measured in each group and subtracted from its medians.
LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
HF=(hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --style basic)
run_group() {  # group name, then name=command pairs
    local g=$1; shift
    local args=() pair
    for pair in "$@"; do args+=(-n "${pair%%=*}" "${pair#*=}"); done
    say "timing: $g"
    "${HF[@]}" --export-json "$RAW/$g.json" "${args[@]}" >"$RAW/$g.log" 2>&1 \
        || { cat "$RAW/$g.log" >&2; die "hyperfine failed for $g"; }
}
GIN=$T/in/get-$GETK
SIN=$T/in/store-$STOREK
run_group get \
    "baseline=sh -c 'true < $GIN'" \
    "harbor-warm=sh -c 'exec $B get < $GIN'" \
    "harbor-cold=sh -c 'export DOCKER_CREDENTIAL_HARBOR_CACHE_TTL=0; exec $B get < $GIN'" \
    "harbor-keyutils=sh -c 'export HOME=$T/home-ku DOCKER_CREDENTIAL_HARBOR_STORE=keyutils; exec $B get < $GIN'" \
    "harbor-pass-warm=sh -c '$PASSSH; exec $B get < $GIN'" \
    "harbor-pass-cold=sh -c '$PASSSH DOCKER_CREDENTIAL_HARBOR_CACHE_TTL=0; exec $B get < $GIN'" \
    "secretservice=sh -c 'exec $SS get < $GIN'" \
    "pass=sh -c 'exec $PASSH get < $GIN'"
run_group list \
    "baseline=sh -c 'true < /dev/null'" \
    "harbor=sh -c 'exec $B list < /dev/null'" \
    "secretservice=sh -c 'exec $SS list < /dev/null'" \
    "pass=sh -c 'exec $PASSH list < /dev/null'"
run_group store \
    "baseline=sh -c 'true < $SIN'" \
    "harbor=sh -c 'exec $B store < $SIN'" \
    "harbor-keyutils=sh -c 'export HOME=$T/home-ku DOCKER_CREDENTIAL_HARBOR_STORE=keyutils; exec $B store < $SIN'" \
    "secretservice=sh -c 'exec $SS store < $SIN'" \
    "pass=sh -c 'exec $PASSH store < $SIN'"
# --- the floor: `keyctl pipe` reading the very key a warm get reads (the
# cache copy), in interleaved rounds with the helper's gets (hyperfine runs
# one command's runs after another's, so drift would skew a ratio).
# The cold rows (CACHE_TTL=0) drop the cached copy on purpose: one warm get
# puts it back.
"$B" get <"$GIN" >/dev/null 2>&1 || die "get failed before the floor"
CACHE_ID=$(keyctl search @s user "docker-credential-harbor-cache:reg-$GETK.example.com") \
    || die "no cache entry to read for the floor"
KEYCTL=$(command -v keyctl)
ROUNDS=${BENCH_ROUNDS:-300}
say "timing: $ROUNDS interleaved rounds against keyctl pipe"
python3 - "$T/floor-spec.json" <<PY
import json, sys
spec = {"rounds": $ROUNDS, "warmup": 10, "commands": [
    {"name": "keyctl-pipe", "argv": ["$KEYCTL", "pipe", "$CACHE_ID"]},
    {"name": "harbor-warm", "argv": ["$B", "get"], "stdin": "$GIN"},
    {"name": "harbor-keyutils", "argv": ["$B", "get"], "stdin": "$GIN",
     "env": {"HOME": "$T/home-ku", "DOCKER_CREDENTIAL_HARBOR_STORE": "keyutils"}},
]}
json.dump(spec, open(sys.argv[1], "w"))
PY
python3 "$HERE/interleave.py" "$T/floor-spec.json" "$RAW/floor.json" || die "interleaved timing failed"

# The store runs must not have broken anything.
expect_get harbor-after-store "$want" "$B"
expect_list harbor-after-store "$B"

# --- peak RSS (directly on the binary, no shell in between)
peak_rss() {  # largest of 5 runs, KiB
    local max=0 v
    for _ in 1 2 3 4 5; do
        "$@" -o "$T/rss" -f %M "$B" get <"$GIN" >/dev/null 2>&1 || die "get under /usr/bin/time failed"
        v=$(tail -n1 "$T/rss")
        ((v > max)) && max=$v
    done
    echo "$max"
}
say "peak RSS"
RSS_WARM=$(peak_rss /usr/bin/time)
RSS_COLD=$(peak_rss env DOCKER_CREDENTIAL_HARBOR_CACHE_TTL=0 /usr/bin/time)
RSS_KU=$(peak_rss env HOME="$T/home-ku" DOCKER_CREDENTIAL_HARBOR_STORE=keyutils /usr/bin/time)

# --- concurrency: CONC stores of new registries and CONC gets of stored ones,
# all at once; then CONC concurrent gets read every new registry back.
say "concurrency: $CONC stores + $CONC gets at once, then $CONC read-backs"
for j in $(seq -f %02g 1 "$CONC"); do
    store_json "conc-$j.example.com" "cuser-$j" "$(secret_of "c$j")" >"$T/conc/store-$j"
    printf 'conc-%s.example.com' "$j" >"$T/conc/get-$j"
done
t0=$(date +%s%N)
pids=()
for j in $(seq -f %02g 1 "$CONC"); do
    "$B" store <"$T/conc/store-$j" >"$T/conc/store-$j.out" 2>&1 & pids+=($!)
    g=$(printf %03g $(((10#$j - 1) % N + 1)))
    "$B" get <"$T/in/get-$g" >"$T/conc/mix-$j.out" 2>&1 & pids+=($!)
done
STORE_OK=0 MIXGET_OK=0 k=0
for p in "${pids[@]}"; do
    if wait "$p"; then
        if ((k % 2 == 0)); then STORE_OK=$((STORE_OK + 1)); else MIXGET_OK=$((MIXGET_OK + 1)); fi
    fi
    k=$((k + 1))
done
t1=$(date +%s%N)
# Mixed gets must also have returned the right secret.
MIXGET_RIGHT=0
for j in $(seq -f %02g 1 "$CONC"); do
    g=$(printf %03g $(((10#$j - 1) % N + 1)))
    grep -qF "\"Secret\":\"$(secret_of "$g")\"" "$T/conc/mix-$j.out" && MIXGET_RIGHT=$((MIXGET_RIGHT + 1))
done
pids=()
for j in $(seq -f %02g 1 "$CONC"); do
    "$B" get <"$T/conc/get-$j" >"$T/conc/get-$j.out" 2>&1 & pids+=($!)
done
READ_OK=0
for p in "${pids[@]}"; do wait "$p" && READ_OK=$((READ_OK + 1)); done
t2=$(date +%s%N)
READ_RIGHT=0
for j in $(seq -f %02g 1 "$CONC"); do
    grep -qF "\"Secret\":\"$(secret_of "c$j")\"" "$T/conc/get-$j.out" && READ_RIGHT=$((READ_RIGHT + 1))
done
LISTED=$("$B" list </dev/null | python3 -c 'import json,sys; print(sum(1 for k in json.load(sys.stdin) if k.startswith("conc-")))')
CONC_MS1=$(((t1 - t0) / 1000000))
CONC_MS2=$(((t2 - t1) / 1000000))

# --- machine
CPU=$(awk -F': *' '/^model name/{print $2; exit}' /proc/cpuinfo)
MACHINE="$(nproc) CPUs, ${CPU:-unknown CPU}, Linux $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC'), load average $LOAD_BEFORE before the timings and $(cut -d' ' -f1 /proc/loadavg) after"
SIZE=$(stat -c %s "$SRC_BIN")
HFV=$(hyperfine --version)
REV=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(cd "$ROOT" && git status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock 2>/dev/null | head -c1 || true)

# --- report
export RAW N RUNS WARMUP CONC RSS_WARM RSS_COLD RSS_KU SIZE MACHINE HFV REV DIRTY \
       STORE_OK MIXGET_OK MIXGET_RIGHT READ_OK READ_RIGHT LISTED CONC_MS1 CONC_MS2
python3 - "$RESULTS/latest.md" <<'PY'
import json, os, sys

E = os.environ
raw = E["RAW"]

def medians(group):
    with open(os.path.join(raw, group + ".json")) as f:
        res = json.load(f)["results"]
    m = {r["command"]: r["median"] * 1000.0 for r in res}
    base = m.pop("baseline")
    return {k: max(v - base, 0.0) for k, v in m.items()}, base

get, get_base = medians("get")
lst, list_base = medians("list")
sto, store_base = medians("store")

def ms(v):
    return "n/a" if v is None else f"{v:.2f}"

def ratio(peer, ours):
    return f"{peer / ours:.1f}x" if ours > 0 else "n/a"

with open(os.path.join(raw, "floor.json")) as f:
    floor = json.load(f)

rows = [
    ("get, warm (cache on)", get["harbor-warm"], get["secretservice"], get["pass"]),
    ("get, cold (CACHE_TTL=0)", get["harbor-cold"], get["secretservice"], get["pass"]),
    ("get, keyutils store", get["harbor-keyutils"], get["secretservice"], get["pass"]),
    ("get, pass store, warm", get["harbor-pass-warm"], get["secretservice"], get["pass"]),
    ("get, pass store, cold (CACHE_TTL=0)", get["harbor-pass-cold"], get["secretservice"], get["pass"]),
    (f"list ({E['N']} stored)", lst["harbor"], lst["secretservice"], lst["pass"]),
    ("store (re-store one key)", sto["harbor"], sto["secretservice"], sto["pass"]),
    ("store, keyutils store", sto["harbor-keyutils"], sto["secretservice"], sto["pass"]),
]
out = []
out.append(f"| operation | docker-credential-harbor (ms) | docker-credential-secretservice (ms) "
           f"| docker-credential-pass (ms) | ratio secretservice/ours | ratio pass/ours |")
out.append("|---|--:|--:|--:|--:|--:|")
for name, ours, ss, ps in rows:
    out.append(f"| {name} | {ms(ours)} | {ms(ss)} | {ms(ps)} | {ratio(ss, ours)} | {ratio(ps, ours)} |")
out.append("")
out.append(f"Medians of {E['RUNS']} runs after {E['WARMUP']} warm-ups ({E['HFV']}, `-N`), each command "
           f"`sh -c 'exec HELPER ACTION < FILE'`, minus the median of a bare `sh -c 'true < FILE'` "
           f"baseline (get {get_base:.2f} ms, list {list_base:.2f} ms, store {store_base:.2f} ms).")
out.append("")

fc = floor["commands"]
out.append(f"Against the floor, `keyctl pipe` of the cache key a warm get reads ({floor['rounds']} "
           f"interleaved rounds, whole processes, no shell; median of each round's ratio, quartiles in brackets):")
out.append("")
out.append("| command | median (ms) | ratio to keyctl pipe |")
out.append("|---|--:|--:|")
for name in ("keyctl-pipe", "harbor-warm", "harbor-keyutils"):
    c = fc[name]
    out.append(f"| {name} | {c['median_ms']:.2f} | {c['ratio_median']:.2f}x "
               f"[{c['ratio_q1']:.2f}-{c['ratio_q3']:.2f}] |")
out.append("")

rss_w, rss_c, rss_k = (int(E[k]) for k in ("RSS_WARM", "RSS_COLD", "RSS_KU"))
size = int(E["SIZE"])
mib = lambda kib: kib / 1024.0
targets = [
    ("warm get <= 1.5x keyctl pipe", fc["harbor-warm"]["ratio_median"] <= 1.5,
     f"{fc['harbor-warm']['ratio_median']:.2f}x"),
    ("warm get <= 2 ms", get["harbor-warm"] <= 2.0, f"{get['harbor-warm']:.2f} ms"),
    ("warm get <= 1/6 of secretservice get", get["harbor-warm"] * 6 <= get["secretservice"],
     f"{get['harbor-warm']:.2f} ms vs {get['secretservice'] / 6:.2f} ms"),
    ("cold get <= 1/2 of secretservice get", get["harbor-cold"] * 2 <= get["secretservice"],
     f"{get['harbor-cold']:.2f} ms vs {get['secretservice'] / 2:.2f} ms"),
    (f"list ({E['N']}) <= 5 ms", lst["harbor"] <= 5.0, f"{lst['harbor']:.2f} ms"),
    ("pass-store warm get <= 2 ms", get["harbor-pass-warm"] <= 2.0,
     f"{get['harbor-pass-warm']:.2f} ms"),
    ("pass-store cold get <= docker-credential-pass get", get["harbor-pass-cold"] <= get["pass"],
     f"{get['harbor-pass-cold']:.2f} ms vs {get['pass']:.2f} ms"),
    ("store <= secretservice store", sto["harbor"] <= sto["secretservice"],
     f"{sto['harbor']:.2f} ms vs {sto['secretservice']:.2f} ms"),
    ("peak RSS of get <= 8 MiB", max(rss_w, rss_c) <= 8 * 1024,
     f"{mib(max(rss_w, rss_c)):.1f} MiB"),
]
out.append("Targets (informational):")
out.append("")
for name, ok, detail in targets:
    out.append(f"- {'PASS' if ok else 'MISS'} {name}: {detail}")
out.append("")
out.append(f"- Peak RSS of `get` (max of 5, `/usr/bin/time -f %M`): warm {rss_w} KiB ({mib(rss_w):.1f} MiB), "
           f"cold {rss_c} KiB ({mib(rss_c):.1f} MiB), keyutils {rss_k} KiB ({mib(rss_k):.1f} MiB)")
out.append(f"- Release binary: {size} bytes ({size / 1048576:.2f} MiB), commit {E['REV']}"
           + (" + uncommitted changes" if E.get("DIRTY") else ""))
c = E["CONC"]
out.append(f"- Concurrency ({c} `store`s of new registries + {c} `get`s at once, {E['CONC_MS1']} ms): "
           f"store ok {E['STORE_OK']}/{c}, get ok {E['MIXGET_OK']}/{c} (right secret {E['MIXGET_RIGHT']}/{c}); "
           f"then {c} concurrent read-backs ({E['CONC_MS2']} ms): ok {E['READ_OK']}/{c}, "
           f"own secret {E['READ_RIGHT']}/{c}; `list` shows {E['LISTED']}/{c}")
out.append(f"- Machine: {E['MACHINE']}")
text = "\n".join(out) + "\n"
sys.stdout.write("\n" + text)
with open(sys.argv[1], "w") as f:
    f.write(text)
PY
say "wrote $RESULTS/latest.md (raw hyperfine output in $RAW)"
