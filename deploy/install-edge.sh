#!/bin/bash
# Install the watertel edge agent on a Debian / Raspberry Pi OS gateway from a wheel (`make dist`).
#
#   sudo deploy/install-edge.sh [--wheel dist/watertel-X-py3-none-any.whl] [--gateway gw-0001]
#   sudo deploy/install-edge.sh --uninstall [--purge]
#
# What it installs (each path under --root, default /):
#   /opt/watertel                 a venv with watertel[edge] from the wheel (no compiler needed)
#   /opt/watertel/share/deploy    this folder's README.md and edge.example.yaml (the unit's Documentation=)
#   user watertel                 a system user (group watertel, also in dialout for RS-485 adapters)
#   /etc/watertel/edge.yaml       the example config (gw-0001 replaced by --gateway), never overwritten
#   /etc/watertel/keys            `watertel keys new`: <gateway>.key.pem (0600, owned by watertel), .pub.pem
#   /etc/watertel/{secrets,tls}   empty: the broker password and CA go there (edge check says so)
#   /var/lib/watertel             the buffer (0700, owned by watertel)
#   TEXTFILE_DIR                  node_exporter's textfile folder: the agent's status and its .prom
#   /etc/systemd/system/watertel-edge.service (+ .d/textfile.conf letting the agent write TEXTFILE_DIR)
#
# --dry-run prints every step and changes nothing. --uninstall removes the venv, the unit and the
# agent's textfile metrics, keeping /etc/watertel and /var/lib/watertel (the keys, the unsent buffer)
# unless --purge. User creation, ownership and systemctl are skipped, with a line saying so, when
# not run as root or when --root is not / (a scratch root for tests: the venv there is not movable).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=/
WHEEL=""
PYTHON=python3
GATEWAY=gw-0001
TEXTFILE_DIR=/var/lib/prometheus/node-exporter
DRY_RUN=0
MODE=install
PURGE=0
USER_NAME=watertel
EXAMPLE_GATEWAY=gw-0001

usage() {
    sed -n '2,21s/^# \{0,1\}//p' "$0"
    cat <<EOF
Options:
  --wheel FILE         the wheel to install (default: the newest $HERE/../dist/watertel-*.whl)
  --gateway ID         the gateway id for a new config and key (default: $GATEWAY)
  --python PY          the Python (>= 3.11) that makes the venv (default: $PYTHON)
  --textfile-dir DIR   node_exporter's textfile folder (default: $TEXTFILE_DIR)
  --root DIR           install under DIR instead of / (tests)
  --dry-run            print every step, change nothing
  --uninstall          remove what was installed (keeps /etc/watertel and /var/lib/watertel)
  --purge              with --uninstall: also /etc/watertel, /var/lib/watertel and the user
EOF
}

die() { echo "install-edge: error: $*" >&2; exit 1; }
say() { echo "install-edge: $*"; }

# A step: printed, then run unless --dry-run.
step() {
    echo "+ $*"
    [ "$DRY_RUN" = 1 ] || "$@"
}

