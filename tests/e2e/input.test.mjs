// Hostile or careless input at the edges: tokens that are not strings, HTTP methods that are
// not Engine.IO's, an oversize Authorization header, and the deployment's NODE_ENV.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { ROOT, startWrangler } from "../support/wrangler.mjs";
import { closeAll, connect, join, refused, uniqueSession } from "../support/client.mjs";

const SECRET = "input-test-secret-0123456789abcdef-xyz";
let server;

before(async () => {
  server = await startWrangler({ vars: { JWT_SECRET: SECRET, OFFLINE_CHUNK_DELAY_MS: 1 } });
});
after(async () => { closeAll(); await server?.stop(); });

describe("tokens that are not strings", () => {
  test("a number, an object, true, an array, or auth.token of those → AUTH_INVALID, not anonymous", async () => {
    const payloads = [
      { token: 123 },
      { token: { userId: "admin" } },
      { token: true },
      { token: ["a"] },
      { auth: { token: 123 } },
    ];
    for (const auth of payloads) {
      const err = await refused(server.url, { sessionId: uniqueSession("nonstr"), auth });
      assert.ok(err, `connected with ${JSON.stringify(auth)}`);
      assert.equal(err.data?.code, "AUTH_INVALID", JSON.stringify(auth));
      assert.match(err.message, /Authentication failed/);
    }
  });

  test("the raw frame 40{\"token\":123} gets 44 with AUTH_INVALID", async () => {
    const url = `${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&sessionId=${uniqueSession("raw")}`;
    const ws = new WebSocket(url);
    const frames = [];
    await new Promise((resolve, reject) => { ws.on("open", resolve); ws.on("error", reject); });
    ws.on("message", (d) => frames.push(d.toString()));
    ws.send('40{"token":123}');
    const deadline = Date.now() + 5000;
    while (!frames.some((f) => f.startsWith("44")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    ws.close();
    const refusal = frames.find((f) => f.startsWith("44"));
    assert.ok(refusal, frames.join(" | "));
    const body = JSON.parse(refusal.slice(2));
    assert.equal(body.data.code, "AUTH_INVALID");
    assert.equal(typeof body.message, "string");
  });

  test("no token, null or \"\" stays anonymous", async () => {
    for (const auth of [undefined, { token: null }, { token: "" }]) {
      const s = await connect(server.url, { sessionId: uniqueSession("anon"), auth });
      assert.match((await join(s)).userId, /^anon_/, JSON.stringify(auth));
      s.close();
    }
  });
});

describe("HTTP methods on /socket.io/", () => {
  const handshake = (transport) => `${server.url}/socket.io/?EIO=4&transport=${transport}&sessionId=${uniqueSession("method")}`;

  test("methods other than GET never answer a handshake: 400 Bad handshake method", async () => {
    for (const method of ["PROPFIND", "PUT", "DELETE", "PATCH", "POST"]) {
      for (const transport of ["polling", "websocket"]) {
        const r = await fetch(handshake(transport), { method });
        const text = await r.text();
        assert.equal(r.status, 400, `${method} ${transport}: ${text}`);
        assert.deepEqual(JSON.parse(text), { code: 2, message: "Bad handshake method" }, `${method} ${transport}`);
      }
    }
    const head = await fetch(handshake("polling"), { method: "HEAD" });
    assert.equal(head.status, 400);
  });

  test("with a sid, only GET and POST are accepted; others → 400 Bad request", async () => {
    const open = await fetch(handshake("polling"));
    assert.equal(open.status, 200);
    const { sid } = JSON.parse((await open.text()).slice(1));
    for (const method of ["PROPFIND", "PUT", "DELETE"]) {
      const r = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method, body: method === "PROPFIND" ? undefined : "40" });
      assert.equal(r.status, 400, method);
      assert.deepEqual(await r.json(), { code: 3, message: "Bad request" }, method);
    }
  });
});

describe("an oversize Authorization header", () => {
  async function upgradeStatus(authorization) {
    const url = `${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&sessionId=${uniqueSession("big")}`;
    return new Promise((resolve) => {
      const ws = new WebSocket(url, { headers: { authorization } });
      ws.on("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (c) => { body += c; });
        res.on("end", () => resolve({ status: res.statusCode, body }));
      });
      ws.on("open", () => { ws.close(); resolve({ status: 101 }); });
      ws.on("error", () => {});
    });
  }

  test("over 8 KB is refused before the upgrade with a JSON error, never a 500", async () => {
    for (const size of [9_000, 17_000]) {
      const { status, body } = await upgradeStatus(`Bearer ${"a".repeat(size)}`);
      assert.equal(status, 431, `${size}: ${body}`);
      assert.equal(JSON.parse(body).error.code, "HEADER_TOO_LARGE");
    }
    const poll = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sessionId=${uniqueSession("big")}`, {
      headers: { authorization: `Bearer ${"a".repeat(17_000)}` },
    });
    assert.equal(poll.status, 431);
    assert.equal((await poll.json()).error.code, "HEADER_TOO_LARGE");
    assert.ok(!server.logs.some((l) => /attachment.*cannot be larger/.test(l)), "the attachment limit was hit");
  });

  test("a long but allowed header still reaches CONNECT and is refused there as a bad token", async () => {
    const err = await refused(server.url, { sessionId: uniqueSession("big"), extraHeaders: { authorization: `Bearer ${"a".repeat(6_000)}` } });
    assert.equal(err?.data?.code, "AUTH_INVALID");
  });
});

describe("NODE_ENV of a deployment", () => {
  let prod;
  const deployed = fs.readFileSync(path.join(ROOT, "wrangler.toml"), "utf8").match(/^NODE_ENV\s*=\s*"([^"]*)"/m)?.[1];
  before(async () => {
    // wrangler.toml's own [vars] value, as `wrangler deploy` would use it.
    prod = await startWrangler({ vars: { NODE_ENV: deployed ?? "", JWT_SECRET: "too-short" } });
  });
  after(async () => { await prod?.stop(); });

  test("wrangler.toml deploys as production; .env.example (→ .dev.vars) keeps development local", async () => {
    assert.equal(deployed, "production");
    assert.match(fs.readFileSync(path.join(ROOT, ".env.example"), "utf8"), /^NODE_ENV=development$/m);
    const health = await (await fetch(`${prod.url}/health`)).json();
    assert.match(health.checks.jwtSecret, /32 bytes/);
    const browser = await fetch(`${prod.url}/api/auth/token`, { method: "POST", body: "{}", headers: { origin: "https://anywhere.example" } });
    assert.equal(browser.status, 403, "production allows no browser origin until ALLOWED_ORIGINS names it");
  });
});
