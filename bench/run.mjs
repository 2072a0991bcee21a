// npm run bench [-- --url URL] [--chunks K] [--chunk-delay-ms D] [--only NAME] [--direct] [--miniflare] [--node-reference] [--profile DIR] [--isolate-profile FILE] [--json FILE] [--stagger-ms MS] [--think-ms MS] [--scenario SESSIONS,MESSAGES[,IDLE]] [--mock-port P] [--server-pid PID] [--beside URL --beside-pid PID --beside-name NAME]
// Starts (or takes --url) a server and a mock OpenAI server, then runs the client
// scenarios, each in its own process, and prints a table. --beside runs every scenario
// against a second server started beforehand (e.g. the original, with its OpenAI base URL
// at the mock on --mock-port) right after the first, so both are measured in one run.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startWrangler, freePort, ROOT } from "../tests/support/wrangler.mjs";
import { startMiniflare } from "./miniflare.mjs";
import { startIsolateProfile } from "./isolate-profile.mjs";

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const K = Number(opt("chunks", 20));
const D = Number(opt("chunk-delay-ms", 10));
const only = opt("only", null);
const isolateProfile = opt("isolate-profile", null);
// 0: each session sends its next message the moment a reply completes (a stress test).
const thinkMs = Number(opt("think-ms", 0));
// Sessions start at random offsets within this window. With think time, one think-time
// cycle: all first messages inside one second would be a burst the steady state never has.
const staggerMs = Number(opt("stagger-ms", Math.max(1000, thinkMs)));

const custom = opt("scenario", null)?.split(",").map(Number);
const scenarios = custom
  ? [{ name: `${custom[2] ? `${custom[2]} idle + ` : ""}${custom[0]} sessions x ${custom[1]}`, sessions: custom[0], messages: custom[1], idle: custom[2] ?? 0 }]
  : [
    { name: "1 session x 200 messages", sessions: 1, messages: 200 },
    { name: "100 sessions x 10 messages", sessions: 100, messages: 10 },
    { name: "1000 idle + 50 active x 5", sessions: 50, messages: 5, idle: 1000 },
  ].filter((s) => !only || s.name.includes(only));

function child(cmd, argv, opts = {}) {
  return spawn(cmd, argv, { stdio: ["ignore", "pipe", "inherit"], ...opts });
}

async function firstLine(proc) {
  let buf = "";
  for await (const part of proc.stdout) {
    buf += part;
    const i = buf.indexOf("\n");
    if (i >= 0) return buf.slice(0, i);
  }
  throw new Error("process ended without output");
}

const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p))];
};
const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : "n/a");

function rssOf(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) total += Number(m[1]);
    } catch { /* gone */ }
  }
  return total ? `${(total / 1024).toFixed(0)} MiB` : "n/a";
}

/** CPU seconds (user + system) each process has used so far, by pid. */
function cpuByPid(pids) {
  const out = new Map();
  for (const pid of pids) {
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      out.set(String(pid), (Number(fields[11]) + Number(fields[12])) / 100); // utime, stime in USER_HZ
    } catch { /* gone */ }
  }
  return out;
}
const cpuOf = (pids) => [...cpuByPid(pids).values()].reduce((a, b) => a + b, 0);

/** What a server process is, for the CPU breakdown: wrangler's Node, esbuild, the workerd
 * that listens on the server's own port (wrangler dev's proxy) or the one running the Worker. */
function roleOf(pid, serverUrl) {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (!argv[0].includes("workerd")) return path.basename(argv[0]) === "node" ? "wrangler's Node" : path.basename(argv[0]);
    const port = new URL(serverUrl).port;
    return argv.some((a) => a.startsWith("--socket-addr=") && a.endsWith(`:${port}`)) && server?.child ? "wrangler's proxy workerd" : "Worker's workerd";
  } catch { return "gone"; }
}

/** The server's processes: wrangler's whole process group, Miniflare's workerd, the reference's Node, or --server-pid. */
function serverPids() {
  if (opt("server-pid", null)) return [opt("server-pid")];
  if (!server) return [];
  if (server.pid) return [server.pid];
  if (!server.child) return workerdPids();
  return fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try { return fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[2] === String(server.child.pid); } catch { return false; }
  });
}

