//! `/api/v1/reports/...`: one route per reporting RPC of QueryService, over orders that are not
//! cancelled. Amounts are per currency, never mixed.

use axum::{Json, extract::State};
use cqrsplus_domain::{Currency, ReportMonth};
use cqrsplus_proto::query::v1 as q;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    auth::MaybeCaller,
    error::ApiError,
    extract::ApiQuery,
    grpc::{self, Money, money, optional_timestamp},
    startup::AppState,
    validate::Violations,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(monthly_sales))
        .routes(routes!(top_customers))
        .routes(routes!(repeat_customers))
        .routes(routes!(sales_by_region))
        .routes(routes!(product_performance))
        .routes(routes!(items_by_price_group))
}

/// An inclusive range of months, each `YYYY-MM`; an absent bound is open.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Period {
    /// First month included, e.g. `2025-01`.
    from_month: Option<String>,
    /// Last month included.
    to_month: Option<String>,
}

impl Period {
    /// Both bounds parsed by the domain (named after their parameter), in order.
    fn check(&self) -> Result<Option<q::MonthRange>, ApiError> {
        let mut v = Violations::new();
        let from = v.filter("from_month", self.from_month.as_deref(), ReportMonth::parse);
        let to = v.filter("to_month", self.to_month.as_deref(), ReportMonth::parse);
        // Checked here so the 400 names a parameter.
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            v.add(
                "to_month",
                format!("must not be before from_month ({from})"),
            );
        }
        v.finish()?;
        Ok(Some(q::MonthRange {
            from_month: from.map(|m| m.to_string()).unwrap_or_default(),
            to_month: to.map(|m| m.to_string()).unwrap_or_default(),
        }))
    }
}

/// Sales of one month in one segment and currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthlySegmentSales {
    pub month: String,
    /// Empty for orders whose customer has not reached the read model yet.
    pub segment: String,
    pub revenue: Money,
    pub order_count: u64,
    pub units_sold: u64,
}

/// The monthly sales report.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthlySales {
    /// One row per (month, segment, currency), by month then segment.
    pub rows: Vec<MonthlySegmentSales>,
}

/// Revenue, orders and units per month and customer segment.
#[utoipa::path(get, path = "/reports/monthly-sales", tag = "reports", security((), ("bearer" = [])), params(Period),
    responses((status = OK, body = MonthlySales)))]
#[tracing::instrument(skip_all)]
async fn monthly_sales(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiQuery(period): ApiQuery<Period>,
) -> Result<Json<MonthlySales>, ApiError> {
    let message = q::MonthlySalesBySegmentRequest {
        period: period.check()?,
    };
    let reply = state
        .queries
        .clone()
        .monthly_sales_by_segment(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok(Json(MonthlySales {
        rows: reply
            .rows
            .into_iter()
            .map(|r| MonthlySegmentSales {
                month: r.month,
                segment: r.segment,
                revenue: money(r.revenue),
                order_count: r.order_count,
                units_sold: r.units_sold,
            })
            .collect(),
    }))
}

/// How to rank customers.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerRanking {
    Revenue,
    OrderCount,
}

/// Parameters of the top customers report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TopCustomersParams {
    /// Ranking; revenue by default.
    by: Option<CustomerRanking>,
    /// Number of customers, default 10, at most 100.
    limit: Option<u32>,
    /// Only orders in this currency; all currencies (a row per customer and currency) otherwise.
    currency: Option<String>,
}

/// One ranked customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopCustomer {
    pub rank: u32,
    pub customer_id: String,
    pub name: String,
    pub email: String,
    pub segment: String,
    pub region: String,
    pub order_count: u64,
    pub revenue: Money,
}

/// The top customers report.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopCustomers {
    pub customers: Vec<TopCustomer>,
}

/// The best customers by revenue or number of orders.
#[utoipa::path(get, path = "/reports/top-customers", tag = "reports", security((), ("bearer" = [])), params(TopCustomersParams),
    responses((status = OK, body = TopCustomers)))]
