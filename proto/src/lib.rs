//! Generated protobuf messages and gRPC stubs for every Switchboard service.
//!
//! Modules mirror the protobuf packages: `chat::v1`, `presence::v1`, `meeting::v1`,
//! `notification::v1`, `consultation::v1`. [`FILE_DESCRIPTOR_SET`] feeds gRPC reflection.

// Generated code is not held to the workspace's lints.
#![allow(unreachable_pub, clippy::all, clippy::pedantic, rust_2018_idioms)]

/// The encoded descriptors of every Switchboard `.proto`, for `tonic-reflection`.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/switchboard_descriptor.bin"));

pub mod chat {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/switchboard.chat.v1.rs"));
    }
}

pub mod presence {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/switchboard.presence.v1.rs"));
    }
}

pub mod meeting {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/switchboard.meeting.v1.rs"));
    }
}

pub mod notification {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/switchboard.notification.v1.rs"));
    }
}

pub mod consultation {
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/switchboard.consultation.v1.rs"));
    }
}
