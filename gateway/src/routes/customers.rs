//! `/api/v1/customers` and `/api/v1/customers/{id}/orders`: customers and the orders they place.
//! Reads go to QueryService, writes to CommandService as the token's subject.

use axum::{Json, extract::State, response::IntoResponse};
use cqrsplus_domain::{
    customer::{CustomerProfile, ProfileInput, Region, Segment},
    order::{ItemInput, PlaceOrder as PlaceOrderInput},
};
use cqrsplus_proto::{command::v1 as cmd, query::v1 as q};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use crate::{
    auth::{Caller, MaybeCaller},
    error::ApiError,
    extract::{ApiJson, ApiPath, ApiQuery, CommandHeaders},
    grpc::{self, optional_timestamp},
    routes::{
        orders::{Order, OrderPage, OrderStatusFilter},
        reply::{self, Accepted, CommandHeaderDocs, CommandReply, with_etag},
    },
    startup::AppState,
    validate::Violations,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_customers, register_customer))
        .routes(routes!(get_customer, update_customer))
        .routes(routes!(list_customer_orders, place_order))
}

/// A customer as the read model has it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Customer {
    pub customer_id: String,
    pub name: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Market segment, e.g. `consumer`.
    pub segment: String,
    /// Sales region, e.g. `emea`.
    pub region: String,
    pub registered_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// The customer's version this reflects.
    pub version: u64,
}

impl From<q::Customer> for Customer {
    fn from(c: q::Customer) -> Self {
        Self {
            registered_at: optional_timestamp(c.registered_at.as_ref()).unwrap_or_default(),
            updated_at: optional_timestamp(c.updated_at.as_ref()),
            customer_id: c.customer_id,
            name: c.name,
            email: c.email,
            phone: c.phone,
            segment: c.segment,
            region: c.region,
            version: c.version,
        }
    }
}

/// A page of customers, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPage {
    pub customers: Vec<Customer>,
    pub next_page_token: String,
    pub total_size: u64,
}

/// Which customers to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListCustomersParams {
    /// Customers per page, default 20, at most 100.
    page_size: Option<u32>,
    /// `next_page_token` of the previous page.
    page_token: Option<String>,
    /// Only this segment.
    segment: Option<String>,
    /// Only this region.
    region: Option<String>,
    /// Read your writes: `ID:VERSION` pairs, comma separated, the list must reflect.
    consistent_with: Option<String>,
}

/// Lists customers by name.
#[utoipa::path(get, path = "/customers", tag = "customers", security((), ("bearer" = [])), params(ListCustomersParams),
    responses((status = OK, body = CustomerPage)))]
#[tracing::instrument(skip_all)]
async fn list_customers(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiQuery(params): ApiQuery<ListCustomersParams>,
) -> Result<Json<CustomerPage>, ApiError> {
    let mut v = Violations::new();
    let segment = v.filter("segment", params.segment.as_deref(), Segment::parse);
    let region = v.filter("region", params.region.as_deref(), Region::parse);
    v.finish()?;
    let message = q::ListCustomersRequest {
        page_size: params.page_size.unwrap_or_default(),
        page_token: params.page_token.unwrap_or_default(),
        segment: segment.map(Segment::into_string),
        region: region.map(Region::into_string),
        consistency: grpc::tokens(params.consistent_with.as_deref())?,
    };
    let reply = state
        .queries
        .clone()
        .list_customers(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok(Json(CustomerPage {
        customers: reply.customers.into_iter().map(Customer::from).collect(),
        next_page_token: reply.next_page_token,
        total_size: reply.total_size,
    }))
}

/// A customer's details (all of them: an update replaces the record).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CustomerDetails {
    /// Optional client-chosen id for a new customer (UUID); ignored on update.
    #[schema(format = Uuid)]
    pub customer_id: Option<String>,
    /// Full name, at most 200 characters.
    pub name: String,
    /// Unique across customers (409 otherwise), compared case-insensitively.
    pub email: String,
    /// Optional; absent clears it on update.
    pub phone: Option<String>,
    /// Market segment, e.g. `consumer`, `corporate`, `home_office`.
    pub segment: String,
    /// Sales region, e.g. `north`, `emea`.
    pub region: String,
}

