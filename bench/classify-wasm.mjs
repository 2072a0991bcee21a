// Times the classifier compiled to wasm under V8 (the engine workerd runs): a typical
// message and a 4,000-character one. Build first:
//   cargo build --release --target wasm32-unknown-unknown --example classify-wasm
// then `node bench/classify-wasm.mjs`, or `node bench/classify-wasm.mjs A.wasm B.wasm …` to time
// copies of earlier builds in one sitting, interleaved. Prints figures; asserts nothing.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";

const built = new URL("../target/wasm32-unknown-unknown/release/examples/classify_wasm.wasm", import.meta.url);
const paths = process.argv.length > 2 ? process.argv.slice(2).map((p) => pathToFileURL(resolve(p))) : [built];

/** A build, instantiated, with the time it took to load the model and compile the rules. */
async function load(path) {
  const module = await WebAssembly.compile(readFileSync(path));
  const imports = Object.fromEntries(
    WebAssembly.Module.imports(module).map(({ module: m }) => [m, new Proxy({}, { get: () => () => { throw new Error("unexpected import"); } })]),
  );
  const { exports } = await WebAssembly.instantiate(module, imports);
  const t = performance.now();
  exports.prepare();
  return { exports, prepare: performance.now() - t };
}

const encoder = new TextEncoder();
function time(exports, text, rounds) {
  const bytes = encoder.encode(text);
  const ptr = exports.input(bytes.length);
  new Uint8Array(exports.memory.buffer, ptr, bytes.length).set(bytes);
  const samples = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    exports.classify(ptr, bytes.length);
    samples.push((performance.now() - start) * 1000);
  }
  samples.sort((a, b) => a - b);
  const at = (p) => samples[Math.floor((samples.length - 1) * p)];
  return `p50 ${at(0.5).toFixed(0)} µs, p99 ${at(0.99).toFixed(0)} µs`;
}
const typical = "ugh today was so long, my friends ignored me at lunch and i kind of just want to stay in my room forever";
const long = "I have been feeling really low lately and I don't know who to talk to about school. ".repeat(48).slice(0, 4000);
// The age detector's worst case: every sentence has a number or a school word, and none is the
// writer's own age, so every pattern is tried on every sentence.
const numbers = "my brother is 8 and in year 4, we have 2 dogs and the bus takes 45 minutes. ".repeat(60).slice(0, 4000);

const builds = [];
for (const path of paths) builds.push({ name: paths.length > 1 ? `${path.pathname.split("/").pop()}: ` : "", ...(await load(path)) });
for (const b of builds) console.log(`wasm: ${b.name}load the model and compile the rules: ${b.prepare.toFixed(1)} ms`);
// One build after the other, three times over when there are several, so that a busy spell
// of a shared machine does not land on one build only.
for (let round = 0; round < (builds.length > 1 ? 3 : 1); round++) {
  for (const { name, exports } of builds) {
    console.log(`wasm: ${name}a typical message (${typical.length} chars): ${time(exports, typical, 2000)}`);
    console.log(`wasm: ${name}4,000 characters: ${time(exports, long, 200)}`);
    console.log(`wasm: ${name}4,000 characters, a number in every sentence: ${time(exports, numbers, 200)}`);
  }
}
