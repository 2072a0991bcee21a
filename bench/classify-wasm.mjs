// Times the classifier compiled to wasm under V8 (the engine workerd runs): a typical
// message and a 4,000-character one. Build first:
//   cargo build --release --target wasm32-unknown-unknown --example classify-wasm
// then `node bench/classify-wasm.mjs`. Prints figures; asserts nothing.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

const path = new URL("../target/wasm32-unknown-unknown/release/examples/classify_wasm.wasm", import.meta.url);
const module = await WebAssembly.compile(readFileSync(path));
const imports = Object.fromEntries(
  WebAssembly.Module.imports(module).map(({ module: m }) => [m, new Proxy({}, { get: () => () => { throw new Error("unexpected import"); } })]),
);
const { exports } = await WebAssembly.instantiate(module, imports);

let t = performance.now();
exports.prepare();
console.log(`wasm: load the model and compile the rules: ${(performance.now() - t).toFixed(1)} ms`);

const encoder = new TextEncoder();
function time(text, rounds) {
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
console.log(`wasm: a typical message (${typical.length} chars): ${time(typical, 2000)}`);
console.log(`wasm: 4,000 characters: ${time(long, 200)}`);
// The age detector's worst case: every sentence has a number or a school word, and none is the
// writer's own age, so every pattern is tried on every sentence.
const numbers = "my brother is 8 and in year 4, we have 2 dogs and the bus takes 45 minutes. ".repeat(60).slice(0, 4000);
console.log(`wasm: 4,000 characters, a number in every sentence: ${time(numbers, 200)}`);
