//! The reporting views (migrations/0003_reporting.sql) and the six report RPCs
//! (`query_service::queries::reports`) against the real Postgres, on a small data set whose
//! figures are worked out by hand below; the `reporting` role's rights; and the migration racing
//! itself on the cluster-wide role.
//!
//! Views and RPCs are checked against the same hand-made figures, so they also agree with each
//! other. Everything is read in a session whose TimeZone is far from UTC (Pacific/Auckland), so a
//! report that dated orders by the session's zone instead of UTC would fail.

use cqrsplus_proto::{common::v1::Money, query::v1 as pb};
use query_service::{error::ServiceError, queries::reports, read_model::MIGRATOR};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, PgPool, postgres::PgPoolOptions};
use testkit::postgres::{TestDatabase, fresh_database};
use time::{Date, Duration, Month, OffsetDateTime, macros::datetime, macros::time};
use uuid::Uuid;

// The data set ------------------------------------------------------------------------------------
//
// Customers (ids sort in this order, which breaks the ties below):
//   A Alice  retail   north      B Bob  business south      C Carol retail south
//   D Dan    business north (only a cancelled order: appears in no report)
//   U        an id with orders but no customer row yet (customer columns null, "" in RPCs)
//
// Orders, items as sku unit_price x qty = line total. R is 12:00 UTC three days ago (inside the
// six-month window), OLD is 12:00 UTC 200 days ago (outside it: six months are at most 184 days).
//
//   O1  A delivered EUR 2025-01-10 10:00  MUG 499x2=998, PEN 500x1=500        total  1498 units 3
//   O2  B shipped   EUR 2025-01-20 09:00  LAMP 5000x1=5000, CHAIR 5001x2=10002 total 15002 units 3
//   O3  A placed    USD 2025-02-05 08:00  MUG 499x4=1996                      total  1996 units 4
//   O4  C CANCELLED EUR 2025-02-14 12:00  CHAIR 5001x10=50010                 (never counts)
//   O5  U placed    EUR 2025-02-28 23:30  PEN 500x3=1500                      total  1500 units 3
//       (23:30 UTC is already March 1st in Auckland: it must stay in February)
//   O6  C delivered EUR 2025-03-03 15:00  LAMP 5000x2=10000, MUG 499x1=499    total 10499 units 3
//   O7  C delivered EUR OLD               PEN 500x1=500                       total   500 units 1
//   O8  A placed    EUR R                 PEN "Pen, blue" 500x2=1000          total  1000 units 2
//   O9  A delivered EUR R-1h              LAMP 5000x1=5000 twice (two lines)  total 10000 units 2
//   O10 B placed    USD R                 CHAIR 5001x1=5001                   total  5001 units 1
//   O11 D CANCELLED EUR R+1min            MUG "Mug XXL" 499x5=2495            (never counts)
//   O12 U placed    EUR R-2h              MUG 499x1=499                       total   499 units 1
//   O13 U shipped   EUR R-3h              PEN 500x1=500                       total   500 units 1
//
// Counted: 11 orders, 15 lines; EUR 40998 in total, USD 6997.

const A: Uuid = Uuid::from_u128(0x0a);
const B: Uuid = Uuid::from_u128(0x0b);
const C: Uuid = Uuid::from_u128(0x0c);
const D: Uuid = Uuid::from_u128(0x0d);
const U: Uuid = Uuid::from_u128(0x0e);

fn order_id(n: u128) -> Uuid {
    Uuid::from_u128(0x100 + n)
}

/// The relative times of the data set, fixed once per test.
struct Clock {
    /// R: 12:00 UTC three days ago.
    recent: OffsetDateTime,
    /// OLD: 12:00 UTC two hundred days ago.
    old: OffsetDateTime,
}

impl Clock {
    fn now() -> Self {
        let now = OffsetDateTime::now_utc();
        let noon = |at: OffsetDateTime| at.date().with_time(time!(12:00)).assume_utc();
        Self {
            recent: noon(now - Duration::days(3)),
            old: noon(now - Duration::days(200)),
        }
    }

    fn recent_month(&self) -> Date {
        first_of_month(self.recent)
    }

    fn old_month(&self) -> Date {
        first_of_month(self.old)
    }
}

fn first_of_month(at: OffsetDateTime) -> Date {
    at.date().replace_day(1).expect("day 1 exists")
}

fn month(year: i32, month: Month) -> Date {
    Date::from_calendar_date(year, month, 1).expect("valid month")
}

fn yyyy_mm(d: Date) -> String {
    format!("{:04}-{:02}", d.year(), u8::from(d.month()))
}

struct Item {
    sku: &'static str,
    name: &'static str,
    price: i64,
    qty: i32,
}

fn item(sku: &'static str, name: &'static str, price: i64, qty: i32) -> Item {
    Item {
        sku,
        name,
        price,
        qty,
    }
}

async fn insert_customer(pool: &PgPool, id: Uuid, name: &str, segment: &str, region: &str) {
    sqlx::query(
        "insert into customers (customer_id, name, email, segment, region, registered_at, version)
         values ($1, $2, lower($2) || '@example.com', $3, $4, '2024-12-01T00:00:00Z', 1)",
    )
    .bind(id)
    .bind(name)
    .bind(segment)
    .bind(region)
    .execute(pool)
    .await
    .expect("insert customer");
}

/// An order as the projector leaves it: orders, its items, and customer_orders with the
/// customer's columns copied from customers (null when the customer is not there yet).
async fn insert_order(
    pool: &PgPool,
    id: Uuid,
    customer: Uuid,
    status: &str,
    currency: &str,
    placed_at: OffsetDateTime,
    items: &[Item],
) {
    let total: i64 = items.iter().map(|i| i.price * i64::from(i.qty)).sum();
    let units: i64 = items.iter().map(|i| i64::from(i.qty)).sum();
    sqlx::query(
        "insert into orders (order_id, customer_id, status, currency, total_minor, units,
                             placed_at, cancelled_at, version)
         values ($1, $2, $3, $4, $5, $6, $7,
                 case when $3 = 'cancelled' then $7 + interval '1 hour' end, 1)",
    )
    .bind(id)
    .bind(customer)
    .bind(status)
    .bind(currency)
    .bind(total)
    .bind(units)
    .bind(placed_at)
    .execute(pool)
    .await
    .expect("insert order");
    for (line, i) in (1..).zip(items) {
        sqlx::query(
            "insert into order_items (order_id, line_no, sku, name, unit_price_minor, quantity,
                                      line_total_minor)
             values ($1, $2, $3, $4, $5, $6, $5 * $6)",
        )
        .bind(id)
        .bind(line)
        .bind(i.sku)
        .bind(i.name)
        .bind(i.price)
        .bind(i.qty)
        .execute(pool)
        .await
        .expect("insert item");
    }
    sqlx::query(
        "insert into customer_orders (order_id, customer_id, customer_name, customer_email,
                                      customer_segment, customer_region, status, currency,
                                      total_minor, units, placed_at, order_version)
         select o.order_id, o.customer_id, c.name, c.email, c.segment, c.region, o.status,
                o.currency, o.total_minor, o.units, o.placed_at, o.version
           from orders o left join customers c on c.customer_id = o.customer_id
          where o.order_id = $1",
    )
    .bind(id)
    .execute(pool)
    .await
    .expect("insert customer order");
}

