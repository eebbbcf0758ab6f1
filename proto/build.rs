//! Compiles every `.proto` under `switchboard/` with the pure-Rust `protox`, so no `protoc`
//! binary is needed, and writes the descriptor set that gRPC reflection serves.

use std::path::PathBuf;

use prost::Message as _;

const PROTOS: &[&str] = &[
    "switchboard/chat/v1/chat.proto",
    "switchboard/chat/v1/commands.proto",
    "switchboard/presence/v1/presence.proto",
    "switchboard/meeting/v1/meeting.proto",
    "switchboard/notification/v1/notification.proto",
    "switchboard/consultation/v1/consultation.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=switchboard");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptors = protox::compile(PROTOS, ["."])?;
    std::fs::write(
        out_dir.join("switchboard_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
