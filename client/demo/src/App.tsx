/**
 * The demo page: pick one of the demo users, see the others as contacts with presence and
 * unread counts, and chat. Open a second window as someone else to talk to yourself; each
 * tab remembers its own user (sessionStorage, or `?as=name` in the address; `&with=name` opens
 * that conversation).
 */
import type { Message } from '@switchboard/client';
import { connectionLabel, presenceLabel, RealtimeChat, useNow, useWebSocket, type UseWebSocketResult } from '@switchboard/react';
import { ArrowLeft, LogOut, MessagesSquare } from 'lucide-react';
import { useEffect, useMemo, useState } from 'react';
import { type DemoUser, fetchDemoUsers, userFromQuery } from './demoUsers';

const STORAGE_KEY = 'switchboard-demo-user';

export function App() {
  const [users, setUsers] = useState<DemoUser[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [me, setMe] = useState<DemoUser | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    fetchDemoUsers(controller.signal)
      .then((list) => {
        setUsers(list);
        const remembered = sessionStorage.getItem(STORAGE_KEY);
        setMe(userFromQuery(list, location.search) ?? list.find((u) => u.id === remembered) ?? null);
      })
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(e instanceof Error ? e.message : String(e));
      });
    return () => controller.abort();
  }, []);

  const pick = (user: DemoUser | null) => {
    setMe(user);
    const url = new URL(location.href);
    if (user) {
      sessionStorage.setItem(STORAGE_KEY, user.id);
      url.searchParams.set('as', user.name.split(' ')[0]?.toLowerCase() ?? user.id);
    } else {
      sessionStorage.removeItem(STORAGE_KEY);
      url.searchParams.delete('as');
    }
    history.replaceState(null, '', url);
  };

  if (error) return <SetupHelp error={error} />;
  if (!users) {
    return (
      <main className="flex h-full items-center justify-center text-slate-600" aria-busy="true">
        Loading demo users…
      </main>
    );
  }
  if (!me) return <UserPicker users={users} onPick={pick} />;
  return <ChatShell key={me.id} me={me} users={users} onSignOut={() => pick(null)} />;
}