/// A migrated database holding the data set, and a pool whose sessions run in Auckland time.
async fn seeded() -> (TestDatabase, PgPool, Clock) {
    let db = fresh_database().await;
    MIGRATOR.run(&db.pool).await.expect("migrate");
    let clock = Clock::now();
    let pool = &db.pool;

    insert_customer(pool, A, "Alice", "retail", "north").await;
    insert_customer(pool, B, "Bob", "business", "south").await;
    insert_customer(pool, C, "Carol", "retail", "south").await;
    insert_customer(pool, D, "Dan", "business", "north").await;

    let (r, h) = (clock.recent, Duration::hours(1));
    #[rustfmt::skip]
    let orders = [
        (1, A, "delivered", "EUR", datetime!(2025-01-10 10:00 UTC),
         vec![item("MUG", "Mug", 499, 2), item("PEN", "Pen", 500, 1)]),
        (2, B, "shipped", "EUR", datetime!(2025-01-20 09:00 UTC),
         vec![item("LAMP", "Lamp", 5000, 1), item("CHAIR", "Chair", 5001, 2)]),
        (3, A, "placed", "USD", datetime!(2025-02-05 08:00 UTC), vec![item("MUG", "Mug", 499, 4)]),
        (4, C, "cancelled", "EUR", datetime!(2025-02-14 12:00 UTC),
         vec![item("CHAIR", "Chair", 5001, 10)]),
        (5, U, "placed", "EUR", datetime!(2025-02-28 23:30 UTC), vec![item("PEN", "Pen", 500, 3)]),
        (6, C, "delivered", "EUR", datetime!(2025-03-03 15:00 UTC),
         vec![item("LAMP", "Lamp", 5000, 2), item("MUG", "Mug", 499, 1)]),
        (7, C, "delivered", "EUR", clock.old, vec![item("PEN", "Pen", 500, 1)]),
        (8, A, "placed", "EUR", r, vec![item("PEN", "Pen, blue", 500, 2)]),
        (9, A, "delivered", "EUR", r - h,
         vec![item("LAMP", "Lamp", 5000, 1), item("LAMP", "Lamp", 5000, 1)]),
        (10, B, "placed", "USD", r, vec![item("CHAIR", "Chair", 5001, 1)]),
        (11, D, "cancelled", "EUR", r + Duration::minutes(1), vec![item("MUG", "Mug XXL", 499, 5)]),
        (12, U, "placed", "EUR", r - 2 * h, vec![item("MUG", "Mug", 499, 1)]),
        (13, U, "shipped", "EUR", r - 3 * h, vec![item("PEN", "Pen", 500, 1)]),
    ];
    for (n, customer, status, currency, at, items) in orders {
        insert_order(pool, order_id(n), customer, status, currency, at, &items).await;
    }

    // sqlx asks for UTC at connection start-up, so the zone is set once connected.
    let auckland = PgPoolOptions::new()
        .max_connections(2)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("set time zone 'Pacific/Auckland'").await?;
                Ok(())
            })
        })
        .connect(&db.url)
        .await
        .expect("connect in Auckland time");
    (db, auckland, clock)
}

fn eur(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "EUR".to_owned(),
    })
}

fn usd(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "USD".to_owned(),
    })
}

fn period(from: &str, to: &str) -> Option<pb::MonthRange> {
    Some(pb::MonthRange {
        from_month: from.to_owned(),
        to_month: to.to_owned(),
    })
}

fn s(value: &str) -> Option<String> {
    Some(value.to_owned())
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, ServiceError>, field: &str) {
    match result {
        Err(ServiceError::InvalidArgument { field: f, .. }) if f == field => {}
        other => panic!("expected INVALID_ARGUMENT on {field}, got {other:?}"),
    }
}

