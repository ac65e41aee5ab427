// Gives the built UI assets content-hashed names and writes each one precompressed, brotli and gzip, beside
// it (called by scripts/build-site). A hashed name changes whenever the content does, so the server can let
// browsers keep them for a year (`immutable`); the compressed copies are made once, at build time, at the
// highest levels, rather than per request.
//
//   node scripts/precompress-assets.mjs <site root>
//
// Writes <site root>/hash.txt (`js: <hash>` …), the file Leptos' HydrationScripts and HashedStylesheet read to
// name the assets in every page, and prints the sizes.

import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync, readdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const site = process.argv[2];
if (!site) {
  console.error('usage: precompress-assets.mjs <site root>');
  process.exit(2);
}
const pkg = path.join(site, 'pkg');
const NAME = 'wheelhouse';
// [key in hash.txt, the file wasm-bindgen and the build wrote, the extension Leptos expects]
const ASSETS = [
  ['js', `${NAME}.js`, 'js'],
  ['wasm', `${NAME}_bg.wasm`, 'wasm'],
  ['css', `${NAME}.css`, 'css'],
];

// A rebuild into the same folder: the previous build's hashed files go.
for (const file of readdirSync(pkg)) {
  if (/^wheelhouse\.[0-9a-f]{16}\./.test(file)) unlinkSync(path.join(pkg, file));
}

const lines = [];
for (const [key, built, extension] of ASSETS) {
  const content = readFileSync(path.join(pkg, built));
  const hash = createHash('sha256').update(content).digest('hex').slice(0, 16);
  const hashed = `${NAME}.${hash}.${extension}`;
  renameSync(path.join(pkg, built), path.join(pkg, hashed));
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
  lines.push(`${key}: ${hash}`);
  console.log(`${hashed}: ${content.length} bytes, ${gzip.length} gzip, ${brotli.length} brotli`);
}
writeFileSync(path.join(site, 'hash.txt'), `${lines.join('\n')}\n`);
