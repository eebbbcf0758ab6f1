//! `switchboard`: the developer's command line.
//!
//! - `switchboard token --user alice` mints a dev token (HS256, `JWT_SECRET`).
//! - `switchboard chat --token … --to <user>` chats from a terminal over the native
//!   protocol: type to send; incoming messages, receipts and errors are printed.
//! - `switchboard import-users users.csv` upserts users through the chat service's
//!   `UserService` (CSV columns: id,email,display_name,role).
//! - `switchboard notifications dead-letters` lists e-mails given up on;
//!   `switchboard notifications replay <id>` queues one again.

mod chat;
mod import;
mod notifications;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use uuid::Uuid;

/// The demo users that `scripts/seed.sql` creates, by first name.
pub(crate) const DEMO_USERS: &[(&str, &str, &str, &str)] = &[
    (
        "alice",
        "018f0000-0000-7000-8000-000000000001",
        "Alice Applicant",
        "applicant",
    ),
    (
        "bob",
        "018f0000-0000-7000-8000-000000000002",
        "Bob Applicant",
        "applicant",
    ),
    (
        "lena",
        "018f0000-0000-7000-8000-000000000003",
        "Lena Lawyer",
        "lawyer",
    ),
    (
        "marc",
        "018f0000-0000-7000-8000-000000000004",
        "Marc Lawyer",
        "lawyer",
    ),
];

/// The dev secret `scripts/dev.sh` uses when `JWT_SECRET` is not set.
pub(crate) const DEV_JWT_SECRET: &str = "switchboard-dev-secret-change-me";

#[derive(Parser)]
#[command(name = "switchboard", about = "Switchboard developer tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a dev token for a user (a UUID or a demo user's name).
    Token {
        #[arg(long)]
        user: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 24 * 3600)]
        ttl: u64,
        #[arg(long, env = "JWT_SECRET", default_value = DEV_JWT_SECRET, hide_env_values = true)]
        secret: String,
        /// Print the user's id instead of a token.
        #[arg(long)]
        print_id: bool,
    },
    /// Chat from the terminal.
    Chat {
        /// The gateway's WebSocket URL.
        #[arg(long, default_value = "ws://127.0.0.1:8080/ws")]
        url: String,
        /// A token; or use --user to mint one with the dev secret.
        #[arg(long)]
        token: Option<String>,
        /// Mint a dev token for this user (UUID or demo name).
        #[arg(long)]
        user: Option<String>,
        /// Whom to talk to (UUID or demo name); `/to` changes it.
        #[arg(long)]
        to: Option<String>,
        /// Mark incoming messages read as they arrive.
        #[arg(long)]
        auto_read: bool,
        #[arg(long, env = "JWT_SECRET", default_value = DEV_JWT_SECRET, hide_env_values = true)]
        secret: String,
    },
    /// Upsert users from a CSV file (id,email,display_name,role; a header line is skipped).
    ImportUsers {
        file: std::path::PathBuf,
        /// The chat service's gRPC address.
        #[arg(long, default_value = "http://127.0.0.1:50051")]
        grpc: String,
    },
    /// Dead-lettered notifications: list and replay.
    Notifications {
        #[command(subcommand)]
        command: NotificationsCommand,
    },
}

#[derive(Subcommand)]
enum NotificationsCommand {
    /// List the notifications given up on, newest first.
    DeadLetters {
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// The notification service's gRPC address.
        #[arg(
            long,
            env = "NOTIFICATION_GRPC_URL",
            default_value = "http://127.0.0.1:50054"
        )]
        url: String,
    },
    /// Queue a dead letter again (after fixing what made it fail).
    Replay {
        id: String,
        #[arg(
            long,
            env = "NOTIFICATION_GRPC_URL",
            default_value = "http://127.0.0.1:50054"
        )]
        url: String,
    },
}

/// A UUID, or the id of a demo user named so.
pub(crate) fn resolve_user(name_or_id: &str) -> anyhow::Result<Uuid> {
    if let Some((_, id, _, _)) = DEMO_USERS
        .iter()
        .find(|(name, ..)| name.eq_ignore_ascii_case(name_or_id))
    {
        return Ok(Uuid::parse_str(id)?);
    }
    Uuid::parse_str(name_or_id)
        .with_context(|| format!("{name_or_id:?} is neither a UUID nor a demo user"))
}

fn mint(user: &str, ttl: u64, secret: &str) -> anyhow::Result<String> {
    let id = resolve_user(user)?;
    let extra = match DEMO_USERS
        .iter()
        .find(|(_, uid, ..)| *uid == id.to_string())
    {
        Some((name, _, display, role)) => serde_json::json!({
            "name": display, "role": role,
            "email": format!("{name}@{}.example", if *role == "lawyer" { "lawyers" } else { "applicants" }),
        }),
        None => serde_json::json!({}),
    };
    Ok(switchboard_common::auth::mint_hs256(
        secret, id, ttl, extra,
    )?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Token {
            user,
            ttl,
            secret,
            print_id,
        } => {
            if print_id {
                println!("{}", resolve_user(&user)?);
            } else {
                println!("{}", mint(&user, ttl, &secret)?);
            }
            Ok(())
        }
        Command::Chat {
            url,
            token,
            user,
            to,
            auto_read,
            secret,
        } => {
            let token = match (token, user) {
                (Some(t), _) => t,
                (None, Some(u)) => mint(&u, 24 * 3600, &secret)?,
                (None, None) => anyhow::bail!("give --token or --user"),
            };
            let to = to.as_deref().map(resolve_user).transpose()?;
            chat::run(&url, &token, to, auto_read).await
        }
        Command::ImportUsers { file, grpc } => import::run(&file, &grpc).await,
        Command::Notifications { command } => match command {
            NotificationsCommand::DeadLetters { limit, url } => {
                notifications::list(&url, limit).await
            }
            NotificationsCommand::Replay { id, url } => notifications::replay(&url, &id).await,
        },
    }
}