// The views ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_view_holds_the_hand_checked_figures() {
    let (_db, pool, clock) = seeded().await;
    let (jan, feb, mar) = (
        month(2025, Month::January),
        month(2025, Month::February),
        month(2025, Month::March),
    );
    let (old, recent) = (clock.old_month(), clock.recent_month());
    let zone: String = sqlx::query_scalar("select current_setting('TimeZone')")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(zone, "Pacific/Auckland");

    // sales_orders / sales_items: the 11 counted orders (not O4, O11) and their 15 lines.
    let ids: Vec<Uuid> = sqlx::query_scalar("select order_id from sales_orders order by order_id")
        .fetch_all(&pool)
        .await
        .unwrap();
    let counted: Vec<Uuid> = [1, 2, 3, 5, 6, 7, 8, 9, 10, 12, 13]
        .into_iter()
        .map(order_id)
        .collect();
    assert_eq!(ids, counted);
    let lines: Vec<(String, i64, i64)> = sqlx::query_as(
        "select currency, count(*), sum(line_total_minor)::bigint from sales_items
          group by currency order by currency",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        lines,
        vec![("EUR".to_owned(), 13, 40998), ("USD".to_owned(), 2, 6997)]
    );
    // The price-group bounds, on exactly 499 / 500 / 5000 / 5001.
    let groups: Vec<(i64, String)> =
        sqlx::query_as("select distinct unit_price_minor, price_group from sales_items order by 1")
            .fetch_all(&pool)
            .await
            .unwrap();
    let expected: Vec<(i64, String)> = [
        (499, "cheap"),
        (500, "affordable"),
        (5000, "affordable"),
        (5001, "expensive"),
    ]
    .into_iter()
    .map(|(p, g)| (p, g.to_owned()))
    .collect();
    assert_eq!(groups, expected);

    // monthly_sales_by_segment: O5 (23:30 UTC on Feb 28th) stays in February; O4 is not there.
    //   2025-01 business EUR O2 15002/1/3; retail EUR O1 1498/1/3
    //   2025-02 (none) EUR O5 1500/1/3; retail USD O3 1996/1/4
    //   2025-03 retail EUR O6 10499/1/3;  OLD retail EUR O7 500/1/1
    //   R: (none) EUR O12+O13 999/2/2; business USD O10 5001/1/1; retail EUR O8+O9 11000/2/4
    let monthly: Vec<(Date, Option<String>, String, i64, i64, i64)> = sqlx::query_as(
        "select month, segment, currency, revenue_minor::int8, order_count, units_sold::int8
           from monthly_sales_by_segment order by month, segment nulls first, currency",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let e = |c: &str| c.to_owned();
    assert_eq!(
        monthly,
        vec![
            (jan, s("business"), e("EUR"), 15002, 1, 3),
            (jan, s("retail"), e("EUR"), 1498, 1, 3),
            (feb, None, e("EUR"), 1500, 1, 3),
            (feb, s("retail"), e("USD"), 1996, 1, 4),
            (mar, s("retail"), e("EUR"), 10499, 1, 3),
            (old, s("retail"), e("EUR"), 500, 1, 1),
            (recent, None, e("EUR"), 999, 2, 2),
            (recent, s("business"), e("USD"), 5001, 1, 1),
            (recent, s("retail"), e("EUR"), 11000, 2, 4),
        ]
    );

    // top_customers, per (customer, currency):
    //   A EUR O1+O8+O9 = 1498+1000+10000 = 12498 in 3;  A USD O3 1996 in 1
    //   B EUR O2 15002 in 1;  B USD O10 5001 in 1
    //   C EUR O6+O7 = 10499+500 = 10999 in 2 (O4 cancelled);  U EUR O5+O12+O13 = 2499 in 3
    type TopRow = (
        Uuid,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        i64,
    );
    let top: Vec<TopRow> = sqlx::query_as(
        "select customer_id, currency, name, email, segment, region, order_count,
                revenue_minor::int8
           from top_customers order by customer_id, currency",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let who = |name: &str, segment: &str, region: &str| {
        let email = format!("{}@example.com", name.to_lowercase());
        (s(name), s(&email), s(segment), s(region))
    };
    let (alice, bob, carol) = (
        who("Alice", "retail", "north"),
        who("Bob", "business", "south"),
        who("Carol", "retail", "south"),
    );
    type Details = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row = |id, currency: &str, details: &Details, n, revenue| -> TopRow {
        let (name, email, segment, region) = details;
        (
            id,
            e(currency),
            name.clone(),
            email.clone(),
            segment.clone(),
            region.clone(),
            n,
            revenue,
        )
    };
    assert_eq!(
        top,
        vec![
            row(A, "EUR", &alice, 3, 12498),
            row(A, "USD", &alice, 1, 1996),
            row(B, "EUR", &bob, 1, 15002),
            row(B, "USD", &bob, 1, 5001),
            row(C, "EUR", &carol, 2, 10999),
            row(U, "EUR", &(None, None, None, None), 3, 2499),
        ]
    );

    // The six-month window: A (O8, O9), B (O10), U (O12, O13) ordered in it; C's O7 is older and
    // D's O11 is cancelled. Active 3, repeat 2 (A, U), share 2/3.
    let (start, end, active, repeat, share): (OffsetDateTime, OffsetDateTime, i64, i64, f64) =
        sqlx::query_as(
            "select window_start, window_end, active_customers, repeat_customers, repeat_share
               from repeat_purchase_share",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((active, repeat), (3, 2));
    assert!((share - 2.0 / 3.0).abs() < 1e-12, "{share}");
    assert_eq!(start, six_calendar_months_before(end));
    assert!((OffsetDateTime::now_utc() - end).abs() < Duration::minutes(5));
    let window: (OffsetDateTime, OffsetDateTime) =
        sqlx::query_as("select window_start, window_end from last_six_months")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(window.0, six_calendar_months_before(window.1));
    // Per active customer: A 2 orders, latest R; B 1 at R; U 2, latest R-2h.
    let active_rows: Vec<(Uuid, Option<String>, i64, OffsetDateTime)> = sqlx::query_as(
        "select customer_id, name, order_count, last_order_at
           from active_customers_last_six_months order by customer_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let r = clock.recent;
    assert_eq!(
        active_rows,
        vec![
            (A, s("Alice"), 2, r),
            (B, s("Bob"), 1, r),
            (U, None, 2, r - Duration::hours(2)),
        ]
    );

    // sales_by_region, per (region, currency):
    //   (none) EUR: U's O5+O12+O13 = 2499, 3 orders, 1 customer
    //   north EUR: A's O1+O8+O9 = 12498, 3, 1;   north USD: O3 1996, 1, 1
    //   south EUR: O2 15002 + O6 10499 + O7 500 = 26001, 3 orders, 2 customers (B, C)
    //   south USD: O10 5001, 1, 1
    let regions: Vec<(Option<String>, String, i64, i64, i64)> = sqlx::query_as(
        "select region, currency, revenue_minor::int8, order_count, customer_count
           from sales_by_region order by region nulls first, currency",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        regions,
        vec![
            (None, e("EUR"), 2499, 3, 1),
            (s("north"), e("EUR"), 12498, 3, 1),
            (s("north"), e("USD"), 1996, 1, 1),
            (s("south"), e("EUR"), 26001, 3, 2),
            (s("south"), e("USD"), 5001, 1, 1),
        ]
    );

    // product_names: the name in the latest counted order. PEN: "Pen, blue" (O8 at R beats O13 at
    // R-3h); MUG: "Mug" (O12 at R-2h; the later "Mug XXL" is O11, cancelled).
    let names: Vec<(String, String)> =
        sqlx::query_as("select sku, name from product_names order by sku")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        names,
        vec![
            (e("CHAIR"), e("Chair")),
            (e("LAMP"), e("Lamp")),
            (e("MUG"), e("Mug")),
            (e("PEN"), e("Pen, blue")),
        ]
    );

    // product_performance, per (sku, currency): orders containing it, units, revenue.
    //   CHAIR EUR O2 (2 units) 10002;            CHAIR USD O10 (1) 5001
    //   LAMP EUR O2 (1) + O6 (2) + O9 (1+1 on two lines, one order) = 3 orders, 5 units, 25000
    //   MUG EUR O1 (2) + O6 (1) + O12 (1) = 3, 4, 998+499+499 = 1996;  MUG USD O3 (4) 1996
    //   PEN EUR O1 (1) + O5 (3) + O7 (1) + O8 (2) + O13 (1) = 5 orders, 8 units, 4000
    let products: Vec<(String, String, String, i64, i64, i64)> = sqlx::query_as(
        "select sku, currency, name, order_count, units_sold::int8, revenue_minor::int8
           from product_performance order by sku, currency",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        products,
        vec![
            (e("CHAIR"), e("EUR"), e("Chair"), 1, 2, 10002),
            (e("CHAIR"), e("USD"), e("Chair"), 1, 1, 5001),
            (e("LAMP"), e("EUR"), e("Lamp"), 3, 5, 25000),
            (e("MUG"), e("EUR"), e("Mug"), 3, 4, 1996),
            (e("MUG"), e("USD"), e("Mug"), 1, 4, 1996),
            (e("PEN"), e("EUR"), e("Pen, blue"), 5, 8, 4000),
        ]
    );

    // product_performance_monthly: the same split by the orders' months; the name is the latest
    // one in every month (PEN is "Pen, blue" in January 2025 too).
    let monthly_products: Vec<(String, String, Date, String, i64, i64, i64)> = sqlx::query_as(
        "select sku, currency, month, name, order_count, units_sold::int8, revenue_minor::int8
           from product_performance_monthly order by sku, currency, month",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let p =
        |sku: &str, cur: &str, m, name: &str, o, u, rev| (e(sku), e(cur), m, e(name), o, u, rev);
    assert_eq!(
        monthly_products,
        vec![
            p("CHAIR", "EUR", jan, "Chair", 1, 2, 10002),
            p("CHAIR", "USD", recent, "Chair", 1, 1, 5001),
            p("LAMP", "EUR", jan, "Lamp", 1, 1, 5000),
            p("LAMP", "EUR", mar, "Lamp", 1, 2, 10000),
            p("LAMP", "EUR", recent, "Lamp", 1, 2, 10000),
            p("MUG", "EUR", jan, "Mug", 1, 2, 998),
            p("MUG", "EUR", mar, "Mug", 1, 1, 499),
            p("MUG", "EUR", recent, "Mug", 1, 1, 499),
            p("MUG", "USD", feb, "Mug", 1, 4, 1996),
            p("PEN", "EUR", jan, "Pen, blue", 1, 1, 500),
            p("PEN", "EUR", feb, "Pen, blue", 1, 3, 1500),
            p("PEN", "EUR", old, "Pen, blue", 1, 1, 500),
            p("PEN", "EUR", recent, "Pen, blue", 2, 3, 1500),
        ]
    );

    // customer_items_by_price_group (units; cheap < 500 <= affordable <= 5000 < expensive):
    //   A: MUG 499 x2 (O1) + x4 (O3) = 6 cheap; PEN 500 x1 (O1) + x2 (O8), LAMP 5000 x2 (O9) = 5
    //   B: LAMP 5000 x1 (O2) = 1 affordable; CHAIR 5001 x2 (O2) + x1 (O10) = 3 expensive
    //   C: MUG 499 x1 (O6) = 1 cheap; LAMP 5000 x2 (O6) + PEN 500 x1 (O7) = 3 (O4 cancelled)
    //   U: MUG 499 x1 (O12) = 1 cheap; PEN 500 x3 (O5) + x1 (O13) = 4;  D: absent
    let price_groups: Vec<(Uuid, Option<String>, i64, i64, i64)> = sqlx::query_as(
        "select customer_id, name, cheap_units, affordable_units, expensive_units
           from customer_items_by_price_group order by customer_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        price_groups,
        vec![
            (A, s("Alice"), 6, 5, 0),
            (B, s("Bob"), 0, 1, 3),
            (C, s("Carol"), 1, 3, 0),
            (U, None, 1, 4, 0),
        ]
    );
}

/// The same instant six calendar months earlier, in UTC, the day clamped to the month's length.
fn six_calendar_months_before(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    let months = at.year() * 12 + i32::from(u8::from(at.month())) - 1 - 6;
    let (year, month) = (months.div_euclid(12), months.rem_euclid(12) + 1);
    let month = Month::try_from(u8::try_from(month).unwrap()).unwrap();
    let day = at.day().min(month.length(year));
    Date::from_calendar_date(year, month, day)
        .unwrap()
        .with_time(at.time())
        .assume_utc()
}

// The RPCs ----------------------------------------------------------------------------------------

#[tokio::test]
async fn monthly_sales_by_segment_reports_each_month_and_segment() {
    let (_db, pool, clock) = seeded().await;
    let (old, recent) = (yyyy_mm(clock.old_month()), yyyy_mm(clock.recent_month()));
    let sales = |month: &str, segment: &str, revenue, orders, units| pb::MonthlySegmentSales {
        month: month.to_owned(),
        segment: segment.to_owned(),
        revenue,
        order_count: orders,
        units_sold: units,
    };

    // All months: the rows of the view, by month then segment ("" first), then currency.
    let all = reports::monthly_sales_by_segment(&pool, pb::MonthlySalesBySegmentRequest::default())
        .await
        .unwrap();
    let recent_rows = vec![
        sales(&recent, "", eur(999), 2, 2),
        sales(&recent, "business", usd(5001), 1, 1),
        sales(&recent, "retail", eur(11000), 2, 4),
    ];
    let mut expected = vec![
        sales("2025-01", "business", eur(15002), 1, 3),
        sales("2025-01", "retail", eur(1498), 1, 3),
        sales("2025-02", "", eur(1500), 1, 3),
        sales("2025-02", "retail", usd(1996), 1, 4),
        sales("2025-03", "retail", eur(10499), 1, 3),
        sales(&old, "retail", eur(500), 1, 1),
    ];
    expected.extend(recent_rows.clone());
    assert_eq!(all.rows, expected);

    // February to March 2025: O5 stays in February although it is March in Auckland.
    let spring = reports::monthly_sales_by_segment(
        &pool,
        pb::MonthlySalesBySegmentRequest {
            period: period("2025-02", "2025-03"),
        },
    )
    .await
    .unwrap();
    assert_eq!(spring.rows, expected[2..5].to_vec());

    // An open end: from R's month on.
    let latest = reports::monthly_sales_by_segment(
        &pool,
        pb::MonthlySalesBySegmentRequest {
            period: period(&recent, ""),
        },
    )
    .await
    .unwrap();
    assert_eq!(latest.rows, recent_rows);

    // An open start: up to January 2025.
    let first = reports::monthly_sales_by_segment(
        &pool,
        pb::MonthlySalesBySegmentRequest {
            period: period("", "2025-01"),
        },
    )
    .await
    .unwrap();
    assert_eq!(first.rows, expected[..2].to_vec());

    // No sales in 2024.
    let none = reports::monthly_sales_by_segment(
        &pool,
        pb::MonthlySalesBySegmentRequest {
            period: period("2024-01", "2024-12"),
        },
    )
    .await
    .unwrap();
    assert!(none.rows.is_empty());

    for (range, field) in [
        (period("2025-13", ""), "period.from_month"),
        (period("", "2025-1"), "period.to_month"),
        (period("2025-03", "2025-02"), "period"),
    ] {
        let bad = reports::monthly_sales_by_segment(
            &pool,
            pb::MonthlySalesBySegmentRequest { period: range },
        )
        .await;
        assert_invalid(bad, field);
    }
}

#[tokio::test]
async fn top_customers_rank_by_revenue_or_orders_per_currency() {
    let (_db, pool, _clock) = seeded().await;
    let top = |by: pb::CustomerRanking, limit: u32, currency: &str| pb::TopCustomersRequest {
        by: by as i32,
        limit,
        currency: currency.to_owned(),
    };
    let summary = |r: &pb::TopCustomersResponse| -> Vec<(u32, String, String, u64, Option<Money>)> {
        r.customers
            .iter()
            .map(|c| {
                let id = c.customer_id.clone();
                (c.rank, id, c.name.clone(), c.order_count, c.revenue.clone())
            })
            .collect()
    };
    let (a, b, c, u) = (A.to_string(), B.to_string(), C.to_string(), U.to_string());
    let row =
        |rank, id: &String, name: &str, n, revenue| (rank, id.clone(), name.to_owned(), n, revenue);

    // By revenue, every currency: B EUR 15002, A EUR 12498, C EUR 10999, B USD 5001,
    // U EUR 2499, A USD 1996 (limit 0 means 10; only 6 rows exist).
    let by_revenue = reports::top_customers(&pool, top(pb::CustomerRanking::Unspecified, 0, ""))
        .await
        .unwrap();
    assert_eq!(
        summary(&by_revenue),
        vec![
            row(1, &b, "Bob", 1, eur(15002)),
            row(2, &a, "Alice", 3, eur(12498)),
            row(3, &c, "Carol", 2, eur(10999)),
            row(4, &b, "Bob", 1, usd(5001)),
            row(5, &u, "", 3, eur(2499)),
            row(6, &a, "Alice", 1, usd(1996)),
        ]
    );
    // The customer's details come along; an unknown customer's are empty.
    let first = &by_revenue.customers[0];
    assert_eq!(
        (
            first.email.as_str(),
            first.segment.as_str(),
            first.region.as_str()
        ),
        ("bob@example.com", "business", "south")
    );
    let unknown = &by_revenue.customers[4];
    assert_eq!(
        (
            unknown.email.as_str(),
            unknown.segment.as_str(),
            unknown.region.as_str()
        ),
        ("", "", "")
    );
    let explicit = reports::top_customers(&pool, top(pb::CustomerRanking::Revenue, 0, ""))
        .await
        .unwrap();
    assert_eq!(explicit, by_revenue);

    // EUR only, top 2.
    let eur_top = reports::top_customers(&pool, top(pb::CustomerRanking::Revenue, 2, "EUR"))
        .await
        .unwrap();
    assert_eq!(
        summary(&eur_top),
        vec![
            row(1, &b, "Bob", 1, eur(15002)),
            row(2, &a, "Alice", 3, eur(12498))
        ]
    );

    // By orders: A EUR 3 and U EUR 3 tie (A's id is lower), C EUR 2, then A USD, B EUR, B USD
    // with 1 each, by customer id then currency.
    let by_orders = reports::top_customers(&pool, top(pb::CustomerRanking::OrderCount, 0, ""))
        .await
        .unwrap();
    assert_eq!(
        summary(&by_orders),
        vec![
            row(1, &a, "Alice", 3, eur(12498)),
            row(2, &u, "", 3, eur(2499)),
            row(3, &c, "Carol", 2, eur(10999)),
            row(4, &a, "Alice", 1, usd(1996)),
            row(5, &b, "Bob", 1, eur(15002)),
            row(6, &b, "Bob", 1, usd(5001)),
        ]
    );

    // Lower case currencies are accepted; USD by orders: A and B tie at 1, A first.
    let usd_top = reports::top_customers(&pool, top(pb::CustomerRanking::OrderCount, 0, "usd"))
        .await
        .unwrap();
    assert_eq!(
        summary(&usd_top),
        vec![
            row(1, &a, "Alice", 1, usd(1996)),
            row(2, &b, "Bob", 1, usd(5001))
        ]
    );
    let gbp = reports::top_customers(&pool, top(pb::CustomerRanking::Revenue, 0, "GBP"))
        .await
        .unwrap();
    assert!(gbp.customers.is_empty());

    // A limit above 100 is capped, not refused.
    let capped = reports::top_customers(&pool, top(pb::CustomerRanking::Revenue, 5000, ""))
        .await
        .unwrap();
    assert_eq!(capped.customers.len(), 6);

    assert_invalid(
        reports::top_customers(&pool, top(pb::CustomerRanking::Revenue, 0, "EURO")).await,
        "currency",
    );
    let unknown_ranking = pb::TopCustomersRequest {
        by: 9,
        ..Default::default()
    };
    assert_invalid(reports::top_customers(&pool, unknown_ranking).await, "by");
}

#[tokio::test]
async fn repeat_customers_cover_the_last_six_calendar_months() {
    let (_db, pool, clock) = seeded().await;
    let before = OffsetDateTime::now_utc();
    let all = reports::repeat_customers(&pool, pb::RepeatCustomersRequest { limit: 0 })
        .await
        .unwrap();
    // Active: A, B, U; repeat: A (O8, O9) and U (O12, O13), both with 2 orders, A's id first.
    assert_eq!((all.active_customers, all.repeat_customers), (3, 2));
    assert!((all.repeat_share - 2.0 / 3.0).abs() < 1e-12);
    let listed: Vec<(String, String, u64, Option<prost_types::Timestamp>)> = all
        .customers
        .iter()
        .map(|c| {
            let at = c.last_order_at;
            (c.customer_id.clone(), c.name.clone(), c.order_count, at)
        })
        .collect();
    let ts = |at: OffsetDateTime| Some(query_service::queries::timestamp(at));
    assert_eq!(
        listed,
        vec![
            (A.to_string(), "Alice".to_owned(), 2, ts(clock.recent)),
            (
                U.to_string(),
                String::new(),
                2,
                ts(clock.recent - Duration::hours(2))
            ),
        ]
    );
    // The window ends at the query and starts six calendar months earlier.
    let (start, end) = (all.window_start.unwrap(), all.window_end.unwrap());
    let end_at = OffsetDateTime::from_unix_timestamp(end.seconds).unwrap();
    let start_at = OffsetDateTime::from_unix_timestamp(start.seconds).unwrap();
    assert!((end_at - before).abs() < Duration::minutes(5));
    assert_eq!(
        start_at,
        six_calendar_months_before(end_at),
        "window {start_at} .. {end_at}"
    );
    assert_eq!(start.nanos, end.nanos);

    // The limit shortens the list only; the counts still cover everybody.
    let one = reports::repeat_customers(&pool, pb::RepeatCustomersRequest { limit: 1 })
        .await
        .unwrap();
    assert_eq!((one.active_customers, one.repeat_customers), (3, 2));
    assert_eq!(one.customers.len(), 1);
    assert_eq!(one.customers[0].customer_id, A.to_string());
}

#[tokio::test]
async fn repeat_customers_of_an_empty_read_model_are_a_zero_share() {
    let db = fresh_database().await;
    MIGRATOR.run(&db.pool).await.expect("migrate");
    let empty = reports::repeat_customers(&db.pool, pb::RepeatCustomersRequest { limit: 0 })
        .await
        .unwrap();
    assert_eq!((empty.active_customers, empty.repeat_customers), (0, 0));
    assert_eq!(empty.repeat_share, 0.0);
    assert!(empty.customers.is_empty() && empty.window_start.is_some());
    let (monthly, regions, products, groups) = (
        reports::monthly_sales_by_segment(&db.pool, Default::default())
            .await
            .unwrap(),
        reports::sales_by_region(&db.pool, Default::default())
            .await
            .unwrap(),
        reports::product_performance(&db.pool, Default::default())
            .await
            .unwrap(),
        reports::customer_items_by_price_group(&db.pool, Default::default())
            .await
            .unwrap(),
    );
    assert!(monthly.rows.is_empty() && regions.regions.is_empty());
    assert!(products.products.is_empty() && groups.customers.is_empty());
    assert_eq!(
        (groups.total_size, groups.next_page_token.as_str()),
        (0, "")
    );
}

#[tokio::test]
async fn sales_by_region_counts_distinct_customers_within_the_period() {
    let (_db, pool, _clock) = seeded().await;
    let region = |name: &str, revenue, orders, customers| pb::RegionSales {
        region: name.to_owned(),
        revenue,
        order_count: orders,
        customer_count: customers,
    };
    let by = |range| pb::SalesByRegionRequest { period: range };

    // All time, highest revenue first (the view's rows).
    let all_time = vec![
        region("south", eur(26001), 3, 2),
        region("north", eur(12498), 3, 1),
        region("south", usd(5001), 1, 1),
        region("", eur(2499), 3, 1),
        region("north", usd(1996), 1, 1),
    ];
    let all = reports::sales_by_region(&pool, by(None)).await.unwrap();
    assert_eq!(all.regions, all_time);
    // From January 2025 on is everything: A, who ordered in 2025-01 and in R's month, is still one
    // north EUR customer (distinct over the period, not a sum of months).
    let open = reports::sales_by_region(&pool, by(period("2025-01", "")))
        .await
        .unwrap();
    assert_eq!(open.regions, all_time);

    // January and February 2025: O2 south EUR 15002, O3 north USD 1996, O5 (none) EUR 1500 (Feb
    // 28th 23:30 UTC), O1 north EUR 1498.
    let q1 = reports::sales_by_region(&pool, by(period("2025-01", "2025-02")))
        .await
        .unwrap();
    assert_eq!(
        q1.regions,
        vec![
            region("south", eur(15002), 1, 1),
            region("north", usd(1996), 1, 1),
            region("", eur(1500), 1, 1),
            region("north", eur(1498), 1, 1),
        ]
    );
    // March 2025 alone: O6 only, not O5 although that is March in Auckland.
    let march = reports::sales_by_region(&pool, by(period("2025-03", "2025-03")))
        .await
        .unwrap();
    assert_eq!(march.regions, vec![region("south", eur(10499), 1, 1)]);

    assert_invalid(
        reports::sales_by_region(&pool, by(period("2025-3", ""))).await,
        "period.from_month",
    );
    assert_invalid(
        reports::sales_by_region(&pool, by(period("2025-04", "2025-03"))).await,
        "period",
    );
}

#[tokio::test]
async fn product_performance_ranks_skus_per_currency_over_a_period() {
    let (_db, pool, clock) = seeded().await;
    let req = |range, by: pb::ProductRanking, limit| pb::ProductPerformanceRequest {
        period: range,
        limit,
        by: by as i32,
    };
    let product = |rank, sku: &str, name: &str, orders, units, revenue| pb::ProductSales {
        rank,
        sku: sku.to_owned(),
        name: name.to_owned(),
        order_count: orders,
        units_sold: units,
        revenue,
    };

    // By revenue: LAMP EUR 25000, CHAIR EUR 10002, CHAIR USD 5001, PEN EUR 4000, then MUG EUR and
    // MUG USD tie at 1996 (same sku: EUR first).
    let by_revenue =
        reports::product_performance(&pool, req(None, pb::ProductRanking::Unspecified, 0))
            .await
            .unwrap();
    assert_eq!(
        by_revenue.products,
        vec![
            product(1, "LAMP", "Lamp", 3, 5, eur(25000)),
            product(2, "CHAIR", "Chair", 1, 2, eur(10002)),
            product(3, "CHAIR", "Chair", 1, 1, usd(5001)),
            product(4, "PEN", "Pen, blue", 5, 8, eur(4000)),
            product(5, "MUG", "Mug", 3, 4, eur(1996)),
            product(6, "MUG", "Mug", 1, 4, usd(1996)),
        ]
    );
    let explicit = reports::product_performance(&pool, req(None, pb::ProductRanking::Revenue, 0))
        .await
        .unwrap();
    assert_eq!(explicit, by_revenue);

    // By orders containing the product: PEN EUR 5; LAMP EUR and MUG EUR 3 (LAMP's sku first);
    // CHAIR EUR, CHAIR USD, MUG USD 1.
    let by_orders =
        reports::product_performance(&pool, req(None, pb::ProductRanking::OrderCount, 0))
            .await
            .unwrap();
    let order: Vec<(u32, String, Option<Money>)> = by_orders
        .products
        .iter()
        .map(|p| (p.rank, p.sku.clone(), p.revenue.clone()))
        .collect();
    let o = |rank, sku: &str, revenue| (rank, sku.to_owned(), revenue);
    assert_eq!(
        order,
        vec![
            o(1, "PEN", eur(4000)),
            o(2, "LAMP", eur(25000)),
            o(3, "MUG", eur(1996)),
            o(4, "CHAIR", eur(10002)),
            o(5, "CHAIR", usd(5001)),
            o(6, "MUG", usd(1996)),
        ]
    );

    // By units, top 3: PEN EUR 8, LAMP EUR 5, MUG EUR 4 (MUG USD, also 4, comes fourth).
    let by_units = reports::product_performance(&pool, req(None, pb::ProductRanking::UnitsSold, 3))
        .await
        .unwrap();
    let units: Vec<(String, u64, Option<Money>)> = by_units
        .products
        .iter()
        .map(|p| (p.sku.clone(), p.units_sold, p.revenue.clone()))
        .collect();
    assert_eq!(
        units,
        vec![
            ("PEN".to_owned(), 8, eur(4000)),
            ("LAMP".to_owned(), 5, eur(25000)),
            ("MUG".to_owned(), 4, eur(1996)),
        ]
    );

    // January 2025 only (O1, O2): CHAIR 10002, LAMP 5000, MUG 998, PEN 500; PEN keeps its
    // latest name.
    let january = reports::product_performance(
        &pool,
        req(period("2025-01", "2025-01"), pb::ProductRanking::Revenue, 0),
    )
    .await
    .unwrap();
    assert_eq!(
        january.products,
        vec![
            product(1, "CHAIR", "Chair", 1, 2, eur(10002)),
            product(2, "LAMP", "Lamp", 1, 1, eur(5000)),
            product(3, "MUG", "Mug", 1, 2, eur(998)),
            product(4, "PEN", "Pen, blue", 1, 1, eur(500)),
        ]
    );

    // From OLD's month on (O7, then O8..O13): PEN EUR O7+O8+O13 = 3 orders, 4 units, 2000;
    // LAMP EUR O9 1 order (two lines), 2 units, 10000; CHAIR USD 5001; MUG EUR O12 499.
    let lately = reports::product_performance(
        &pool,
        req(
            period(&yyyy_mm(clock.old_month()), ""),
            pb::ProductRanking::OrderCount,
            0,
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        lately.products,
        vec![
            product(1, "PEN", "Pen, blue", 3, 4, eur(2000)),
            product(2, "CHAIR", "Chair", 1, 1, usd(5001)),
            product(3, "LAMP", "Lamp", 1, 2, eur(10000)),
            product(4, "MUG", "Mug", 1, 1, eur(499)),
        ]
    );

    assert_invalid(
        reports::product_performance(
            &pool,
            req(period("", "2025-00"), pb::ProductRanking::Revenue, 0),
        )
        .await,
        "period.to_month",
    );
    let unknown = pb::ProductPerformanceRequest {
        by: -1,
        ..Default::default()
    };
    assert_invalid(reports::product_performance(&pool, unknown).await, "by");
}

#[tokio::test]
async fn customer_items_by_price_group_pages_by_name() {
    let (_db, pool, _clock) = seeded().await;
    let groups = |id: Uuid, name: &str, cheap, affordable, expensive| pb::CustomerPriceGroups {
        customer_id: id.to_string(),
        name: name.to_owned(),
        cheap_units: cheap,
        affordable_units: affordable,
        expensive_units: expensive,
    };
    let req = |customer: &str, page_size, token: &str| pb::CustomerItemsByPriceGroupRequest {
        customer_id: customer.to_owned(),
        page_size,
        page_token: token.to_owned(),
    };

    // By name then id: U ("", not projected yet), Alice, Bob, Carol; D has no counted order.
    let first = reports::customer_items_by_price_group(&pool, req("", 2, ""))
        .await
        .unwrap();
    assert_eq!(
        first.customers,
        vec![groups(U, "", 1, 4, 0), groups(A, "Alice", 6, 5, 0)]
    );
    assert_eq!(first.total_size, 4);
    assert!(!first.next_page_token.is_empty());
    let second = reports::customer_items_by_price_group(&pool, req("", 2, &first.next_page_token))
        .await
        .unwrap();
    assert_eq!(
        second.customers,
        vec![groups(B, "Bob", 0, 1, 3), groups(C, "Carol", 1, 3, 0)]
    );
    assert_eq!(
        (second.total_size, second.next_page_token.as_str()),
        (4, "")
    );

    // Page size 0 is the default (20): everything on one page.
    let whole = reports::customer_items_by_price_group(&pool, req("", 0, ""))
        .await
        .unwrap();
    assert_eq!(whole.customers.len(), 4);
    assert!(whole.next_page_token.is_empty());

    // One customer; a customer without counted orders gives an empty report, not an error.
    let carol = reports::customer_items_by_price_group(&pool, req(&C.to_string(), 0, ""))
        .await
        .unwrap();
    assert_eq!(carol.customers, vec![groups(C, "Carol", 1, 3, 0)]);
    assert_eq!(carol.total_size, 1);
    let dan = reports::customer_items_by_price_group(&pool, req(&D.to_string(), 0, ""))
        .await
        .unwrap();
    assert!(dan.customers.is_empty());
    assert_eq!(dan.total_size, 0);

    assert_invalid(
        reports::customer_items_by_price_group(&pool, req("not-a-uuid", 0, "")).await,
        "customer_id",
    );
    assert_invalid(
        reports::customer_items_by_price_group(&pool, req("", 2, "garbage!")).await,
        "page_token",
    );
    // A token is only valid with the filter it was issued for.
    assert_invalid(
        reports::customer_items_by_price_group(
            &pool,
            req(&A.to_string(), 2, &first.next_page_token),
        )
        .await,
        "page_token",
    );
}

// The reporting role ------------------------------------------------------------------------------

const VIEWS: [&str; 12] = [
    "sales_orders",
    "sales_items",
    "monthly_sales_by_segment",
    "top_customers",
    "last_six_months",
    "active_customers_last_six_months",
    "repeat_purchase_share",
    "sales_by_region",
    "product_names",
    "product_performance_monthly",
    "product_performance",
    "customer_items_by_price_group",
];

fn sqlstate<T: std::fmt::Debug>(result: Result<T, sqlx::Error>) -> String {
    match result {
        Err(sqlx::Error::Database(e)) => e.code().map(|c| c.into_owned()).unwrap_or_default(),
        other => panic!("expected a database error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_reporting_role_reads_the_views_and_nothing_else() {
    let (db, _pool, _clock) = seeded().await;
    let mut conn = db.pool.acquire().await.unwrap();
    conn.execute("set role reporting").await.unwrap();

    let role: String = sqlx::query_scalar("select current_user::text")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(role, "reporting");
    for view in VIEWS {
        let sql = format!("select count(*) from {view}");
        let rows: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("reporting cannot read {view}: {e}"));
        assert!(rows > 0, "{view} is empty");
    }
    // The figures are the same ones the owner sees: EUR revenue over all regions.
    let eur_total: i64 = sqlx::query_scalar(
        "select sum(revenue_minor)::bigint from sales_by_region where currency = 'EUR'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(eur_total, 40998);

    let tables = [
        "customers",
        "orders",
        "order_items",
        "customer_orders",
        "posts",
        "projection_checkpoints",
        "dead_letters",
        "_sqlx_migrations",
    ];
    for table in tables {
        let select = sqlx::query(AssertSqlSafe(format!("select * from {table} limit 1")))
            .fetch_all(&mut *conn)
            .await;
        assert_eq!(sqlstate(select), "42501", "select from {table}");
    }
    let insert = sqlx::query(
        "insert into orders (order_id, customer_id, status, currency, total_minor, units,
                             placed_at, version)
         values (gen_random_uuid(), gen_random_uuid(), 'placed', 'EUR', 1, 1, now(), 1)",
    )
    .execute(&mut *conn)
    .await;
    assert_eq!(sqlstate(insert), "42501", "insert into orders");
    let update = sqlx::query("update customers set name = 'Mallory'")
        .execute(&mut *conn)
        .await;
    assert_eq!(sqlstate(update), "42501", "update customers");
    let delete = sqlx::query("delete from customer_orders")
        .execute(&mut *conn)
        .await;
    assert_eq!(sqlstate(delete), "42501", "delete from customer_orders");
    // The views are read-only to it too, and it cannot create its own objects.
    let through_view = sqlx::query("delete from sales_orders")
        .execute(&mut *conn)
        .await;
    assert_eq!(sqlstate(through_view), "42501", "delete through a view");
    let create = sqlx::query("create table mine (a int)")
        .execute(&mut *conn)
        .await;
    assert_eq!(sqlstate(create), "42501", "create table");

    conn.execute("reset role").await.unwrap();
    // The role itself cannot log in; analysts log in as members of it.
    let can_login: bool =
        sqlx::query_scalar("select rolcanlogin from pg_roles where rolname = 'reporting'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert!(!can_login);
}

#[tokio::test]
async fn migrations_in_two_databases_at_once_do_not_fail_on_the_role() {
    let (one, two) = tokio::join!(fresh_database(), fresh_database());
    let (a, b) = tokio::join!(MIGRATOR.run(&one.pool), MIGRATOR.run(&two.pool));
    a.expect("first database");
    b.expect("second database");
}

/// The role already exists in the test above (other tests created it), so its creation branch
/// rarely runs there. Here the reporting migration runs under a role name nobody has, in four
/// databases at once, so they race to create it; none may fail.
#[tokio::test]
async fn the_reporting_migration_survives_a_race_to_create_its_role() {
    let role = testkit::unique_name("reporting_race");
    let reporting = MIGRATOR
        .iter()
        .find(|m| m.description.contains("reporting"))
        .expect("the reporting migration");
    let earlier: Vec<_> = MIGRATOR
        .iter()
        .filter(|m| m.version < reporting.version)
        .collect();
    let renamed = reporting.sql.as_str().replace("reporting", &role);

    let mut databases = Vec::new();
    for _ in 0..4 {
        let db = fresh_database().await;
        for m in &earlier {
            sqlx::raw_sql(m.sql.clone())
                .execute(&db.pool)
                .await
                .expect("earlier migration");
        }
        databases.push(db);
    }
    let runs = databases.iter().map(|db| async {
        let mut conn = PgConnection::connect(&db.url).await?;
        sqlx::raw_sql(AssertSqlSafe(renamed.clone()))
            .execute(&mut conn)
            .await?;
        conn.close().await
    });
    let results = futures::future::join_all(runs).await;

    // Clean up before asserting, so a failure does not leave the role behind.
    for db in &databases {
        let drop_owned = format!("drop owned by \"{role}\"");
        let _ = sqlx::raw_sql(AssertSqlSafe(drop_owned))
            .execute(&db.pool)
            .await;
    }
    let exists: bool =
        sqlx::query_scalar("select exists (select from pg_roles where rolname = $1)")
            .bind(&role)
            .fetch_one(&databases[0].pool)
            .await
            .unwrap();
    let dropped = sqlx::raw_sql(AssertSqlSafe(format!("drop role if exists \"{role}\"")))
        .execute(&databases[0].pool)
        .await;

    for result in results {
        result.expect("the migration must tolerate a concurrent creation of its role");
    }
    assert!(exists, "the migration created the role");
    dropped.expect("drop the race's role");
}

// Money near the 64-bit limit --------------------------------------------------------------------

/// Two shipped orders near the i64 maximum, of one customer, in one month, region and segment:
/// their sums do not fit a bigint. The views sum in numeric, so analysts (and the `reporting`
/// role) read the exact figures; the RPCs answer every row that fits the contract's 64-bit
/// integers and name the one that does not with FAILED_PRECONDITION, never INTERNAL.
#[tokio::test]
async fn sums_beyond_the_64_bit_range_break_no_view_and_no_other_report() {
    let db = fresh_database().await;
    MIGRATOR.run(&db.pool).await.expect("migrate");
    let pool = &db.pool;
    let (rich, plain) = (Uuid::now_v7(), Uuid::now_v7());
    insert_customer(pool, rich, "Rich", "whale", "west").await;
    insert_customer(pool, plain, "Plain", "retail", "east").await;
    let near_max = i64::MAX - 1;
    for day in [3, 4] {
        let placed = datetime!(2025-05-01 12:00 UTC) + Duration::days(day);
        let items = [item("GOLD", "Gold bar", near_max, 1)];
        insert_order(pool, Uuid::now_v7(), rich, "shipped", "EUR", placed, &items).await;
    }
    let items = [item("PEN", "Pen", 250, 2)];
    let june = datetime!(2025-06-10 12:00 UTC);
    insert_order(pool, Uuid::now_v7(), plain, "shipped", "USD", june, &items).await;
    let exact = (i128::from(near_max) * 2).to_string();

    // The views, as the owner and as the reporting role.
    let mut conn = pool.acquire().await.unwrap();
    for role in ["reset role", "set role reporting"] {
        conn.execute(role).await.unwrap();
        for (view, filter) in [
            ("monthly_sales_by_segment", "segment = 'whale'"),
            ("top_customers", "name = 'Rich'"),
            ("sales_by_region", "region = 'west'"),
            ("product_performance", "sku = 'GOLD'"),
            ("product_performance_monthly", "sku = 'GOLD'"),
        ] {
            let sql = format!("select revenue_minor::text from {view} where {filter}");
            let sum: String = sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_one(&mut *conn)
                .await
                .unwrap_or_else(|e| panic!("{view} as {role:?}: {e}"));
            assert_eq!(sum, exact, "{view}");
        }
    }
    conn.execute("reset role").await.unwrap();
    drop(conn);

    let out_of_range = |result: Result<String, ServiceError>, what: &str| match result {
        Err(ServiceError::FailedPrecondition(message)) => {
            assert!(message.contains(what), "{message}");
            assert!(message.contains(&exact), "{message}");
        }
        other => panic!("expected FAILED_PRECONDITION naming {what}, got {other:?}"),
    };

    // Monthly sales: June answers; May names its row.
    let june_sales = reports::monthly_sales_by_segment(
        pool,
        pb::MonthlySalesBySegmentRequest {
            period: period("2025-06", "2025-06"),
        },
    )
    .await
    .expect("a month without the big orders answers");
    assert_eq!(june_sales.rows.len(), 1);
    assert_eq!(
        june_sales.rows[0].revenue.as_ref().unwrap().amount_minor,
        500
    );
    out_of_range(
        reports::monthly_sales_by_segment(pool, pb::MonthlySalesBySegmentRequest { period: None })
            .await
            .map(|r| format!("{r:?}")),
        "segment \"whale\" in 2025-05 (EUR)",
    );

    // Top customers: USD answers; all currencies names the customer.
    let usd = reports::top_customers(
        pool,
        pb::TopCustomersRequest {
            currency: "USD".into(),
            ..Default::default()
        },
    )
    .await
    .expect("another currency answers");
    assert_eq!(usd.customers.len(), 1);
    assert_eq!(usd.customers[0].customer_id, plain.to_string());
    out_of_range(
        reports::top_customers(pool, pb::TopCustomersRequest::default())
            .await
            .map(|r| format!("{r:?}")),
        &rich.to_string(),
    );

    // Sales by region: June answers; all time names the region.
    let regions = reports::sales_by_region(
        pool,
        pb::SalesByRegionRequest {
            period: period("2025-06", "2025-06"),
        },
    )
    .await
    .expect("a period without the big orders answers");
    assert_eq!(regions.regions.len(), 1);
    assert_eq!(regions.regions[0].region, "east");
    out_of_range(
        reports::sales_by_region(pool, pb::SalesByRegionRequest { period: None })
            .await
            .map(|r| format!("{r:?}")),
        "region \"west\" (EUR)",
    );

    // Product performance over June answers too.
    let products = reports::product_performance(
        pool,
        pb::ProductPerformanceRequest {
            period: period("2025-06", "2025-06"),
            ..Default::default()
        },
    )
    .await
    .expect("product performance answers");
    assert_eq!(products.products.len(), 1);
}
