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

# The third-party browser code the UI serves as its own assets (uPlot, for the event volume charts), pinned by
# tools/ui-vendor/package-lock.json. Installed under target/ so that the source tree holds no node_modules;
# installed again whenever the lockfile changes.
UI_VENDOR="$TOOLS/ui-vendor"
ensure_ui_vendor_deps() {
  if [ -d "$UI_VENDOR/node_modules/uplot" ] && cmp -s "$ROOT/tools/ui-vendor/package-lock.json" "$UI_VENDOR/package-lock.json"; then
    return
  fi
  log "installing the UI's vendored browser code (tools/ui-vendor: uplot)"
  mkdir -p "$UI_VENDOR"
  cp "$ROOT/tools/ui-vendor/package.json" "$ROOT/tools/ui-vendor/package-lock.json" "$UI_VENDOR/"
  (cd "$UI_VENDOR" && npm ci --no-audit --no-fund --silent)
}

ensure_smtp_server() {
  python3 -c 'import aiosmtpd' 2>/dev/null && return
  log "installing aiosmtpd (the SMTP server the tests send mail to)"
  python3 -m pip install --quiet aiosmtpd
}

# Azurite (Microsoft's Azure Storage emulator), pinned by tools/azurite/package-lock.json: the Blob Storage
# server the object-storage tests write to. Installed under target/, again whenever the lockfile changes.
AZURITE="$TOOLS/azurite"
ensure_azure_blob_server() {
  if [ -x "$AZURITE/node_modules/.bin/azurite-blob" ] && cmp -s "$ROOT/tools/azurite/package-lock.json" "$AZURITE/package-lock.json"; then
    return
  fi
  log "installing Azurite (tools/azurite: the Blob Storage server the object-storage tests write to)"
  mkdir -p "$AZURITE"
  cp "$ROOT/tools/azurite/package.json" "$ROOT/tools/azurite/package-lock.json" "$AZURITE/"
  (cd "$AZURITE" && npm ci --no-audit --no-fund --silent)
}

# moto's server: the S3 (with IAM enforced) that the object-storage step of validation is tested against.
MOTO_VERSION=5.2.5
ensure_s3_server() {
  [ "$(python3 -c 'import moto, flask; print(moto.__version__)' 2>/dev/null)" = "$MOTO_VERSION" ] && return
  log "installing moto[server] $MOTO_VERSION (the S3 server the object-storage tests write to)"
  python3 -m pip install --quiet "moto[server]==$MOTO_VERSION"
}
