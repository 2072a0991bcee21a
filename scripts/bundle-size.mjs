// Prints the built Worker's gzipped size and fails when it is over Cloudflare's 3 MiB
// limit for a Worker on the free plan (what `wrangler deploy` uploads: the wasm and the JS).
// usage: node scripts/bundle-size.mjs [BUILD_DIR]
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const LIMIT = 3 * 1024 * 1024;
const dir = process.argv[2] ?? "build";
const files = [];
const walk = (d) => {
  for (const name of readdirSync(d)) {
    const path = join(d, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(wasm|js|mjs)$/.test(name)) files.push(path);
  }
};
walk(dir);
let raw = 0;
let gz = 0;
for (const f of files) {
  const bytes = readFileSync(f);
  raw += bytes.length;
  gz += gzipSync(bytes).length;
}
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`Worker: ${kib(raw)}, ${kib(gz)} gzipped (limit ${kib(LIMIT)}; ${files.length} files)`);
if (gz > LIMIT) {
  console.error("the Worker is over the 3 MiB gzipped limit");
  process.exit(1);
}
