// Gives the built UI assets content-hashed names and writes each one precompressed, brotli and gzip, beside
// it (called by scripts/build-site). A hashed name changes whenever the content does, so the server can let
// browsers keep them for a year (`immutable`); the compressed copies are made once, at build time, at the
// highest levels, rather than per request.
//
//   node scripts/precompress-assets.mjs <site root>
//
// Writes <site root>/hash.txt (`js: <hash>` …), the file Leptos' HydrationScripts and HashedStylesheet read to
// name the assets in every page, and prints the sizes.
//
// The lazy routes' chunks (tools/wasm-split) are hashed too: each chunk (`split_*.wasm`, `chunk_*.wasm`), then
// the loader that fetches them, `__wasm_split.<placeholder>.js`, which the main module's glue imports, and which
// imports that glue back (it must be the very module the page loaded, the one that holds the running wasm). The
// two name each other, so their names are both derived from their contents taken together, before either
// name is written into the other. The main wasm names the loader too (as the module of its imports: the
// placeholder has the hash's length, so the name is replaced in place). Then the manifest (split point →
// the chunks it needs), which the server reads to preload a lazy page's chunks. hash.txt gets `split:` and
// `manifest:` lines, as cargo-leptos writes them.
//
// uPlot's script and stylesheet (`uplot.js`, `uplot.css`: the charts, loaded by the pages that draw one) are
// hashed the same way, under `uplot-js:` and `uplot-css:` lines that Leptos ignores and the page shell reads.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, readdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const site = process.argv[2];
if (!site) {
  console.error('usage: precompress-assets.mjs <site root>');
  process.exit(2);
}
const pkg = path.join(site, 'pkg');
const NAME = 'wheelhouse';
// wasm-split's names: the loader (22 underscores, the length of the hash Leptos expects there) and manifest.
const LOADER = '__wasm_split.______________________.js';
const MANIFEST = '__wasm_split_manifest.json';
const CHUNK = /^(split_.*|chunk_\d+)\.wasm$/;

const sha256 = (...parts) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
};
const contentHash = (content) => sha256(content).slice(0, 16);

/** Replaces every `from` in `text`, failing unless there is at least one. */
function replaceAll(text, from, to, where) {
  if (!text.includes(from)) throw new Error(`${where}: ${from} not found`);
  return text.split(from).join(to);
}

/** Replaces `from` by `to`, of the same length, in binary `content`; returns how many times. */
function replaceInPlace(content, from, to) {
  const [needle, replacement] = [Buffer.from(from), Buffer.from(to)];
  if (needle.length !== replacement.length) throw new Error(`${to} is not as long as ${from}`);
  let count = 0;
  for (let at = content.indexOf(needle); at !== -1; at = content.indexOf(needle, at + needle.length)) {
    replacement.copy(content, at);
    count += 1;
  }
  return count;
}

// A rebuild into the same folder: the previous build's hashed files go.
for (const file of readdirSync(pkg)) {
  if (/^(wheelhouse|uplot|__wasm_split|__wasm_split_manifest|split_.*|chunk_\d+)\.[0-9a-f]{16,22}\./.test(file)) {
    unlinkSync(path.join(pkg, file));
  }
}

/** Writes `content` as `hashed` (removing `built`), with its brotli and gzip copies; prints the sizes. */
function emit(built, hashed, content, extension) {
  unlinkSync(path.join(pkg, built));
  writeFileSync(path.join(pkg, hashed), content);
  const brotli = zlib.brotliCompressSync(content, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: zlib.constants.BROTLI_MAX_QUALITY,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: content.length,
      [zlib.constants.BROTLI_PARAM_MODE]:
        extension === 'wasm' ? zlib.constants.BROTLI_MODE_GENERIC : zlib.constants.BROTLI_MODE_TEXT,
    },
  });
  const gzip = zlib.gzipSync(content, { level: 9 });
  writeFileSync(path.join(pkg, `${hashed}.br`), brotli);
  writeFileSync(path.join(pkg, `${hashed}.gz`), gzip);
  console.log(`${hashed}: ${content.length} bytes, ${gzip.length} gzip, ${brotli.length} brotli`);
}

