/** The REST fallback: when it starts, what goes over HTTP, probing back to WebSocket. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RestClient, systemClock } from '../src';
import { flush, makeClient, ME, message, messageId, PEER } from './fakes';

interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

function fakeFetch(route: (call: Call) => { status: number; body?: unknown }) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    const call: Call = {
      method: init?.method ?? 'GET',
      url,
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    calls.push(call);
    const { status, body } = route(call);
    return new Response(body === undefined ? null : JSON.stringify(body), { status });
  });
  return { fetch, calls };
}

/** Lets every socket fail before `connected`, as when the upgrade is refused. */
async function failConnects(h: ReturnType<typeof makeClient>, n: number) {
  for (let i = 0; i < n; i++) {
    await flush();
    h.current().drop(1006);
    if (h.client.state.status === 'reconnecting') {
      await vi.advanceTimersByTimeAsync(h.client.state.retryAt - Date.now());
    }
  }
}

describe('REST fallback', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('switches to REST when no WebSocket ever opened, sends and polls over HTTP', async () => {
    const history = [message({ id: messageId(1000) })];
    const { fetch, calls } = fakeFetch((call) => {
      if (call.method === 'POST' && call.url.endsWith('/v1/messages')) {
        const data = call.body as { content: string; clientMsgId: string };
        const stored = message({ id: messageId(2000), senderId: ME, recipientId: PEER, ...data });
        history.unshift(stored);
        return { status: 201, body: { message: stored } };
      }
      if (call.url.includes(`/v1/conversations/${PEER}/messages`)) {
        return { status: 200, body: { messages: history, hasMore: false } };
      }
      return { status: 404 };
    });
    const h = makeClient({ fetch, restUrl: 'http://gateway.test' });
    h.client.connect();
    await failConnects(h, 3);
    expect(h.client.state).toMatchObject({ status: 'rest-fallback', userId: ME });
    expect(h.sockets).toHaveLength(3);

    h.client.watch(PEER);
    await flush();
    expect(calls.at(-1)?.url).toBe(`http://gateway.test/v1/conversations/${PEER}/messages?limit=30`);
    expect(calls.at(-1)?.headers.Authorization).toBe('Bearer test-token');
    expect(h.client.conversation(PEER)).toHaveLength(1);

    const sent = await h.client.sendMessage(PEER, 'over http');
    const post = calls.find((c) => c.method === 'POST');
    expect(post?.body).toEqual({ recipientId: PEER, content: 'over http', clientMsgId: sent.clientMsgId });

    history.unshift(message({ id: messageId(3000), content: 'new one' }));
    const before = calls.length;
    await vi.advanceTimersByTimeAsync(3000);
    expect(calls.length).toBeGreaterThan(before);
    expect(h.client.conversation(PEER).map((m) => m.content)).toEqual(['hello', 'over http', 'new one']);
  });

  it('never falls back after a WebSocket worked once', async () => {
    const h = makeClient({ fetch: fakeFetch(() => ({ status: 500 })).fetch });
    h.client.connect();
    await flush();
    h.current().accept();
    await failConnects(h, 5); // the connected socket drops, then four retries fail
    expect(h.client.state).toMatchObject({ status: 'connecting', attempt: 6 });
  });

  it('goes back to the WebSocket when a probe connects', async () => {
    const { fetch } = fakeFetch(() => ({ status: 200, body: { messages: [], hasMore: false } }));
    const h = makeClient({ fetch, wsProbeIntervalMs: 10_000 });
    h.client.connect();
    await failConnects(h, 3);
    expect(h.client.state.status).toBe('rest-fallback');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.sockets).toHaveLength(4);
    h.current().drop(); // the probe failed: still REST, next probe later
    expect(h.client.state.status).toBe('rest-fallback');
    await vi.advanceTimersByTimeAsync(10_000);
    h.current().accept();
    await flush();
    expect(h.client.state.status).toBe('connected');
    expect(h.current().frames('sync')).toHaveLength(1);
  });

  it('reports unauthorized when REST answers 401', async () => {
    const { fetch } = fakeFetch(() => ({
      status: 401,
      body: { error: { code: 'unauthorized', message: 'token expired' } },
    }));
    const h = makeClient({ fetch });
    h.client.connect();
    await failConnects(h, 3);
    h.client.watch(PEER);
    await flush();
    expect(h.client.state).toEqual({ status: 'unauthorized', reason: 'token expired' });
    await vi.advanceTimersByTimeAsync(120_000);
    expect(h.sockets).toHaveLength(3);
  });

  it('maps REST errors to typed errors', async () => {
    const { fetch } = fakeFetch((call) =>
      call.url.includes('presence')
        ? { status: 404 }
        : { status: 429, body: { error: { code: 'rate_limited', message: 'slow down' } } },
    );
    const rest = new RestClient({ baseUrl: 'http://x/', getToken: async () => 't', fetch, clock: systemClock });
    await expect(rest.sendMessage({ recipientId: PEER, content: 'x' })).rejects.toMatchObject({
      code: 'rate_limited',
      status: 429,
      message: 'slow down',
    });
    await expect(rest.presence([PEER, ME])).rejects.toMatchObject({ code: 'not_found', status: 404 });
    expect(fetch.mock.calls[1]?.[0]).toBe(`http://x/v1/presence?userIds=${PEER}%2C${ME}`);
    const failing = new RestClient({
      baseUrl: 'http://x',
      getToken: async () => 't',
      fetch: async () => {
        throw new TypeError('connection refused');
      },
      clock: systemClock,
    });
    await expect(failing.markRead('m')).rejects.toMatchObject({ code: 'network' });
  });

  it('shows presence as unknown when REST has no presence route', async () => {
    const { fetch } = fakeFetch(() => ({ status: 404 }));
    const h = makeClient({ fetch });
    h.client.connect();
    await failConnects(h, 3);
    await expect(h.client.getPresence([PEER])).resolves.toBeNull();
    expect(h.client.getSnapshot().presenceSupported).toBe(false);
  });
});
