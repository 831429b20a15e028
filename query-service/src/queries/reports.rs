//! The six report RPCs (MonthlySalesBySegment, TopCustomers, RepeatCustomers, SalesByRegion,
//! ProductPerformance, CustomerItemsByPriceGroup) over the reporting views of
//! `migrations/0003_reporting.sql`.
//!
//! The views are the one definition of what counts (orders not cancelled, dated by placed_at in
//! UTC, amounts per currency, price-group bounds), so these functions read the views and add only
//! what a request asks for: a period, a currency, a ranking, a limit, a page. Where a period
//! cannot be cut from a view's rows (a distinct customer count), the query goes to `sales_orders`,
//! the view the others are built on, with the same grouping. Every request is validated before
//! any SQL runs, so bad input is INVALID_ARGUMENT, never a panic or a database error.
//!
//! Must not depend on tonic services, Kafka or the projector: the gRPC layer calls these
//! functions, and so do the tests.

use cqrsplus_domain::{Currency, ReportMonth};
use cqrsplus_proto::{common::v1::Money, query::v1 as pb};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{paging, parse_id, timestamp};
use crate::error::ServiceError;

/// Statements that must agree (a page and its total, the repeat counts and their list) read one
/// snapshot; in it, now() is also one instant, so the six-month window is the same for both.
const SNAPSHOT: &str = "begin transaction isolation level repeatable read, read only";

/// Rows a ranked report returns when the request says 0.
const DEFAULT_LIMIT: u32 = 10;
/// Larger limits are capped here.
const MAX_LIMIT: u32 = 100;

// Request parsing ---------------------------------------------------------------------------------

/// An inclusive run of calendar months, as first days of months; `None` is an open bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Period {
    from: Option<Date>,
    to: Option<Date>,
}

impl Period {
    fn parse(range: Option<&pb::MonthRange>) -> Result<Self, ServiceError> {
        let Some(range) = range else {
            return Ok(Self {
                from: None,
                to: None,
            });
        };
        let from = parse_month("period.from_month", &range.from_month)?;
        let to = parse_month("period.to_month", &range.to_month)?;
        if let (Some(from), Some(to)) = (from, to)
            && from > to
        {
            return Err(ServiceError::invalid(
                "period",
                format!(
                    "from_month {:?} is after to_month {:?}",
                    range.from_month, range.to_month
                ),
            ));
        }
        Ok(Self { from, to })
    }
}

/// A month written exactly "YYYY-MM" (the domain's [`ReportMonth`]); empty is an open bound.
fn parse_month(field: &'static str, value: &str) -> Result<Option<Date>, ServiceError> {
    if value.is_empty() {
        return Ok(None);
    }
    ReportMonth::parse(value)
        .map(|month| Some(month.first_day()))
        .map_err(|e| ServiceError::refused(field, e))
}

/// "YYYY-MM" of a view's `month` (the first day of the month).
fn month_text(month: Date) -> String {
    format!("{:04}-{:02}", month.year(), u8::from(month.month()))
}

/// The number of rows a ranked report returns.
fn limit(requested: u32) -> i64 {
    i64::from(match requested {
        0 => DEFAULT_LIMIT,
        n => n.min(MAX_LIMIT),
    })
}

/// A currency filter: empty means all currencies; otherwise the domain's [`Currency`], compared
/// in upper case as the read model stores them (the filter forgives lower case).
fn currency_filter(value: &str) -> Result<Option<String>, ServiceError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    Currency::parse(&value.to_ascii_uppercase())
        .map(|currency| Some(currency.as_str().to_owned()))
        .map_err(|e| ServiceError::refused("currency", e))
}

/// A count or sum the views guarantee non-negative (check constraints), as the contract's u64.
fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// A sum the views compute in `numeric` (so that no stored data can make them fail), read as its
/// decimal text. The contract's integers are 64-bit: a sum beyond them (only orders stored before
/// the money bounds of the command side can add up that far) is a clear FAILED_PRECONDITION that
/// names the row, never a wrong number or an INTERNAL error. Other rows and other reports are
/// unaffected; the reporting views in SQL give the exact sum.
fn exact<T: TryFrom<i128>>(sum: &str, what: impl FnOnce() -> String) -> Result<T, ServiceError> {
    // A sum of integers has no fractional digits; "1.0"-style text would be a schema change.
    let fits = sum
        .trim()
        .parse::<i128>()
        .ok()
        .and_then(|v| T::try_from(v).ok());
    fits.ok_or_else(|| {
        ServiceError::FailedPrecondition(format!(
            "{} is {sum}, beyond the 64-bit range of this API's integers; narrow the report \
             (period, currency) or read the reporting views in SQL, which sum exactly",
            what()
        ))
    })
}

