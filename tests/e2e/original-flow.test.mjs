// A page written the way the original server's own test page talks to it, in headless
// Chromium on another origin than the server: no token, no query, `join_session
// {sessionId: null}`, then `message {sessionId, message}` without an ack, the reply streamed
// into the page and the tier-3 alert shown. Over WebSocket first (as that page asks) and over
// the client's default long-polling start with its upgrade.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT, startWrangler } from "../support/wrangler.mjs";

let server;
let pages;
let browser;

// Our own page, not the original's: the same events in the same order.
const PAGE = `<!doctype html>
<meta charset="utf-8"><title>Original client flow</title>
<script src="/socket.io.min.js"></script>
<p id="session"></p><p id="reply"></p><p id="alert"></p>
<script>
  const params = new URLSearchParams(location.search);
  const socket = io(params.get("server"), { transports: params.get("transports").split(",") });
  const seen = (window.seen = []);
  let sessionId = null;
  let reply = "";
  socket.on("connect", () => socket.emit("join_session", { sessionId: null }));
  socket.on("session_created", (d) => { sessionId = d.sessionId; document.getElementById("session").textContent = d.sessionId; });
  socket.on("message_chunk", (d) => { reply += d.chunk; document.getElementById("reply").textContent = reply; seen.push("chunk"); });
  socket.on("message_complete", () => { reply = ""; seen.push("complete"); });
  socket.on("safety_alert", (d) => { document.getElementById("alert").textContent = "Tier " + d.tier; seen.push("alert"); });
  socket.on("error", (d) => seen.push("error " + d.code));
  window.send = (message) => socket.emit("message", { sessionId, message });
  window.transport = () => socket.io.engine.transport.name;
</script>`;

before(async () => {
  server = await startWrangler({ vars: { JWT_SECRET: "original-flow-secret-0123456789abcdef" } });
  const client = fs.readFileSync(path.join(ROOT, "node_modules/socket.io-client/dist/socket.io.min.js"));
  pages = http.createServer((req, res) => {
    const js = req.url.startsWith("/socket.io.min.js");
    res.writeHead(200, { "content-type": js ? "application/javascript" : "text/html" });
    res.end(js ? client : PAGE);
  });
  await new Promise((resolve) => pages.listen(0, "127.0.0.1", resolve));
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(async () => { await browser?.close(); pages?.close(); await server?.stop(); });

for (const transports of ["websocket,polling", "polling,websocket"]) {
  test(`the original's client flow from another origin (${transports})`, async () => {
    const page = await browser.newPage();
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(`http://127.0.0.1:${pages.address().port}/?server=${encodeURIComponent(server.url)}&transports=${transports}`);
    await page.locator("#session").filter({ hasText: /^[A-Za-z0-9_-]{22,}$/ }).waitFor({ timeout: 20_000 });

    await page.evaluate(() => window.send("hi Mia, I had a rough day at school"));
    await page.waitForFunction(() => window.seen.includes("complete"), null, { timeout: 20_000 });
    assert.ok((await page.evaluate(() => window.seen.filter((e) => e === "chunk").length)) > 1, "streamed in chunks");
    assert.match(await page.locator("#reply").innerText(), /\w/);

    await page.evaluate(() => { window.seen.length = 0; window.send("i want to kill myself"); });
    await page.waitForFunction(() => window.seen.includes("complete"), null, { timeout: 20_000 });
    assert.equal(await page.locator("#alert").innerText(), "Tier 3");
    const seen = await page.evaluate(() => window.seen);
    assert.equal(seen[0], "alert", "the alert comes before the reply's first chunk");
    assert.match(await page.locator("#reply").innerText(), /988/);
    assert.deepEqual(seen.filter((e) => e.startsWith("error")), []);
    assert.equal(await page.evaluate(() => window.transport()), "websocket");
    assert.deepEqual(pageErrors, []);
    await page.close();
  });
}
