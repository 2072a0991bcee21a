// Issue 13's privacy and bad-input attacks, replayed against the real Worker: session
// fixation, a sid used by a stranger, a lone surrogate, binary attachments before CONNECT,
// immortal and expiring tokens, and one client address opening sessions and model calls
// faster than its limits. Each test shows the attack and the new answer.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import jwt from "jsonwebtoken";
import WebSocket from "ws";
import { io } from "socket.io-client";
import { startWrangler } from "../support/wrangler.mjs";
import { startMockOpenAI, sleep } from "../support/mock-openai.mjs";
import { closeAll, connect, converse, join, refused, request, uniqueSession, waitFor } from "../support/client.mjs";

const SECRET = "privacy-test-secret-0123456789abcdef-xyz";
let server;
let mock;
let nextAddress = 1;
/** A client address of its own (TEST-NET-3), sent as CF-Connecting-IP. */
const address = () => `203.0.113.${nextAddress++}`;

before(async () => {
  mock = await startMockOpenAI();
  server = await startWrangler({
    vars: {
      JWT_SECRET: SECRET,
      OPENAI_API_KEY: "sk-test",
      OPENAI_BASE_URL: mock.url,
      // Limits per client address, small enough to reach; each test uses its own address.
      CLIENT_SESSIONS_PER_MINUTE: 4,
      CLIENT_MODEL_CALLS_PER_MINUTE: 2,
      MAX_TOKEN_LIFETIME_SECONDS: 30 * 24 * 3600,
    },
  });
});
after(async () => { closeAll(); await server?.stop(); await mock?.close(); });

const mint = async () => (await (await fetch(`${server.url}/api/auth/token`, { method: "POST", body: "{}" })).json()).token;
const from = (ip, opts = {}) => ({ ...opts, extraHeaders: { "cf-connecting-ip": ip, ...(opts.extraHeaders ?? {}) } });
/** `promise`, or a failure after `ms` (an attack that is not refused must fail, not hang). */
const within = (promise, ms = 15_000, what = "the expected answer") =>
  Promise.race([promise, sleep(ms).then(() => { throw new Error(`no ${what} within ${ms} ms`); })]);
const wsUrl = (query) => `${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&${query}`;

describe("items 1–2: a conversation is its starter's; no fixation", () => {
  test("an attacker opens an id without a token and writes; a victim with a token is refused (FORBIDDEN)", async () => {
    const ip = address();
    const sessionId = uniqueSession("fix");
    const attacker = await connect(server.url, from(ip, { sessionId }));
    await join(attacker);
    await converse(attacker, "hello from the attacker");
    const err = await refused(server.url, from(address(), { sessionId, token: await mint() }));
    assert.equal(err?.data?.code, "FORBIDDEN");
    // The ownerless session stays open to whoever holds its id, without a token (contract).
    const holder = await connect(server.url, from(ip, { sessionId }));
    assert.equal((await join(holder)).conversationHistory[0].content, "hello from the attacker");
  });

  test("on an empty ownerless session the victim's token takes it over: the attacker is put out and cannot return", async () => {
    const sessionId = uniqueSession("fix-empty");
    const attacker = await connect(server.url, from(address(), { sessionId }));
    await join(attacker);
    const disconnected = new Promise((r) => attacker.once("disconnect", r));
    const token = await mint();
    const victim = await connect(server.url, from(address(), { sessionId, token }));
    assert.equal(await within(disconnected, 15_000, "disconnect"), "io server disconnect");
    assert.ok(attacker.received.some(([n, p]) => n === "error" && p.code === "FORBIDDEN"));
    const { complete } = await converse(victim, "only for me");
    assert.ok(complete.message);
    assert.ok(!attacker.received.some(([n]) => n === "message_complete" || n === "message_chunk"));
    for (const opts of [{}, { token: await mint() }]) {
      const again = await refused(server.url, from(address(), { sessionId, ...opts }));
      assert.equal(again?.data?.code, "FORBIDDEN");
    }
    const back = await connect(server.url, from(address(), { sessionId, token }));
    assert.equal((await join(back)).conversationHistory[0].content, "only for me");
  });
});

describe("items 1–2 through join_session (the original's flow, relayed between sessions)", () => {
  test("a token holder's join_session to an ownerless id with history → FORBIDDEN; to an empty one she takes it over", async () => {
    const withHistory = uniqueSession("fix-relay");
    const opener = await connect(server.url, from(address(), { sessionId: withHistory }));
    await join(opener);
    await converse(opener, "opened by someone else");
    const victim = await connect(server.url, from(address(), { token: await mint() }));
    const refusedJoin = await request(victim, "join_session", { sessionId: withHistory });
    assert.equal(refusedJoin.ok, false);
    assert.equal(refusedJoin.error.code, "FORBIDDEN");
    assert.ok(!victim.received.some(([n, p]) => n === "session_created" && p.sessionId === withHistory));

    const empty = uniqueSession("fix-relay-empty");
    const attacker = await connect(server.url, from(address(), { sessionId: empty }));
    await join(attacker);
    const putOut = new Promise((r) => attacker.once("disconnect", r));
    const owner = await connect(server.url, from(address(), { token: await mint() }));
    const created = waitFor(owner, "session_created", (p) => p.sessionId === empty);
    assert.equal((await request(owner, "join_session", { sessionId: empty })).ok, true);
    await created;
    assert.equal(await within(putOut, 15_000, "disconnect"), "io server disconnect");
    assert.ok(attacker.received.some(([n, p]) => n === "error" && p.code === "FORBIDDEN"));
    const again = await refused(server.url, from(address(), { sessionId: empty }));
    assert.equal(again?.data?.code, "FORBIDDEN");
  });
});