/// Position `index` (0-based) in a ranking, as the contract's 1-based rank.
fn rank(index: usize) -> u32 {
    u32::try_from(index + 1).unwrap_or(u32::MAX)
}

fn money(amount_minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_minor,
        // char(3) in the read model; trimming keeps a blank-padded value out of the reply.
        currency: currency.trim().to_owned(),
    })
}

// MonthlySalesBySegment ---------------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct MonthlySalesRow {
    month: Date,
    segment: String,
    currency: String,
    revenue_minor: String,
    order_count: i64,
    units_sold: String,
}

/// Revenue, orders and units per (month, segment, currency), by month then segment.
pub async fn monthly_sales_by_segment(
    pool: &PgPool,
    req: pb::MonthlySalesBySegmentRequest,
) -> Result<pb::MonthlySalesBySegmentResponse, ServiceError> {
    let period = Period::parse(req.period.as_ref())?;
    let rows: Vec<MonthlySalesRow> = sqlx::query_as(
        "select month, coalesce(segment, '') as segment, currency,
                revenue_minor::text as revenue_minor, order_count, units_sold::text as units_sold
           from monthly_sales_by_segment
          where month >= coalesce($1::date, '-infinity')
            and month <= coalesce($2::date, 'infinity')
          order by month, coalesce(segment, ''), currency",
    )
    .bind(period.from)
    .bind(period.to)
    .fetch_all(pool)
    .await?;
    let rows = rows
        .into_iter()
        .map(|row| {
            let what = |column: &str| {
                format!(
                    "{column} of segment {:?} in {} ({})",
                    row.segment,
                    month_text(row.month),
                    row.currency.trim()
                )
            };
            Ok(pb::MonthlySegmentSales {
                revenue: money(
                    exact(&row.revenue_minor, || what("revenue_minor"))?,
                    &row.currency,
                ),
                units_sold: exact(&row.units_sold, || what("units_sold"))?,
                month: month_text(row.month),
                order_count: unsigned(row.order_count),
                segment: row.segment,
            })
        })
        .collect::<Result<_, ServiceError>>()?;
    Ok(pb::MonthlySalesBySegmentResponse { rows })
}

// TopCustomers ------------------------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct TopCustomerRow {
    customer_id: Uuid,
    currency: String,
    name: String,
    email: String,
    segment: String,
    region: String,
    order_count: i64,
    revenue_minor: String,
}

/// The best customers by revenue or order count, one row per (customer, currency), ties broken by
/// customer id (then currency, for a customer tied with itself across currencies).
pub async fn top_customers(
    pool: &PgPool,
    req: pb::TopCustomersRequest,
) -> Result<pb::TopCustomersResponse, ServiceError> {
    let by = match pb::CustomerRanking::try_from(req.by) {
        Ok(pb::CustomerRanking::OrderCount) => "order_count",
        Ok(pb::CustomerRanking::Revenue | pb::CustomerRanking::Unspecified) => "revenue",
        Err(_) => {
            return Err(ServiceError::invalid(
                "by",
                format!("{} is not a CustomerRanking", req.by),
            ));
        }
    };
    let currency = currency_filter(&req.currency)?;
    let rows: Vec<TopCustomerRow> = sqlx::query_as(
        "select customer_id, currency, coalesce(name, '') as name, coalesce(email, '') as email,
                coalesce(segment, '') as segment, coalesce(region, '') as region, order_count,
                revenue_minor::text as revenue_minor
           from top_customers
          where $1::text is null or currency = $1
          order by case $2::text when 'order_count' then order_count else revenue_minor end desc,
                   customer_id, currency
          limit $3",
    )
    .bind(currency)
    .bind(by)
    .bind(limit(req.limit))
    .fetch_all(pool)
    .await?;
    let customers = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let revenue = exact(&row.revenue_minor, || {
                format!(
                    "the revenue of customer {} ({})",
                    row.customer_id,
                    row.currency.trim()
                )
            })?;
            Ok(pb::TopCustomer {
                rank: rank(i),
                customer_id: row.customer_id.to_string(),
                name: row.name,
                email: row.email,
                segment: row.segment,
                region: row.region,
                order_count: unsigned(row.order_count),
                revenue: money(revenue, &row.currency),
            })
        })
        .collect::<Result<_, ServiceError>>()?;
    Ok(pb::TopCustomersResponse { customers })
}

