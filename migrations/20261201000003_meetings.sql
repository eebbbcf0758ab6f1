-- Meetings and consultations: what the meeting-link and consultation services need beyond
-- the initial tables.

-- Join links carry provider tokens (a Jitsi JWT, a Zoom passcode, a Zoom host `zak`) and
-- outgrow 500 characters.
ALTER TABLE meetings ALTER COLUMN join_url TYPE text;
ALTER TABLE meetings ALTER COLUMN host_url TYPE text;

ALTER TABLE meetings
    ADD COLUMN description      text,
    ADD COLUMN time_zone        text,
    ADD COLUMN organizer_name   text,
    -- What the provider needs to change or cancel it later (calendar id, event link, mode).
    ADD COLUMN provider_data    jsonb       NOT NULL DEFAULT '{}',
    ADD COLUMN cancelled_at     timestamptz,
    ADD COLUMN cancel_reason    text;

CREATE INDEX meetings_consultation_idx ON meetings (consultation_id)
    WHERE consultation_id IS NOT NULL;

ALTER TABLE consultations ALTER COLUMN meeting_link TYPE text;

-- The meeting as the meeting service last returned it, so a consultation can be read while
-- the meeting service is down.
ALTER TABLE consultations
    ADD COLUMN provider              text CHECK (provider IN ('jitsi', 'google_meet', 'zoom')),
    ADD COLUMN google_calendar_url   text,
    ADD COLUMN outlook_calendar_url  text,
    ADD COLUMN ics                   text,
    ADD COLUMN ics_sequence          integer NOT NULL DEFAULT 0,
    ADD COLUMN cancel_reason         text;

-- The overlap check: one lawyer's scheduled consultations by time.
CREATE INDEX consultations_lawyer_scheduled_idx ON consultations (lawyer_id, scheduled_at)
    WHERE status = 'scheduled';

-- Notification events written in the same transaction as the change they announce and
-- published to NATS afterwards, so a crash between commit and publish loses nothing.
CREATE TABLE consultation_outbox (
    id          bigserial   PRIMARY KEY,
    -- `consultation_scheduled` or `consultation_cancelled`: the subject's last token.
    kind        text        NOT NULL,
    dedupe_key  text        NOT NULL UNIQUE,
    -- An encoded `switchboard.notification.v1.NotificationEvent`.
    payload     bytea       NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