#[tracing::instrument(skip_all)]
async fn top_customers(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiQuery(params): ApiQuery<TopCustomersParams>,
) -> Result<Json<TopCustomers>, ApiError> {
    let by = match params.by {
        None | Some(CustomerRanking::Revenue) => q::CustomerRanking::Revenue,
        Some(CustomerRanking::OrderCount) => q::CustomerRanking::OrderCount,
    };
    let mut v = Violations::new();
    // The filter is case-insensitive (query-service compares in upper case); its shape is the
    // domain's.
    let currency = v.filter("currency", params.currency.as_deref(), |c| {
        Currency::parse(&c.to_ascii_uppercase())
    });
    v.finish()?;
    let message = q::TopCustomersRequest {
        by: by.into(),
        limit: params.limit.unwrap_or_default(),
        currency: currency.map(|c| c.as_str().to_owned()).unwrap_or_default(),
    };
    let reply = state
        .queries
        .clone()
        .top_customers(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok(Json(TopCustomers {
        customers: reply
            .customers
            .into_iter()
            .map(|c| TopCustomer {
                rank: c.rank,
                customer_id: c.customer_id,
                name: c.name,
                email: c.email,
                segment: c.segment,
                region: c.region,
                order_count: c.order_count,
                revenue: money(c.revenue),
            })
            .collect(),
    }))
}

/// How many customers to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitParams {
    /// Default 10, at most 100.
    limit: Option<u32>,
}

/// A customer with more than one order in the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct RepeatCustomer {
    pub customer_id: String,
    pub name: String,
    pub order_count: u64,
    pub last_order_at: String,
}

/// Repeat purchases over the last six months.
#[derive(Debug, Serialize, ToSchema)]
pub struct RepeatCustomers {
    pub window_start: String,
    pub window_end: String,
    /// Customers with at least one order in the window.
    pub active_customers: u64,
    /// Customers with at least two.
    pub repeat_customers: u64,
    /// repeat_customers / active_customers, from 0 to 1.
    pub repeat_share: f64,
    pub customers: Vec<RepeatCustomer>,
}

/// How many of the customers who ordered in the last six months ordered more than once.
#[utoipa::path(get, path = "/reports/repeat-customers", tag = "reports", security((), ("bearer" = [])), params(LimitParams),
    responses((status = OK, body = RepeatCustomers)))]
#[tracing::instrument(skip_all)]
async fn repeat_customers(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiQuery(params): ApiQuery<LimitParams>,
) -> Result<Json<RepeatCustomers>, ApiError> {
    let message = q::RepeatCustomersRequest {
        limit: params.limit.unwrap_or_default(),
    };
    let reply = state
        .queries
        .clone()
        .repeat_customers(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok(Json(RepeatCustomers {
        window_start: optional_timestamp(reply.window_start.as_ref()).unwrap_or_default(),
        window_end: optional_timestamp(reply.window_end.as_ref()).unwrap_or_default(),
        active_customers: reply.active_customers,
        repeat_customers: reply.repeat_customers,
        repeat_share: reply.repeat_share,
        customers: reply
            .customers
            .into_iter()
            .map(|c| RepeatCustomer {
                last_order_at: optional_timestamp(c.last_order_at.as_ref()).unwrap_or_default(),
                customer_id: c.customer_id,
                name: c.name,
                order_count: c.order_count,
            })
            .collect(),
    }))
}

/// Sales in one region and currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionSales {
    pub region: String,
    pub revenue: Money,
    pub order_count: u64,
    pub customer_count: u64,
}

/// The sales by region report.
#[derive(Debug, Serialize, ToSchema)]
pub struct SalesByRegion {
    /// Highest revenue first.
    pub regions: Vec<RegionSales>,
}

/// Revenue, orders and customers per sales region.
#[utoipa::path(get, path = "/reports/sales-by-region", tag = "reports", security((), ("bearer" = [])), params(Period),
    responses((status = OK, body = SalesByRegion)))]
#[tracing::instrument(skip_all)]
async fn sales_by_region(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiQuery(period): ApiQuery<Period>,
) -> Result<Json<SalesByRegion>, ApiError> {
    let message = q::SalesByRegionRequest {
        period: period.check()?,
    };
    let reply = state
        .queries
        .clone()
        .sales_by_region(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok(Json(SalesByRegion {
        regions: reply
            .regions
            .into_iter()
            .map(|r| RegionSales {
                region: r.region,
                revenue: money(r.revenue),
                order_count: r.order_count,
                customer_count: r.customer_count,
            })
            .collect(),
    }))
}

/// How to rank products.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductRanking {
    Revenue,
    OrderCount,
    UnitsSold,
}

