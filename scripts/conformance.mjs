// Runs the official Socket.IO protocol test suite (socketio/socket.io-protocol, test-suite/)
// against this build under `wrangler dev` with SOCKETIO_CONFORMANCE=1 on port 3000, the
// address the suite expects. The suite is not part of this repository: pass its folder
// (with its npm dependencies installed), e.g.
//   git clone https://github.com/socketio/socket.io-protocol /tmp/sio && (cd /tmp/sio/test-suite && npm ci)
//   bash scripts/build.sh && node scripts/conformance.mjs /tmp/sio/test-suite [runs]
// Exits 1 unless every run passes every case.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { startWrangler } from "../tests/support/wrangler.mjs";

const [suiteDir, runsArg = "3"] = process.argv.slice(2);
if (!suiteDir || !fs.existsSync(path.join(suiteDir, "test-suite.js"))) {
  console.error("usage: node scripts/conformance.mjs <socket.io-protocol/test-suite folder> [runs]");
  process.exit(2);
}
if (!fs.existsSync(path.join(suiteDir, "node_modules", "mocha"))) {
  console.error(`${suiteDir}: run \`npm ci\` there first`);
  process.exit(2);
}
const runs = Number(runsArg);

/** Runs mocha once; resolves with its output (the suite's own timeouts bound it). */
function mocha() {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(suiteDir, "node_modules/mocha/bin/mocha"), "--exit", "test-suite.js"], {
      cwd: suiteDir,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("exit", () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

const server = await startWrangler({ port: 3000, vars: { SOCKETIO_CONFORMANCE: "1", LOG_LEVEL: "info" } });
let allPassed = true;
try {
  for (let i = 1; i <= runs; i++) {
    const out = await mocha();
    const passing = Number(out.match(/(\d+) passing/)?.[1] ?? 0);
    const failing = Number(out.match(/(\d+) failing/)?.[1] ?? 0);
    console.log(`run ${i}: ${passing} passing, ${failing} failing`);
    if (failing > 0 || passing === 0) {
      allPassed = false;
      for (const m of out.matchAll(/^\s+\d+\) (.*)$/gm)) console.log(`    ${m[1]}`);
      if (process.env.VERBOSE) console.log(out);
    }
  }
} finally {
  await server.stop();
}
process.exit(allPassed ? 0 : 1);
