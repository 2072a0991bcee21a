// Engine.IO timers and upgrades at the edges the official protocol suite probes: the ping
// timeout and the connect timeout close a socket within their setting (with WebSocket
// hibernation and without it, as under the conformance switch), and a long-polling
// connection has exactly one WebSocket: a second one, or a poll after the switch, is refused.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startWrangler } from "../support/wrangler.mjs";
import { sleep } from "../support/mock-openai.mjs";

// Generous: timed tests assert that a socket closes, not how fast (the machine is shared).
const SLACK_MS = 4000;

/** A raw Engine.IO WebSocket with its frames, its close (code, reason, ms since the request;
 * the server cannot have opened it earlier) and when the server's close frame arrived (`ws`
 * turns CLOSING on it). */
async function rawSocket(url, query = "") {
  const startedAt = Date.now();
  const ws = new WebSocket(`${url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket${query}`);
  ws.frames = [];
  ws.on("message", (data, isBinary) => ws.frames.push(isBinary ? data : data.toString()));
  ws.once("message", () => { ws.handshakeMs = Date.now() - startedAt; });
  ws.on("error", () => {});
  ws.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString(), ms: Date.now() - startedAt })));
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  ws.closeFrame = (async () => {
    while (ws.readyState === WebSocket.OPEN) await sleep(10);
    return Date.now() - startedAt;
  })();
  return ws;
}

/** Prints a measured close: from the request, and from the open packet (the server's clock
 * starts between the two). Figures, not assertions. */
function report(what, ws, ms) {
  console.log(`# ${what}: closed ${ms} ms after the request, ${ms - ws.handshakeMs} ms after the open packet`);
}

/** Resolves with `promise`'s value, or "timeout" after `ms`. */
const within = (promise, ms) => Promise.race([promise, sleep(ms).then(() => "timeout")]);

async function firstFrame(ws, pred, ms = 5000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const f = ws.frames.find(pred);
    if (f !== undefined) return f;
    await sleep(10);
  }
  throw new Error("no such frame");
}

describe("timers with WebSocket hibernation (the default)", () => {
  const PING_INTERVAL = 1000, PING_TIMEOUT = 1000, CONNECT_TIMEOUT = 2000;
  let server;
  before(async () => {
    server = await startWrangler({ vars: { PING_INTERVAL_MS: PING_INTERVAL, PING_TIMEOUT_MS: PING_TIMEOUT, CONNECT_TIMEOUT_MS: CONNECT_TIMEOUT } });
  });
  after(async () => { await server?.stop(); });

  test("a connected client that stops answering pings is closed after pingInterval + pingTimeout", async () => {
    const ws = await rawSocket(server.url);
    ws.send("40");
    await firstFrame(ws, (f) => f.startsWith("40"));
    const closed = await within(ws.closed, PING_INTERVAL + PING_TIMEOUT + SLACK_MS);
    assert.notEqual(closed, "timeout", "still open");
    assert.equal(closed.reason, "ping timeout");
    assert.ok(closed.ms >= PING_INTERVAL + PING_TIMEOUT, `closed after ${closed.ms} ms, before its time`);
    report(`ping timeout (${PING_INTERVAL} + ${PING_TIMEOUT} ms)`, ws, closed.ms);
  });

  test("a socket that answers pings but never sends CONNECT is closed after CONNECT_TIMEOUT_MS", async () => {
    const ws = await rawSocket(server.url);
    ws.on("message", (d) => { if (d.toString() === "2") ws.send("3"); });
    const closed = await within(ws.closed, CONNECT_TIMEOUT + SLACK_MS);
    assert.notEqual(closed, "timeout", "still open");
    assert.equal(closed.reason, "connect timeout");
    assert.ok(closed.ms >= CONNECT_TIMEOUT, `closed after ${closed.ms} ms, before its time`);
    report(`connect timeout (${CONNECT_TIMEOUT} ms)`, ws, closed.ms);
  });

  test("a socket that never sends a frame gets its close frame on time", async () => {
    // The runtime keeps such a hibernatable socket's TCP connection until the Durable Object
    // is evicted (about 10 s under wrangler dev): the close frame is what is on time.
    const ws = await rawSocket(server.url);
    const at = await within(ws.closeFrame, PING_INTERVAL + PING_TIMEOUT + SLACK_MS);
    assert.notEqual(at, "timeout", "no close frame");
    assert.ok(at >= PING_INTERVAL + PING_TIMEOUT, `close frame after ${at} ms, before its time`);
    assert.deepEqual(ws.frames.slice(1), ["2"], "one ping, then the close");
    report("silent socket, close frame", ws, at);
  });
});