# A step writing stdin to a file, printed as "write FILE"; the content is not secret (no key material).
write_file() {
    local mode=$1 target=$2 tmp
    echo "+ write $target (mode $mode)"
    if [ "$DRY_RUN" = 1 ]; then cat >/dev/null; return; fi
    tmp=$(mktemp "$target.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    mv "$tmp" "$target"
}

dry_note() { if [ "$DRY_RUN" = 1 ]; then echo " (dry run: nothing is changed)"; fi; }

# Whether user creation, ownership and systemctl apply: root, installing into the real system.
system_steps() { [ "$(id -u)" = 0 ] && [ "$ROOT" = / ]; }

skip_reason() {
    if [ "$ROOT" != / ]; then echo "--root is $ROOT, not /"; else echo "not running as root"; fi
}

# chown/chgrp only where the user exists (the real system, as root); else one line saying so.
own() {
    local owner=$1; shift
    if system_steps; then step chown "$owner" "$@"; else say "skip: chown $owner $* ($(skip_reason))"; fi
}

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
            --wheel) WHEEL=${2:?--wheel needs a file}; shift ;;
            --gateway) GATEWAY=${2:?--gateway needs an id}; shift ;;
            --python) PYTHON=${2:?--python needs a command}; shift ;;
            --textfile-dir) TEXTFILE_DIR=${2:?--textfile-dir needs a folder}; shift ;;
            --root) ROOT=${2:?--root needs a folder}; shift ;;
            --dry-run) DRY_RUN=1 ;;
            --uninstall) MODE=uninstall ;;
            --purge) PURGE=1 ;;
            -h|--help) usage; exit 0 ;;
            *) usage >&2; die "unknown option $1" ;;
        esac
        shift
    done
    [ "$PURGE" = 0 ] || [ "$MODE" = uninstall ] || die "--purge goes with --uninstall"
    case $GATEWAY in
        [A-Za-z0-9]*) ;;
        *) die "--gateway $GATEWAY: must start with a letter or digit" ;;
    esac
    case $GATEWAY in *[!A-Za-z0-9._-]*) die "--gateway $GATEWAY: only letters, digits, . _ - (it names files and topics)" ;; esac
    case $TEXTFILE_DIR in /*) ;; *) die "--textfile-dir $TEXTFILE_DIR: give an absolute path" ;; esac
    [ -d "$ROOT" ] || die "--root $ROOT is not a folder"
    ROOT=$(cd "$ROOT" && pwd)
}

# ROOT-prefixed path: /etc/x -> $ROOT/etc/x (no double slash when ROOT is /).
at() { if [ "$ROOT" = / ]; then echo "$1"; else echo "$ROOT$1"; fi; }

find_wheel() {
    if [ -z "$WHEEL" ]; then
        WHEEL=$(find "$HERE/../dist" "$HERE" -maxdepth 1 -name 'watertel-*.whl' 2>/dev/null | sort -V | tail -n 1)
        [ -n "$WHEEL" ] || die "no wheel in $HERE/../dist: run \`make dist\` in a clone, or give --wheel FILE"
    fi
    [ -f "$WHEEL" ] || die "--wheel $WHEEL: no such file"
    WHEEL=$(cd "$(dirname "$WHEEL")" && pwd)/$(basename "$WHEEL")
}

check_python() {
    command -v "$PYTHON" >/dev/null || die "$PYTHON not found: apt-get install python3 python3-venv"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$PYTHON is older than 3.11 (Debian 12 / Raspberry Pi OS bookworm have 3.11)"
    "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || die "$PYTHON cannot make a venv: apt-get install python3-venv"
}

create_user() {
    if ! system_steps; then say "skip: creating system user $USER_NAME ($(skip_reason))"; return; fi
    if id "$USER_NAME" >/dev/null 2>&1; then say "keep: user $USER_NAME exists"; return; fi
    local groups=()
    getent group dialout >/dev/null && groups=(--groups dialout)
    step useradd --system --user-group "${groups[@]}" --home-dir /var/lib/watertel --no-create-home \
        --shell /usr/sbin/nologin "$USER_NAME"
}

install_venv() {
    local venv
    venv=$(at /opt/watertel)
    if [ -x "$venv/bin/python" ]; then say "keep: venv $venv (upgrading watertel in it)"; else step "$PYTHON" -m venv "$venv"; fi
    step "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${WHEEL}[edge]"
    step install -d -m 0755 "$venv/share/deploy"
    step install -m 0644 "$HERE/README.md" "$HERE/edge.example.yaml" "$venv/share/deploy/"
}

install_config() {
    local etc config
    etc=$(at /etc/watertel)
    config=$etc/edge.yaml
    step install -d -m 0750 "$etc" "$etc/keys" "$etc/secrets" "$etc/tls"
    own "root:$USER_NAME" "$etc" "$etc/keys" "$etc/secrets" "$etc/tls"
    if [ -e "$config" ]; then say "keep: $config exists (never overwritten)"; return; fi
    {
        sed "s/$EXAMPLE_GATEWAY/$GATEWAY/g" "$HERE/edge.example.yaml"
        printf '\n# Written by install-edge.sh: the status (watertel edge status) and, beside it, its .prom\n'
        printf '# for node_exporter'"'"'s textfile collector (--collector.textfile.directory=%s).\n' "$TEXTFILE_DIR"
        printf 'status_file: %s/watertel-edge.json\n' "$TEXTFILE_DIR"
    } | write_file 0640 "$config"
    own "root:$USER_NAME" "$config"
}

install_key() {
    local keys key
    keys=$(at /etc/watertel/keys)
    key=$keys/$GATEWAY.key.pem
    if [ -e "$key" ]; then say "keep: $key exists (never overwritten)"; return; fi
    step "$(at /opt/watertel)/bin/watertel" keys new --gateway "$GATEWAY" --out "$keys"
    step chmod 0600 "$key"
    # both halves: `edge check` (as watertel) compares the key with the public key beside it
    own "$USER_NAME:$USER_NAME" "$key" "$keys/$GATEWAY.pub.pem"
}

install_state() {
    local state textfile
    state=$(at /var/lib/watertel)
    textfile=$(at "$TEXTFILE_DIR")
    step install -d -m 0700 "$state"
    own "$USER_NAME:$USER_NAME" "$state"
    if [ -d "$textfile" ]; then
        say "keep: $textfile exists"
    else
        step install -d -m 0755 "$textfile"
        echo "$TEXTFILE_DIR" | write_file 0644 "$(at /opt/watertel)/share/created-textfile-dir"
    fi
    grant_textfile "$textfile"
}

# The agent (user watertel) writes its status there by rename, so it needs write access to the
# folder: an ACL for that one user where setfacl exists, else the folder's group.
grant_textfile() {
    if ! system_steps; then say "skip: giving $USER_NAME write access to $1 ($(skip_reason))"; return; fi
    if command -v setfacl >/dev/null; then step setfacl -m "u:$USER_NAME:rwx" "$1"; return; fi
    if [ -d "$1" ] && [ "$(stat -c %G "$1")" != "$USER_NAME" ]; then  # what --uninstall puts back
        stat -c '%G %a' "$1" | write_file 0644 "$(at /opt/watertel)/share/textfile-dir-was"
    fi
    step chgrp "$USER_NAME" "$1"
    step chmod g+rwx "$1"
}

install_unit() {
    local units unit
    units=$(at /etc/systemd/system)
    unit=$units/watertel-edge.service
    step install -d -m 0755 "$units" "$unit.d"
    step install -m 0644 "$HERE/systemd/watertel-edge.service" "$unit"
    write_file 0644 "$unit.d/textfile.conf" <<EOF
# Written by install-edge.sh: the agent writes its status and node_exporter metrics here
# (status_file in /etc/watertel/edge.yaml); ProtectSystem=strict leaves it read-only otherwise.
[Service]
ReadWritePaths=-$TEXTFILE_DIR
EOF
    if ! system_steps; then
        say "skip: systemctl daemon-reload and enable watertel-edge ($(skip_reason))"
    elif ! command -v systemctl >/dev/null; then
        say "skip: systemctl daemon-reload and enable watertel-edge (no systemctl here)"
    else
        step systemctl daemon-reload
        step systemctl enable watertel-edge.service
    fi
}

install_all() {
    find_wheel
    check_python
    say "installing $(basename "$WHEEL") under $ROOT$(dry_note)"
    create_user
    install_venv
    install_config
    install_key
    install_state
    install_unit
    cat <<EOF
install-edge: done. Next, on the gateway:
  1. edit $(at /etc/watertel/edge.yaml): brokers, buses and devices
  2. the broker's CA in $(at /etc/watertel/tls/ca.pem); the broker password in $(at /etc/watertel/secrets/mqtt-password)
     (umask 077; chown $USER_NAME: that file)
  3. sudo -u $USER_NAME /opt/watertel/bin/watertel edge check --config /etc/watertel/edge.yaml
  4. send $(at /etc/watertel/keys)/$GATEWAY.pub.pem (the public half) to the cloud's operator
  5. sudo systemctl start watertel-edge
EOF
}

remove() {
    local path
    for path in "$@"; do
        if [ -e "$path" ] || [ -L "$path" ]; then step rm -rf "$path"; fi
    done
}

uninstall_all() {
    local units created="" was_group="" was_mode=""
    units=$(at /etc/systemd/system)
    say "removing the edge agent under $ROOT$(dry_note)"
    if ! system_steps; then
        say "skip: systemctl disable --now watertel-edge ($(skip_reason))"
    elif ! command -v systemctl >/dev/null; then
        say "skip: systemctl disable --now watertel-edge (no systemctl here)"
    else
        step systemctl disable --now watertel-edge.service || true
    fi
    [ -f "$(at /opt/watertel)/share/created-textfile-dir" ] && created=$(cat "$(at /opt/watertel)/share/created-textfile-dir")
    [ -f "$(at /opt/watertel)/share/textfile-dir-was" ] && read -r was_group was_mode <"$(at /opt/watertel)/share/textfile-dir-was"
    remove "$units/watertel-edge.service" "$units/watertel-edge.service.d" "$(at /opt/watertel)" \
        "$(at "$TEXTFILE_DIR")/watertel-edge.json" "$(at "$TEXTFILE_DIR")/watertel-edge.prom"
    if system_steps && command -v setfacl >/dev/null && [ -d "$TEXTFILE_DIR" ]; then
        step setfacl -x "u:$USER_NAME" "$TEXTFILE_DIR" || true
    fi
    if [ -n "$was_group" ] && [ -d "$(at "$TEXTFILE_DIR")" ]; then
        step chgrp "$was_group" "$(at "$TEXTFILE_DIR")"
        step chmod "$was_mode" "$(at "$TEXTFILE_DIR")"
    fi
    if [ -n "$created" ] && [ -d "$(at "$created")" ]; then step rmdir --ignore-fail-on-non-empty "$(at "$created")"; fi
    if system_steps && command -v systemctl >/dev/null; then step systemctl daemon-reload; fi
    if [ "$PURGE" = 0 ]; then
        say "kept: $(at /etc/watertel) (config, keys) and $(at /var/lib/watertel) (the buffer); --purge removes them"
        return
    fi
    remove "$(at /etc/watertel)" "$(at /var/lib/watertel)"
    if ! system_steps; then say "skip: removing user $USER_NAME ($(skip_reason))"
    elif id "$USER_NAME" >/dev/null 2>&1; then step userdel "$USER_NAME"; fi
}

main() {
    parse_args "$@"
    if [ "$MODE" = uninstall ]; then uninstall_all; else install_all; fi
}

main "$@"
