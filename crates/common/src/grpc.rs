//! What every gRPC server shares: `grpc.health.v1`, reflection over every Switchboard
//! descriptor, and a per-request deadline.

use std::time::Duration;

use tonic::transport::Server;
use tonic::transport::server::Router;
use tonic_health::server::HealthReporter;

/// A server that already serves health and reflection; add the service's own and serve.
/// Mark each added service serving on the returned reporter.
pub fn server(
    request_timeout: Duration,
) -> Result<(Router, HealthReporter), tonic_reflection::server::Error> {
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(switchboard_proto::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let router = Server::builder()
        .timeout(request_timeout)
        .add_service(health)
        .add_service(reflection);
    Ok((router, reporter))
}
