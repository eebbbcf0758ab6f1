/**
 * The gateway's REST fallback (SPEC §3) for when no WebSocket can be opened: the same
 * commands over HTTP with a Bearer token, and errors as `{"error":{"code","message"}}`.
 */
import type { Clock } from './clock';
import { SwitchboardError } from './errors';
import type { ErrorCode, Message, MessagePage, Presence } from './protocol';
import { isErrorCode, toWireError } from './protocol';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface RestClientOptions {
  /** Origin (and optional path prefix) of the gateway, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  getToken: () => Promise<string>;
  fetch?: FetchLike;
  clock: Clock;
  /** Abort a request after this long. Default 10 000 ms. */
  timeoutMs?: number;
}

/** The code an HTTP status stands for when the body carries none. */
function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'invalid_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 413:
      return 'too_large';
    case 429:
      return 'rate_limited';
    case 502:
    case 503:
    case 504:
      return 'unavailable';
    default:
      return 'internal';
  }
}

export class RestClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: RestClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async sendMessage(data: {
    recipientId: string;
    content: string;
    clientMsgId?: string;
  }): Promise<Message> {
    const body = await this.request<{ message: Message }>('POST', '/v1/messages', data);
    return body.message;
  }

  history(peerId: string, page: { before?: string; limit?: number } = {}): Promise<MessagePage> {
    const query = new URLSearchParams();
    if (page.before) query.set('before', page.before);
    if (page.limit !== undefined) query.set('limit', String(page.limit));
    const qs = query.toString();
    return this.request<MessagePage>(
      'GET',
      `/v1/conversations/${encodeURIComponent(peerId)}/messages${qs ? `?${qs}` : ''}`,
    );
  }

  markRead(messageId: string): Promise<{ messageId: string; readAt: string }> {
    return this.request('POST', `/v1/messages/${encodeURIComponent(messageId)}/read`);
  }

  async presence(userIds: string[]): Promise<Presence[]> {
    const query = new URLSearchParams({ userIds: userIds.join(',') });
    const body = await this.request<{ presence: Presence[] }>('GET', `/v1/presence?${query}`);
    return body.presence;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const fetchImpl = this.options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    const token = await this.options.getToken();
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const controller = typeof AbortController === 'undefined' ? null : new AbortController();
    const timer = this.options.clock.setTimeout(() => controller?.abort(), this.timeoutMs);
    let response: Response;
    try {
      response = await fetchImpl(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: controller?.signal ?? null,
      });
    } catch (error) {
      const aborted = controller?.signal.aborted ?? false;
      throw new SwitchboardError(
        aborted ? 'timeout' : 'network',
        aborted ? `${method} ${path.split('?')[0]} timed out` : `request failed: ${String(error)}`,
      );
    } finally {
      this.options.clock.clearTimeout(timer);
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (!response.ok) {
      const raw = (parsed as { error?: unknown } | undefined)?.error;
      const wire = raw === undefined ? null : toWireError(raw);
      const code =
        wire && isErrorCode((raw as { code?: unknown }).code) ? wire.code : codeForStatus(response.status);
      throw new SwitchboardError(code, wire?.message ?? `HTTP ${response.status}`, response.status);
    }
    if (parsed === undefined) {
      throw new SwitchboardError('internal', `unexpected response to ${method} ${path.split('?')[0]}`);
    }
    return parsed as T;
  }
}
