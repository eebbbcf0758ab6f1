//! `import-users`: upserts users from a CSV file through `UserService.UpsertUsers`.

use anyhow::{Context as _, bail};
use switchboard_proto::chat::v1::{self as pb, user_service_client::UserServiceClient};

const CHUNK: usize = 1000;

pub(crate) async fn run(file: &std::path::Path, grpc: &str) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut users = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (n == 0 && line.to_ascii_lowercase().starts_with("id,")) {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if cols.len() != 4 {
            bail!(
                "line {}: expected 4 columns id,email,display_name,role",
                n + 1
            );
        }
        let role = match cols[3] {
            "applicant" => pb::Role::Applicant,
            "lawyer" => pb::Role::Lawyer,
            "admin" => pb::Role::Admin,
            "" => pb::Role::Unspecified,
            other => bail!("line {}: unknown role {other:?}", n + 1),
        };
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        users.push(pb::UpsertUserRequest {
            id: cols[0].to_owned(),
            email: opt(cols[1]),
            display_name: opt(cols[2]),
            role: role as i32,
        });
    }
    let channel = tonic::transport::Endpoint::from_shared(grpc.to_owned())?
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(30))
        .connect()
        .await
        .with_context(|| format!("connecting to {grpc}"))?;
    let mut client = UserServiceClient::new(channel);
    let mut changed = 0;
    for chunk in users.chunks(CHUNK) {
        let reply = client
            .upsert_users(pb::UpsertUsersRequest {
                users: chunk.to_vec(),
            })
            .await
            .context("UpsertUsers")?;
        changed += reply.into_inner().upserted;
    }
    println!("{} users read, {changed} created or changed", users.len());
    Ok(())
}
