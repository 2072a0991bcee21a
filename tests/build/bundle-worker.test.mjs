// The Worker's own build step (scripts/bundle-worker.mjs): the producers section it writes
// into the wasm, and the entry module's recovery after a wasm trap, run under Node with a
// stand-in for wasm-bindgen's glue.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { pathToFileURL } from "node:url";
import * as esbuild from "esbuild";
import { addProducer, entryModule } from "../../scripts/bundle-worker.mjs";

const leb = (n) => { const out = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n); return out; };
const name = (s) => [...leb(Buffer.byteLength(s)), ...Buffer.from(s)];
const custom = (title, body) => { const payload = [...name(title), ...body]; return [0, ...leb(payload.length), ...payload]; };
const HEADER = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
// A type section with one `() -> ()`, so sections before and after the producers are kept.
const TYPES = [1, 4, 1, 0x60, 0, 0];

/** The producers section of a module as {field: [[name, version]…]} (via V8's own parser). */
function producers(bytes) {
  const sections = WebAssembly.Module.customSections(new WebAssembly.Module(bytes), "producers");
  assert.equal(sections.length, 1, "exactly one producers section");
  const b = Buffer.from(sections[0]);
  const pos = { at: 0 };
  const u32 = () => { let v = 0, s = 0, x; do { x = b[pos.at++]; v |= (x & 0x7f) << s; s += 7; } while (x & 0x80); return v; };
  const str = () => { const n = u32(); const r = b.toString("utf8", pos.at, pos.at + n); pos.at += n; return r; };
  const out = {};
  for (let f = u32(); f > 0; f--) {
    const field = str();
    out[field] = [];
    for (let v = u32(); v > 0; v--) out[field].push([str(), str()]);
  }
  return out;
}

test("the SDK joins the producers rustc and wasm-bindgen wrote, in place, once", () => {
  const existing = custom("producers", [2, ...name("language"), 1, ...name("Rust"), ...name(""),
    ...name("processed-by"), 2, ...name("rustc"), ...name("1.95.0"), ...name("walrus"), ...name("0.27.3")]);
  const wasm = Buffer.from([...HEADER, ...TYPES, ...existing, ...custom("name", [])]);
  const out = addProducer(wasm, "sdk", "workers-rs", "0.8.7");
  assert.deepEqual(producers(out), {
    language: [["Rust", ""]],
    "processed-by": [["rustc", "1.95.0"], ["walrus", "0.27.3"]],
    sdk: [["workers-rs", "0.8.7"]],
  });
  assert.deepEqual(WebAssembly.Module.customSections(new WebAssembly.Module(out), "name").length, 1);
  assert.deepEqual(addProducer(out, "sdk", "workers-rs", "0.8.7"), out, "a second build adds nothing");
});

test("a module without producers gets the section appended", () => {
  const out = addProducer(Buffer.from([...HEADER, ...TYPES]), "sdk", "workers-rs", "0.8.7");
  assert.deepEqual(producers(out), { sdk: [["workers-rs", "0.8.7"]] });
});

test("a file that is not wasm, or is cut short, is refused with a clear error", () => {
  assert.throws(() => addProducer(Buffer.from("export default {}"), "sdk", "x", "1"), /not a wasm module/);
  const cut = Buffer.from([...HEADER, 1, 40, 1, 0x60]);
  assert.throws(() => addProducer(cut, "sdk", "x", "1"), /past the end/);
});

test("the entry module refuses glue without a fetch handler", () => {
  assert.throws(() => entryModule("export class MiaSession {}\n"), /no fetch handler/);
});

/**
 * Bundles the entry module with a stand-in glue: a counter class whose `trap()` throws the
 * RuntimeError a Rust panic raises, and `__wbg_reset_state`, which a real instance needs after it.
 */
async function loadEntry() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mia-entry-"));
  const glue = `
export const log = [];
const state = { criticalError: false, instanceId: 0 };
let generation = 0;
export function __worker_init_state() { return state; }
export function __wbg_reset_state() { generation++; log.push("reset"); }
export function fetch(req, env, ctx) { return { req, env, ctx, generation }; }
export class Counter {
  constructor(start) { this.n = start; this.generation = generation; log.push("new " + start); }
  bump() { return ++this.n; }
  trap() { throw new WebAssembly.RuntimeError("unreachable"); }
  async later() { throw new WebAssembly.RuntimeError("unreachable"); }
}
`;
  fs.writeFileSync(path.join(dir, "index.js"), glue);
  fs.writeFileSync(path.join(dir, "entry.js"), entryModule(glue) + "export { log } from './index.js';\n");
  fs.writeFileSync(path.join(dir, "cloudflare.js"),
    "export class WorkerEntrypoint { constructor(ctx, env) { this.ctx = ctx; this.env = env; } }\n");
  await esbuild.build({
    absWorkingDir: dir, entryPoints: ["./entry.js"], outfile: "out.mjs", bundle: true, format: "esm",
    alias: { "cloudflare:workers": "./cloudflare.js" }, logLevel: "error",
  });
  globalThis.addEventListener ??= () => {};
  const quiet = console.error;
  console.error = () => {};
  try {
    return await import(pathToFileURL(path.join(dir, "out.mjs")).href);
  } finally {
    console.error = quiet;
  }
}

test("after a wasm trap the next call resets the wasm and rebuilds the object", async (t) => {
  const entry = await loadEntry();
  t.mock.method(console, "error", () => {});
  t.mock.method(console, "log", () => {});
  const counter = new entry.Counter(5);
  assert.equal(counter.bump(), 6);
  assert.throws(() => counter.trap(), WebAssembly.RuntimeError);
  assert.deepEqual(entry.log, ["new 5"], "nothing is reset until the next call");
  // The next call resets first, then rebuilds the object with its constructor's arguments.
  assert.equal(counter.bump(), 6);
  assert.deepEqual(entry.log, ["new 5", "reset", "new 5"]);
  assert.equal(counter.generation, 1);
  // A rejected promise counts as a trap too.
  await assert.rejects(counter.later(), WebAssembly.RuntimeError);
  assert.equal(counter.bump(), 6);
  assert.deepEqual(entry.log, ["new 5", "reset", "new 5", "reset", "new 5"]);
  // Errors that are not traps leave the instance alone.
  const other = new entry.Counter(1);
  assert.equal(other.bump(), 2);
  assert.equal(other.bump(), 3);
});

test("the default export hands fetch the request, env and ctx", async () => {
  const entry = await loadEntry();
  const worker = new entry.default({ id: "ctx" }, { JWT_SECRET: "s" });
  const out = worker.fetch("request");
  assert.deepEqual(out, { req: "request", env: { JWT_SECRET: "s" }, ctx: { id: "ctx" }, generation: 0 });
});
