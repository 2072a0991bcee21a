// Foundation: HTTP routes, the Engine.IO / Socket.IO handshake, heartbeats,
// acks, namespaces and malformed frames, against the real Worker in wrangler dev.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startWrangler } from "../support/wrangler.mjs";
import { closeAll, connect, converse, join, request, uniqueSession, waitFor } from "../support/client.mjs";
import { sleep } from "../support/mock-openai.mjs";

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
let server;

before(async () => {
  server = await startWrangler({
    vars: {
      PING_INTERVAL_MS: PING_INTERVAL,
      PING_TIMEOUT_MS: PING_TIMEOUT,
      CONNECT_TIMEOUT_MS: 1500,
      OFFLINE_CHUNK_DELAY_MS: 5,
      JWT_SECRET: "foundation-test-secret-0123456789abcdef",
    },
  });
});
after(async () => { closeAll(); await server?.stop(); });

/** A raw Engine.IO WebSocket: resolves once the open packet arrived. */
function rawSocket(sessionId) {
  const ws = new WebSocket(`${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&sessionId=${sessionId}`);
  ws.frames = [];
  ws.on("message", (data, isBinary) => ws.frames.push(isBinary ? data : data.toString()));
  ws.closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    ws.once("error", reject);
    ws.once("message", () => resolve(ws));
  });
}

async function nextFrame(ws, pred, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const f = ws.frames.find(pred);
    if (f !== undefined) return f;
    await sleep(20);
  }
  throw new Error("no such frame");
}

describe("HTTP routes", () => {
  test("GET /health reports status, version and config checks without secrets", async () => {
    const r = await fetch(`${server.url}/health`);
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.status, "healthy");
    assert.match(body.version, /^\d+\.\d+\.\d+$/);
    assert.ok(!Number.isNaN(Date.parse(body.timestamp)));
    assert.equal(typeof body.uptime, "number");
    assert.equal(body.checks.jwtSecret, "ok");
    assert.ok(!JSON.stringify(body).includes("foundation-test-secret"));
  });

  test("unknown routes answer JSON 404", async () => {
    const r = await fetch(`${server.url}/no/such/thing`);
    assert.equal(r.status, 404);
    assert.deepEqual(await r.json(), { error: { code: "NOT_FOUND", message: "There is nothing at this address" } });
  });

  test("Engine.IO errors: bad handshake method, unknown sid, unknown transport", async () => {
    const post = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { method: "POST", body: "40" });
    assert.equal(post.status, 400);
    assert.deepEqual(await post.json(), { code: 2, message: "Bad handshake method" });
    for (const sid of ["nosuchsession.abc", "garbage"]) {
      const r = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
      assert.equal(r.status, 400);
      assert.deepEqual(await r.json(), { code: 1, message: "Session ID unknown" });
    }
    const t = await fetch(`${server.url}/socket.io/?EIO=4&transport=carrier-pigeon`);
    assert.deepEqual(await t.json(), { code: 0, message: "Transport unknown" });
  });

  test("a malformed sessionId is refused before any upgrade", async () => {
    for (const bad of ["short", "has%20space", "a".repeat(129), "..%2F..%2Fetc"]) {
      const r = await fetch(`${server.url}/socket.io/?EIO=4&transport=websocket&sessionId=${bad}`);
      assert.equal(r.status, 400, bad);
      assert.equal((await r.json()).error.code, "INVALID_SESSION_ID");
    }
  });
});