/// Parameters of the product performance report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductParams {
    /// First month included, `YYYY-MM`.
    from_month: Option<String>,
    /// Last month included, `YYYY-MM`.
    to_month: Option<String>,
    /// Number of products, default 10, at most 100.
    limit: Option<u32>,
    /// Ranking; revenue by default.
    by: Option<ProductRanking>,
}

/// How one product sold, in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductSales {
    pub rank: u32,
    pub sku: String,
    pub name: String,
    pub order_count: u64,
    pub units_sold: u64,
    pub revenue: Money,
}

/// The product performance report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductPerformance {
    pub products: Vec<ProductSales>,
}

/// The best products in a period by revenue, orders or units.
#[utoipa::path(get, path = "/reports/product-performance", tag = "reports", security((), ("bearer" = [])), params(ProductParams),
    responses((status = OK, body = ProductPerformance)))]
#[tracing::instrument(skip_all)]
async fn product_performance(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiQuery(params): ApiQuery<ProductParams>,
) -> Result<Json<ProductPerformance>, ApiError> {
    let period = Period {
        from_month: params.from_month,
        to_month: params.to_month,
    };
    let by = match params.by {
        None | Some(ProductRanking::Revenue) => q::ProductRanking::Revenue,
        Some(ProductRanking::OrderCount) => q::ProductRanking::OrderCount,
        Some(ProductRanking::UnitsSold) => q::ProductRanking::UnitsSold,
    };
    let message = q::ProductPerformanceRequest {
        period: period.check()?,
        limit: params.limit.unwrap_or_default(),
        by: by.into(),
    };
    let reply = state
        .queries
        .clone()
        .product_performance(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok(Json(ProductPerformance {
        products: reply
            .products
            .into_iter()
            .map(|p| ProductSales {
                rank: p.rank,
                sku: p.sku,
                name: p.name,
                order_count: p.order_count,
                units_sold: p.units_sold,
                revenue: money(p.revenue),
            })
            .collect(),
    }))
}

/// Parameters of the items by price group report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PriceGroupParams {
    /// Only this customer.
    #[param(format = Uuid)]
    customer_id: Option<String>,
    /// Customers per page, default 20, at most 100.
    page_size: Option<u32>,
    /// `next_page_token` of the previous page.
    page_token: Option<String>,
}

/// Units one customer bought per price group: cheap below 5.00, affordable 5.00 to 50.00,
/// expensive above 50.00.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPriceGroups {
    pub customer_id: String,
    pub name: String,
    pub cheap_units: u64,
    pub affordable_units: u64,
    pub expensive_units: u64,
}

/// A page of the items by price group report.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceGroupPage {
    pub customers: Vec<CustomerPriceGroups>,
    pub next_page_token: String,
    pub total_size: u64,
}

/// Per customer, how many units were bought in each price group.
#[utoipa::path(get, path = "/reports/items-by-price-group", tag = "reports", security((), ("bearer" = [])), params(PriceGroupParams),
    responses((status = OK, body = PriceGroupPage)))]
#[tracing::instrument(skip_all)]
async fn items_by_price_group(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiQuery(params): ApiQuery<PriceGroupParams>,
) -> Result<Json<PriceGroupPage>, ApiError> {
    let mut v = Violations::new();
    let customer_id = v.optional_uuid("customer_id", params.customer_id.as_deref());
    v.finish()?;
    let message = q::CustomerItemsByPriceGroupRequest {
        customer_id: customer_id.unwrap_or_default(),
        page_size: params.page_size.unwrap_or_default(),
        page_token: params.page_token.unwrap_or_default(),
    };
    let reply = state
        .queries
        .clone()
        .customer_items_by_price_group(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok(Json(PriceGroupPage {
        customers: reply
            .customers
            .into_iter()
            .map(|c| CustomerPriceGroups {
                customer_id: c.customer_id,
                name: c.name,
                cheap_units: c.cheap_units,
                affordable_units: c.affordable_units,
                expensive_units: c.expensive_units,
            })
            .collect(),
        next_page_token: reply.next_page_token,
        total_size: reply.total_size,
    }))
}