/** The workerd processes this run started (other users' on the same machine are not ours). */
function workerdPids() {
  const parent = new Map();
  const workerd = [];
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      parent.set(pid, fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[1]);
      if (fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd\0serve")) workerd.push(pid);
    } catch { /* gone */ }
  }
  const ours = (pid) => { for (let p = pid; p && p !== "0"; p = parent.get(p)) if (p === String(process.pid)) return true; return false; };
  return workerd.filter(ours);
}

// --mock-port: a fixed port, for a server started beforehand (--url) with OPENAI_BASE_URL at the mock.
const mockPort = Number(opt("mock-port", 0)) || await freePort();
const mock = child(process.execPath, [path.join(ROOT, "tests/support/mock-openai.mjs"), String(mockPort), String(K), String(D)]);
const mockUrl = await firstLine(mock);
let server = null;
let url = opt("url", null);
const serverVars = {
  OPENAI_API_KEY: "sk-bench", OPENAI_BASE_URL: mockUrl, LOG_LEVEL: "warn",
  RATE_LIMIT_PER_MINUTE: 100000, MAX_SOCKETS_PER_SESSION: 10000,
  // Every bench session comes from 127.0.0.1: lift the per-client-address limits.
  CLIENT_SESSIONS_PER_MINUTE: 0, CLIENT_MODEL_CALLS_PER_MINUTE: 0,
  // Read only by a build with the measurement-only `knockout` feature (src/knockout.rs).
  ...(process.env.MIA_KNOCKOUT ? { MIA_KNOCKOUT: process.env.MIA_KNOCKOUT } : {}),
};
let runtime = url ? "given" : "wrangler dev";
if (!url && args.includes("--node-reference")) {
  // The Express + Socket.IO + OpenAI SDK stand-in for the original, in its own process.
  const proc = child(process.execPath, [path.join(ROOT, "bench/node-reference.mjs"), mockUrl]);
  url = await firstLine(proc);
  server = { pid: proc.pid, stop: async () => { proc.kill(); } };
  runtime = "Node.js reference (Express + Socket.IO + OpenAI SDK)";
} else if (!url && args.includes("--miniflare")) {
  // --isolate-profile FILE: a V8 CPU profile of the Worker's isolate over the run.
  const inspectorPort = isolateProfile ? await freePort() : undefined;
  server = await startMiniflare(serverVars, { inspectorPort });
  server.isolateInspectorPort = inspectorPort;
  url = server.url;
  runtime = "workerd via Miniflare";
} else if (!url) {
  server = await startWrangler({
    vars: serverVars,
    // --profile DIR: a CPU profile of wrangler's own Node process, to see its share.
    nodeArgs: opt("profile", null) ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(opt("profile"))}`] : undefined,
  });
  url = server.url;
  if (args.includes("--direct")) url = (await userWorkerdUrl(server)) ?? url;
}

/** wrangler dev fronts the Worker with a proxy workerd; --direct finds the Worker's own socket. */
async function userWorkerdUrl(srv) {
  const listening = execFileSync("ss", ["-ltnp"]).toString().split("\n");
  const proxyPid = listening.find((l) => l.includes(`:${srv.port} `))?.match(/pid=(\d+)/)?.[1];
  const ports = listening.filter((l) => l.includes("workerd") && !l.includes(`pid=${proxyPid},`)).map((l) => l.match(/127\.0\.0\.1:(\d+)/)?.[1]).filter(Boolean);
  for (const p of ports) {
    try {
      const r = await fetch(`http://127.0.0.1:${p}/health`);
      if (r.ok && (await r.json()).version) return `http://127.0.0.1:${p}`;
    } catch { /* not this one */ }
  }
  return null;
}

