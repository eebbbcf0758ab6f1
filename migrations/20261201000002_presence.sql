-- Presence: contacts, live connections per gateway instance, gateway liveness.

-- Users who exchanged a message or share a consultation; both directions are stored.
CREATE TABLE contacts (
    user_id     uuid NOT NULL REFERENCES users (id),
    contact_id  uuid NOT NULL REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, contact_id)
);

INSERT INTO contacts (user_id, contact_id)
SELECT DISTINCT sender_id, recipient_id FROM messages
UNION
SELECT DISTINCT recipient_id, sender_id FROM messages
UNION
SELECT applicant_id, lawyer_id FROM consultations
UNION
SELECT lawyer_id, applicant_id FROM consultations
ON CONFLICT DO NOTHING;

-- Every WebSocket connection any gateway reported. A closed one stays as a tombstone for a
-- while, so a late "opened" event for it cannot bring it back.
CREATE TABLE presence_connections (
    connection_id  uuid        PRIMARY KEY,
    user_id        uuid        NOT NULL,
    instance_id    text        NOT NULL,
    opened_at      timestamptz NOT NULL DEFAULT now(),
    closed_at      timestamptz
);

CREATE INDEX presence_connections_live_user_idx
    ON presence_connections (user_id) WHERE closed_at IS NULL;
CREATE INDEX presence_connections_live_instance_idx
    ON presence_connections (instance_id) WHERE closed_at IS NULL;
CREATE INDEX presence_connections_closed_idx
    ON presence_connections (closed_at) WHERE closed_at IS NOT NULL;

-- One row per gateway process (instance); a restarted gateway is a new instance.
CREATE TABLE presence_gateways (
    instance_id     text        PRIMARY KEY,
    gateway_id      text        NOT NULL,
    last_heartbeat  timestamptz NOT NULL DEFAULT now(),
    dead_at         timestamptz
);
