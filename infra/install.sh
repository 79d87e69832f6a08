#!/usr/bin/env bash
# Installs Tessera's development tools. Idempotent; run by `make test` and
# `make dev`. Needs only Rust and Python 3 with pip.
#   - <repo>/.venv with the pinned tools from infra/requirements-dev.txt
#     (cargo-lambda, ziglang, moto server, cfn-lint, schemathesis)
#   - redis-server (tests start their own instances on free ports)
#   - with TESSERA_BENCH=1 (make bench): Node.js and npm, for the rate-limit
#     benchmark's peer (rate-limiter-flexible, which the benchmark installs)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
reqs="$repo/infra/requirements-dev.txt"
stamp="$venv/.requirements.sha256"

say() { echo "install: $*"; }
die() { echo "install: error: $*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
have() { command -v "$1" >/dev/null 2>&1; }

sha256_of() {
  if have sha256sum; then
    sha256sum "$1" | cut -d' ' -f1
  elif have shasum; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
  fi
}

# --- rust components ---------------------------------------------------------
# `make test` checks formatting and lints; minimal rustup profiles lack both.
if have rustup; then
  for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
      rustup component add "$component"
    fi
  done
  say "rustfmt and clippy present"
fi

# --- virtualenv -------------------------------------------------------------
have python3 || die "python3 not found; install Python 3 first"

if [ -x "$venv/bin/python" ]; then
  say "virtualenv present ($venv)"
else
  # A failed attempt can leave a half-made venv (no pip); start clean.
  rm -rf "$venv"
  if python3 -m venv "$venv" >/dev/null 2>&1; then
    say "virtualenv created ($venv)"
  elif is_root && have apt-get; then
    # Debian/Ubuntu ship venv separately from python3.
    rm -rf "$venv"
    say "python3 -m venv failed; installing python3-venv with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv" || die "python3 -m venv still fails after installing python3-venv"
    say "virtualenv created ($venv)"
  else
    rm -rf "$venv"
    die "python3 -m venv failed. On Debian/Ubuntu: sudo apt-get install python3-venv; then rerun."
  fi
fi

# --- python tools -----------------------------------------------------------
want="$(sha256_of "$reqs")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "python tools up to date"
else
  say "installing python tools from infra/requirements-dev.txt"
  rm -f "$stamp"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$reqs"
  echo "$want" > "$stamp"
  say "python tools installed"
fi

# --- redis-server -----------------------------------------------------------
if have redis-server; then
  say "redis-server present"
elif is_root && have apt-get; then
  say "installing redis-server with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  have redis-server || die "redis-server still not on PATH after apt-get install"
  # The Debian package may start a service on 6379; tests do not use it.
  say "redis-server installed"
else
  cat >&2 <<'MSG'
install: error: redis-server not found (tests start their own instances).
  Debian/Ubuntu: sudo apt-get install redis-server
  macOS:         brew install redis
  then rerun this script.
MSG
  exit 1
fi

# --- Node.js, for make bench only --------------------------------------------
if [ "${TESSERA_BENCH:-0}" = 1 ]; then
  if have node && have npm; then
    say "node $(node --version) present"
  elif is_root && have apt-get; then
    say "installing nodejs and npm with apt-get (make bench's rate-limit peer)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    die "make bench needs Node.js 18+ and npm (Debian/Ubuntu: sudo apt-get install nodejs npm)"
  fi
fi