const read = (file) => readFileSync(path.join(pkg, file));
const splitLines = [];
let js = read(`${NAME}.js`).toString();
let wasm = read(`${NAME}_bg.wasm`);
let jsHash;

if (existsSync(path.join(pkg, LOADER)) && !js.includes(LOADER)) {
  // No lazy route: nothing was split off, and nothing imports the loader.
  unlinkSync(path.join(pkg, LOADER));
  unlinkSync(path.join(pkg, MANIFEST));
} else if (existsSync(path.join(pkg, LOADER))) {
  // The chunks, under their own content hashes; the loader and the manifest then name them so.
  let loader = read(LOADER).toString();
  let manifest = read(MANIFEST).toString();
  const chunks = readdirSync(pkg).filter((file) => CHUNK.test(file)).sort();
  for (const chunk of chunks) {
    const content = read(chunk);
    const stem = chunk.slice(0, -'.wasm'.length);
    const hashedStem = `${stem}.${contentHash(content)}`;
    loader = replaceAll(loader, `"./${chunk}"`, `"./${hashedStem}.wasm"`, LOADER);
    // The manifest names chunks without `.wasm` (Leptos adds it).
    manifest = replaceAll(manifest, `"${stem}"`, `"${hashedStem}"`, MANIFEST);
    emit(chunk, `${hashedStem}.wasm`, content, 'wasm');
  }

  // The loader and the main glue name each other: both names come from both contents.
  const pair = sha256(js, loader);
  const splitHash = pair.slice(0, 22);
  jsHash = pair.slice(22, 38);
  const loaderName = `__wasm_split.${splitHash}.js`;
  js = replaceAll(js, `./${LOADER}`, `./${loaderName}`, `${NAME}.js`);
  loader = replaceAll(loader, `from "./${NAME}.js"`, `from "./${NAME}.${jsHash}.js"`, LOADER);
  if (replaceInPlace(wasm, LOADER, loaderName) === 0) throw new Error(`${NAME}_bg.wasm does not import ${LOADER}`);
  emit(LOADER, loaderName, Buffer.from(loader), 'js');
  splitLines.push(`split: ${splitHash}`);

  // Read by the server (which chunks a lazy page preloads); browsers do not ask for it.
  const manifestHash = contentHash(manifest);
  unlinkSync(path.join(pkg, MANIFEST));
  writeFileSync(path.join(pkg, `__wasm_split_manifest.${manifestHash}.json`), manifest);
  splitLines.push(`manifest: ${manifestHash}`);
}

// [key in hash.txt, the file wasm-bindgen and the build wrote, its content, its hashed name's stem, the
// extension Leptos expects]
const ASSETS = [
  ['js', `${NAME}.js`, Buffer.from(js), NAME, 'js'],
  ['wasm', `${NAME}_bg.wasm`, wasm, NAME, 'wasm'],
  ['css', `${NAME}.css`, read(`${NAME}.css`), NAME, 'css'],
];
for (const [key, built, extension] of [['uplot-js', 'uplot.js', 'js'], ['uplot-css', 'uplot.css', 'css']]) {
  if (existsSync(path.join(pkg, built))) ASSETS.push([key, built, read(built), 'uplot', extension]);
}
const lines = [];
for (const [key, built, content, stem, extension] of ASSETS) {
  const hash = key === 'js' && jsHash ? jsHash : contentHash(content);
  emit(built, `${stem}.${hash}.${extension}`, content, extension);
  lines.push(`${key}: ${hash}`);
}
writeFileSync(path.join(site, 'hash.txt'), `${[...lines, ...splitLines].join('\n')}\n`);
