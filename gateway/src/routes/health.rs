//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: both backing services
//! answer their gRPC health checks), for load balancers and the run script.

use std::time::Duration;

use axum::{Json, extract::State, response::IntoResponse};
use cqrsplus_proto::error_code::ErrorCode;
use serde_json::json;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

use crate::{error::ApiError, startup::AppState};

/// The process is up.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Both services answer SERVING within two seconds; otherwise 503 naming the ones that did not.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let (command, query) = tokio::join!(
        check(state.command_health.clone()),
        check(state.query_health.clone())
    );
    let report = json!({ "command_service": command, "query_service": query });
    if command == "serving" && query == "serving" {
        Ok(Json(json!({ "status": "ready", "services": report })))
    } else {
        Err(
            ApiError::new(ErrorCode::Unavailable, "a backing service is not ready")
                .with_details(report),
        )
    }
}

async fn check(
    mut client: tonic_health::pb::health_client::HealthClient<crate::backend::Backend>,
) -> &'static str {
    let call = client.check(HealthCheckRequest {
        service: String::new(),
    });
    match tokio::time::timeout(Duration::from_secs(2), call).await {
        Ok(Ok(reply)) if reply.get_ref().status() == ServingStatus::Serving => "serving",
        Ok(Ok(_)) => "not_serving",
        Ok(Err(_)) | Err(_) => "unreachable",
    }
}