describe("Socket.IO over WebSocket", () => {
  test("connect, join_session → session_created, and a reply", async () => {
    const sessionId = uniqueSession();
    const socket = await connect(server.url, { sessionId });
    const created = await join(socket, { sessionId });
    assert.equal(created.sessionId, sessionId);
    assert.match(created.userId, /^anon_[0-9a-f]{32}$/);
    assert.equal(created.mode, "GREETING");
    assert.equal(created.safetyTier, 1);
    assert.equal(created.isNew, true);
    assert.deepEqual(created.conversationHistory, []);
    const { complete, chunks } = await converse(socket, "hello there");
    // No OPENAI_API_KEY here: the offline companion answers, and says who it is.
    assert.match(complete.message, /Mia/);
    assert.ok(chunks.length > 1);
    assert.equal(chunks.map((c) => c.chunk).join(""), complete.message);
    assert.deepEqual(chunks.map((c) => c.index), chunks.map((_, i) => i));
  });

  test("a missing sessionId gets a fresh one of at least 128 bits", async () => {
    const a = await join(await connect(server.url));
    const b = await join(await connect(server.url));
    assert.match(a.sessionId, /^[A-Za-z0-9_-]{22,}$/);
    assert.notEqual(a.sessionId, b.sessionId);
  });

  test("every acked event is answered, unknown ones with an error", async () => {
    const socket = await connect(server.url, { sessionId: uniqueSession() });
    assert.deepEqual(await request(socket, "no_such_event", {}), {
      ok: false, error: { code: "UNKNOWN_EVENT", message: 'Unknown event "no_such_event"' },
    });
    const mismatch = await request(socket, "join_session", { sessionId: "some-other-session" });
    assert.equal(mismatch.ok, false);
    assert.equal(mismatch.error.code, "SESSION_MISMATCH");
    const err = await waitFor(socket, "error", (e) => e.code === "SESSION_MISMATCH");
    assert.equal(err.retryable, false);
    const bad = await request(socket, "message", { message: "   " });
    assert.equal(bad.error.code, "INVALID_MESSAGE");
  });

  test("the connection stays alive across three ping cycles", async () => {
    const socket = await connect(server.url, { sessionId: uniqueSession() });
    let pings = 0;
    socket.io.engine.on("ping", () => { pings++; });
    let disconnected = false;
    socket.on("disconnect", () => { disconnected = true; });
    await sleep(3 * (PING_INTERVAL + PING_TIMEOUT) + 200);
    assert.equal(disconnected, false);
    assert.ok(pings >= 3, `only ${pings} pings`);
    const ack = await request(socket, "join_session", {});
    assert.equal(ack.ok, true);
  });

  test("a client that stops answering pings is dropped", async () => {
    const ws = await rawSocket(uniqueSession());
    const open = JSON.parse(ws.frames[0].slice(1));
    assert.deepEqual(open.upgrades, []);
    assert.equal(open.pingInterval, PING_INTERVAL);
    assert.equal(open.pingTimeout, PING_TIMEOUT);
    assert.equal(open.maxPayload, 1000000);
    ws.send("40");
    await nextFrame(ws, (f) => typeof f === "string" && f.startsWith("40"));
    await nextFrame(ws, (f) => f === "2", PING_INTERVAL * 3);
    // Never answer "3": the server must close within pingTimeout (+ alarm slack).
    const code = await Promise.race([ws.closed, sleep(PING_INTERVAL + PING_TIMEOUT + 3000).then(() => "open")]);
    assert.notEqual(code, "open");
  });

  test("a socket that never sends CONNECT is closed after CONNECT_TIMEOUT_MS", async () => {
    const ws = await rawSocket(uniqueSession());
    const started = Date.now();
    // Answer pings so only the connect timeout can close it.
    ws.on("message", (d) => { if (d.toString() === "2") ws.send("3"); });
    const code = await Promise.race([ws.closed, sleep(6000).then(() => "open")]);
    assert.notEqual(code, "open");
    assert.ok(Date.now() - started >= 1400, "closed too early");
  });

  test("an unknown namespace gives connect_error", async () => {
    const { io } = await import("socket.io-client");
    const socket = io(`${server.url}/admin`, { transports: ["websocket"], reconnection: false, forceNew: true });
    const err = await new Promise((resolve) => socket.once("connect_error", resolve));
    socket.close();
    assert.equal(err.message, "Invalid namespace");
  });

  test("a malformed frame closes only that socket; the session and its history are untouched", async () => {
    const sessionId = uniqueSession();
    const good = await connect(server.url, { sessionId });
    await join(good);
    const first = await converse(good, "remember this");
    const cases = ["4garbage", "9", "42{\"not\":\"an array\"}", "42[1,2]", "45-[\"x\"]", "4" + "x".repeat(1_000_001)];
    for (const frame of cases) {
      const bad = await rawSocket(sessionId);
      bad.send("40");
      await nextFrame(bad, (f) => typeof f === "string" && f.startsWith("40"));
      bad.send(frame);
      const code = await Promise.race([bad.closed, sleep(5000).then(() => "open")]);
      assert.notEqual(code, "open", `frame ${frame.slice(0, 20)} did not close the socket`);
    }
    // A binary attachment nobody announced.
    const bin = await rawSocket(sessionId);
    bin.send("40");
    await nextFrame(bin, (f) => typeof f === "string" && f.startsWith("40"));
    bin.send(Buffer.from([1, 2, 3]));
    assert.notEqual(await Promise.race([bin.closed, sleep(5000).then(() => "open")]), "open");

    assert.equal(good.connected, true);
    const again = await join(await connect(server.url, { sessionId }));
    assert.deepEqual(again.conversationHistory.map((m) => m.content), ["remember this", first.complete.message]);
  });
});

describe("conformance switch", () => {
  let conf;
  before(async () => { conf = await startWrangler({ vars: { SOCKETIO_CONFORMANCE: 1 } }); });
  after(async () => { await conf?.stop(); });

  test("timers follow the protocol test suite", async () => {
    const ws = new WebSocket(`${conf.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`);
    const open = await new Promise((resolve) => ws.once("message", (d) => resolve(JSON.parse(d.toString().slice(1)))));
    ws.close();
    assert.equal(open.pingInterval, 300);
    assert.equal(open.pingTimeout, 200);
  });

  test("auth is echoed on connect; message → message-back (binary too); message-with-ack", async () => {
    const socket = await connect(conf.url, { auth: { token: "abc", extra: 1 } });
    const auth = await waitFor(socket, "auth");
    assert.deepEqual(auth, { token: "abc", extra: 1 });
    const back = new Promise((resolve) => socket.once("message-back", (...args) => resolve(args)));
    socket.emit("message", 1, "2", { 3: [true] }, Buffer.from([1, 2, 3]));
    const args = await back;
    assert.equal(args[0], 1);
    assert.equal(args[1], "2");
    assert.deepEqual(args[2], { 3: [true] });
    assert.deepEqual([...new Uint8Array(args[3])], [1, 2, 3]);
    const acked = await socket.timeout(3000).emitWithAck("message-with-ack", 1, "2", { 3: [false] });
    assert.equal(acked, 1);
  });

  test("namespace /custom is accepted", async () => {
    const { io } = await import("socket.io-client");
    const socket = io(`${conf.url}/custom`, { transports: ["websocket"], reconnection: false, forceNew: true });
    await new Promise((resolve, reject) => { socket.once("connect", resolve); socket.once("connect_error", reject); });
    socket.close();
  });
});
