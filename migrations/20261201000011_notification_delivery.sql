-- Notification delivery: one `notifications` row per e-mail (its dedupe key says which
-- event and which recipient), and one digest row per recipient of chat e-mails.

ALTER TABLE notifications
    -- The event's own dedupe key; the row's `dedupe_key` adds the recipient.
    ADD COLUMN event_key   text,
    ADD COLUMN recipient_email text,
    ADD COLUMN dead_at     timestamptz,
    -- Held by the worker sending it; another may take over once it has passed.
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN updated_at  timestamptz NOT NULL DEFAULT now();

CREATE INDEX notifications_dead_idx ON notifications (dead_at DESC) WHERE status = 'dead';

-- "New messages while you were away": a recipient's digest is pending from the first unread
-- message an offline recipient got until `due_at` (the quiet period later, and never sooner
-- than a quiet period after the previous digest). Messages up to `cursor_message_id` were
-- in a digest already and are not mentioned again.
CREATE TABLE notification_digests (
    recipient_id       uuid        PRIMARY KEY REFERENCES users (id),
    pending            boolean     NOT NULL DEFAULT true,
    due_at             timestamptz NOT NULL,
    cursor_message_id  uuid,
    last_sent_at       timestamptz,
    attempts           integer     NOT NULL DEFAULT 0,
    last_error         text,
    -- The latest trigger, kept so a dead-lettered digest can be replayed.
    last_event         bytea,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX notification_digests_due_idx ON notification_digests (due_at) WHERE pending;