// RepeatCustomers ---------------------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct RepeatShareRow {
    window_start: OffsetDateTime,
    window_end: OffsetDateTime,
    active_customers: i64,
    repeat_customers: i64,
    repeat_share: f64,
}

#[derive(sqlx::FromRow)]
struct RepeatCustomerRow {
    customer_id: Uuid,
    name: String,
    order_count: i64,
    last_order_at: OffsetDateTime,
}

/// The share of customers active in the last six calendar months who ordered more than once, and
/// the repeat customers with the most orders (ties by customer id).
pub async fn repeat_customers(
    pool: &PgPool,
    req: pb::RepeatCustomersRequest,
) -> Result<pb::RepeatCustomersResponse, ServiceError> {
    let limit = limit(req.limit);
    let mut tx = pool.begin_with(SNAPSHOT).await?;
    let share: RepeatShareRow = sqlx::query_as(
        "select window_start, window_end, active_customers, repeat_customers, repeat_share
           from repeat_purchase_share",
    )
    .fetch_one(&mut *tx)
    .await?;
    let rows: Vec<RepeatCustomerRow> = sqlx::query_as(
        "select customer_id, coalesce(name, '') as name, order_count, last_order_at
           from active_customers_last_six_months
          where order_count >= 2
          order by order_count desc, customer_id
          limit $1",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(pb::RepeatCustomersResponse {
        window_start: Some(timestamp(share.window_start)),
        window_end: Some(timestamp(share.window_end)),
        active_customers: unsigned(share.active_customers),
        repeat_customers: unsigned(share.repeat_customers),
        repeat_share: share.repeat_share,
        customers: rows
            .into_iter()
            .map(|row| pb::RepeatCustomer {
                customer_id: row.customer_id.to_string(),
                name: row.name,
                order_count: unsigned(row.order_count),
                last_order_at: Some(timestamp(row.last_order_at)),
            })
            .collect(),
    })
}

// SalesByRegion -----------------------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct RegionSalesRow {
    region: String,
    currency: String,
    revenue_minor: String,
    order_count: i64,
    customer_count: i64,
}

/// Revenue, orders and distinct customers per (region, currency), highest revenue first (ties by
/// region, then currency).
///
/// Distinct customers cannot be added up over months, so this groups `sales_orders` itself, as the
/// `sales_by_region` view does, within the period. The period is cut on placed_at with the month
/// arithmetic done in SQL in UTC, the same months the views' `month` column holds, so that the
/// index on placed_at serves it.
pub async fn sales_by_region(
    pool: &PgPool,
    req: pb::SalesByRegionRequest,
) -> Result<pb::SalesByRegionResponse, ServiceError> {
    let period = Period::parse(req.period.as_ref())?;
    let rows: Vec<RegionSalesRow> = sqlx::query_as(
        "select coalesce(customer_region, '') as region, currency,
                sum(total_minor)::text as revenue_minor, count(*) as order_count,
                count(distinct customer_id) as customer_count
           from sales_orders
          where placed_at >= coalesce($1::date::timestamp at time zone 'UTC', '-infinity')
            and placed_at < coalesce(($2::date + interval '1 month') at time zone 'UTC',
                                     'infinity')
          group by customer_region, currency
          order by sum(total_minor) desc, coalesce(customer_region, ''), currency",
    )
    .bind(period.from)
    .bind(period.to)
    .fetch_all(pool)
    .await?;
    let regions = rows
        .into_iter()
        .map(|row| {
            let revenue = exact(&row.revenue_minor, || {
                format!(
                    "the revenue of region {:?} ({})",
                    row.region,
                    row.currency.trim()
                )
            })?;
            Ok(pb::RegionSales {
                revenue: money(revenue, &row.currency),
                region: row.region,
                order_count: unsigned(row.order_count),
                customer_count: unsigned(row.customer_count),
            })
        })
        .collect::<Result<_, ServiceError>>()?;
    Ok(pb::SalesByRegionResponse { regions })
}

// ProductPerformance ------------------------------------------------------------------------------