console.log(`Mia benchmark — ${os.cpus().length} × ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
const beside = opt("beside", null);
const besideName = opt("beside-name", "beside");
console.log(`server ${url} (${runtime})${beside ? `, and beside it ${beside} (${besideName})` : ""}; mock model ${mockUrl}: ${K} chunks, ${D} ms apart; ${thinkMs ? `${thinkMs} ms (±50%) between a reply and the next message` : "next message as soon as a reply completes"}\n`);
const rows = [];
const targets = [
  { name: opt("server-name", runtime), url, cpuPids: serverPids, memPids: () => (server?.child ? workerdPids() : serverPids()) },
  ...(beside ? [{ name: besideName, url: beside, cpuPids: () => [opt("beside-pid", null)].filter(Boolean), memPids: () => [opt("beside-pid", null)].filter(Boolean) }] : []),
];
for (const sc of scenarios) for (const target of targets) {
  const proc = child(process.execPath, [path.join(ROOT, "bench/clients.mjs"), JSON.stringify({ url: target.url, staggerMs, thinkMs, ...sc })]);
  let peak = "n/a";
  // Memory: the runtime's processes (under wrangler, its workerds, not its Node); CPU: all of them.
  const cpuPids = target.cpuPids();
  const pids = target.memPids();
  const profiling = server?.isolateInspectorPort && target.url === url ? await startIsolateProfile(server.isolateInspectorPort) : null;
  const cpuBefore = cpuByPid(cpuPids);
  const sampler = setInterval(() => { if (pids.length) peak = rssOf(pids); }, 500);
  const r = JSON.parse(await firstLine(proc));
  clearInterval(sampler);
  const cpuAfter = cpuByPid(cpuPids);
  if (profiling) {
    const file = path.resolve(isolateProfile);
    fs.writeFileSync(file, JSON.stringify(await profiling.stop()));
    console.log(`  ${sc.name}: isolate CPU profile in ${file} (node bench/profile-summary.mjs ${file})`);
  }
  const cpu = cpuOf(cpuPids) - [...cpuBefore.values()].reduce((a, b) => a + b, 0);
  rows.push({
    scenario: sc.name,
    ...(beside ? { server: target.name } : {}),
    "chunk delay p50 ms": f(pct(r.chunkDelays, 0.5)),
    "p99 ms": f(pct(r.chunkDelays, 0.99)),
    "max ms": f(pct(r.chunkDelays, 1)),
    "first chunk p50 ms": f(pct(r.firstChunk, 0.5)),
    "first chunk p99 ms": f(pct(r.firstChunk, 0.99)),
    "msgs/s": f(r.completed / r.elapsed),
    "chunks/s": f(r.chunks / r.elapsed),
    errors: r.errors + (sc.idle ? sc.idle - r.idleAlive : 0),
    "server RSS": peak,
    // What the server spends per message (its chunks included): the cost behind every figure above.
    "server CPU ms/msg": cpuPids.length && r.completed ? f((1000 * cpu) / r.completed) : "n/a",
  });
  if (cpuPids.length > 1 && r.completed) {
    // Where the server's CPU went, per message: wrangler's Node, its proxy workerd, the Worker's.
    const parts = [...cpuAfter].map(([pid, t]) => `${roleOf(pid, target.url)} ${((1000 * (t - (cpuBefore.get(pid) ?? 0))) / r.completed).toFixed(2)}`);
    console.log(`  ${sc.name} (${target.name}): CPU ms per message by process: ${parts.join("; ")}`);
  }
  if (r.errors) console.log(`  ${sc.name} (${target.name}): errors ${JSON.stringify(r.errorKinds)}`);
  if (sc.idle) console.log(`  ${sc.name} (${target.name}): ${r.idleAlive}/${sc.idle} idle sessions still connected at the end`);
}
console.table(rows);
// --json FILE: the rows as JSON too (bench/compare.mjs reads them).
if (opt("json", null)) fs.writeFileSync(path.resolve(opt("json")), JSON.stringify(rows));
if (server?.child && opt("profile", null)) {
  process.kill(-server.child.pid, "SIGINT"); // lets Node write the profile
  await new Promise((r) => setTimeout(r, 3000));
}
await server?.stop();
mock.kill();
process.exit(0);
