//! End-to-end tests of Switchboard. Each test file is one area:
//! `chat.rs` (messages across replicas), `auth.rs` (tokens and the handshake),
//! `rest.rs` (the REST fallback), `grpc.rs` (internal gRPC, health, reflection, the CLI
//! import), `authz.rs` (who may do what: every event and endpoint by its owner, another
//! user, no token and an expired token), `hostile_input.rs` (what fuzzing found, against a
//! real gateway), `faults.rs` (replicas killed or drained mid-traffic), `outages.rs` (NATS
//! and PostgreSQL stopped and started, on servers of their own), `floods.rs` (slow
//! consumers, rate and connection limits, the in-flight cap). They need the service
//! binaries built (`cargo build --workspace --bins`), PostgreSQL and NATS; `outages.rs`
//! also needs `nats-server` and PostgreSQL's server binaries (it runs private ones).
