// Benchmark clients, in their own process: N sessions each send M messages (one at a
// time) and measure what a user feels. Only the contract's events are used, so any
// server speaking them can be measured (the original Node.js server included).
// Input: a JSON config as argv[2]. Output: one JSON line of results on stdout.
import { io } from "socket.io-client";

const cfg = JSON.parse(process.argv[2]);
const { url, sessions, messages, idle = 0, timeoutMs = 60_000, staggerMs = 1000, thinkMs = 0 } = cfg;
const chunkDelays = [];
const firstChunk = [];
let errors = 0;
let completed = 0;
let chunks = 0;
const errorKinds = {};
// The same monotonic clock as the mock's stamps (see tests/support/mock-openai.mjs).
const now = () => Number(process.hrtime.bigint()) / 1e6;

function open(i) {
  return new Promise((resolve) => {
    const socket = io(url, { transports: ["websocket"], reconnection: false, forceNew: true, timeout: timeoutMs });
    socket.on("connect", () => {
      socket.emit("join_session", {});
      resolve(socket);
    });
    socket.on("connect_error", (e) => { errors++; errorKinds[`connect:${e.message}`] = (errorKinds[`connect:${e.message}`] ?? 0) + 1; resolve(null); });
    socket.on("error", (e) => { errors++; errorKinds[e.code] = (errorKinds[e.code] ?? 0) + 1; });
    socket.index = i;
  });
}

function exchange(socket, n) {
  return new Promise((resolve) => {
    const sent = now();
    let first = true;
    const onChunk = ({ chunk }) => {
      const t = now();
      chunks++;
      if (first) { firstChunk.push(t - sent); first = false; }
      const m = /\[t=([\d.]+)\]/.exec(chunk);
      if (m) chunkDelays.push(t - Number(m[1]));
    };
    const timer = setTimeout(() => { errors++; errorKinds.timeout = (errorKinds.timeout ?? 0) + 1; done(); }, timeoutMs);
    const done = () => { clearTimeout(timer); socket.off("message_chunk", onChunk); socket.off("message_complete", onComplete); resolve(); };
    const onComplete = () => { completed++; done(); };
    socket.on("message_chunk", onChunk);
    socket.on("message_complete", onComplete);
    socket.emit("message", { message: `benchmark message ${n} from session ${socket.index}` });
  });
}

const idleSockets = [];
for (let i = 0; i < idle; i += 50) {
  idleSockets.push(...await Promise.all(Array.from({ length: Math.min(50, idle - i) }, (_, j) => open(100_000 + i + j))));
}
const active = (await Promise.all(Array.from({ length: sessions }, (_, i) => open(i)))).filter(Boolean);
const started = now();
// Sessions start at random offsets within staggerMs, as people do, not in lockstep.
await Promise.all(active.map(async (s) => {
  await new Promise((r) => setTimeout(r, Math.random() * staggerMs));
  for (let m = 0; m < messages; m++) {
    // Reading the reply and typing the next message: thinkMs on average, ±50%.
    if (m > 0 && thinkMs > 0) await new Promise((r) => setTimeout(r, thinkMs * (0.5 + Math.random())));
    await exchange(s, m);
  }
}));
const elapsed = (now() - started) / 1000;
const idleAlive = idleSockets.filter((s) => s?.connected).length;
for (const s of [...active, ...idleSockets]) s?.close();
// stdout is a pipe: exit only once the line is written.
process.stdout.write(`${JSON.stringify({ elapsed, completed, chunks, errors, errorKinds, chunkDelays, firstChunk, idle, idleAlive })}\n`, () => process.exit(0));
