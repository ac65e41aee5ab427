# Sourced by the other scripts: puts the project's build tools on PATH and installs the missing ones,
# idempotently. Everything here works offline against crates.io, npm and Debian only (../shared/BUILD.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/target/tools"
WASM_BINDGEN_VERSION="0.2.130" # must equal the wasm-bindgen crate pinned in Cargo.toml
BINARYEN_VERSION="132"         # Debian's binaryen is too old for what rustc emits
export PATH="$HOME/.cargo/bin:$TOOLS/node_modules/.bin:$PATH"

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_wasm_target() {
  rustup target list --installed | grep -qx wasm32-unknown-unknown && return
  log "installing the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
}

ensure_wasm_bindgen() {
  if command -v wasm-bindgen >/dev/null && [ "$(wasm-bindgen --version | awk '{print $2}')" = "$WASM_BINDGEN_VERSION" ]; then
    return
  fi
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 3 minutes, once per machine)"
  # Not --locked: its lockfile pins a webpki-roots version the registry here lacks.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
}

ensure_wasm_opt() {
  [ -x "$TOOLS/node_modules/.bin/wasm-opt" ] && return
  log "installing wasm-opt (binaryen $BINARYEN_VERSION from npm)"
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION"
}

# rustfmt and clippy come with the machine's toolchain (rustup cannot download them here).
ensure_rust_components() {
  cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1 && return
  echo "cargo fmt and cargo clippy are needed (rustup component add rustfmt clippy)" >&2
  return 1
}

ensure_build_tools() {
  ensure_wasm_target
  ensure_wasm_bindgen
  ensure_wasm_opt
}

ensure_chromium() {
  command -v chromium >/dev/null && return
  log "installing Chromium from Debian (browser tests)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

ensure_end2end_deps() {
  [ -d "$ROOT/end2end/node_modules/playwright-core" ] && [ -d "$ROOT/end2end/node_modules/@rudderstack/analytics-js" ] && return
  log "installing end2end npm packages (playwright-core, @rudderstack/analytics-js)"
  (cd "$ROOT/end2end" && npm ci --no-audit --no-fund --silent)
}

# npm packages pinned by tools/<name>/package-lock.json, installed under target/tools/<name> so that the source
# tree holds no node_modules; installed again whenever the lockfile changes.
ensure_pinned_npm() {
  local name="$1" installed="$2" what="$3"
  local dir="$TOOLS/$name"
  if [ -e "$dir/node_modules/$installed" ] && cmp -s "$ROOT/tools/$name/package-lock.json" "$dir/package-lock.json"; then
    return
  fi
  log "installing $what (tools/$name)"
  mkdir -p "$dir"
  cp "$ROOT/tools/$name/package.json" "$ROOT/tools/$name/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --silent)
}

# The third-party browser code the UI serves as its own assets (uPlot, for the event volume charts).
UI_VENDOR="$TOOLS/ui-vendor"
ensure_ui_vendor_deps() { ensure_pinned_npm ui-vendor uplot "the UI's vendored browser code (uplot)"; }

# Azurite, Microsoft's Azure Storage emulator: the Blob Storage server the object-storage tests write to.
ensure_azure_blob_server() {
  ensure_pinned_npm azurite .bin/azurite-blob "Azurite (the Blob Storage server the object-storage tests write to)"
}

ensure_smtp_server() {
  python3 -c 'import aiosmtpd' 2>/dev/null && return
  log "installing aiosmtpd (the SMTP server the tests send mail to)"
  python3 -m pip install --quiet aiosmtpd
}

# moto's server: the S3 (with IAM enforced) that the object-storage step of validation is tested against.
MOTO_VERSION=5.2.5
ensure_s3_server() {
  [ "$(python3 -c 'import moto, flask; print(moto.__version__)' 2>/dev/null)" = "$MOTO_VERSION" ] && return
  log "installing moto[server] $MOTO_VERSION (the S3 server the object-storage tests write to)"
  python3 -m pip install --quiet "moto[server]==$MOTO_VERSION"
}
