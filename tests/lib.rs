//! End-to-end tests of Switchboard. Each test file is one area:
//! `chat.rs` (messages across replicas), `auth.rs` (tokens and the handshake),
//! `rest.rs` (the REST fallback), `grpc.rs` (internal gRPC, health, reflection, the CLI import). They need the service binaries built
//! (`cargo build --workspace --bins`), PostgreSQL and NATS.
