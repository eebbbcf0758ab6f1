/**
 * What the client needs to know about ids and tokens without trusting them: the time inside
 * a UUIDv7 (to resume `sync` a little before the last id seen) and the `sub` claim of a JWT
 * (the user's own id in REST fallback, where no `connected` event says it).
 */

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Milliseconds since the epoch stored in a UUIDv7, or `null` for any other string. */
export function uuidv7Time(id: string): number | null {
  if (!UUID_V7.test(id)) return null;
  const hex = id.slice(0, 8) + id.slice(9, 13);
  return Number.parseInt(hex, 16);
}

/** The smallest UUIDv7 of a given millisecond: every id minted from then on sorts after it. */
export function uuidv7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0').slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}

/**
 * The `after` cursor for the first page of a resumed sync: `overlapMs` before the last id
 * seen. Ids follow commit order, but deliveries from several chat replicas may reach the
 * client out of that order, so a message committed just before the newest one seen can
 * still be in flight when the socket drops; the overlap fetches it again and the store
 * drops the duplicates. Ids that are not UUIDv7 are used as they are.
 */
export function resumeCursor(lastSeenId: string, overlapMs: number): string {
  const time = uuidv7Time(lastSeenId);
  if (time === null || overlapMs <= 0) return lastSeenId;
  const floor = uuidv7Floor(time - overlapMs);
  return floor < lastSeenId.toLowerCase() ? floor : lastSeenId;
}

/** The `sub` claim of a JWT, read without verifying it (the server does that). */
export function jwtSubject(token: string): string | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4);
    const json = JSON.parse(atob(padded)) as { sub?: unknown };
    return typeof json.sub === 'string' ? json.sub : null;
  } catch {
    return null;
  }
}

/** A fresh idempotency key for `send_message`. */
export function newClientMsgId(): string {
  return globalThis.crypto.randomUUID();
}
