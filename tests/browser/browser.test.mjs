// The demo page (client/demo) in headless Chromium, two windows as two users, through haproxy
// in front of two gateway replicas. tests/browser.rs starts everything and passes:
//   SB_URL          the load balancer, http://127.0.0.1:<port>
//   SB_USER_A/B     the two demo users' names (`?as=` values)
//   SB_SCREENSHOTS  a directory for PNGs
// It runs this file directly (node --test-reporter=spec browser.test.mjs): to kill or restart
// gateway i it prints `CONTROL kill-gateway <i>` / `CONTROL restart-gateway <i>` and waits for
// `OK` on stdin.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const base = process.env.SB_URL ?? "";
const nameA = process.env.SB_USER_A ?? "";
const nameB = process.env.SB_USER_B ?? "";
const shots = process.env.SB_SCREENSHOTS ?? ".";
assert.ok(base && nameA && nameB, "run through tests/browser.rs (SB_URL, SB_USER_A, SB_USER_B)");

const WAIT = 15_000;
const title = (n) => n.charAt(0).toUpperCase() + n.slice(1);

// ---- control channel to tests/browser.rs ------------------------------------------------
const stdin = createInterface({ input: process.stdin });
const answers = [];
let waiter = null;
stdin.on("line", (line) => {
  if (waiter) {
    const w = waiter;
    waiter = null;
    w(line);
  } else answers.push(line);
});
async function control(command) {
  const answer = new Promise((resolve, reject) => {
    if (answers.length) return resolve(answers.shift());
    const timer = setTimeout(() => reject(new Error(`no answer to ${command}`)), 40_000);
    waiter = (line) => {
      clearTimeout(timer);
      resolve(line);
    };
  });
  process.stdout.write(`CONTROL ${command}\n`);
  assert.equal(await answer, "OK", command);
}

// ---- helpers ---------------------------------------------------------------------------
async function until(what, check, ms = WAIT) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last === true) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${what} within ${ms} ms (last: ${last})`);
}

let browser;
let users;
const windows = {};
let drops = 0; // WebSocket connections of either window that closed

async function open(me, other) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 750 } });
  const page = await context.newPage();
  page.on("pageerror", (e) => console.log(`[${me}] page error: ${e.message}`));
  page.on("websocket", (ws) => ws.on("close", () => drops++));
  await page.goto(`${base}/?as=${me}&with=${other}`);
  const w = { me, other, context, page, chat: page.getByRole("region", { name: title(other) }) };
  windows[me] = w;
  await connected(w);
  return w;
}

const connected = (w) =>
  w.page.getByRole("banner").getByText("Connected", { exact: true }).waitFor({ timeout: WAIT });

const messages = (w) => w.chat.getByRole("list", { name: "Messages" });
const bubble = (w, text) =>
  messages(w)
    .getByRole("listitem")
    .filter({ has: w.page.getByText(text, { exact: true }) });

async function send(w, text) {
  const box = w.chat.getByLabel(`Message to ${title(w.other)}`);
  await box.fill(text);
  await box.press("Enter");
}

async function shot(w, name) {
  await w.page.screenshot({ path: join(shots, `${name}-${w.me}.png`) }).catch(() => {});
}

function user(name) {
  const u = users.find((x) => x.name.toLowerCase() === name);
  assert.ok(u, `demo-users.json lists ${name}`);
  return u;
}

// Sends over REST through the load balancer, retrying while a replica is going away.
async function restSend(from, to, content) {
  const clientMsgId = randomUUID();
  let last;
  for (let i = 0; i < 20; i++) {
    try {
      const res = await fetch(`${base}/v1/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${from.token}`, "content-type": "application/json" },
        body: JSON.stringify({ recipientId: to.id, content, clientMsgId }),
      });
      if (res.status === 201) return (await res.json()).message;
      last = `HTTP ${res.status} ${await res.text()}`;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`REST send failed: ${last}`);
}

before(async () => {
  users = await (await fetch(`${base}/demo-users.json`)).json();
  // One earlier message makes them contacts, so each sees the other's presence at connect.
  await restSend(user(nameA), user(nameB), "earlier message");
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  await open(nameA, nameB);
  await open(nameB, nameA);
});

after(async () => {
  stdin.close();
  await browser?.close();
});

test("a message, typing, the read ticks and presence, across two windows", async () => {
  const [a, b] = [windows[nameA], windows[nameB]];
  await a.chat.getByText("Online", { exact: true }).waitFor({ timeout: WAIT });

  await send(a, "hello from the browser");
  await bubble(b, "hello from the browser").waitFor({ timeout: WAIT });
  // B's window shows it, so it is read, and A sees ✓✓.
  await bubble(a, "hello from the browser").getByText("Read", { exact: true }).waitFor({ state: "attached", timeout: WAIT });

  await b.chat.getByLabel(`Message to ${title(nameA)}`).pressSequentially("typing a reply", { delay: 20 });
  await a.chat.getByText(`${title(nameB)} is typing…`).waitFor({ timeout: WAIT });
  await shot(a, "typing");
  await b.chat.getByLabel(`Message to ${title(nameA)}`).press("Enter");
  await bubble(a, "typing a reply").waitFor({ timeout: WAIT });
  await bubble(b, "typing a reply").getByText("Read", { exact: true }).waitFor({ state: "attached", timeout: WAIT });
  await shot(a, "chat");
  await shot(b, "chat");
});

test("every message is kept, exactly once, when each gateway replica is killed and restarted", async () => {
  const [a, b] = [windows[nameA], windows[nameB]];
  const sent = ["earlier message", "hello from the browser", "typing a reply"];
  for (const i of [0, 1]) {
    const before = drops;
    await control(`kill-gateway ${i}`);
    // Each window has one connection and the two replicas serve them (leastconn): killing
    // either replica drops one of them.
    await until(`a window's connection dropped with gateway ${i}`, () => drops > before || `${drops - before}`);
    const fromA = `from ${nameA} while gateway ${i} is down`;
    const overRest = `from ${nameB} over REST while gateway ${i} is down`;
    await send(a, fromA);
    await restSend(user(nameB), user(nameA), overRest);
    await control(`restart-gateway ${i}`);
    const fromB = `from ${nameB} after gateway ${i} restarted`;
    await connected(b);
    await send(b, fromB);
    sent.push(fromA, overRest, fromB);
    await connected(a);
  }
  for (const w of [a, b]) {
    for (const text of sent) {
      await until(`"${text}" exactly once in ${w.me}'s window`, async () => {
        const n = await bubble(w, text).count();
        return n === 1 || `${n} times`;
      });
    }
    await until(`nothing pending in ${w.me}'s window`, async () => {
      const n = await messages(w).getByText(/Sending…|Waiting for connection…|Not sent/).count();
      return n === 0 || `${n} pending`;
    });
    await until(`only the ${sent.length} messages in ${w.me}'s window`, async () => {
      const n = await messages(w).getByRole("listitem").count();
      return n === sent.length || `${n} items`;
    });
    await shot(w, "after-restarts");
  }
});

test("closing B's window takes B offline in A's window", async () => {
  const [a, b] = [windows[nameA], windows[nameB]];
  await a.chat.getByText("Online", { exact: true }).waitFor({ timeout: WAIT });
  await b.context.close();
  await a.chat.getByText(/^(Last seen .*|Offline)$/).waitFor({ timeout: WAIT });
  await shot(a, "offline");
});
