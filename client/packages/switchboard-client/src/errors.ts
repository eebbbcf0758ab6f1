/**
 * The one error type the client rejects with. `code` is either a server error code
 * (SPEC §2.1) or one of the client's own: `timeout` (no ack in time), `disconnected` (the
 * socket closed while the command waited), `network` (an HTTP request could not be made).
 */
import type { ErrorCode } from './protocol';

export type ClientErrorCode = ErrorCode | 'timeout' | 'disconnected' | 'network';

export class SwitchboardError extends Error {
  override readonly name = 'SwitchboardError';
  readonly code: ClientErrorCode;
  /** HTTP status, for errors of the REST fallback. */
  readonly status: number | undefined;

  constructor(code: ClientErrorCode, message: string, status?: number) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/**
 * Codes after which sending the same message again cannot succeed: the outbox marks the
 * message failed instead of retrying. Everything else (`unavailable`, `rate_limited`,
 * `internal`, `timeout`, `disconnected`, `network`, `unauthorized` until a new token
 * comes) is retried, which is safe because the server dedupes on `clientMsgId`.
 */
const FINAL: ReadonlySet<ClientErrorCode> = new Set<ClientErrorCode>([
  'invalid_request',
  'forbidden',
  'not_found',
  'too_large',
]);

export function isFinalError(error: unknown): boolean {
  return error instanceof SwitchboardError && FINAL.has(error.code);
}

export function toSwitchboardError(error: unknown): SwitchboardError {
  if (error instanceof SwitchboardError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SwitchboardError('internal', message);
}
