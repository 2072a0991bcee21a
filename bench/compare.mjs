// Compares Worker builds (and knockouts) in one sitting: runs bench/run.mjs --miniflare once
// per variant per round, the variants interleaved round by round (every other round in
// reverse order) so that the machine's load falls on all of them alike, then prints each
// variant's runs and medians.
//   node bench/compare.mjs [--rounds 3] [--parallel] NAME=BUILD_DIR[,KNOCKOUT] ... [-- run.mjs args]
// --parallel runs a round's variants at the same time instead of one after another, so that
// each round's load (other work on the machine) falls on all of them at once.
// BUILD_DIR is a copy of build/ (see MIA_BENCH_BUILD); KNOCKOUT (a `knockout` build only,
// see src/knockout.rs) is what MIA_KNOCKOUT names, e.g. base=/tmp/b/base off=/tmp/b/ko,moderation.
// Default run.mjs args: --only "100 sessions" (100 sessions × 10 messages, stress).
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../tests/support/wrangler.mjs";

const argv = process.argv.slice(2);
const dash = argv.indexOf("--");
const own = dash >= 0 ? argv.slice(0, dash) : argv;
const passed = dash >= 0 ? argv.slice(dash + 1) : ["--only", "100 sessions"];
const ri = own.indexOf("--rounds");
const rounds = ri >= 0 ? Number(own[ri + 1]) : 3;
const parallel = own.includes("--parallel");
const variants = own.filter((a, i) => a.includes("=") && own[i - 1] !== "--rounds").map((a) => {
  const [name, rest] = a.split(/=(.*)/s);
  const [dir, knockout] = rest.split(/,(.*)/s);
  return { name, dir: path.resolve(dir), knockout: knockout ?? "" };
});
if (!variants.length) {
  console.error("usage: node bench/compare.mjs [--rounds N] NAME=BUILD_DIR[,KNOCKOUT] ... [-- run.mjs args]");
  process.exit(2);
}

const num = (x) => Number(x);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const results = new Map(variants.map((v) => [v.name, []]));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mia-compare-"));
/** One run of run.mjs for variant `v`: its row, or null. */
function runOnce(v, r) {
  const out = path.join(tmp, `${v.name}-${r}.json`);
  const proc = spawn(process.execPath, [path.join(ROOT, "bench/run.mjs"), "--miniflare", "--json", out, ...passed], {
    env: { ...process.env, MIA_BENCH_BUILD: v.dir, MIA_KNOCKOUT: v.knockout },
    stdio: ["ignore", "ignore", "inherit"],
  });
  return new Promise((resolve) => proc.on("exit", (code) => {
    const row = code === 0 && fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, "utf8"))[0] : null;
    if (!row) console.log(`round ${r} ${v.name}: failed (exit ${code})`);
    resolve(row);
  }));
}

/** One variant after another (every other round in reverse, so that a load that rises or
 * falls through a round favours none of them); the rows in `variants` order. */
async function inTurn(order, r) {
  const rows = new Map();
  for (const v of order) rows.set(v, await runOnce(v, r));
  return variants.map((v) => rows.get(v));
}

for (let r = 1; r <= rounds; r++) {
  const load = os.loadavg()[0].toFixed(1);
  const rows = parallel
    ? await Promise.all(variants.map((v) => runOnce(v, r)))
    : await inTurn(r % 2 ? variants : [...variants].reverse(), r);
  variants.forEach((v, i) => {
    const row = rows[i];
    if (!row) return;
    results.get(v.name).push({ ...row, round: r });
    console.log(`round ${r} ${v.name.padEnd(14)} load ${load.padStart(4)}: CPU ${row["server CPU ms/msg"]} ms/msg, chunk delay p50 ${row["chunk delay p50 ms"]} / p99 ${row["p99 ms"]} ms, ${row["msgs/s"]} msgs/s, errors ${row.errors}`);
  });
}
/** Per round, this variant's CPU per message less the first variant's; their median. */
function pairedDelta(v) {
  const first = results.get(variants[0].name);
  const rows = results.get(v.name);
  const deltas = rows.flatMap((row) => {
    const other = first.find((f) => f.round === row.round);
    return other ? [num(row["server CPU ms/msg"]) - num(other["server CPU ms/msg"])] : [];
  });
  return deltas.length ? median(deltas) : NaN;
}

const table = variants.map((v) => {
  const rows = results.get(v.name);
  const col = (k) => rows.map((x) => num(x[k]));
  return {
    variant: v.name,
    runs: rows.length,
    "CPU ms/msg (median)": median(col("server CPU ms/msg")).toFixed(2),
    "CPU ms/msg (runs)": col("server CPU ms/msg").map((x) => x.toFixed(2)).join(" "),
    [`Δ CPU vs ${variants[0].name} (median of rounds)`]: v === variants[0] ? "" : pairedDelta(v).toFixed(2),
    "p50 ms": median(col("chunk delay p50 ms")).toFixed(1),
    "p99 ms": median(col("p99 ms")).toFixed(1),
    "msgs/s": median(col("msgs/s")).toFixed(1),
    errors: col("errors").reduce((a, b) => a + b, 0),
  };
});
console.table(table);
fs.rmSync(tmp, { recursive: true, force: true });
