// Turns the Worker's wasm (cargo's output) into what `wrangler dev` and `wrangler deploy` load:
// build/index.js (our entry module + wasm-bindgen's glue, bundled by esbuild) and
// build/index_bg.wasm. It does the steps `worker-build` 0.8 did, with the same tools and
// flags, so that no second Rust tool has to be compiled on a fresh machine:
//   wasm-bindgen --target module (+ the reset-state and abort-handler options the entry
//   module relies on) → wasm-opt -O → "workers-rs" in the wasm's producers section →
//   entry module exporting the fetch handler and every class → esbuild → build/.
// Usage: node scripts/bundle-worker.mjs <crate.wasm> <out-dir> [--no-opt]
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as esbuild from "esbuild";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    console.error(`[build] ${error.message}`);
    process.exit(1);
  }
}

function main([wasmIn, outArg, ...flags]) {
  if (!wasmIn || !outArg) {
    console.error("usage: node scripts/bundle-worker.mjs <crate.wasm> <out-dir> [--no-opt]");
    process.exit(2);
  }
  const outDir = path.resolve(outArg);
  const optimise = !flags.includes("--no-opt") && process.env.MIA_NO_WASM_OPT !== "1";

  /** Runs a tool, failing the build with its name if it fails. */
  function run(cmd, args, cwd) {
    const r = spawnSync(cmd, args, { stdio: "inherit", cwd });
    if (r.error) throw new Error(`${path.basename(cmd)} could not start: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`${path.basename(cmd)} failed (exit ${r.status}): ${cmd} ${args.join(" ")}`);
  }

  // Everything is made in a staging folder and moved into place at the end, so wrangler never
  // loads a half-written build.
  fs.mkdirSync(outDir, { recursive: true });
  const stage = fs.mkdtempSync(path.join(outDir, ".stage-"));
  try {
    const bindgen = process.env.WASM_BINDGEN_BIN || "wasm-bindgen";
    run(bindgen, [
      path.resolve(wasmIn), "--out-dir", stage, "--no-typescript", "--target", "module",
      "--out-name", "index", "--experimental-reset-state-function", "--force-enable-abort-handler",
    ]);
    const wasmPath = path.join(stage, "index_bg.wasm");
    if (optimise) {
      // The features rustc's wasm32 output and wasm-bindgen's catch wrappers use, named one by
      // one so wasm-opt emits nothing newer than workerd reads; --debuginfo keeps the names
      // section (panic stacks with function names).
      const features = ["mutable-globals", "sign-ext", "nontrapping-float-to-int", "bulk-memory",
        "multivalue", "reference-types", "exception-handling"].map((f) => `--enable-${f}`);
      const tmp = path.join(stage, "index_bg.opt.wasm");
      run(process.env.WASM_OPT_BIN || path.join(ROOT, "node_modules/.bin/wasm-opt"),
        [wasmPath, "-o", tmp, "-O", ...features, "--debuginfo"]);
      fs.renameSync(tmp, wasmPath);
    }
    fs.writeFileSync(wasmPath, addProducer(fs.readFileSync(wasmPath), "sdk", "workers-rs", workerCrateVersion()));

    const glue = fs.readFileSync(path.join(stage, "index.js"), "utf8");
    fs.writeFileSync(path.join(stage, "entry.js"), entryModule(glue));
    esbuild.buildSync({
      absWorkingDir: stage,
      entryPoints: ["./entry.js"],
      outfile: "index.js",
      allowOverwrite: true,
      bundle: true,
      format: "esm",
      minify: process.env.NO_MINIFY === undefined,
      external: ["./index_bg.wasm", "cloudflare:*"],
      logLevel: "warning",
    });
    // workerd takes the wasm as a plain module import (a WebAssembly.Module), not a source phase import.
    const bundled = path.join(stage, "index.js");
    fs.writeFileSync(bundled, fs.readFileSync(bundled, "utf8").replace("import source ", "import "));
    fs.rmSync(path.join(stage, "entry.js"));
    fs.rmSync(path.join(stage, "snippets"), { recursive: true, force: true });

    fs.writeFileSync(path.join(stage, "package.json"), packageJson());
    fs.mkdirSync(path.join(stage, "worker"));
    fs.writeFileSync(path.join(stage, "worker/shim.mjs"),
      "// The entry used to be build/worker/shim.mjs: it now is build/index.js.\n" +
      "export * from '../index.js';\nexport { default } from '../index.js';\n");
    fs.writeFileSync(path.join(stage, ".gitignore"), "*");

    // The wasm first: wrangler reloads when index.js changes, and then finds the wasm it imports.
    for (const name of ["index_bg.wasm", "package.json", "worker", ".gitignore", "index.js"]) {
      const dest = path.join(outDir, name);
      fs.rmSync(dest, { recursive: true, force: true });
      fs.renameSync(path.join(stage, name), dest);
    }
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

/** The `worker` crate's version in Cargo.lock: the workers-rs SDK the wasm is built with. */
function workerCrateVersion() {
  const lock = fs.readFileSync(path.join(ROOT, "Cargo.lock"), "utf8");
  const m = /\[\[package\]\]\nname = "worker"\nversion = "([^"]+)"/.exec(lock);
  if (!m) throw new Error("Cargo.lock names no `worker` crate");
  return m[1];
}

/** build/package.json as worker-build wrote it, from the crate's own metadata. */
function packageJson() {
  const toml = fs.readFileSync(path.join(ROOT, "Cargo.toml"), "utf8");
  const pkg = toml.slice(toml.indexOf("[package]"), toml.indexOf("\n[", toml.indexOf("[package]") + 1));
  const field = (k) => new RegExp(`^${k} = "(.*)"$`, "m").exec(pkg)?.[1];
  const json = {
    description: field("description"),
    files: ["index_bg.wasm", "index.js", "index.d.ts"],
    license: field("license"),
    main: "index.js",
    name: field("name"),
    sideEffects: ["./index.js"],
    type: "module",
    version: field("version"),
  };
  return JSON.stringify(json, null, 2);
}

/**
 * The Worker's entry module. Exports a WorkerEntrypoint whose handlers call the wasm's exported
 * functions (fetch, …) and every wasm-bindgen class (the Durable Objects among them). A Rust
 * panic traps the wasm instance (panic = abort); the next call then resets the instance
 * (`__wbg_reset_state`) and rebuilds the objects made before it, instead of failing forever.
 */
export function entryModule(glue) {
  const functions = [...glue.matchAll(/^export (?:async )?function\s*([A-Za-z_$][\w$]*)\s*\(/gm)].map((m) => m[1])
    .filter((name) => !["__wbg_reset_state", "__worker_init_state"].includes(name));
  const classes = [...glue.matchAll(/^export class ([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]);
  if (!functions.includes("fetch")) throw new Error("the wasm exports no fetch handler");
  // Handlers the runtime calls with (event) and that the wasm takes as (event, env, ctx).
  const withEnv = new Set(["fetch", "queue", "scheduled", "email", "connect"]);
  const handlers = functions.map((name) => withEnv.has(name)
    ? `Entrypoint.prototype.${name} = function ${name}(event) { return wasm.${name}.call(this, event, this.env, this.ctx); };`
    : `Entrypoint.prototype.${name} = wasm.${name};`);
  return `import { WorkerEntrypoint } from "cloudflare:workers";
import * as wasm from "./index.js";

Error.stackTraceLimit = 100;
const state = wasm.__worker_init_state();

function noteTrap(error) {
  if (error instanceof WebAssembly.RuntimeError) {
    console.error("Critical", error);
    state.criticalError = true;
  }
}
function resetAfterTrap() {
  if (!state.criticalError) return;
  console.log("Reinitializing Wasm application");
  wasm.__wbg_reset_state();
  state.criticalError = false;
  state.instanceId++;
}
addEventListener("error", (event) => noteTrap(event.error));

/** A method that resets a trapped instance first and notes a trap it causes. */
function guardMethod(method) {
  return new Proxy(method, {
    apply(target, self, args) {
      resetAfterTrap();
      let result;
      try {
        result = Reflect.apply(target, self, args);
      } catch (error) {
        noteTrap(error);
        throw error;
      }
      if (result && typeof result.then === "function") {
        return result.then(undefined, (error) => { noteTrap(error); throw error; });
      }
      return result;
    },
  });
}

/** A class whose instances are rebuilt with the same arguments after a reset. */
function guardClass(Class) {
  return new Proxy(Class, {
    construct(target, args, newTarget) {
      try {
        resetAfterTrap();
        const slot = { instance: Reflect.construct(target, args, newTarget), id: state.instanceId };
        const current = () => {
          if (slot.id !== state.instanceId) {
            slot.instance = Reflect.construct(target, args, newTarget);
            slot.id = state.instanceId;
          }
          return slot.instance;
        };
        const forward = {};
        for (const trap of ["set", "has", "deleteProperty", "getPrototypeOf", "setPrototypeOf",
          "isExtensible", "preventExtensions", "getOwnPropertyDescriptor", "defineProperty", "ownKeys"]) {
          forward[trap] = (_slot, ...rest) => Reflect[trap](slot.instance, ...rest);
        }
        return new Proxy(slot, {
          ...forward,
          get(_slot, prop, receiver) {
            const value = Reflect.get(current(), prop, receiver);
            return typeof value === "function" ? guardMethod(value) : value;
          },
        });
      } catch (error) {
        state.criticalError = true;
        throw error;
      }
    },
  });
}

class Entrypoint extends WorkerEntrypoint {}
${handlers.join("\n")}

export default guardClass(Entrypoint);
${classes.map((name) => `export const ${name} = guardClass(wasm.${name});`).join("\n")}
`;
}

/**
 * Adds (field, name, version) to the wasm's "producers" custom section (the tool-conventions
 * format: a vector of fields, each a name and a vector of (name, version) strings), in place of
 * the old section, or appended if there is none. An entry already there is kept as it is.
 */
export function addProducer(bytes, field, name, version) {
  if (bytes.length < 8 || bytes.readUInt32BE(0) !== 0x0061736d || bytes.readUInt32LE(4) !== 1) {
    throw new Error("not a wasm module");
  }
  const u32 = (pos) => {
    let value = 0, shift = 0, byte;
    do {
      byte = bytes[pos.at++];
      if (byte === undefined || shift > 28) throw new Error("bad LEB128 in the wasm");
      value |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    return value >>> 0;
  };
  const str = (pos) => {
    const len = u32(pos);
    const s = bytes.toString("utf8", pos.at, pos.at + len);
    pos.at += len;
    return s;
  };
  let found = null;
  const fields = new Map();
  for (const pos = { at: 8 }; pos.at < bytes.length;) {
    const start = pos.at;
    const id = bytes[pos.at++];
    const len = u32(pos);
    const end = pos.at + len;
    if (end > bytes.length) throw new Error("wasm section runs past the end");
    if (id === 0 && str(pos) === "producers") {
      found = { start, end };
      for (let n = u32(pos); n > 0; n--) {
        const f = str(pos);
        const values = fields.get(f) ?? [];
        for (let m = u32(pos); m > 0; m--) values.push([str(pos), str(pos)]);
        fields.set(f, values);
      }
      if (pos.at !== end) throw new Error("bad producers section");
      break;
    }
    pos.at = end;
  }
  const values = fields.get(field) ?? [];
  if (!values.some(([n]) => n === name)) values.push([name, version]);
  fields.set(field, values);

  const leb = (n) => {
    const out = [];
    do {
      let byte = n & 0x7f;
      n >>>= 7;
      if (n !== 0) byte |= 0x80;
      out.push(byte);
    } while (n !== 0);
    return Buffer.from(out);
  };
  const enc = (s) => { const b = Buffer.from(s, "utf8"); return Buffer.concat([leb(b.length), b]); };
  const parts = [enc("producers"), leb(fields.size)];
  for (const [f, vs] of fields) {
    parts.push(enc(f), leb(vs.length));
    for (const [n, v] of vs) parts.push(enc(n), enc(v));
  }
  const payload = Buffer.concat(parts);
  const section = Buffer.concat([Buffer.from([0]), leb(payload.length), payload]);
  return found
    ? Buffer.concat([bytes.subarray(0, found.start), section, bytes.subarray(found.end)])
    : Buffer.concat([bytes, section]);
}
