/**
 * Words for times, presence and the connection, shared by the chat pane and the demo's
 * contact list so both say the same thing.
 */
import type { ConnectionState, Presence } from '@switchboard/client';
import { format, formatDistanceToNowStrict, isValid, parseISO } from 'date-fns';

function parse(iso: string): Date | null {
  const date = parseISO(iso);
  return isValid(date) ? date : null;
}

/** "just now", "5 minutes ago", "2 days ago". */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const date = parse(iso);
  if (!date) return '';
  if (Math.abs(now - date.getTime()) < 45_000) return 'just now';
  return formatDistanceToNowStrict(date, { addSuffix: true });
}

/** The full local date and time, for tooltips. */
export function absoluteTime(iso: string): string {
  const date = parse(iso);
  return date ? format(date, 'PPpp') : iso;
}

/** `null` when presence is unknown (not offered by the server, or not looked up yet). */
export function presenceLabel(presence: Presence | undefined, now: number = Date.now()): string | null {
  if (!presence) return null;
  if (presence.online) return 'Online';
  if (presence.lastSeenAt) return `Last seen ${relativeTime(presence.lastSeenAt, now)}`;
  return 'Offline';
}

/** A line for the connection banner; `null` when connected (nothing to say). */
export function connectionLabel(state: ConnectionState, secondsUntilRetry: number | null): string | null {
  switch (state.status) {
    case 'idle':
    case 'connecting':
      return state.status === 'connecting' && state.attempt > 1 ? 'Reconnecting…' : 'Connecting…';
    case 'connected':
      return null;
    case 'reconnecting':
      return `Disconnected — retrying in ${secondsUntilRetry ?? 0} s`;
    case 'disconnected':
      return state.reason === 'closed' ? 'Disconnected' : `Disconnected — ${state.reason}`;
    case 'unauthorized':
      return 'Your session has expired or was refused. Sign in again.';
    case 'rest-fallback':
      return 'Live connection unavailable — using HTTP; new messages may take a few seconds.';
  }
}
