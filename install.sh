#!/bin/sh
# Build docker-credential-harbor, install it, and point docker and podman at it.
#
#   ./install.sh                   build, install into $PREFIX/bin, run `configure`
#   ./install.sh --registry R      configure registry R instead of the default (repeatable)
#   ./install.sh --no-configure    install only
#   ./install.sh --glibc           Linux: build against the system's C library, not the static build
#   ./install.sh --uninstall       undo configure and remove the binary
#
# PREFIX defaults to ~/.local, or /usr/local when run as root. Safe to run again.
set -eu

name=docker-credential-harbor
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)

if [ -z "${PREFIX:-}" ]; then
    if [ "$(id -u)" = 0 ]; then PREFIX=/usr/local; else PREFIX="$HOME/.local"; fi
fi
bindir="$PREFIX/bin"
target="$bindir/$name"

say() { printf '%s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

uninstall=0
configure=1
configure_args=
glibc=0
while [ $# -gt 0 ]; do
    case "$1" in
        --uninstall) uninstall=1 ;;
        --no-configure) configure=0 ;;
        --glibc) glibc=1 ;;
        --registry)
            [ $# -ge 2 ] || die "--registry needs a value"
            configure_args="$configure_args --registry $2"; shift ;;
        --registry=*) configure_args="$configure_args --registry ${1#--registry=}" ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
    shift
done

if [ "$uninstall" = 1 ]; then
    if [ -x "$target" ]; then
        # shellcheck disable=SC2086
        "$target" configure --undo $configure_args || die "configure --undo failed; binary left in place"
        rm -f "$target"
        say "Removed $target."
    else
        say "$target is not installed; nothing to remove."
    fi
    say "Secrets you stored stay in the OS keychain; run '$name logout REGISTRY' before uninstalling to remove them."
    exit 0
fi

command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust first (https://rustup.rs), then run this again"
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || command -v clang >/dev/null 2>&1 \
    || die "no C compiler found (cc, gcc or clang): install one (Debian: apt install build-essential; macOS: xcode-select --install)"

# On Linux the static musl build, as the release ships it (docs/releases.md):
# a warm `get` starts in half the time of a glibc build. It needs Rust's musl
# target and musl-gcc (the TLS library has C in it).
triple=
case "$(uname -s)/$(uname -m)" in
    Linux/x86_64|Linux/aarch64) [ "$glibc" = 1 ] || triple="$(uname -m)-unknown-linux-musl" ;;
esac
if [ -n "$triple" ]; then
    instead="or run ./install.sh --glibc for a build against this system's C library (a warm get then takes about twice as long)"
    command -v musl-gcc >/dev/null 2>&1 \
        || die "the static build needs musl-gcc: install it (Debian, Ubuntu: apt install musl-tools; Fedora: dnf install musl-gcc), $instead"
    if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
        command -v rustup >/dev/null 2>&1 || die "the static build needs Rust's $triple target, which only rustup adds; $instead"
        say "Adding Rust's $triple target (rustup)..."
        rustup target add "$triple" >/dev/null || die "rustup target add $triple failed; $instead"
    fi
fi

# The release's own profile (Cargo.toml: dist), and for the musl target the
# release's link settings (.cargo/config.toml).
say "Building $name (${triple:-native}, release)..."
(cd "$here" && cargo build --profile dist --locked --quiet ${triple:+--target "$triple"}) || die "cargo build failed"
built="${CARGO_TARGET_DIR:-$here/target}/${triple:+$triple/}dist/$name"
[ -x "$built" ] || die "build produced no $built"

mkdir -p "$bindir"
if [ -x "$target" ] && cmp -s "$built" "$target"; then
    say "$target is up to date."
else
    # Copy then rename, so a docker pull running now never sees a half-written binary.
    cp "$built" "$target.tmp.$$"
    chmod 0755 "$target.tmp.$$"
    mv -f "$target.tmp.$$" "$target"
    say "Installed $target."
fi

case ":$PATH:" in
    *":$bindir:"*) ;;
    *) say "warning: $bindir is not on PATH; docker and podman need to find $name there." >&2
       say "         add this to your shell profile: export PATH=\"$bindir:\$PATH\"" >&2 ;;
esac

if [ "$configure" = 1 ]; then
    # shellcheck disable=SC2086
    PATH="$bindir:$PATH" "$target" configure $configure_args \
        || say "warning: configure reported a problem (above); fix it and run '$name configure' again" >&2
fi
say "Next: $name login    (paste the CLI secret from your Harbor User Profile)"
