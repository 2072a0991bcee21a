// The demo page in a real headless Chromium (Debian's), driven by playwright-core,
// against wrangler dev and the mock model.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT, startWrangler } from "../support/wrangler.mjs";
import { startMockOpenAI } from "../support/mock-openai.mjs";

const ARTIFACTS = path.join(ROOT, "test-artifacts");
let mock;
let server;
let browser;

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  mock = await startMockOpenAI();
  server = await startWrangler({
    vars: { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: mock.url, JWT_SECRET: "demo-test-secret-0123456789abcdef" },
  });
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
after(async () => { await browser?.close(); await server?.stop(); await mock?.close(); });

test("chat, stream, safety banner, reload with history", async () => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // a phone
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(e.message));
  await page.goto(server.url);
  await page.getByRole("status").filter({ hasText: "Connected" }).waitFor();
  assert.ok(await page.evaluate(() => localStorage.getItem("mia.token")), "an anonymous token was fetched and kept");

  mock.script({ chunks: ["Hi! ", "I'm Mia, ", "an AI ", "companion. ", "How are you feeling?"], delayMs: 60 });
  const input = page.getByLabel("Message to Mia");
  await input.fill("hello Mia, I'm 11");
  await input.press("Enter");
  const reply = page.locator(".msg.assistant").last();
  await reply.filter({ hasText: "How are you feeling?" }).waitFor();
  assert.equal(await reply.innerText(), "Hi! I'm Mia, an AI companion. How are you feeling?");
  await page.locator("#mode").filter({ hasText: "MIRROR_LEARNING" }).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, "demo-conversation.png"), fullPage: true });

  mock.script({ chunks: ["I'm so glad you told me. ", "You matter."] });
  await input.fill("i want to kill myself");
  await page.getByRole("button", { name: "Send" }).click();
  const banner = page.locator("#safety.tier-3");
  await banner.waitFor();
  assert.match(await banner.innerText(), /988/);
  assert.match(await banner.innerText(), /741741/);
  await page.locator(".msg.assistant").last().filter({ hasText: "988" }).waitFor();
  await page.locator("#mode").filter({ hasText: "URGENCY" }).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, "demo-safety-banner.png"), fullPage: true });

  const sessionId = await page.evaluate(() => localStorage.getItem("mia.sessionId"));
  await page.reload();
  await page.getByRole("status").filter({ hasText: "Connected" }).waitFor();
  await page.locator(".msg.user").filter({ hasText: "hello Mia, I'm 11" }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem("mia.sessionId")), sessionId);
  assert.equal(await page.locator(".msg").count(), 4);
  await page.locator("#safety.tier-3").waitFor();

  await page.getByRole("button", { name: "New conversation" }).click();
  await page.getByRole("status").filter({ hasText: "Connected" }).waitFor();
  await page.waitForFunction((old) => localStorage.getItem("mia.sessionId") && localStorage.getItem("mia.sessionId") !== old, sessionId);
  assert.equal(await page.locator(".msg").count(), 0);
  assert.deepEqual(consoleErrors, []);
});

test("errors are shown in words and the typed message is kept", async () => {
  const page = await browser.newPage();
  await page.goto(server.url);
  await page.getByRole("status").filter({ hasText: "Connected" }).waitFor();
  const tooLong = "x".repeat(4001);
  await page.evaluate((t) => { document.getElementById("input").removeAttribute("maxlength"); document.getElementById("input").value = t; }, tooLong);
  await page.getByRole("button", { name: "Send" }).click();
  await page.locator("#status").filter({ hasText: "limit is 4000" }).waitFor();
  // The `error` event can arrive a frame before the failed ack that puts the text back.
  await page.waitForFunction((t) => document.getElementById("input").value === t, tooLong);
  assert.equal(await page.locator(".msg.user").count(), 0);
});
