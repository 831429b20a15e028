//! Standard gRPC side services: health (grpc.health.v1) and server reflection, so `grpcurl` and
//! load balancers work against every service without extra set-up.

use tonic_health::{
    pb::health_server::HealthServer,
    server::{HealthReporter, HealthService},
};

/// The gRPC health service as a nameable type, so a service can keep it in its `Application`.
pub type Health = HealthServer<HealthService>;

/// The health service with its reporter. The empty service name ("the whole server") starts
/// NOT_SERVING; each service marks itself serving once it accepts calls.
pub async fn health() -> (HealthReporter, Health) {
    let reporter = HealthReporter::new();
    reporter
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
    let service = HealthServer::new(HealthService::from_health_reporter(reporter.clone()));
    (reporter, service)
}

/// Reflection (v1 and v1alpha, since clients still differ on which they ask for) over the given
/// encoded `FileDescriptorSet`s.
pub fn reflection(
    descriptor_sets: &[&'static [u8]],
) -> anyhow::Result<(
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    tonic_reflection::server::v1alpha::ServerReflectionServer<
        impl tonic_reflection::server::v1alpha::ServerReflection,
    >,
)> {
    let mut v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    let mut v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
    for set in descriptor_sets {
        v1 = v1.register_encoded_file_descriptor_set(set);
        v1alpha = v1alpha.register_encoded_file_descriptor_set(set);
    }
    Ok((v1.build_v1()?, v1alpha.build_v1alpha()?))
}