struct CheckedDetails {
    customer_id: Option<String>,
    name: String,
    email: String,
    phone: Option<String>,
    segment: String,
    region: String,
}

/// The details parsed by the domain (normalized: trimmed, the email lowercased), every invalid
/// field reported at once.
fn check_details(body: &CustomerDetails) -> Result<CheckedDetails, ApiError> {
    let mut v = Violations::new();
    let customer_id = v.optional_uuid("customer_id", body.customer_id.as_deref());
    let profile = v.take_all(CustomerProfile::parse(&ProfileInput {
        name: &body.name,
        email: &body.email,
        phone: body.phone.as_deref(),
        segment: &body.segment,
        region: &body.region,
    }));
    v.finish()?;
    let profile = profile
        .ok_or_else(|| ApiError::internal("customer profile neither parsed nor refused"))?
        .into_details();
    Ok(CheckedDetails {
        customer_id,
        name: profile.name,
        email: profile.email,
        phone: profile.phone,
        segment: profile.segment,
        region: profile.region,
    })
}

/// Registers a customer.
#[utoipa::path(post, path = "/customers", tag = "customers", request_body = CustomerDetails,
    params(CommandHeaderDocs), security(("bearer" = [])),
    responses((status = CREATED, body = CommandReply)))]
#[tracing::instrument(skip_all, fields(actor = %caller.subject))]
async fn register_customer(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiJson(body): ApiJson<CustomerDetails>,
) -> Result<Accepted, ApiError> {
    let d = check_details(&body)?;
    let request = cmd::RegisterCustomerRequest {
        options: reply::options(&headers),
        customer_id: d.customer_id,
        name: d.name,
        email: d.email,
        phone: d.phone,
        segment: d.segment,
        region: d.region,
    };
    let result = state
        .commands
        .clone()
        .register_customer(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner()
        .result;
    let accepted = Accepted::new(result)?;
    let location = format!("/api/v1/customers/{}", accepted.reply.aggregate_id);
    Ok(accepted.created(location))
}

/// Read-your-writes for a single read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MinVersion {
    /// Wait (briefly) until the read model has this version of the resource; 503 with Retry-After
    /// if it does not get there in time.
    pub min_version: Option<u64>,
}

/// Reads one customer.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers", security((), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "customer id"), MinVersion),
    responses((status = OK, body = Customer)))]
#[tracing::instrument(skip_all, fields(customer_id = %id))]
async fn get_customer(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<MinVersion>,
) -> Result<impl IntoResponse, ApiError> {
    let id = id.to_string();
    let message = q::GetCustomerRequest {
        consistency: grpc::token(&id, params.min_version),
        customer_id: id,
    };
    let customer = state
        .queries
        .clone()
        .get_customer(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner()
        .customer
        .ok_or_else(|| ApiError::internal("GetCustomer reply without a customer"))?;
    let customer = Customer::from(customer);
    Ok(with_etag(customer.version, Json(customer)))
}

/// Replaces all of a customer's details.
#[utoipa::path(put, path = "/customers/{id}", tag = "customers", request_body = CustomerDetails,
    params(("id" = Uuid, Path, description = "customer id"), CommandHeaderDocs),
    security(("bearer" = [])), responses((status = OK, body = CommandReply)))]
#[tracing::instrument(skip_all, fields(customer_id = %id, actor = %caller.subject))]
async fn update_customer(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CustomerDetails>,
) -> Result<Accepted, ApiError> {
    let d = check_details(&body)?;
    let request = cmd::UpdateCustomerRequest {
        options: reply::options(&headers),
        customer_id: id.to_string(),
        name: d.name,
        email: d.email,
        phone: d.phone,
        segment: d.segment,
        region: d.region,
    };
    let result = state
        .commands
        .clone()
        .update_customer(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner()
        .result;
    Accepted::new(result)
}

/// Which orders of a customer to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListOrdersParams {
    /// Orders per page, default 20, at most 100.
    page_size: Option<u32>,
    /// `next_page_token` of the previous page.
    page_token: Option<String>,
    /// Only orders in this status.
    status: Option<OrderStatusFilter>,
    /// Read your write: `ORDER_ID:VERSION` of an order just placed or changed.
    consistent_with: Option<String>,
}

