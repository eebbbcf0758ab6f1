-- The record: users, messages, meetings, consultations and notifications.

CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    email         text,
    display_name  text,
    role          text        NOT NULL DEFAULT 'applicant'
                              CHECK (role IN ('applicant', 'lawyer', 'admin')),
    last_seen_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE email IS NOT NULL;

CREATE TABLE messages (
    -- UUIDv7, assigned in commit order (see the chat service's store), so "after id X" is
    -- a complete cursor.
    id             uuid        PRIMARY KEY,
    sender_id      uuid        NOT NULL REFERENCES users (id),
    recipient_id   uuid        NOT NULL REFERENCES users (id),
    content        text        NOT NULL CHECK (char_length(content) BETWEEN 1 AND 5000),
    client_msg_id  text        CHECK (char_length(client_msg_id) BETWEEN 1 AND 64),
    created_at     timestamptz NOT NULL,
    read_at        timestamptz,
    -- The conversation key, independent of direction.
    user_lo        uuid        GENERATED ALWAYS AS (LEAST(sender_id, recipient_id)) STORED,
    user_hi        uuid        GENERATED ALWAYS AS (GREATEST(sender_id, recipient_id)) STORED,
    CHECK (sender_id <> recipient_id),
    UNIQUE (sender_id, client_msg_id)
);

-- One conversation's history, newest first.
CREATE INDEX messages_conversation_idx ON messages (user_lo, user_hi, id);
-- Everything of user U after id X: the union of these two range scans.
CREATE INDEX messages_sender_idx ON messages (sender_id, id);
CREATE INDEX messages_recipient_idx ON messages (recipient_id, id);
-- Unread counts and digests.
CREATE INDEX messages_unread_idx ON messages (recipient_id, sender_id) WHERE read_at IS NULL;

CREATE TABLE meetings (
    id                uuid         PRIMARY KEY,
    provider          text         NOT NULL CHECK (provider IN ('jitsi', 'google_meet', 'zoom')),
    join_url          varchar(500) NOT NULL,
    host_url          varchar(1000),
    external_id       text         NOT NULL,
    title             text         NOT NULL,
    start_at          timestamptz  NOT NULL,
    duration_minutes  integer      NOT NULL CHECK (duration_minutes > 0),
    status            text         NOT NULL DEFAULT 'scheduled'
                                   CHECK (status IN ('scheduled', 'cancelled')),
    ics_uid           text         NOT NULL UNIQUE,
    ics_sequence      integer      NOT NULL DEFAULT 0,
    organizer_email   text         NOT NULL,
    attendees         jsonb        NOT NULL DEFAULT '[]',
    attempts          jsonb        NOT NULL DEFAULT '[]',
    consultation_id   uuid,
    idempotency_key   text         UNIQUE,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    updated_at        timestamptz  NOT NULL DEFAULT now()
);

CREATE TABLE consultations (
    id                uuid         PRIMARY KEY,
    applicant_id      uuid         NOT NULL REFERENCES users (id),
    lawyer_id         uuid         NOT NULL REFERENCES users (id),
    scheduled_at      timestamptz  NOT NULL,
    duration_minutes  integer      NOT NULL CHECK (duration_minutes BETWEEN 15 AND 240),
    notes             text,
    status            text         NOT NULL DEFAULT 'scheduled'
                                   CHECK (status IN ('scheduled', 'cancelled')),
    meeting_id        uuid         REFERENCES meetings (id),
    meeting_link      varchar(500),
    idempotency_key   text,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    updated_at        timestamptz  NOT NULL DEFAULT now(),
    cancelled_at      timestamptz,
    UNIQUE (applicant_id, idempotency_key)
);

CREATE INDEX consultations_lawyer_idx ON consultations (lawyer_id, scheduled_at);
CREATE INDEX consultations_applicant_idx ON consultations (applicant_id, scheduled_at);

CREATE TABLE notifications (
    id            uuid        PRIMARY KEY,
    -- A redelivered or republished event has the same key and is sent once.
    dedupe_key    text        NOT NULL UNIQUE,
    kind          text        NOT NULL,
    recipient_id  uuid        REFERENCES users (id),
    payload       bytea       NOT NULL,
    status        text        NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'sent', 'dead')),
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