#[derive(sqlx::FromRow)]
struct ProductSalesRow {
    sku: String,
    currency: String,
    name: String,
    order_count: i64,
    units_sold: String,
    revenue_minor: String,
}

/// The best products by revenue, orders containing them or units, one row per (sku, currency),
/// ties broken by sku (then currency).
///
/// An order lies in exactly one month, so summing `product_performance_monthly` over the period's
/// months counts every order containing the product once; the name is the same in every month
/// row (the one from the product's most recent order).
pub async fn product_performance(
    pool: &PgPool,
    req: pb::ProductPerformanceRequest,
) -> Result<pb::ProductPerformanceResponse, ServiceError> {
    let period = Period::parse(req.period.as_ref())?;
    let by = match pb::ProductRanking::try_from(req.by) {
        Ok(pb::ProductRanking::OrderCount) => "order_count",
        Ok(pb::ProductRanking::UnitsSold) => "units_sold",
        Ok(pb::ProductRanking::Revenue | pb::ProductRanking::Unspecified) => "revenue",
        Err(_) => {
            return Err(ServiceError::invalid(
                "by",
                format!("{} is not a ProductRanking", req.by),
            ));
        }
    };
    let rows: Vec<ProductSalesRow> = sqlx::query_as(
        "select sku, currency, name, sum(order_count)::bigint as order_count,
                sum(units_sold)::text as units_sold, sum(revenue_minor)::text as revenue_minor
           from product_performance_monthly
          where month >= coalesce($1::date, '-infinity')
            and month <= coalesce($2::date, 'infinity')
          group by sku, currency, name
          order by case $3::text
                       when 'order_count' then sum(order_count)
                       when 'units_sold' then sum(units_sold)
                       else sum(revenue_minor)
                   end desc,
                   sku, currency
          limit $4",
    )
    .bind(period.from)
    .bind(period.to)
    .bind(by)
    .bind(limit(req.limit))
    .fetch_all(pool)
    .await?;
    let products = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let what =
                |column: &str| format!("{column} of sku {:?} ({})", row.sku, row.currency.trim());
            Ok(pb::ProductSales {
                rank: rank(i),
                units_sold: exact(&row.units_sold, || what("units_sold"))?,
                revenue: money(
                    exact(&row.revenue_minor, || what("revenue_minor"))?,
                    &row.currency,
                ),
                sku: row.sku,
                name: row.name,
                order_count: unsigned(row.order_count),
            })
        })
        .collect::<Result<_, ServiceError>>()?;
    Ok(pb::ProductPerformanceResponse { products })
}

// CustomerItemsByPriceGroup -----------------------------------------------------------------------

/// Where a CustomerItemsByPriceGroup page continues: the last customer's name (empty while the
/// customer is unknown) and id.
#[derive(Serialize, Deserialize)]
struct PriceGroupKey {
    name: String,
    id: Uuid,
}

#[derive(sqlx::FromRow)]
struct PriceGroupRow {
    customer_id: Uuid,
    name: String,
    cheap_units: i64,
    affordable_units: i64,
    expensive_units: i64,
}

/// Units each customer bought per price group, a page of customers by name then id.
pub async fn customer_items_by_price_group(
    pool: &PgPool,
    req: pb::CustomerItemsByPriceGroupRequest,
) -> Result<pb::CustomerItemsByPriceGroupResponse, ServiceError> {
    let customer = match req.customer_id.trim() {
        "" => None,
        id => Some(parse_id("customer_id", id)?),
    };
    let page_size = paging::page_size(req.page_size);
    let query = match customer {
        Some(id) => format!("price-groups:{id}"),
        None => "price-groups:*".to_owned(),
    };
    let after: Option<PriceGroupKey> = paging::decode("page_token", &query, &req.page_token)?;
    let (after_name, after_id) = after.map(|k| (k.name, k.id)).unzip();

    let mut tx = pool.begin_with(SNAPSHOT).await?;
    let rows: Vec<PriceGroupRow> = sqlx::query_as(
        "select customer_id, coalesce(name, '') as name, cheap_units, affordable_units,
                expensive_units
           from customer_items_by_price_group
          where ($1::uuid is null or customer_id = $1)
            and ($2::text is null or (coalesce(name, ''), customer_id) > ($2, $3::uuid))
          order by coalesce(name, ''), customer_id
          limit $4",
    )
    .bind(customer)
    .bind(after_name)
    .bind(after_id)
    .bind(i64::from(page_size) + 1)
    .fetch_all(&mut *tx)
    .await?;
    let total: i64 = sqlx::query_scalar(
        "select count(*) from customer_items_by_price_group
          where $1::uuid is null or customer_id = $1",
    )
    .bind(customer)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;

    let (rows, next_page_token) =
        paging::split_page(rows, page_size, &query, |row| PriceGroupKey {
            name: row.name.clone(),
            id: row.customer_id,
        });
    Ok(pb::CustomerItemsByPriceGroupResponse {
        customers: rows
            .into_iter()
            .map(|row| pb::CustomerPriceGroups {
                customer_id: row.customer_id.to_string(),
                name: row.name,
                cheap_units: unsigned(row.cheap_units),
                affordable_units: unsigned(row.affordable_units),
                expensive_units: unsigned(row.expensive_units),
            })
            .collect(),
        next_page_token,
        total_size: unsigned(total),
    })
}