describe("timers without hibernation (SOCKETIO_CONFORMANCE=1)", () => {
  let server;
  before(async () => { server = await startWrangler({ vars: { SOCKETIO_CONFORMANCE: 1, CONNECT_TIMEOUT_MS: 1000, PING_INTERVAL_MS: 5000 } }); });
  after(async () => { await server?.stop(); });

  test("a socket that never sends a frame is closed after CONNECT_TIMEOUT_MS", async () => {
    const ws = await rawSocket(server.url);
    const closed = await within(ws.closed, 1000 + SLACK_MS);
    assert.notEqual(closed, "timeout", "still open");
    assert.equal(closed.reason, "connect timeout");
    assert.ok(closed.ms >= 1000, `closed after ${closed.ms} ms, before its time`);
    report("no hibernation, connect timeout (1000 ms)", ws, closed.ms);
  });

  test("a silent socket is closed after the suite's pingInterval + pingTimeout", async () => {
    const conf = await startWrangler({ vars: { SOCKETIO_CONFORMANCE: 1 } });
    try {
      const ws = await rawSocket(conf.url);
      const open = JSON.parse((await firstFrame(ws, (f) => f.startsWith("0"))).slice(1));
      assert.deepEqual([open.pingInterval, open.pingTimeout], [300, 200]);
      const closed = await within(ws.closed, 500 + SLACK_MS);
      assert.notEqual(closed, "timeout", "still open");
      assert.equal(closed.reason, "ping timeout");
      report("no hibernation, ping timeout (300 + 200 ms)", ws, closed.ms);
    } finally {
      await conf.stop();
    }
  });
});

describe("one WebSocket per long-polling connection", () => {
  let server;
  before(async () => { server = await startWrangler({ vars: { PING_INTERVAL_MS: 5000, PING_TIMEOUT_MS: 5000 } }); });
  after(async () => { await server?.stop(); });

  const poll = (query, init) => fetch(`${server.url}/socket.io/?EIO=4&transport=polling${query}`, init);
  async function openPolling() {
    const body = await (await poll("")).text();
    return JSON.parse(body.slice(1)).sid;
  }

  test("a client that sends 2probe and 5 at once: its next poll is refused, the WebSocket works", async () => {
    for (let i = 0; i < 5; i++) {
      const sid = await openPolling();
      const ws = await rawSocket(server.url, `&sid=${sid}`);
      ws.send("2probe");
      ws.send("5");
      const r = await poll(`&sid=${sid}`);
      assert.equal(r.status, 400, `try ${i}: ${await r.text()}`);
      assert.equal(await firstFrame(ws, (f) => f === "3probe"), "3probe");
      ws.send("40");
      assert.match(await firstFrame(ws, (f) => f.startsWith("40")), /^40\{"sid":/);
      ws.close();
    }
  });

  test("a second WebSocket for the same sid is closed, during the upgrade and after it; the first carries on", async () => {
    const sid = await openPolling();
    const first = await rawSocket(server.url, `&sid=${sid}`);
    const during = await rawSocket(server.url, `&sid=${sid}`);
    assert.notEqual(await within(during.closed, SLACK_MS), "timeout", "a second WebSocket during the upgrade stayed open");
    first.send("2probe");
    first.send("5");
    await firstFrame(first, (f) => f === "3probe");
    const afterwards = await rawSocket(server.url, `&sid=${sid}`);
    assert.notEqual(await within(afterwards.closed, SLACK_MS), "timeout", "a second WebSocket after the upgrade stayed open");
    first.send("40");
    assert.match(await firstFrame(first, (f) => f.startsWith("40")), /^40\{"sid":/);
    first.close();
  });

  test("an upgrade WebSocket that closes before switching leaves polling working, and a new upgrade is accepted", async () => {
    const sid = await openPolling();
    const abandoned = await rawSocket(server.url, `&sid=${sid}`);
    abandoned.close();
    await abandoned.closed;
    await sleep(200);
    assert.equal((await poll(`&sid=${sid}`, { method: "POST", body: "40" })).status, 200);
    assert.match(await (await poll(`&sid=${sid}`)).text(), /^40\{"sid":/);
    const ws = await rawSocket(server.url, `&sid=${sid}`);
    ws.send("2probe");
    assert.equal(await firstFrame(ws, (f) => f === "3probe"), "3probe");
    ws.send("5");
    ws.close();
  });
});
