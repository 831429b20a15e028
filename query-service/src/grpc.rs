//! The gRPC surface of the read side: `QueryService` over the Postgres read model.
//!
//! Handlers only translate: they validate the request (through the query structs of
//! `crate::queries`), wait for its consistency tokens, bounded by the configured wait and the
//! caller's `grpc-timeout`, then run the query; errors become statuses through `error.rs`. The
//! caller's identity comes from the `x-actor` metadata, never from a request body. Must not depend
//! on Kafka or the projector.

use std::time::Duration;

use cqrsplus_proto::{
    common::v1::ConsistencyToken,
    error_code,
    query::v1::{self as pb, query_service_server::QueryService},
};
use sqlx::PgPool;
use tonic::{Request, Response, Status, metadata::MetadataMap};

use crate::{
    error::ServiceError,
    queries::{
        consistency,
        customers::{GetCustomer, GetOrder, ListCustomerOrders, ListCustomers},
        posts::{GetPost, ListComments, ListPosts},
        reports,
    },
};

/// Implements `QueryService` over the read model.
#[derive(Clone)]
pub struct QueryApi {
    pool: PgPool,
    consistency_wait: Duration,
}

impl QueryApi {
    /// `consistency_wait` bounds how long a read waits for its consistency tokens.
    pub fn new(pool: PgPool, consistency_wait: Duration) -> Self {
        Self {
            pool,
            consistency_wait,
        }
    }

    /// Waits for the request's consistency tokens; `deadline` is what the caller has left.
    async fn wait_for(
        &self,
        tokens: &[ConsistencyToken],
        deadline: Option<Duration>,
    ) -> Result<(), ServiceError> {
        consistency::wait_for(
            &self.pool,
            "consistency",
            tokens,
            self.consistency_wait,
            deadline,
        )
        .await
    }
}

/// The time the caller gave the call, from its `grpc-timeout` header ("100m", "2S", ... as the
/// gRPC over HTTP/2 spec writes it). A header we cannot read is no deadline.
fn deadline(metadata: &MetadataMap) -> Option<Duration> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    let unit_at = value.len().checked_sub(1)?;
    let (amount, unit) = (value.get(..unit_at)?, value.get(unit_at..)?);
    // The spec allows at most 8 digits, which also keeps the products below from overflowing.
    if amount.is_empty() || amount.len() > 8 {
        return None;
    }
    let amount: u64 = amount.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[tonic::async_trait]
