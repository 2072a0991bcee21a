// Auth and hardening: tokens, session ownership, origins, limits, a missing or weak
// secret, and logs that never carry message text or tokens.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import jwt from "jsonwebtoken";
import WebSocket from "ws";
import { startWrangler } from "../support/wrangler.mjs";
import { closeAll, connect, converse, join, refused, request, uniqueSession } from "../support/client.mjs";
import { sleep } from "../support/mock-openai.mjs";

const SECRET = "auth-test-secret-0123456789abcdef-xyz";
const API_KEY = "server-to-server-key-42";
const ORIGIN = "https://app.example";
let server;

before(async () => {
  server = await startWrangler({
    vars: {
      JWT_SECRET: SECRET,
      AUTH_API_KEY: API_KEY,
      ALLOWED_ORIGINS: ORIGIN,
      MAX_SOCKETS_PER_SESSION: 2,
      OFFLINE_CHUNK_DELAY_MS: 1,
      LOG_LEVEL: "debug",
    },
  });
});
after(async () => { closeAll(); await server?.stop(); });

async function mint(body, headers = {}) {
  const r = await fetch(`${server.url}/api/auth/token`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

describe("POST /api/auth/token", () => {
  test("anonymous tokens for anyone", async () => {
    const { status, body } = await mint({});
    assert.equal(status, 200);
    assert.equal(body.anonymous, true);
    assert.match(body.userId, /^anon_[0-9a-f]{32}$/);
    assert.equal(body.expiresIn, 7 * 24 * 3600);
    const claims = jwt.verify(body.token, SECRET, { algorithms: ["HS256"] });
    assert.equal(claims.userId, body.userId);
    assert.equal(claims.exp - claims.iat, 7 * 24 * 3600);
  });

  test("named users only with the server's API key", async () => {
    assert.equal((await mint({ userId: "u1" })).status, 401);
    const wrong = await mint({ userId: "u1" }, { authorization: "Bearer not-the-key" });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.code, "UNAUTHORIZED");
    const ok = await mint({ userId: "u1" }, { authorization: `Bearer ${API_KEY}` });
    assert.equal(ok.status, 200);
    assert.deepEqual([ok.body.userId, ok.body.anonymous], ["u1", false]);
  });

  test("bad bodies get JSON errors", async () => {
    assert.deepEqual((await mint("{not json")).body.error.code, "INVALID_JSON");
    assert.equal((await mint({ userId: 7 })).status, 400);
    assert.equal((await mint("[1,2]")).body.error.code, "INVALID_REQUEST");
    assert.equal((await mint({ userId: "x".repeat(500) }, { authorization: `Bearer ${API_KEY}` })).status, 400);
  });
});

describe("tokens on connect", () => {
  test("a token minted by the original server (jsonwebtoken) works, via auth or the Authorization header", async () => {
    const legacy = jwt.sign({ userId: "legacy-user" }, SECRET, { expiresIn: "7d" });
    const a = await connect(server.url, { sessionId: uniqueSession(), token: legacy });
    assert.equal((await join(a)).userId, "legacy-user");
    const b = await connect(server.url, { sessionId: uniqueSession(), extraHeaders: { authorization: `Bearer ${legacy}` } });
    assert.equal((await join(b)).userId, "legacy-user");
  });

  test("expired, tampered, alg:none, other algorithms, wrong secret → connect_error with a code", async () => {
    const expired = jwt.sign({ userId: "u", exp: Math.floor(Date.now() / 1000) - 3600 }, SECRET);
    const good = jwt.sign({ userId: "u" }, SECRET, { expiresIn: "1h" });
    const [h, p, sig] = good.split(".");
    const forgedPayload = Buffer.from(JSON.stringify({ userId: "admin", exp: 4102444800 })).toString("base64url");
    const cases = [
      [expired, "AUTH_EXPIRED"],
      [`${h}.${forgedPayload}.${sig}`, "AUTH_INVALID"],
      // The first character carries six bits of the signature (the last only four, and "AA"
      // was sometimes the real ending): changing it always breaks the signature.
      [`${h}.${p}.${sig[0] === "A" ? "B" : "A"}${sig.slice(1)}`, "AUTH_INVALID"],
      [jwt.sign({ userId: "u" }, "", { algorithm: "none", expiresIn: "1h" }), "AUTH_INVALID"],
      [jwt.sign({ userId: "u" }, SECRET, { algorithm: "HS512", expiresIn: "1h" }), "AUTH_INVALID"],
      [jwt.sign({ userId: "u" }, "another-secret", { expiresIn: "1h" }), "AUTH_INVALID"],
      ["garbage", "AUTH_INVALID"],
    ];
    for (const [token, code] of cases) {
      const err = await refused(server.url, { sessionId: uniqueSession(), token });
      assert.ok(err, `accepted ${token.slice(0, 20)}`);
      assert.equal(err.data?.code, code, token.slice(0, 30));
      assert.match(err.message, /Authentication failed/);
    }
  });
});

describe("session ownership", () => {
  test("a session first joined with a token belongs to that user", async () => {
    const sessionId = uniqueSession("owned");
    const owner = (await mint({})).body.token;
    const other = (await mint({})).body.token;
    const s = await connect(server.url, { sessionId, token: owner });
    await converse(s, "private thoughts");
    for (const opts of [{ token: other }, {}]) {
      const err = await refused(server.url, { sessionId, ...opts });
      assert.equal(err?.data?.code, "FORBIDDEN");
    }
    const again = await connect(server.url, { sessionId, token: owner });
    assert.equal((await join(again)).conversationHistory[0].content, "private thoughts");
  });

  test("a session first joined without a token belongs to nobody", async () => {
    const sessionId = uniqueSession("open");
    await join(await connect(server.url, { sessionId }));
    await join(await connect(server.url, { sessionId, token: (await mint({})).body.token }));
  });

  test("more sockets than MAX_SOCKETS_PER_SESSION get TOO_MANY_CONNECTIONS", async () => {
    const sessionId = uniqueSession("cap");
    await connect(server.url, { sessionId });
    await connect(server.url, { sessionId });
    const err = await refused(server.url, { sessionId });
    assert.equal(err?.data?.code, "TOO_MANY_CONNECTIONS");
  });
});

describe("origins", () => {
  test("REST: a foreign Origin gets 403, the allowed one gets CORS headers, none is fine", async () => {
    const evil = await fetch(`${server.url}/api/auth/token`, { method: "POST", body: "{}", headers: { origin: "https://evil.example" } });
    assert.equal(evil.status, 403);
    assert.equal((await evil.json()).error.code, "ORIGIN_NOT_ALLOWED");
    const ok = await fetch(`${server.url}/api/auth/token`, { method: "POST", body: "{}", headers: { origin: ORIGIN } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("access-control-allow-origin"), ORIGIN);
    const pre = await fetch(`${server.url}/api/auth/token`, {
      method: "OPTIONS",
      headers: { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    assert.equal(pre.status, 204);
    assert.match(pre.headers.get("access-control-allow-methods"), /POST/);
    const badPre = await fetch(`${server.url}/api/auth/token`, { method: "OPTIONS", headers: { origin: "https://evil.example" } });
    assert.equal(badPre.status, 403);
  });

  test("WebSocket upgrade: a foreign Origin gets 403", async () => {
    const url = `${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&sessionId=${uniqueSession()}`;
    const status = await new Promise((resolve) => {
      const ws = new WebSocket(url, { origin: "https://evil.example" });
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode));
      ws.on("open", () => { ws.close(); resolve(101); });
      ws.on("error", () => {});
    });
    assert.equal(status, 403);
    const okWs = new WebSocket(url, { origin: ORIGIN });
    await new Promise((resolve, reject) => { okWs.on("open", resolve); okWs.on("error", reject); });
    okWs.close();
  });
});

describe("logs", () => {
  test("one JSON object per line, never the message text or a token", async () => {
    const secretText = `my-private-words-${Math.random().toString(36).slice(2)}`;
    const { token } = (await mint({})).body;
    const s = await connect(server.url, { sessionId: uniqueSession("logs"), token });
    await join(s);
    // A standing rule flags this whatever random text stands beside it (the model alone
    // may read an odd token as safe), so the message is surely logged at tier 3.
    await converse(s, `${secretText} i have been cutting myself with a razor`);
    await request(s, "message", { message: "" });
    await sleep(500);
    const all = server.logs.join("\n");
    assert.ok(!all.includes(secretText), "message text leaked into logs");
    assert.ok(!all.includes(token), "token leaked into logs");
    assert.ok(!all.includes(SECRET), "secret leaked into logs");
    const ours = server.logs.filter((l) => l.startsWith("{"));
    assert.ok(ours.length > 3);
    for (const line of ours) {
      const o = JSON.parse(line);
      assert.ok(o.ts && o.level && o.msg, line);
    }
    const received = ours.map((l) => JSON.parse(l)).find((o) => o.msg === "message_received" && o.tier === 3);
    assert.ok(received, "the tier and size are logged");
    assert.equal(typeof received.chars, "number");
  });

  test("session ids and sids appear only as short tags", async () => {
    const before = server.logs.length;
    // A client-chosen session, over WebSocket, with a tier-3 message (rule ids at info).
    const chosen = uniqueSession("logtag");
    const { token } = (await mint({})).body;
    const s = await connect(server.url, { sessionId: chosen, token });
    const created = await join(s);
    await converse(s, "i want to die");
    const wsSid = s.io.engine.id;
    // A server-minted session, unauthenticated, over raw long-polling, ending in a
    // malformed payload (a warn line that names the sid).
    const open = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
    const pollSid = JSON.parse((await open.text()).slice(1)).sid;
    const post = (body) => fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${pollSid}`, { method: "POST", body });
    await post("40");
    const hello = await (await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${pollSid}`)).text();
    const minted = /"sid":"([^"]+)"/.exec(hello)?.[1];
    await post('42["join_session",{}]');
    await sleep(300);
    const joined = await (await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${pollSid}`)).text();
    const mintedSession = /"sessionId":"([^"]+)"/.exec(joined)?.[1];
    assert.ok(mintedSession, joined);
    await post("b!!!not-base64");
    await sleep(500);

    const secrets = { chosen, createdId: created.sessionId, wsSid, pollSid, minted, mintedSession };
    for (const [name, value] of Object.entries(secrets)) assert.ok(value && value.length >= 8, `${name}: ${value}`);
    const ours = server.logs.slice(before).filter((l) => l.startsWith("{"));
    for (const line of ours) {
      for (const [name, value] of Object.entries(secrets)) {
        assert.ok(!line.includes(value), `${name} in full in a log line: ${line}`);
      }
      const o = JSON.parse(line);
      for (const key of ["sessionId", "sid"]) {
        if (key in o) assert.match(o[key], /^[0-9a-f]{8}$/, line);
      }
    }
    const parsed = ours.map((l) => JSON.parse(l));
    const received = parsed.find((o) => o.msg === "message_received" && o.tier === 3);
    assert.ok(received?.sessionId && received.sid && received.rules, "the tier-3 line is still correlatable");
    const sameSession = parsed.filter((o) => o.sessionId === received.sessionId);
    assert.ok(sameSession.length > 1, "one session's lines share a tag");
    assert.ok(parsed.some((o) => o.msg === "malformed_payload" && o.sid), "the malformed payload was logged");
    assert.ok(parsed.some((o) => o.authenticated === false), "the unauthenticated connect was logged");
  });
});

describe("without a JWT_SECRET, and with a weak one in production", () => {
  let bare;
  let prod;
  before(async () => {
    bare = await startWrangler({ vars: {} });
    prod = await startWrangler({ vars: { NODE_ENV: "production", JWT_SECRET: "too-short", ALLOWED_ORIGINS: ORIGIN } });
  });
  after(async () => { await bare?.stop(); await prod?.stop(); });

  test("the server still runs anonymously; health says degraded and why; minting is 503", async () => {
    const health = await (await fetch(`${bare.url}/health`)).json();
    assert.equal(health.status, "degraded");
    assert.equal(health.checks.jwtSecret, "missing");
    const r = await fetch(`${bare.url}/api/auth/token`, { method: "POST", body: "{}" });
    assert.equal(r.status, 503);
    assert.equal((await r.json()).error.code, "AUTH_UNAVAILABLE");
    const s = await connect(bare.url, { sessionId: uniqueSession() });
    assert.match((await join(s)).userId, /^anon_/);
  });

  test("a secret under 32 bytes is refused in production", async () => {
    const health = await (await fetch(`${prod.url}/health`)).json();
    assert.equal(health.status, "degraded");
    assert.match(health.checks.jwtSecret, /32 bytes/);
    assert.ok(!JSON.stringify(health).includes("too-short"));
    assert.equal((await fetch(`${prod.url}/api/auth/token`, { method: "POST", body: "{}" })).status, 503);
  });
});
