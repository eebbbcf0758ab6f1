# syntax=docker/dockerfile:1
#
# Every Switchboard image, from one file. Build targets:
#
#   runtime (default)  every binary: switchboard-gateway, -chat, -presence, -meeting,
#                      -notification, -consultation, the `switchboard` CLI and
#                      `switchboard-load`; a service is chosen by its command
#   migrate            sqlx-cli and migrations/: applies pending migrations, then exits
#   demo               the demo page (client/demo) on nginx, with demo tokens minted at start
#
#   docker build -t switchboard:local .
#   docker build --target migrate -t switchboard-migrate:local .
#   docker build --target demo -t switchboard-demo:local .
#
# Dependencies are compiled in a layer of their own (cargo-chef): changing the code rebuilds
# only the workspace's crates. No protoc is needed (build.rs compiles the .proto files with
# the pure-Rust protox), and no database either: every query is a runtime sqlx::query, none
# is a checked query! macro, so there is no .sqlx offline data to carry. The migrations are
# embedded by sqlx::migrate!, which is why migrations/ is part of the build context.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---- Rust toolchain with cargo-chef ---------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

# ---- The dependency recipe: Cargo.toml files and Cargo.lock only ----------------------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---- The binaries ---------------------------------------------------------------------------
FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# This layer changes only when a dependency does.
RUN cargo chef cook --release --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bins \
    && mkdir -p /out \
    && for bin in switchboard-gateway switchboard-chat switchboard-presence switchboard-meeting \
                  switchboard-notification switchboard-consultation switchboard switchboard-load; do \
         cp "target/release/$bin" /out/; \
       done

# ---- sqlx-cli, for the migration job --------------------------------------------------------
# The same version as the sqlx in Cargo.lock, so it records migrations exactly as the services
# would (same _sqlx_migrations table, same checksums). scripts/validate-deploy.sh checks it.
FROM chef AS sqlx-cli
RUN cargo install sqlx-cli --locked --version 0.8.6 --no-default-features --features postgres,rustls

# ---- The demo page --------------------------------------------------------------------------
FROM node:20-${DEBIAN_RELEASE}-slim AS client
WORKDIR /client
COPY client/package.json client/package-lock.json ./
COPY client/packages/switchboard-client/package.json packages/switchboard-client/
COPY client/packages/react/package.json packages/react/
COPY client/demo/package.json demo/
RUN npm ci --no-audit --no-fund --loglevel=error
COPY client/ ./
RUN npm run build

# ---- target: migrate ------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS migrate
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=sqlx-cli /usr/local/cargo/bin/sqlx /usr/local/bin/sqlx
COPY migrations /migrations
USER 10001:10001
# DATABASE_URL comes from the environment.
ENTRYPOINT ["sqlx", "migrate", "run", "--source", "/migrations"]

# ---- target: demo ---------------------------------------------------------------------------
# nginx's Debian image, so the glibc `switchboard` CLI runs in it: the entrypoint hook mints
# a token per demo user with JWT_SECRET into demo-users.json, as scripts/dev.sh does.
FROM nginx:1.27-${DEBIAN_RELEASE} AS demo
COPY --from=client /client/demo/dist /usr/share/nginx/html
COPY --from=builder /out/switchboard /usr/local/bin/switchboard
COPY --chmod=0755 deploy/compose/demo-users.sh /docker-entrypoint.d/40-demo-users.sh

# ---- target: runtime (the default) ----------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: TLS to meeting providers, SMTP and a TLS PostgreSQL; curl: health checks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 switchboard \
    && useradd --system --uid 10001 --gid switchboard --no-create-home --shell /usr/sbin/nologin switchboard
COPY --from=builder /out/ /usr/local/bin/
USER 10001:10001
# Listen on every interface: the compiled-in defaults are 127.0.0.1, right for a laptop and
# wrong in a container. Each is overridden by the service's own variable as usual.
ENV GATEWAY_ADDR=0.0.0.0:8081 \
    CHAT_GRPC_ADDR=0.0.0.0:50051 CHAT_HTTP_ADDR=0.0.0.0:9101 \
    PRESENCE_GRPC_ADDR=0.0.0.0:50052 PRESENCE_HTTP_ADDR=0.0.0.0:9102 \
    MEETING_GRPC_ADDR=0.0.0.0:50053 MEETING_HTTP_ADDR=0.0.0.0:9103 \
    NOTIFICATION_GRPC_ADDR=0.0.0.0:50054 NOTIFICATION_HTTP_ADDR=0.0.0.0:9104 \
    CONSULTATION_HTTP_ADDR=0.0.0.0:8085 CONSULTATION_GRPC_ADDR=0.0.0.0:50055 \
    LOG_FORMAT=json
EXPOSE 8081 8085 9101 9102 9103 9104 50051 50052 50053 50054 50055
# The services stop on SIGTERM (readiness off, drain, exit).
STOPSIGNAL SIGTERM
CMD ["switchboard-gateway"]
