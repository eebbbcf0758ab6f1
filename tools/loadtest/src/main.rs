//! `switchboard-load`: the load generator behind `scripts/bench.sh`.
//!
//! Each scenario prints one JSON object on stdout (the script turns them into a table):
//! - `idle`: N authenticated connections held on one replica — connect latency, failures,
//!   and the replica's RSS per connection (`--measure-pid`).
//! - `chat`: 1:1 chat at a fixed rate, open loop — every send is scheduled at its intended
//!   time and latencies are measured from that time, so a slow server cannot hide behind
//!   a slow client (no coordinated omission).
//! - `saturate`: every sender keeps a window of unacked messages — sustained throughput.
//! - `presence`: users with ~10 contacts each connect at a fixed rate — connect latency,
//!   failures, and whether each `user_online` reached exactly contacts.

mod client;
mod idle;
mod presence;
mod report;
mod traffic;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "switchboard-load", about = "Switchboard load generator")]
struct Cli {
    /// The HS256 secret the gateways accept.
    #[arg(
        long,
        env = "JWT_SECRET",
        hide_env_values = true,
        global = true,
        default_value = ""
    )]
    secret: String,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Hold N idle authenticated connections on one gateway.
    Idle(idle::Args),
    /// 1:1 chat at a fixed rate (open loop).
    Chat(traffic::ChatArgs),
    /// 1:1 chat, each sender keeping a window of unacked messages.
    Saturate(traffic::SaturateArgs),
    /// Users with contacts connecting at a fixed rate.
    Presence(presence::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    anyhow::ensure!(!cli.secret.is_empty(), "set JWT_SECRET (or --secret)");
    let result = match cli.scenario {
        Scenario::Idle(args) => idle::run(args, &cli.secret).await?,
        Scenario::Chat(args) => traffic::open_loop(args, &cli.secret).await?,
        Scenario::Saturate(args) => traffic::saturate(args, &cli.secret).await?,
        Scenario::Presence(args) => presence::run(args, &cli.secret).await?,
    };
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}
