/**
 * The demo users. `scripts/dev.sh` writes `/demo-users.json` next to the page with a fresh
 * token for each: `[{"id","name","role","token"}, …]`.
 */

export interface DemoUser {
  id: string;
  name: string;
  role: string;
  token: string;
}

function isDemoUser(value: unknown): value is DemoUser {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return ['id', 'name', 'role', 'token'].every((k) => typeof v[k] === 'string' && v[k] !== '');
}

export async function fetchDemoUsers(signal?: AbortSignal): Promise<DemoUser[]> {
  const response = await fetch('demo-users.json', { cache: 'no-store', ...(signal ? { signal } : {}) });
  if (!response.ok) throw new Error(`demo-users.json: HTTP ${response.status}`);
  const body: unknown = await response.json();
  if (!Array.isArray(body)) throw new Error('demo-users.json is not a list');
  const users = body.filter(isDemoUser);
  if (users.length === 0) throw new Error('demo-users.json lists no usable users');
  return users;
}

/** `?as=alice` (by name or id) picks a user, so two windows can be two people. */
export function userFromQuery(users: DemoUser[], search: string): DemoUser | undefined {
  const wanted = new URLSearchParams(search).get('as')?.toLowerCase();
  if (!wanted) return undefined;
  return users.find(
    (u) => u.id.toLowerCase() === wanted || u.name.toLowerCase() === wanted || u.name.toLowerCase().split(' ')[0] === wanted,
  );
}
