// A V8 CPU profile of the Worker's isolate under Miniflare (`bench/run.mjs --miniflare
// --isolate-profile FILE`), through workerd's inspector: where the Worker's own time goes,
// wasm functions included (the build keeps their names). Summarise with
// `node bench/profile-summary.mjs FILE`.
import WebSocket from "ws";

/** Starts sampling every `intervalUs` µs; `stop()` returns the profile (a .cpuprofile object). */
export async function startIsolateProfile(inspectorPort, { intervalUs = 200 } = {}) {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  // The Worker's isolate; Miniflare's own entry and loopback workers are named "core:…".
  const target = targets.find((t) => t.title === "mia") ?? targets.find((t) => !String(t.title).startsWith("core:")) ?? targets[0];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  let next = 1;
  const waiting = new Map();
  ws.on("message", (data) => {
    const msg = JSON.parse(data);
    const w = msg.id && waiting.get(msg.id);
    if (w) { waiting.delete(msg.id); msg.error ? w.reject(new Error(JSON.stringify(msg.error))) : w.resolve(msg.result); }
  });
  const call = (method, params = {}) => new Promise((resolve, reject) => {
    const id = next++;
    waiting.set(id, { resolve, reject });
    ws.send(JSON.stringify({ id, method, params }));
  });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: intervalUs });
  await call("Profiler.start");
  return {
    async stop() {
      const { profile } = await call("Profiler.stop");
      ws.close();
      return profile;
    },
  };
}