describe("item 3: a sid is bound to the client that opened it", () => {
  async function pollingOwner(ip, extraHeaders = {}) {
    const sessionId = uniqueSession("sid");
    const socket = io(server.url, {
      transports: ["polling"], reconnection: false, forceNew: true, query: { sessionId },
      extraHeaders: { "cf-connecting-ip": ip, ...extraHeaders },
    });
    socket.received = [];
    socket.onAny((n, p) => socket.received.push([n, p]));
    await new Promise((resolve, reject) => { socket.once("connect", resolve); socket.once("connect_error", reject); });
    await join(socket);
    return { socket, sid: socket.io.engine.id, sessionId };
  }

  async function strangerAttempts(sid, headers) {
    const base = `${server.url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
    const get = await fetch(base, { headers });
    const post = await fetch(base, { method: "POST", headers, body: '42["message",{"message":"injected"}]' });
    const upgrade = await new Promise((resolve) => {
      const ws = new WebSocket(`${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}`, { headers });
      ws.on("unexpected-response", (_req, res) => { resolve(res.statusCode); ws.terminate(); });
      ws.on("open", () => { resolve("open"); ws.close(); });
      ws.on("error", () => resolve("error"));
    });
    return { get: [get.status, await get.json()], post: [post.status, await post.json()], upgrade };
  }

  test("a stranger from another address with only the sid: GET, POST and upgrade → 403 Forbidden; the owner is unaffected", async () => {
    const { socket, sid } = await pollingOwner(address());
    const tried = await strangerAttempts(sid, { "cf-connecting-ip": address() });
    assert.deepEqual(tried.get, [403, { code: 4, message: "Forbidden" }]);
    assert.deepEqual(tried.post, [403, { code: 4, message: "Forbidden" }]);
    assert.equal(tried.upgrade, 403);
    const { complete } = await converse(socket, "still mine");
    assert.ok(complete.message);
    assert.ok(!socket.received.some(([, p]) => JSON.stringify(p ?? "").includes("injected")));
  });

  test("a connection opened with an Authorization header: the same address without that header is refused too", async () => {
    const ip = address();
    const token = await mint();
    const { socket, sid } = await pollingOwner(ip, { authorization: `Bearer ${token}` });
    const tried = await strangerAttempts(sid, { "cf-connecting-ip": ip });
    assert.equal(tried.get[0], 403);
    assert.equal(tried.post[0], 403);
    assert.equal(tried.upgrade, 403);
    assert.ok((await converse(socket, "still mine too")).complete.message);
  });

  test("the owner's own upgrade still works (a default client goes polling → WebSocket)", async () => {
    const sessionId = uniqueSession("sid-upgrade");
    const socket = await new Promise((resolve, reject) => {
      const s = io(server.url, { reconnection: false, forceNew: true, query: { sessionId }, extraHeaders: { "cf-connecting-ip": address() } });
      s.received = [];
      s.onAny((n, p) => s.received.push([n, p]));
      s.once("connect", () => resolve(s));
      s.once("connect_error", reject);
    });
    await within(new Promise((r) => (socket.io.engine.transport.name === "websocket" ? r() : socket.io.engine.once("upgrade", r))), 15_000, "upgrade");
    assert.equal(socket.io.engine.transport.name, "websocket");
    await join(socket);
    socket.close();
  });
});

describe("item 6: a lone surrogate", () => {
  test("\"cut emoji \\ud83d\" is accepted and answered; nothing closes", async () => {
    const socket = await connect(server.url, from(address(), { sessionId: uniqueSession("surrogate") }));
    await join(socket);
    const { ack, complete } = await converse(socket, "cut emoji \ud83d");
    assert.equal(ack.ok, true);
    assert.ok(complete.message);
    assert.equal(socket.connected, true);
    const again = await connect(server.url, from(address(), { sessionId: complete.sessionId }));
    const history = (await join(again)).conversationHistory;
    assert.equal(history[0].content, "cut emoji \ufffd");
  });
});

describe("item 7: binary attachments", () => {
  function raw(query, ip) {
    const ws = new WebSocket(wsUrl(query), { headers: { "cf-connecting-ip": ip } });
    const frames = [];
    ws.on("message", (d) => frames.push(d.toString()));
    const closed = new Promise((r) => ws.on("close", (code) => r(code)));
    return { ws, frames, closed, open: new Promise((resolve, reject) => { ws.on("open", resolve); ws.on("error", reject); }) };
  }

  test("before CONNECT → the socket is closed (1002) at the first binary packet", async () => {
    const c = raw(`sessionId=${uniqueSession("bin")}`, address());
    await c.open;
    c.ws.send('451-["upload",{"_placeholder":true,"num":0}]');
    assert.equal(await within(c.closed, 15_000, "close"), 1002);
  });

  test("after CONNECT, attachments beyond maxPayload in waiting → closed (1002); a new socket works", async () => {
    const ip = address();
    const sessionId = uniqueSession("bin-big");
    const c = raw(`sessionId=${sessionId}`, ip);
    await c.open;
    c.ws.send("40");
    const start = Date.now();
    while (!c.frames.some((f) => f.startsWith("40")) && Date.now() - start < 10_000) await sleep(20);
    c.ws.send('453-["upload",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]');
    for (let i = 0; i < 3; i++) c.ws.send(Buffer.alloc(600_000));
    assert.equal(await within(c.closed, 30_000, "close"), 1002);
    const s = await connect(server.url, from(ip, { sessionId }));
    await join(s);
  });
});

describe("item 9: token lifetime", () => {
  test("a token valid for 250,000 years → AUTH_INVALID; the original's 24 h tokens and minted ones connect", async () => {
    const now = Math.floor(Date.now() / 1000);
    const forever = jwt.sign({ userId: "u", iat: now, exp: now + 250_000 * 365 * 86_400 }, SECRET);
    const err = await refused(server.url, from(address(), { sessionId: uniqueSession("life"), token: forever }));
    assert.equal(err?.data?.code, "AUTH_INVALID");
    const original = jwt.sign({ userId: "legacy-user" }, SECRET, { expiresIn: "24h" });
    const a = await connect(server.url, from(address(), { sessionId: uniqueSession("life"), token: original }));
    assert.equal((await join(a)).userId, "legacy-user");
    const b = await connect(server.url, from(address(), { sessionId: uniqueSession("life"), token: await mint() }));
    await join(b);
  });

  test("a socket whose token expires: its next event gets AUTH_EXPIRED and it is disconnected", async () => {
    // exp 27 s ago: still inside the 30 s leeway at connect, past it 3 s later.
    const exp = Math.floor(Date.now() / 1000) - 27;
    const token = jwt.sign({ userId: "soon-expired", iat: exp - 3600, exp }, SECRET);
    const socket = await connect(server.url, from(address(), { sessionId: uniqueSession("expiring"), token }));
    await join(socket);
    await sleep(4500);
    const disconnected = new Promise((r) => socket.once("disconnect", r));
    const ack = await request(socket, "message", { message: "are you there?" });
    assert.equal(ack.ok, false);
    assert.equal(ack.error.code, "AUTH_EXPIRED");
    assert.ok(socket.received.some(([n, p]) => n === "error" && p.code === "AUTH_EXPIRED"));
    assert.equal(await within(disconnected, 15_000, "disconnect"), "io server disconnect");
  });
});

describe("item 10: limits per client address", () => {
  test("new sessions: the 5th handshake in a minute from one address → HTTP 429 RATE_LIMITED; another address is unaffected", async () => {
    const ip = address();
    for (let i = 0; i < 4; i++) {
      const s = await connect(server.url, from(ip, { sessionId: uniqueSession("many") }));
      s.close();
    }
    const r = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers: { "cf-connecting-ip": ip } });
    assert.equal(r.status, 429);
    const body = await r.json();
    assert.equal(body.error.code, "RATE_LIMITED");
    assert.ok(body.error.retryAfterMs > 0 && body.error.retryAfterMs <= 15_000, JSON.stringify(body));
    assert.ok(Number(r.headers.get("retry-after")) >= 1);
    const err = await refused(server.url, from(ip, { sessionId: uniqueSession("many") }));
    assert.ok(err, "a WebSocket handshake over the limit is refused too");
    const other = await connect(server.url, from(address(), { sessionId: uniqueSession("many") }));
    await join(other);
  });

  test("model calls counted across sessions: the 3rd reply in a minute from one address → error RATE_LIMITED, nothing stored", async () => {
    const ip = address();
    const sockets = [];
    for (let i = 0; i < 3; i++) {
      const s = await connect(server.url, from(ip, { sessionId: uniqueSession("calls") }));
      await join(s);
      sockets.push(s);
    }
    assert.ok((await converse(sockets[0], "first")).complete.message);
    assert.ok((await converse(sockets[1], "second")).complete.message);
    const calls = mock.requests.length;
    const ack = await request(sockets[2], "message", { message: "third" });
    assert.equal(ack.ok, false);
    assert.equal(ack.error.code, "RATE_LIMITED");
    const error = await waitFor(sockets[2], "error", (p) => p.code === "RATE_LIMITED");
    assert.ok(error.retryAfterMs > 0 && error.retryAfterMs <= 30_000, JSON.stringify(error));
    assert.equal(error.retryable, true);
    assert.equal(mock.requests.length, calls);
    assert.equal(sockets[2].connected, true);
    const again = await connect(server.url, from(address(), { sessionId: (await join(sockets[2])).sessionId }));
    assert.deepEqual((await join(again)).conversationHistory, []);
  });
});