#[cfg(test)]
mod tests {
    use time::Month;

    use super::*;

    fn range(from: &str, to: &str) -> pb::MonthRange {
        pb::MonthRange {
            from_month: from.to_owned(),
            to_month: to.to_owned(),
        }
    }

    #[test]
    fn months_parse_strictly() {
        let jan = Date::from_calendar_date(2025, Month::January, 1).ok();
        let dec = Date::from_calendar_date(2025, Month::December, 1).ok();
        assert_eq!(parse_month("f", "2025-01").ok(), Some(jan));
        assert_eq!(parse_month("f", "2025-12").ok(), Some(dec));
        assert_eq!(parse_month("f", "").ok(), Some(None));
        for bad in [
            "2025-13",
            "2025-00",
            "2025-1",
            "25-01",
            "2025/01",
            "2025-01-01",
            " 2025-01",
            "0000-01",
            "+202-01",
            "2025-+1",
            "२०२५-01",
            "-",
            "2025-",
            "abcd-ef",
        ] {
            assert!(
                matches!(
                    parse_month("f", bad),
                    Err(ServiceError::InvalidArgument { field: "f", .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn periods_are_ordered_and_open_ended() {
        assert_eq!(
            Period::parse(None).ok(),
            Some(Period {
                from: None,
                to: None
            })
        );
        assert!(Period::parse(Some(&range("2025-03", "2025-03"))).is_ok());
        assert!(Period::parse(Some(&range("", "2025-03"))).is_ok());
        assert!(matches!(
            Period::parse(Some(&range("2025-04", "2025-03"))),
            Err(ServiceError::InvalidArgument {
                field: "period",
                ..
            })
        ));
        assert!(matches!(
            Period::parse(Some(&range("2025-04", "March"))),
            Err(ServiceError::InvalidArgument {
                field: "period.to_month",
                ..
            })
        ));
    }

    #[test]
    fn limits_default_and_cap() {
        assert_eq!(limit(0), 10);
        assert_eq!(limit(3), 3);
        assert_eq!(limit(100), 100);
        assert_eq!(limit(u32::MAX), 100);
    }

    #[test]
    fn currencies_are_three_letters_in_upper_case() {
        assert_eq!(currency_filter("").ok(), Some(None));
        assert_eq!(currency_filter(" eur ").ok(), Some(Some("EUR".to_owned())));
        for bad in ["EURO", "E1R", "€", "EU"] {
            assert!(currency_filter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numeric_sums_fit_or_say_which_row_does_not() {
        assert_eq!(exact::<i64>("1250", String::new).ok(), Some(1250));
        assert_eq!(
            exact::<i64>("9223372036854775807", String::new).ok(),
            Some(i64::MAX)
        );
        let err = exact::<i64>("18446744073709551614", || "the revenue of X".into());
        match err {
            Err(ServiceError::FailedPrecondition(message)) => {
                assert!(message.contains("the revenue of X"), "{message}");
                assert!(message.contains("18446744073709551614"), "{message}");
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        assert!(exact::<u64>("-1", String::new).is_err());
        assert!(exact::<i64>("1.5", String::new).is_err());
    }

    #[test]
    fn months_print_as_yyyy_mm() {
        let d = Date::from_calendar_date(2025, Month::February, 1).unwrap_or(Date::MIN);
        assert_eq!(month_text(d), "2025-02");
    }
}
