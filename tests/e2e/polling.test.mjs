// Engine.IO long-polling and the upgrade to WebSocket: a default socket.io-client
// (no transport options) connects unchanged, and polling alone carries the whole flow.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startWrangler } from "../support/wrangler.mjs";
import { startMockOpenAI, sleep } from "../support/mock-openai.mjs";
import { uniqueSession, waitFor } from "../support/client.mjs";

let mock;
let server;
const opened = [];

before(async () => {
  mock = await startMockOpenAI();
  server = await startWrangler({
    vars: { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: mock.url, PING_INTERVAL_MS: 400, PING_TIMEOUT_MS: 300, JWT_SECRET: "polling-test-secret-0123456789abcdef" },
  });
});
after(async () => { for (const s of opened) s.close(); await server?.stop(); await mock?.close(); });

function client(opts) {
  const socket = io(server.url, { reconnection: false, forceNew: true, ...opts });
  socket.received = [];
  socket.onAny((n, p) => socket.received.push([n, p]));
  opened.push(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

async function conversation(socket, sessionId) {
  const created = waitFor(socket, "session_created");
  assert.equal((await socket.timeout(5000).emitWithAck("join_session", { sessionId })).ok, true);
  assert.equal((await created).sessionId, sessionId);
  mock.script({ chunks: ["one ", "two ", "three"], delayMs: 30 });
  const ack = await socket.timeout(5000).emitWithAck("message", { message: "hello" });
  const complete = await waitFor(socket, "message_complete", (p) => p.messageId === ack.replyId);
  const chunks = socket.received.filter(([n, p]) => n === "message_chunk" && p.messageId === ack.replyId).map(([, p]) => p.chunk);
  assert.deepEqual(chunks, ["one ", "two ", "three"]);
  assert.equal(complete.message, "one two three");
  // A tier-3 message over the same transport.
  const alertAck = await socket.timeout(5000).emitWithAck("message", { message: "i want to die" });
  const alert = await waitFor(socket, "safety_alert", (p) => p.messageId === alertAck.messageId);
  assert.equal(alert.tier, 3);
  const second = await waitFor(socket, "message_complete", (p) => p.messageId === alertAck.replyId);
  assert.match(second.message, /988/);
}

describe("a default socket.io-client", () => {
  test("starts with polling, upgrades to WebSocket, and the whole flow works", async () => {
    const sessionId = uniqueSession("default");
    const socket = await client({ query: { sessionId } });
    const upgraded = new Promise((r) => (socket.io.engine.transport.name === "websocket" ? r() : socket.io.engine.once("upgrade", r)));
    await Promise.race([upgraded, sleep(5000)]);
    assert.equal(socket.io.engine.transport.name, "websocket");
    await conversation(socket, sessionId);
  });

  test("messages sent during the upgrade all arrive, in order", async () => {
    const sessionId = uniqueSession("order");
    const socket = io(server.url, { reconnection: false, forceNew: true, query: { sessionId } });
    opened.push(socket);
    socket.received = [];
    socket.onAny((n, p) => socket.received.push([n, p]));
    // Emitted before connect: buffered by the client, sent over polling or the WebSocket.
    const acks = [];
    for (let i = 0; i < 5; i++) acks.push(socket.timeout(15000).emitWithAck("join_session", {}));
    const results = await Promise.all(acks);
    assert.deepEqual(results.map((r) => r.ok), [true, true, true, true, true]);
    assert.equal(socket.received.filter(([n]) => n === "session_created").length, 5);
  });
});

describe("polling only", () => {
  test("transports: ['polling'] carries the whole conversation and stays alive across pings", async () => {
    const sessionId = uniqueSession("polling");
    const socket = await client({ transports: ["polling"], query: { sessionId } });
    assert.equal(socket.io.engine.transport.name, "polling");
    await conversation(socket, sessionId);
    let closed = false;
    socket.on("disconnect", () => { closed = true; });
    await sleep(3 * (400 + 300));
    assert.equal(closed, false);
    assert.equal(socket.io.engine.transport.name, "polling");
  });

  test("a token and ownership work over polling too", async () => {
    const { token } = await (await fetch(`${server.url}/api/auth/token`, { method: "POST", body: "{}" })).json();
    const sessionId = uniqueSession("owned-poll");
    const owner = await client({ transports: ["polling"], query: { sessionId }, auth: { token } });
    await owner.timeout(5000).emitWithAck("join_session", {});
    const err = await client({ transports: ["polling"], query: { sessionId } }).catch((e) => e);
    assert.equal(err.data?.code, "FORBIDDEN");
  });

  test("binary payloads travel as base64 over polling", async () => {
    const conf = await startWrangler({ vars: { SOCKETIO_CONFORMANCE: 1 } });
    try {
      const socket = io(conf.url, { transports: ["polling"], reconnection: false, forceNew: true });
      opened.push(socket);
      await new Promise((r) => socket.once("connect", r));
      const back = new Promise((resolve) => socket.once("message-back", (...args) => resolve(args)));
      socket.emit("message", "text", Buffer.from([0, 1, 2, 250]));
      const [text, bin] = await back;
      assert.equal(text, "text");
      assert.deepEqual([...new Uint8Array(bin)], [0, 1, 2, 250]);
    } finally {
      await conf.stop();
    }
  });
});

describe("conformance switch over long-polling (the protocol test suite's polling cases)", () => {
  let conf;
  before(async () => { conf = await startWrangler({ vars: { SOCKETIO_CONFORMANCE: 1 } }); });
  after(async () => { await conf?.stop(); });

  const poll = (path, init) => fetch(`${conf.url}/socket.io/?EIO=4&transport=polling${path}`, init);
  async function openSession() {
    const body = await (await poll("")).text();
    assert.equal(body[0], "0");
    return JSON.parse(body.slice(1));
  }

  test("handshake fields and refusals", async () => {
    const open = await openSession();
    assert.deepEqual(Object.keys(open).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
    assert.deepEqual([open.upgrades, open.pingInterval, open.pingTimeout, open.maxPayload], [["websocket"], 300, 200, 1000000]);
    for (const q of ["/socket.io/?transport=polling", "/socket.io/?EIO=abc&transport=polling", "/socket.io/?EIO=4", "/socket.io/?EIO=4&transport=abc"]) {
      assert.equal((await fetch(`${conf.url}${q}`)).status, 400, q);
    }
    for (const method of ["POST", "PUT"]) assert.equal((await poll("", { method })).status, 400, method);
  });

  test("pings over polling are answered by POSTed pongs", async () => {
    const { sid } = await openSession();
    for (let i = 0; i < 3; i++) {
      const r = await poll(`&sid=${sid}`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), "2");
      assert.equal((await poll(`&sid=${sid}`, { method: "POST", body: "3" })).status, 200);
    }
  });

  test("a silent polling session is closed after the ping timeout", async () => {
    const { sid } = await openSession();
    await sleep(300 + 200 + 1000);
    assert.equal((await poll(`&sid=${sid}`)).status, 400);
  });

  test("a client close ends the pending poll with a noop, then the sid is gone", async () => {
    const { sid } = await openSession();
    const [pending] = await Promise.all([poll(`&sid=${sid}`), sleep(50).then(() => poll(`&sid=${sid}`, { method: "POST", body: "1" }))]);
    assert.equal(pending.status, 200);
    assert.equal(await pending.text(), "6");
    assert.equal((await poll(`&sid=${sid}`)).status, 400);
  });

  test("upgrade: 2probe → 3probe, then 5; the old transport and a second WebSocket are refused", { timeout: 60_000 }, async () => {
    const { sid } = await openSession();
    const { default: WebSocket } = await import("ws");
    const ws = new WebSocket(`${conf.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
    // The switch's timers are the suite's (ping every 300 ms, 200 ms to answer): a ping queued
    // during the upgrade arrives on the WebSocket once it completes and must be answered, or a
    // slow machine sees the session closed before the last step.
    ws.on("message", (d) => { if (d.toString() === "2") ws.send("3"); });
    await new Promise((r) => ws.once("open", r));
    const probe = new Promise((r) => ws.once("message", (d) => r(d.toString())));
    ws.send("2probe");
    assert.equal(await probe, "3probe");
    ws.send("5");
    await sleep(200);
    assert.equal((await poll(`&sid=${sid}`)).status, 400);
    const second = new WebSocket(`${conf.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&sid=${sid}`);
    second.on("error", () => {});
    await new Promise((r) => second.once("close", r));
    // The upgraded connection carries Socket.IO.
    const connected = new Promise((r) => ws.on("message", (d) => { if (d.toString().startsWith("40")) r(); }));
    ws.send("40");
    await connected;
    ws.close();
  });

  test("Socket.IO over polling: connect with auth, echo, ack with binary", async () => {
    const { sid } = await openSession();
    await poll(`&sid=${sid}`, { method: "POST", body: '40{"token":"123"}' });
    const first = await (await poll(`&sid=${sid}`)).text();
    const packets = first.split("\x1e");
    assert.match(packets[0], /^40\{"sid":"[^"]+"\}$/);
    assert.equal(packets[1], '42["auth",{"token":"123"}]');
    await poll(`&sid=${sid}`, { method: "POST", body: '452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]\x1ebAQID\x1ebBAUG' });
    const back = (await (await poll(`&sid=${sid}`)).text()).split("\x1e").filter((p) => p !== "2");
    assert.deepEqual(back, ['462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', "bAQID", "bBAUG"]);
  });
});