impl QueryService for QueryApi {
    #[tracing::instrument(skip_all)]
    async fn list_posts(
        &self,
        request: Request<pb::ListPostsRequest>,
    ) -> Result<Response<pb::ListPostsResponse>, Status> {
        let actor = error_code::actor(request.metadata());
        let query = ListPosts::parse(request.get_ref(), actor)?;
        self.wait_for(&request.get_ref().consistency, deadline(request.metadata()))
            .await?;
        Ok(Response::new(query.run(&self.pool).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_post(
        &self,
        request: Request<pb::GetPostRequest>,
    ) -> Result<Response<pb::GetPostResponse>, Status> {
        let actor = error_code::actor(request.metadata());
        let query = GetPost::parse(request.get_ref(), actor)?;
        self.wait_for(
            request.get_ref().consistency.as_slice(),
            deadline(request.metadata()),
        )
        .await?;
        Ok(Response::new(query.run(&self.pool).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn list_comments(
        &self,
        request: Request<pb::ListCommentsRequest>,
    ) -> Result<Response<pb::ListCommentsResponse>, Status> {
        let query = ListComments::parse(request.get_ref())?;
        self.wait_for(
            request.get_ref().consistency.as_slice(),
            deadline(request.metadata()),
        )
        .await?;
        Ok(Response::new(query.run(&self.pool).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn list_customers(
        &self,
        request: Request<pb::ListCustomersRequest>,
    ) -> Result<Response<pb::ListCustomersResponse>, Status> {
        let query = ListCustomers::parse(request.get_ref())?;
        self.wait_for(&request.get_ref().consistency, deadline(request.metadata()))
            .await?;
        Ok(Response::new(query.run(&self.pool).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_customer(
        &self,
        request: Request<pb::GetCustomerRequest>,
    ) -> Result<Response<pb::GetCustomerResponse>, Status> {
        let query = GetCustomer::parse(request.get_ref())?;
        self.wait_for(
            request.get_ref().consistency.as_slice(),
            deadline(request.metadata()),
        )
        .await?;
        Ok(Response::new(query.run(&self.pool).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn list_customer_orders(
        &self,
        request: Request<pb::ListCustomerOrdersRequest>,
    ) -> Result<Response<pb::ListCustomerOrdersResponse>, Status> {
        let query = ListCustomerOrders::parse(request.get_ref())?;
        self.wait_for(
            request.get_ref().consistency.as_slice(),
            deadline(request.metadata()),
        )
        .await?;
        Ok(Response::new(query.run(&self.pool).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let query = GetOrder::parse(request.get_ref())?;
        self.wait_for(
            request.get_ref().consistency.as_slice(),
            deadline(request.metadata()),
        )
        .await?;
        Ok(Response::new(query.run(&self.pool).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn monthly_sales_by_segment(
        &self,
        request: Request<pb::MonthlySalesBySegmentRequest>,
    ) -> Result<Response<pb::MonthlySalesBySegmentResponse>, Status> {
        let reply = reports::monthly_sales_by_segment(&self.pool, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    #[tracing::instrument(skip_all)]
    async fn top_customers(
        &self,
        request: Request<pb::TopCustomersRequest>,
    ) -> Result<Response<pb::TopCustomersResponse>, Status> {
        let reply = reports::top_customers(&self.pool, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    #[tracing::instrument(skip_all)]
    async fn repeat_customers(
        &self,
        request: Request<pb::RepeatCustomersRequest>,
    ) -> Result<Response<pb::RepeatCustomersResponse>, Status> {
        let reply = reports::repeat_customers(&self.pool, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    #[tracing::instrument(skip_all)]
    async fn sales_by_region(
        &self,
        request: Request<pb::SalesByRegionRequest>,
    ) -> Result<Response<pb::SalesByRegionResponse>, Status> {
        let reply = reports::sales_by_region(&self.pool, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    #[tracing::instrument(skip_all)]
    async fn product_performance(
        &self,
        request: Request<pb::ProductPerformanceRequest>,
    ) -> Result<Response<pb::ProductPerformanceResponse>, Status> {
        let reply = reports::product_performance(&self.pool, request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    #[tracing::instrument(skip_all)]
    async fn customer_items_by_price_group(
        &self,
        request: Request<pb::CustomerItemsByPriceGroupRequest>,
    ) -> Result<Response<pb::CustomerItemsByPriceGroupResponse>, Status> {
        let reply =
            reports::customer_items_by_price_group(&self.pool, request.into_inner()).await?;
        Ok(Response::new(reply))
    }
}

#[cfg(test)]
mod tests {
    use tonic::metadata::MetadataValue;

    use super::*;

    fn with_timeout(value: &'static str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("grpc-timeout", MetadataValue::from_static(value));
        metadata
    }

    #[test]
    fn grpc_timeouts_become_deadlines() {
        assert_eq!(
            deadline(&with_timeout("250m")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(deadline(&with_timeout("2S")), Some(Duration::from_secs(2)));
        assert_eq!(
            deadline(&with_timeout("1H")),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            deadline(&with_timeout("99999999n")),
            Some(Duration::from_nanos(99_999_999))
        );
        assert_eq!(deadline(&MetadataMap::new()), None);
    }

    #[test]
    fn unreadable_timeouts_are_no_deadline() {
        for bad in ["", "m", "12", "5x", "123456789m", "-5m", "1.5S"] {
            assert_eq!(deadline(&with_timeout(bad)), None, "{bad:?}");
        }
    }
}
