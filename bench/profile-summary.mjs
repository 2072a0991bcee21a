// Summarises a V8 .cpuprofile: self time per function, most first.
// node bench/profile-summary.mjs FILE [N]
import fs from "node:fs";

const [file, n = "20"] = process.argv.slice(2);
const p = JSON.parse(fs.readFileSync(file, "utf8"));
const byId = new Map(p.nodes.map((node) => [node.id, node]));
const selfTime = new Map();
let total = 0;
p.samples.forEach((id, i) => {
  const node = byId.get(id);
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || "(anonymous)"} ${url.split("/").slice(-3).join("/")}:${lineNumber}`;
  const dt = p.timeDeltas[i] ?? 0;
  selfTime.set(key, (selfTime.get(key) ?? 0) + dt);
  total += dt;
});
console.log(`${file}: ${(total / 1000).toFixed(0)} ms sampled`);
for (const [key, t] of [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) {
  console.log(`${(t / 1000).toFixed(0).padStart(7)} ms ${((100 * t) / total).toFixed(1).padStart(5)}%  ${key}`);
}