/// Lists a customer's orders, newest first. An unknown customer has no orders (not 404): its
/// orders may reach the read model before it does.
#[utoipa::path(get, path = "/customers/{id}/orders", tag = "customers", security((), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "customer id"), ListOrdersParams),
    responses((status = OK, body = OrderPage)))]
#[tracing::instrument(skip_all, fields(customer_id = %id))]
async fn list_customer_orders(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<ListOrdersParams>,
) -> Result<Json<OrderPage>, ApiError> {
    let mut tokens = grpc::tokens(params.consistent_with.as_deref())?;
    if tokens.len() > 1 {
        return Err(ApiError::invalid_field(
            "consistent_with",
            "this list takes one ID:VERSION pair",
        ));
    }
    let message = q::ListCustomerOrdersRequest {
        customer_id: id.to_string(),
        page_size: params.page_size.unwrap_or_default(),
        page_token: params.page_token.unwrap_or_default(),
        status: params
            .status
            .map_or(q::OrderStatus::Unspecified, q::OrderStatus::from)
            .into(),
        consistency: tokens.pop(),
    };
    let reply = state
        .queries
        .clone()
        .list_customer_orders(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok(Json(OrderPage {
        orders: reply.orders.into_iter().map(Order::from).collect(),
        next_page_token: reply.next_page_token,
        total_size: reply.total_size,
    }))
}

/// One line of a new order.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewOrderItem {
    /// Product code, not blank, one line.
    pub sku: String,
    /// Product name, not blank, one line.
    pub name: String,
    /// Price of one unit in minor units of the order's currency, 0 to 10^11.
    pub unit_price_minor: i64,
    /// Number of units, 1 to 10000. (Any integer is read, so an out-of-range one is named as a
    /// field rather than refused as malformed JSON.)
    pub quantity: i64,
}

/// A new order for the customer in the path.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PlaceOrder {
    /// Optional client-chosen id (UUID); the server picks a UUIDv7 otherwise.
    #[schema(format = Uuid)]
    pub order_id: Option<String>,
    /// ISO 4217 code of every price, e.g. `EUR`.
    pub currency: String,
    /// 1 to 100 lines; the order total (price × quantity, summed) at most 10^15 minor units.
    pub items: Vec<NewOrderItem>,
}

/// Places an order for an existing customer (422 if the customer does not exist).
#[utoipa::path(post, path = "/customers/{id}/orders", tag = "customers", request_body = PlaceOrder,
    params(("id" = Uuid, Path, description = "customer id"), CommandHeaderDocs),
    security(("bearer" = [])), responses((status = CREATED, body = CommandReply)))]
#[tracing::instrument(skip_all, fields(customer_id = %id, actor = %caller.subject))]
async fn place_order(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<PlaceOrder>,
) -> Result<Accepted, ApiError> {
    let mut v = Violations::new();
    let order_id = v.optional_uuid("order_id", body.order_id.as_deref());
    let lines: Vec<ItemInput<'_>> = body
        .items
        .iter()
        .map(|item| ItemInput {
            sku: &item.sku,
            name: &item.name,
            unit_price_minor: item.unit_price_minor,
            quantity: item.quantity,
        })
        .collect();
    let order = v.take_all(PlaceOrderInput::parse(id, &body.currency, &lines));
    v.finish()?;
    let order = order.ok_or_else(|| ApiError::internal("order neither parsed nor refused"))?;
    let items = order
        .items()
        .iter()
        .map(|item| cmd::OrderItem {
            sku: item.sku.as_str().to_owned(),
            name: item.name.as_str().to_owned(),
            unit_price_minor: item.unit_price.minor(),
            quantity: item.quantity.get(),
        })
        .collect();
    let currency = order.currency.as_str().to_owned();
    let request = cmd::PlaceOrderRequest {
        options: reply::options(&headers),
        order_id,
        customer_id: id.to_string(),
        currency,
        items,
    };
    let result = state
        .commands
        .clone()
        .place_order(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner()
        .result;
    let accepted = Accepted::new(result)?;
    let location = format!("/api/v1/orders/{}", accepted.reply.aggregate_id);
    Ok(accepted.created(location))
}
