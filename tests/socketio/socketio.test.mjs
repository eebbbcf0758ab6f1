// The official socket.io-client, unchanged but for `transports: ["websocket"]`, against the
// real gateway replicas. tests/socketio.rs starts the stack and passes:
//   SB_GATEWAYS   comma-separated http://host:port of the gateway replicas
//   SB_JWT_SECRET the HS256 secret the gateways accept
//   SB_PING_MS    the gateways' pingInterval + pingTimeout, in ms
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { io } from "socket.io-client";

const gateways = (process.env.SB_GATEWAYS ?? "").split(",").filter(Boolean);
const secret = process.env.SB_JWT_SECRET ?? "";
const pingWindowMs = Number(process.env.SB_PING_MS ?? "0");
assert.ok(gateways.length >= 2 && secret, "run through tests/socketio.rs (SB_GATEWAYS, SB_JWT_SECRET)");

const b64url = (s) => Buffer.from(s).toString("base64url");
function token(userId, claims = {}) {
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const now = Math.floor(Date.now() / 1000);
  const payload = b64url(JSON.stringify({ sub: userId, exp: now + 3600, iat: now, ...claims }));
  const sig = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${sig}`;
}

const open = [];
function connect(gateway, userId, options = {}) {
  const socket = io(gateways[gateway], {
    transports: ["websocket"],
    auth: { token: token(userId) },
    reconnectionDelay: 100,
    reconnectionDelayMax: 500,
    ...options,
  });
  open.push(socket);
  return socket;
}

function once(socket, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args.length > 1 ? args : args[0]);
    });
  });
}

async function connected(socket) {
  if (!socket.connected) await once(socket, "connect");
  return socket;
}

function nothing(socket, event, ms) {
  return new Promise((resolve, reject) => {
    const handler = (data) => reject(new Error(`unexpected ${event}: ${JSON.stringify(data)}`));
    socket.on(event, handler);
    setTimeout(() => {
      socket.off(event, handler);
      resolve();
    }, ms);
  });
}

test.after(() => open.forEach((s) => s.disconnect()));

test("connects, greets, and refuses a bad token with connect_error", async () => {
  const alice = randomUUID();
  const socket = connect(0, alice);
  const greeting = once(socket, "connected");
  await connected(socket);
  assert.ok(socket.id);
  const hello = await greeting;
  assert.equal(hello.userId, alice);
  assert.equal(hello.connectionId, socket.id);

  const bad = io(gateways[1], { transports: ["websocket"], auth: { token: "not-a-token" }, reconnection: false });
  open.push(bad);
  const err = await once(bad, "connect_error");
  assert.equal(err.data.code, "unauthorized");
  assert.match(err.message, /token/);

  const elsewhere = io(`${gateways[0]}/admin`, { transports: ["websocket"], auth: { token: token(alice) }, reconnection: false });
  open.push(elsewhere);
  const nsErr = await once(elsewhere, "connect_error");
  assert.equal(nsErr.message, "Invalid namespace");
});

test("sends with acks across replicas, to every device, with read receipts", async () => {
  const [alice, bob] = [randomUUID(), randomUUID()];
  const bobPhone = await connected(connect(1, bob));
  const alicePhone = await connected(connect(1, alice));
  const aliceLaptop = await connected(connect(0, alice));

  const received = once(bobPhone, "message_received");
  const echoed = once(alicePhone, "message_sent");
  const ack = await aliceLaptop.timeout(5000).emitWithAck("send_message", {
    recipientId: bob,
    content: "hello from socket.io",
    clientMsgId: "sio-1",
  });
  assert.equal(ack.message.senderId, alice);
  assert.equal(ack.message.content, "hello from socket.io");
  assert.deepEqual(await received, ack.message);
  assert.deepEqual(await echoed, ack.message);

  // A retry is the same message.
  const again = await aliceLaptop.timeout(5000).emitWithAck("send_message", {
    recipientId: bob,
    content: "hello from socket.io",
    clientMsgId: "sio-1",
  });
  assert.equal(again.message.id, ack.message.id);

  // Error acks carry the wire protocol's codes.
  const bad = await aliceLaptop.timeout(5000).emitWithAck("send_message", { recipientId: bob, content: "  " });
  assert.equal(bad.error.code, "invalid_request");

  const receipt = once(aliceLaptop, "message_read");
  const read = await bobPhone.timeout(5000).emitWithAck("mark_message_read", { messageId: ack.message.id });
  assert.equal(read.messageId, ack.message.id);
  const r = await receipt;
  assert.equal(r.readerId, bob);
  assert.equal(r.readAt, read.readAt);

  const page = await bobPhone.timeout(5000).emitWithAck("history", { peerId: alice });
  assert.equal(page.messages.length, 1);
  assert.equal(page.hasMore, false);

  // Without an ack, a failure arrives as an `error` event.
  const error = once(bobPhone, "error");
  bobPhone.emit("send_message", { recipientId: "nobody", content: "x" });
  assert.equal((await error).code, "invalid_request");
});

test("typing and presence reach contacts", async () => {
  const [alice, bob] = [randomUUID(), randomUUID()];
  const a = await connected(connect(0, alice));
  const b = await connected(connect(1, bob));
  await a.timeout(5000).emitWithAck("send_message", { recipientId: bob, content: "we are contacts now" });

  const typing = once(b, "user_typing");
  assert.deepEqual(await a.timeout(5000).emitWithAck("user_typing", { recipientId: bob }), {});
  assert.deepEqual(await typing, { userId: alice });
  const stop = once(b, "user_stop_typing");
  await a.timeout(5000).emitWithAck("user_stop_typing", { recipientId: bob });
  assert.deepEqual(await stop, { userId: alice });

  const presence = await a.timeout(5000).emitWithAck("get_presence", { userIds: [bob] });
  assert.equal(presence.presence.length, 1);
  assert.equal(presence.presence[0].online, true);

  const offline = once(a, "user_offline", 8000);
  b.disconnect();
  const gone = await offline;
  assert.equal(gone.userId, bob);
  assert.ok(gone.lastSeenAt);
  const online = once(a, "user_online", 8000);
  await connected(connect(0, bob));
  assert.deepEqual(await online, { userId: bob });
});

test("server pings keep an idle client alive past pingInterval + pingTimeout", async () => {
  assert.ok(pingWindowMs > 0);
  const socket = await connected(connect(1, randomUUID()));
  await nothing(socket, "disconnect", pingWindowMs * 3);
  assert.ok(socket.connected);
});

test("reconnects by itself when the transport drops", async () => {
  const socket = await connected(connect(0, randomUUID()));
  const firstId = socket.id;
  const dropped = once(socket, "disconnect");
  // A frame over maxPayload makes the gateway close the socket (1009).
  socket.emit("send_message", { recipientId: randomUUID(), content: "x".repeat(70 * 1024) });
  const [reason] = await dropped; // (reason, details)
  assert.equal(reason, "transport close");
  await once(socket, "connect");
  assert.notEqual(socket.id, firstId);
  const ack = await socket.timeout(5000).emitWithAck("sync", {});
  assert.deepEqual(ack.messages, []);
});

test("long-polling is refused with an Engine.IO error", async () => {
  const res = await fetch(`${gateways[0]}/socket.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.code, 0);
  assert.match(body.message, /websocket/);
  const old = await fetch(`${gateways[0]}/socket.io/?EIO=3&transport=websocket`);
  assert.equal((await old.json()).code, 5);
});