function SetupHelp({ error }: { error: string }) {
  return (
    <main className="mx-auto flex h-full max-w-lg flex-col justify-center gap-3 p-6 text-slate-800">
      <h1 className="text-xl font-semibold">Switchboard demo</h1>
      <p role="alert" className="rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-900">
        Could not load the demo users ({error}).
      </p>
      <p className="text-sm">
        The page expects <code className="rounded bg-slate-200 px-1">demo-users.json</code> next to it, which{' '}
        <code className="rounded bg-slate-200 px-1">scripts/dev.sh</code> writes with a token for each demo user.
        Start it and open this page through the load balancer (http://127.0.0.1:8080/).
      </p>
    </main>
  );
}

function UserPicker({ users, onPick }: { users: DemoUser[]; onPick: (user: DemoUser) => void }) {
  return (
    <main className="mx-auto flex min-h-full max-w-md flex-col justify-center gap-6 p-6">
      <div className="flex items-center gap-2 text-slate-900">
        <MessagesSquare className="h-7 w-7 text-sky-600" aria-hidden="true" />
        <h1 className="text-2xl font-semibold">Switchboard demo</h1>
      </div>
      <p className="text-sm text-slate-600">
        Choose who you are. Open another window and choose someone else to chat between the two.
      </p>
      <ul className="grid gap-2" aria-label="Demo users">
        {users.map((user) => (
          <li key={user.id}>
            <button
              type="button"
              onClick={() => onPick(user)}
              className="flex w-full items-center gap-3 rounded-xl border border-slate-200 bg-white px-4 py-3 text-left shadow-sm hover:border-sky-400 hover:bg-sky-50 focus-visible:outline focus-visible:outline-2 focus-visible:outline-sky-600"
            >
              <Avatar name={user.name} />
              <span className="min-w-0 flex-1">
                <span className="block truncate font-medium text-slate-900">{user.name}</span>
                <span className="block text-xs capitalize text-slate-500">{user.role}</span>
              </span>
            </button>
          </li>
        ))}
      </ul>
    </main>
  );
}

function Avatar({ name, online }: { name: string; online?: boolean | null }) {
  return (
    <span
      className="relative inline-flex h-9 w-9 shrink-0 items-center justify-center rounded-full bg-slate-200 text-sm font-semibold uppercase text-slate-700"
      aria-hidden="true"
    >
      {name.slice(0, 1)}
      {online === true ? (
        <span className="absolute -bottom-0.5 -right-0.5 h-3 w-3 rounded-full border-2 border-white bg-green-500" />
      ) : online === false ? (
        <span className="absolute -bottom-0.5 -right-0.5 h-3 w-3 rounded-full border-2 border-white bg-slate-400" />
      ) : null}
    </span>
  );
}

interface ContactSummary {
  user: DemoUser;
  last: Message | undefined;
  unread: number;
}

function summarise(messages: UseWebSocketResult['messages'], me: DemoUser, contacts: DemoUser[]): ContactSummary[] {
  const byPeer = new Map<string, ContactSummary>(contacts.map((user) => [user.id, { user, last: undefined, unread: 0 }]));
  for (const message of messages) {
    const peer = message.senderId === me.id ? message.recipientId : message.senderId;
    const summary = byPeer.get(peer);
    if (!summary) continue;
    summary.last = message; // messages are oldest first
    if (message.senderId === peer && message.readAt === null) summary.unread++;
  }
  return [...byPeer.values()];
}

function ChatShell({ me, users, onSignOut }: { me: DemoUser; users: DemoUser[]; onSignOut: () => void }) {
  const contacts = useMemo(() => users.filter((u) => u.id !== me.id), [users, me.id]);
  const contactIds = useMemo(() => contacts.map((u) => u.id), [contacts]);
  const chat = useWebSocket({ token: me.token, userId: me.id, url: '/ws', contacts: contactIds });
  // `?with=lena` opens that conversation directly.
  const [selectedId, setSelectedId] = useState<string | null>(() => {
    const wanted = new URLSearchParams(location.search).get('with');
    return wanted ? (userFromQuery(contacts, `?as=${encodeURIComponent(wanted)}`)?.id ?? null) : null;
  });
  const selected = contacts.find((u) => u.id === selectedId) ?? null;
  const summaries = useMemo(() => summarise(chat.messages, me, contacts), [chat.messages, me, contacts]);
  const now = useNow(30_000);
  const status = connectionLabel(chat.state, chat.secondsUntilRetry) ?? 'Connected';

  useEffect(() => {
    const unread = summaries.reduce((n, s) => n + s.unread, 0);
    document.title = unread > 0 ? `(${unread}) Switchboard demo` : 'Switchboard demo';
  }, [summaries]);

  return (
    <div className="flex h-full flex-col">
      <header className="flex items-center gap-3 border-b border-slate-200 bg-white px-4 py-2">
        <MessagesSquare className="h-5 w-5 shrink-0 text-sky-600" aria-hidden="true" />
        <div className="min-w-0 flex-1">
          <h1 className="truncate text-sm font-semibold text-slate-900">
            {me.name} <span className="font-normal capitalize text-slate-500">· {me.role}</span>
          </h1>
          <p className="truncate text-xs text-slate-500">
            <span
              className={`mr-1 inline-block h-2 w-2 rounded-full ${
                chat.status === 'connected' ? 'bg-green-500' : chat.status === 'rest-fallback' ? 'bg-amber-500' : 'bg-slate-400'
              }`}
              aria-hidden="true"
            />
            {status}
          </p>
        </div>
        <button
          type="button"
          onClick={onSignOut}
          className="inline-flex items-center gap-1 rounded-lg px-2 py-1 text-sm text-slate-700 hover:bg-slate-100 focus-visible:outline focus-visible:outline-2 focus-visible:outline-sky-600"
        >
          <LogOut className="h-4 w-4" aria-hidden="true" />
          <span>Switch user</span>
        </button>
      </header>

      <div className="flex min-h-0 flex-1">
        <nav
          aria-label="Contacts"
          className={`${selected ? 'hidden md:block' : 'block'} w-full shrink-0 overflow-y-auto border-r border-slate-200 bg-white md:w-72`}
        >
          <ul>
            {summaries.map(({ user, last, unread }) => {
              const presence = chat.presence[user.id];
              const label = presenceLabel(presence, now) ?? 'Presence unknown';
              const active = user.id === selectedId;
              return (
                <li key={user.id}>
                  <button
                    type="button"
                    onClick={() => setSelectedId(user.id)}
                    aria-current={active ? 'true' : undefined}
                    className={`flex w-full items-center gap-3 px-4 py-3 text-left hover:bg-slate-50 focus-visible:outline focus-visible:outline-2 focus-visible:-outline-offset-2 focus-visible:outline-sky-600 ${
                      active ? 'bg-sky-50' : ''
                    }`}
                  >
                    <Avatar name={user.name} online={presence ? presence.online : null} />
                    <span className="min-w-0 flex-1">
                      <span className="flex items-baseline justify-between gap-2">
                        <span className="truncate font-medium text-slate-900">{user.name}</span>
                        <span className="shrink-0 text-xs capitalize text-slate-400">{user.role}</span>
                      </span>
                      <span className="block truncate text-xs text-slate-500">
                        {chat.typingUsers.includes(user.id)
                          ? 'typing…'
                          : last
                            ? `${last.senderId === me.id ? 'You: ' : ''}${last.content}`
                            : label}
                      </span>
                    </span>
                    {unread > 0 ? (
                      <span className="ml-1 inline-flex min-w-5 shrink-0 items-center justify-center rounded-full bg-sky-600 px-1.5 text-xs font-semibold text-white">
                        {unread}
                        <span className="sr-only"> unread</span>
                      </span>
                    ) : null}
                  </button>
                </li>
              );
            })}
          </ul>
        </nav>

        <main className={`${selected ? 'flex' : 'hidden md:flex'} min-h-0 min-w-0 flex-1 flex-col`}>
          {selected ? (
            <>
              <button
                type="button"
                onClick={() => setSelectedId(null)}
                className="inline-flex items-center gap-1 border-b border-slate-200 bg-white px-3 py-2 text-sm text-slate-700 focus-visible:outline focus-visible:outline-2 focus-visible:outline-sky-600 md:hidden"
              >
                <ArrowLeft className="h-4 w-4" aria-hidden="true" />
                Contacts
              </button>
              <RealtimeChat key={selected.id} chat={chat} recipientId={selected.id} recipientName={selected.name} />
            </>
          ) : (
            <div className="flex flex-1 items-center justify-center p-6 text-sm text-slate-500">
              Choose a contact to start chatting.
            </div>
          )}
        </main>
      </div>
    </div>
  );
}
