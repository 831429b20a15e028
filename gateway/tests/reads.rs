//! The read and admin routes end to end: data written through the REST command routes to a real
//! command-service, projected by a real query-service (Kafka → Postgres), and read back through
//! the REST read routes — posts with their filters, sorts and pages, comments, customers, orders,
//! the six reports, and the admin routes (dead letters, rebuilds).
//!
//! Every read names the versions the command replies gave (`min_version`, `consistent_with`), so
//! no assertion races the projector. Each test gets its own event store and read database, and
//! names (authors, segments, regions, SKUs, currencies) unique to it, because under `cargo test`
//! the tests of this binary share one topic prefix and so see each other's events. The one figure
//! that cannot be filtered, the repeat-customer counts over every customer, stays exact because
//! `orders_read_back_and_the_reports_add_them_up` is the only test here that places orders.

mod common;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::{CLOSED, Gateway, Reply, config};
use serde_json::{Value, json};
use tokio::time::Instant;

/// A gateway over an in-process command-service and query-service (projector on, fresh database).
async fn stack() -> Gateway {
    let command = common::command_service().await;
    let query = common::query_service(&command).await;
    Gateway::new(&config(&command, &query, &[]))
}

/// A short lowercase tag no other test uses, for names the tests of this process could share.
fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// A currency code (three capital letters) no other test uses, so money figures are this test's.
fn currency() -> String {
    uuid::Uuid::new_v4().as_bytes()[..3]
        .iter()
        .map(|b| char::from(b'A' + b % 26))
        .collect()
}

/// Sends a command that must be accepted and returns its reply (`aggregate_id`, `version`, ...).
async fn accepted(
    gw: &Gateway,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Value {
    let reply = gw.call(method.clone(), path, Some(token), body, &[]).await;
    assert!(
        reply.status.is_success(),
        "{method} {path}: {} {}",
        reply.status,
        reply.text
    );
    reply.json()
}

/// The id and version of a command reply, as a `consistent_with` pair.
fn pair(reply: &Value) -> String {
    format!("{}:{}", id(reply), reply["version"])
}

fn id(reply: &Value) -> String {
    reply["aggregate_id"]
        .as_str()
        .expect("aggregate_id")
        .to_owned()
}

/// GETs `path` until the read model has what it names: a 503 "not yet projected" is retried after
/// its Retry-After, for up to 90 s (a fresh projector first joins its group and catches up with
/// the topics). Anything else is returned as it is.
async fn read_when_projected(gw: &Gateway, path: &str, token: Option<&str>) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let reply = gw.call(Method::GET, path, token, None, &[]).await;
        if reply.status != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            return reply;
        }
        let wait: u64 = reply
            .header("retry-after")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1);
        tokio::time::sleep(Duration::from_secs(wait.min(2))).await;
    }
}

/// [`read_when_projected`] that must answer 200; returns the JSON body.
async fn read(gw: &Gateway, path: &str, token: Option<&str>) -> Value {
    let reply = read_when_projected(gw, path, token).await;
    assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.text);
    reply.json()
}

/// `key` of every element of `list[array]`.
fn each(list: &Value, array: &str, key: &str) -> Vec<Value> {
    list[array]
        .as_array()
        .unwrap_or_else(|| panic!("no array {array:?} in {list}"))
        .iter()
        .map(|item| item[key].clone())
        .collect()
}

/// The `details.fields` of a 400, as (field, message) pairs.
fn field_errors(body: &Value) -> Vec<(String, String)> {
    body["details"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no field list in {body}"))
        .iter()
        .map(|f| {
            (
                f["field"].as_str().expect("field").to_owned(),
                f["message"].as_str().expect("message").to_owned(),
            )
        })
        .collect()
}

/// Asserts a 400 whose only invalid field is `field`.
fn assert_invalid_field(reply: &Reply, field: &str) {
    let body = reply.assert_error(400, "invalid_argument");
    let fields = field_errors(&body);
    assert_eq!(fields.len(), 1, "{body}");
    assert_eq!(fields[0].0, field, "{body}");
    assert!(!fields[0].1.is_empty(), "{body}");
}

fn money(amount_minor: i64, currency: &str) -> Value {
    json!({ "amount_minor": amount_minor, "currency": currency })
}

// Posts and comments ------------------------------------------------------------------------------

#[tokio::test]
async fn posts_are_listed_filtered_sorted_and_paged_with_their_comments() {
    let gw = stack().await;
    let author = format!("alice-{}", tag());
    let alice = gw.token(&author, &[]).await;
    let bob = gw.token("bob", &[]).await;
    let carol = gw.token("carol", &[]).await;
    let create = |message: &'static str| {
        let (gw, alice) = (gw.clone(), alice.clone());
        async move {
            accepted(
                &gw,
                Method::POST,
                "/api/v1/posts",
                &alice,
                Some(json!({ "message": message })),
            )
            .await
        }
    };

    // p1: 2 likes, 1 comment. p2: 1 like, 3 comments of which one edited and one removed.
    // p3: edited, nothing else. p4: deleted.
    let p1 = id(&create("first").await);
    let p2 = id(&create("second").await);
    let p3 = id(&create("third").await);
    let p4 = id(&create("doomed").await);
    let like = |post: &str, who: &str| {
        let (gw, path, who) = (
            gw.clone(),
            format!("/api/v1/posts/{post}/likes"),
            who.to_owned(),
        );
        async move { accepted(&gw, Method::POST, &path, &who, None).await }
    };
    let comment = |post: &str, who: &str, text: &'static str| {
        let (gw, path, who) = (
            gw.clone(),
            format!("/api/v1/posts/{post}/comments"),
            who.to_owned(),
        );
        async move {
            accepted(
                &gw,
                Method::POST,
                &path,
                &who,
                Some(json!({ "text": text })),
            )
            .await
        }
    };
    like(&p1, &bob).await;
    like(&p1, &carol).await;
    let p1_last = comment(&p1, &bob, "nice").await;
    like(&p2, &bob).await;
    let c1 = comment(&p2, &carol, "one").await["comment_id"].clone();
    let c2 = comment(&p2, &bob, "two").await["comment_id"].clone();
    let c3 = comment(&p2, &carol, "three").await["comment_id"].clone();
    accepted(
        &gw,
        Method::PATCH,
        &format!("/api/v1/posts/{p2}/comments/{}", c1.as_str().expect("c1")),
        &carol,
        Some(json!({ "text": "one, edited" })),
    )
    .await;
    let p2_last = accepted(
        &gw,
        Method::DELETE,
        &format!("/api/v1/posts/{p2}/comments/{}", c3.as_str().expect("c3")),
        &carol,
        None,
    )
    .await;
    let p3_last = accepted(
        &gw,
        Method::PATCH,
        &format!("/api/v1/posts/{p3}"),
        &alice,
        Some(json!({ "message": "third, edited" })),
    )
    .await;
    let p4_last = accepted(
        &gw,
        Method::DELETE,
        &format!("/api/v1/posts/{p4}"),
        &alice,
        None,
    )
    .await;
    assert_eq!(
        [&p1_last, &p2_last, &p3_last, &p4_last].map(|r| r["version"].clone()),
        [json!(4), json!(7), json!(2), json!(2)]
    );
    let consistent_with = [&p1_last, &p2_last, &p3_last, &p4_last].map(pair).join(",");
    let list = |query: String, token: Option<String>| {
        let (gw, path) = (
            gw.clone(),
            format!("/api/v1/posts?author={author}&consistent_with={consistent_with}{query}"),
        );
        async move { read(&gw, &path, token.as_deref()).await }
    };

    // Newest first by default; the deleted post is not listed; likes of the caller are marked.
    let all = list(String::new(), Some(bob.clone())).await;
    assert_eq!(all["total_size"], 3, "{all}");
    assert_eq!(all["next_page_token"], "");
    assert_eq!(
        each(&all, "posts", "post_id"),
        [&p3, &p2, &p1].map(|p| json!(p))
    );
    assert_eq!(
        each(&all, "posts", "message"),
        ["third, edited", "second", "first"].map(|m| json!(m))
    );
    assert_eq!(
        each(&all, "posts", "like_count"),
        [0, 1, 2].map(|n| json!(n))
    );
    assert_eq!(
        each(&all, "posts", "comment_count"),
        [0, 2, 1].map(|n| json!(n))
    );
    assert_eq!(each(&all, "posts", "version"), [2, 7, 4].map(|n| json!(n)));
    assert_eq!(
        each(&all, "posts", "liked_by_caller"),
        [false, true, true].map(|b| json!(b))
    );
    assert_eq!(each(&all, "posts", "author"), vec![json!(author); 3]);
    // Only the edited post says when; none of the list items carries comments.
    assert!(all["posts"][0]["edited_at"].is_string(), "{all}");
    assert!(all["posts"][1].get("edited_at").is_none(), "{all}");
    assert!(all["posts"][1].get("comments").is_none(), "{all}");
    let anonymous = list(String::new(), None).await;
    assert_eq!(
        each(&anonymous, "posts", "liked_by_caller"),
        [false, false, false].map(|b| json!(b))
    );

    // Sorts.
    let oldest = list("&sort=oldest".into(), None).await;
    assert_eq!(
        each(&oldest, "posts", "post_id"),
        [&p1, &p2, &p3].map(|p| json!(p))
    );
    let most_liked = list("&sort=most_liked".into(), None).await;
    assert_eq!(
        each(&most_liked, "posts", "post_id"),
        [&p1, &p2, &p3].map(|p| json!(p))
    );
    let most_commented = list("&sort=most_commented".into(), None).await;
    assert_eq!(
        each(&most_commented, "posts", "post_id"),
        [&p2, &p1, &p3].map(|p| json!(p))
    );

    // Filters, alone and together; total_size counts what matches.
    let with_comments = list("&only_with_comments=true".into(), None).await;
    assert_eq!(
        each(&with_comments, "posts", "post_id"),
        [&p2, &p1].map(|p| json!(p))
    );
    assert_eq!(with_comments["total_size"], 2);
    let popular = list("&min_likes=2".into(), None).await;
    assert_eq!(each(&popular, "posts", "post_id"), [json!(p1)]);
    assert_eq!(popular["total_size"], 1);
    let both = list(
        "&min_likes=1&only_with_comments=true&sort=most_commented".into(),
        None,
    )
    .await;
    assert_eq!(
        each(&both, "posts", "post_id"),
        [&p2, &p1].map(|p| json!(p))
    );
    let nobody = read(&gw, &format!("/api/v1/posts?author=nobody-{}", tag()), None).await;
    assert_eq!(
        nobody,
        json!({ "posts": [], "next_page_token": "", "total_size": 0 })
    );

    // Pages: two, then the rest; every page reports the whole total.
    let first = list("&page_size=2".into(), None).await;
    assert_eq!(
        each(&first, "posts", "post_id"),
        [&p3, &p2].map(|p| json!(p))
    );
    assert_eq!(first["total_size"], 3);
    let token = first["next_page_token"].as_str().expect("token").to_owned();
    assert!(!token.is_empty(), "{first}");
    let second = list(format!("&page_size=2&page_token={token}"), None).await;
    assert_eq!(each(&second, "posts", "post_id"), [json!(p1)]);
    assert_eq!(second["next_page_token"], "");
    assert_eq!(second["total_size"], 3);
    // One at a time by likes, to the end.
    let mut seen = Vec::new();
    let mut page_token = String::new();
    for _ in 0..4 {
        let page = list(
            format!("&sort=most_liked&page_size=1&page_token={page_token}"),
            None,
        )
        .await;
        seen.extend(each(&page, "posts", "post_id"));
        page_token = page["next_page_token"].as_str().expect("token").to_owned();
        if page_token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, [&p1, &p2, &p3].map(|p| json!(p)));
    // A token only continues the list it came from.
    let reply = gw
        .get(&format!(
            "/api/v1/posts?author={author}&sort=oldest&page_token={token}"
        ))
        .await;
    assert_invalid_field(&reply, "page_token");

    // One post, with and without its comments (oldest first, the removed one gone).
    let reply = read_when_projected(
        &gw,
        &format!("/api/v1/posts/{p2}?min_version=7&include_comments=true"),
        Some(&bob),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("\"7\""));
    let post = reply.json();
    assert_eq!(post["post_id"], p2.as_str());
    assert_eq!(post["author"], author.as_str());
    assert_eq!(post["message"], "second");
    assert_eq!(
        (&post["like_count"], &post["comment_count"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(post["liked_by_caller"], true);
    assert_eq!(post["version"], 7);
    assert_eq!(
        each(&post, "comments", "comment_id"),
        [c1.clone(), c2.clone()]
    );
    assert_eq!(
        each(&post, "comments", "text"),
        ["one, edited", "two"].map(|t| json!(t))
    );
    assert_eq!(
        each(&post, "comments", "author"),
        ["carol", "bob"].map(|t| json!(t))
    );
    assert_eq!(each(&post, "comments", "post_id"), vec![json!(p2); 2]);
    assert!(post["comments"][0]["edited_at"].is_string(), "{post}");
    assert!(post["comments"][1].get("edited_at").is_none(), "{post}");
    let bare = read(&gw, &format!("/api/v1/posts/{p2}"), None).await;
    assert!(bare.get("comments").is_none(), "{bare}");
    assert_eq!(bare["liked_by_caller"], false);

    // The comments list, a page at a time.
    let comments = format!("/api/v1/posts/{p2}/comments?min_version=7&page_size=1");
    let page = read(&gw, &comments, None).await;
    assert_eq!(each(&page, "comments", "comment_id"), [c1]);
    assert_eq!(page["total_size"], 2);
    assert_eq!(page["post_version"], 7);
    let token = page["next_page_token"].as_str().expect("token");
    assert!(!token.is_empty(), "{page}");
    let page = read(&gw, &format!("{comments}&page_token={token}"), None).await;
    assert_eq!(each(&page, "comments", "comment_id"), [c2]);
    assert_eq!(page["next_page_token"], "");
    let none = read(&gw, &format!("/api/v1/posts/{p3}/comments"), None).await;
    assert_eq!(
        none,
        json!({ "comments": [], "next_page_token": "", "total_size": 0, "post_version": 2 })
    );

    // A deleted post is gone for readers, comments included.
    gw.get(&format!("/api/v1/posts/{p4}?min_version=2"))
        .await
        .assert_error(404, "not_found");
    gw.get(&format!("/api/v1/posts/{p4}/comments"))
        .await
        .assert_error(404, "not_found");
}

// Unknown ids, bad parameters, versions not there yet ---------------------------------------------

#[tokio::test]
async fn unknown_ids_are_404_bad_parameters_400_by_field_and_unreached_versions_503() {
    let gw = stack().await;
    let alice = gw.token(&format!("alice-{}", tag()), &[]).await;
    let created = accepted(
        &gw,
        Method::POST,
        "/api/v1/posts",
        &alice,
        Some(json!({ "message": "here" })),
    )
    .await;
    let post = id(&created);
    read(&gw, &format!("/api/v1/posts/{post}?min_version=1"), None).await;

    let unknown = uuid::Uuid::now_v7();
    for path in [
        format!("/api/v1/posts/{unknown}"),
        format!("/api/v1/posts/{unknown}/comments"),
        format!("/api/v1/customers/{unknown}"),
        format!("/api/v1/orders/{unknown}"),
    ] {
        let body = gw.get(&path).await.assert_error(404, "not_found");
        assert!(
            body["message"]
                .as_str()
                .expect("message")
                .contains(&unknown.to_string()),
            "{path}: {body}"
        );
    }
    // A customer's orders may arrive before the customer: an unknown one has none, not 404.
    let orders = read(&gw, &format!("/api/v1/customers/{unknown}/orders"), None).await;
    assert_eq!(
        orders,
        json!({ "orders": [], "next_page_token": "", "total_size": 0 })
    );

    // Each bad parameter is a 400 naming it, whether the gateway or query-service finds it.
    for (path, field) in [
        (
            "/api/v1/reports/monthly-sales?from_month=2025-13",
            "from_month",
        ),
        (
            "/api/v1/reports/sales-by-region?to_month=2025-1",
            "to_month",
        ),
        (
            "/api/v1/reports/product-performance?from_month=May",
            "from_month",
        ),
        (
            "/api/v1/reports/monthly-sales?from_month=2025-06&to_month=2025-05",
            "to_month",
        ),
        ("/api/v1/reports/top-customers?currency=EURO", "currency"),
        (
            "/api/v1/reports/items-by-price-group?customer_id=nope",
            "customer_id",
        ),
        (
            "/api/v1/reports/items-by-price-group?page_token=garbage",
            "page_token",
        ),
        ("/api/v1/posts?page_token=garbage", "page_token"),
        ("/api/v1/posts?sort=sideways", "sort"),
        ("/api/v1/posts?min_likes=-1", "min_likes"),
        ("/api/v1/posts?consistent_with=nope:1", "consistent_with"),
        ("/api/v1/customers?page_token=garbage", "page_token"),
        ("/api/v1/posts/not-a-uuid", "id"),
        ("/api/v1/customers/not-a-uuid", "id"),
        ("/api/v1/orders/not-a-uuid", "id"),
        ("/api/v1/customers/not-a-uuid/orders", "id"),
        (
            "/api/v1/orders/0190a0b0-0000-7000-8000-000000000001?min_version=x",
            "min_version",
        ),
    ] {
        let reply = gw.get(path).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            reply.text
        );
        assert_invalid_field(&reply, field);
    }
    let comments = format!("/api/v1/posts/{post}/comments?page_token=garbage");
    assert_invalid_field(&gw.get(&comments).await, "page_token");
    let orders = format!("/api/v1/customers/{unknown}/orders?page_token=garbage");
    assert_invalid_field(&gw.get(&orders).await, "page_token");
    // `unknown` describes an answer from a newer query-service; as a filter it is no status.
    for status in ["lost", "unknown"] {
        let orders = format!("/api/v1/customers/{unknown}/orders?status={status}");
        assert_invalid_field(&gw.get(&orders).await, "status");
    }

    // A version the projection does not reach within the wait: 503, Retry-After, how far it got.
    let ahead = gw
        .get(&format!("/api/v1/posts/{post}?min_version=99"))
        .await;
    let body = ahead.assert_error(503, "unavailable");
    assert_eq!(body["details"]["projected_version"], 1, "{body}");
    assert_eq!(body["details"]["retry_after_ms"], 200, "{body}");
    assert_eq!(ahead.header("retry-after"), Some("1"));
    let never_seen = gw
        .get(&format!(
            "/api/v1/posts?consistent_with={post}:1,{unknown}:1"
        ))
        .await;
    let body = never_seen.assert_error(503, "unavailable");
    assert_eq!(body["details"]["projected_version"], 0, "{body}");
    assert!(never_seen.header("retry-after").is_some());
}

// Customers ---------------------------------------------------------------------------------------

#[tokio::test]
async fn customers_are_listed_by_name_filtered_and_read_one_by_one() {
    let gw = stack().await;
    let clerk = gw.token("clerk", &[]).await;
    let t = tag();
    let segment = format!("{t}-retail");
    let (north, south) = (format!("{t}-north"), format!("{t}-south"));
    let register = |name: &'static str, region: &str, phone: Option<&str>| {
        let body = json!({
            "name": name,
            "email": format!("{}.{t}@example.com", name.to_lowercase().replace(' ', ".")),
            "phone": phone,
            "segment": segment,
            "region": region,
        });
        let (gw, clerk) = (gw.clone(), clerk.clone());
        async move { accepted(&gw, Method::POST, "/api/v1/customers", &clerk, Some(body)).await }
    };
    let carol = register("Carol Cole", &north, None).await;
    let ada = register("Ada Adams", &south, Some("+44 20 7946 0000")).await;
    let bob = register("Bob Brown", &north, None).await;
    let bob_email = format!("bob.b.{t}@example.com");
    let bob_updated = accepted(
        &gw,
        Method::PUT,
        &format!("/api/v1/customers/{}", id(&bob)),
        &clerk,
        Some(json!({
            "name": "Bob Brown-Smith", "email": bob_email, "phone": "555-0100",
            "segment": segment, "region": north,
        })),
    )
    .await;
    assert_eq!(bob_updated["version"], 2);
    let consistent_with = [&carol, &ada, &bob_updated].map(pair).join(",");

    // By name; pages of two.
    let path = format!("/api/v1/customers?segment={segment}&consistent_with={consistent_with}");
    let all = read(&gw, &path, None).await;
    assert_eq!(all["total_size"], 3, "{all}");
    assert_eq!(
        each(&all, "customers", "name"),
        ["Ada Adams", "Bob Brown-Smith", "Carol Cole"].map(|n| json!(n))
    );
    let first = read(&gw, &format!("{path}&page_size=2"), None).await;
    assert_eq!(
        each(&first, "customers", "customer_id"),
        [id(&ada), id(&bob)].map(|c| json!(c))
    );
    assert_eq!(first["total_size"], 3);
    let token = first["next_page_token"].as_str().expect("token");
    assert!(!token.is_empty(), "{first}");
    let second = read(&gw, &format!("{path}&page_size=2&page_token={token}"), None).await;
    assert_eq!(
        each(&second, "customers", "customer_id"),
        [json!(id(&carol))]
    );
    assert_eq!(second["next_page_token"], "");
    assert_eq!(second["total_size"], 3);

    // Region and segment together.
    let northern = read(&gw, &format!("{path}&region={north}"), None).await;
    assert_eq!(
        each(&northern, "customers", "name"),
        ["Bob Brown-Smith", "Carol Cole"].map(|n| json!(n))
    );
    assert_eq!(northern["total_size"], 2);

    // One customer, as updated: every field, its version as ETag.
    let reply = read_when_projected(
        &gw,
        &format!("/api/v1/customers/{}?min_version=2", id(&bob)),
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    let customer = reply.json();
    assert_eq!(customer["customer_id"], id(&bob).as_str());
    assert_eq!(customer["name"], "Bob Brown-Smith");
    assert_eq!(customer["email"], bob_email.as_str());
    assert_eq!(customer["phone"], "555-0100");
    assert_eq!(customer["segment"], segment.as_str());
    assert_eq!(customer["region"], north.as_str());
    assert_eq!(customer["version"], 2);
    assert!(customer["registered_at"].is_string(), "{customer}");
    assert!(customer["updated_at"].is_string(), "{customer}");
    // Never updated, no phone: the optional fields are absent, not null.
    let ada_read = read(&gw, &format!("/api/v1/customers/{}", id(&ada)), None).await;
    assert_eq!(ada_read["phone"], "+44 20 7946 0000");
    let carol_read = read(&gw, &format!("/api/v1/customers/{}", id(&carol)), None).await;
    assert!(carol_read.get("phone").is_none(), "{carol_read}");
    assert!(carol_read.get("updated_at").is_none(), "{carol_read}");
    assert_eq!(carol_read["version"], 1);
}

// Orders and reports ------------------------------------------------------------------------------

/// One line of an order to place.
fn item(sku: &str, name: &str, unit_price_minor: i64, quantity: u32) -> Value {
    json!({ "sku": sku, "name": name, "unit_price_minor": unit_price_minor, "quantity": quantity })
}

#[tokio::test]
async fn orders_read_back_and_the_reports_add_them_up() {
    let gw = stack().await;
    let clerk = gw.token("clerk", &[]).await;
    let t = tag();
    let (cur, cu2) = (currency(), currency());
    let (retail, corporate) = (format!("{t}-retail"), format!("{t}-corporate"));
    let (north, south) = (format!("{t}-north"), format!("{t}-south"));
    let sku = |letter: &str| format!("{t}-{letter}");
    let register = |name: &'static str, segment: &str, region: &str| {
        let body = json!({
            "name": name,
            "email": format!("{}.{t}@example.com", name.to_lowercase().replace(' ', ".")),
            "segment": segment,
            "region": region,
        });
        let (gw, clerk) = (gw.clone(), clerk.clone());
        async move { accepted(&gw, Method::POST, "/api/v1/customers", &clerk, Some(body)).await }
    };
    let ann = register("Ann Archer", &retail, &north).await;
    let ben = register("Ben Baker", &corporate, &south).await;
    let cat = register("Cat Carter", &retail, &south).await;
    let place = |customer: &Value, currency: &str, items: Vec<Value>| {
        let path = format!("/api/v1/customers/{}/orders", id(customer));
        let body = json!({ "currency": currency, "items": items });
        let (gw, clerk) = (gw.clone(), clerk.clone());
        async move { accepted(&gw, Method::POST, &path, &clerk, Some(body)).await }
    };
    let act = |order: &Value, action: &'static str, body: Option<Value>| {
        let path = format!("/api/v1/orders/{}/{action}", id(order));
        let (gw, clerk) = (gw.clone(), clerk.clone());
        async move { accepted(&gw, Method::POST, &path, &clerk, body).await }
    };

    // Prices chosen around the price groups' bounds: 499 cheap, 500..=5000 affordable, above
    // expensive (minor units).
    // o1, Ann: 3 × 1.20 + 2 × 15.00 = 33.60, delivered.
    let o1 = place(
        &ann,
        &cur,
        vec![
            item(&sku("a"), "Apple", 120, 3),
            item(&sku("b"), "Book", 1500, 2),
        ],
    )
    .await;
    act(&o1, "ship", None).await;
    let o1 = act(&o1, "deliver", None).await;
    // o2, Ann: 250.00 + 10 × 1.20 = 262.00, shipped.
    let o2 = place(
        &ann,
        &cur,
        vec![
            item(&sku("c"), "Camera", 25000, 1),
            item(&sku("a"), "Apple", 120, 10),
        ],
    )
    .await;
    let o2 = act(&o2, "ship", None).await;
    // o3, Ben: 15.00 + 50.00 + 4 × 4.99 = 84.96, placed.
    let o3 = place(
        &ben,
        &cur,
        vec![
            item(&sku("b"), "Book", 1500, 1),
            item(&sku("d"), "Desk lamp", 5000, 1),
            item(&sku("e"), "Eraser", 499, 4),
        ],
    )
    .await;
    // o4, Cat: 2 × 250.00, cancelled, so in no report.
    let o4 = place(&cat, &cur, vec![item(&sku("c"), "Camera", 25000, 2)]).await;
    let o4 = act(&o4, "cancel", Some(json!({ "reason": "changed my mind" }))).await;
    // o5, Cat, in a second currency: 1.00.
    let o5 = place(&cat, &cu2, vec![item(&sku("a"), "Apple", 100, 1)]).await;
    assert_eq!(
        [&o1, &o2, &o3, &o4, &o5].map(|r| r["version"].clone()),
        [json!(3), json!(2), json!(1), json!(2), json!(1)]
    );
    // A status the order is not in: refused, nothing changes.
    gw.call(
        Method::POST,
        &format!("/api/v1/orders/{}/deliver", id(&o3)),
        Some(&clerk),
        None,
        &[],
    )
    .await
    .assert_error(422, "failed_precondition");

    // Everything projected (tokens may name any aggregate), so the reports below are complete.
    let everything = [&ann, &ben, &cat, &o1, &o2, &o3, &o4, &o5]
        .map(pair)
        .join(",");
    let customers = read(
        &gw,
        &format!("/api/v1/customers?region={south}&consistent_with={everything}"),
        None,
    )
    .await;
    assert_eq!(
        each(&customers, "customers", "name"),
        ["Ben Baker", "Cat Carter"].map(|n| json!(n))
    );

    // One order: items in placing order, line totals, total, status times, ETag.
    let reply = gw
        .get(&format!("/api/v1/orders/{}?min_version=3", id(&o1)))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("\"3\""));
    let order = reply.json();
    assert_eq!(order["order_id"], id(&o1).as_str());
    assert_eq!(order["customer_id"], id(&ann).as_str());
    assert_eq!(order["customer_name"], "Ann Archer");
    assert_eq!(order["status"], "delivered");
    assert_eq!(order["currency"], cur.as_str());
    assert_eq!(order["total"], money(3360, &cur));
    assert_eq!(order["version"], 3);
    assert_eq!(
        order["items"],
        json!([
            { "sku": sku("a"), "name": "Apple", "unit_price": money(120, &cur), "quantity": 3,
              "line_total": money(360, &cur) },
            { "sku": sku("b"), "name": "Book", "unit_price": money(1500, &cur), "quantity": 2,
              "line_total": money(3000, &cur) },
        ])
    );
    for at in ["placed_at", "shipped_at", "delivered_at"] {
        assert!(order[at].is_string(), "{at}: {order}");
    }
    assert!(order.get("cancelled_at").is_none(), "{order}");
    assert!(order.get("cancel_reason").is_none(), "{order}");
    let month = order["placed_at"].as_str().expect("placed_at")[..7].to_owned();

    let cancelled = read(&gw, &format!("/api/v1/orders/{}", id(&o4)), None).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancel_reason"], "changed my mind");
    assert!(cancelled["cancelled_at"].is_string(), "{cancelled}");
    assert!(cancelled.get("shipped_at").is_none(), "{cancelled}");
    assert_eq!(cancelled["total"], money(50000, &cur));
    let placed = read(&gw, &format!("/api/v1/orders/{}", id(&o3)), None).await;
    assert_eq!(placed["status"], "placed");
    assert_eq!(placed["total"], money(8496, &cur));
    assert_eq!(
        each(&placed, "items", "line_total"),
        [money(1500, &cur), money(5000, &cur), money(1996, &cur)]
    );

    // A customer's orders: newest first, by status, a page at a time.
    let ann_orders = format!("/api/v1/customers/{}/orders", id(&ann));
    let list = read(
        &gw,
        &format!("{ann_orders}?consistent_with={}", pair(&o2)),
        None,
    )
    .await;
    assert_eq!(list["total_size"], 2);
    assert_eq!(
        each(&list, "orders", "order_id"),
        [id(&o2), id(&o1)].map(|o| json!(o))
    );
    assert_eq!(
        each(&list, "orders", "status"),
        ["shipped", "delivered"].map(|s| json!(s))
    );
    assert_eq!(
        each(&list, "orders", "total"),
        [money(26200, &cur), money(3360, &cur)]
    );
    assert_eq!(list["orders"][0]["items"][0]["name"], "Camera");
    let delivered = read(&gw, &format!("{ann_orders}?status=delivered"), None).await;
    assert_eq!(each(&delivered, "orders", "order_id"), [json!(id(&o1))]);
    assert_eq!(delivered["total_size"], 1);
    let page = read(&gw, &format!("{ann_orders}?page_size=1"), None).await;
    assert_eq!(each(&page, "orders", "order_id"), [json!(id(&o2))]);
    let token = page["next_page_token"].as_str().expect("token");
    assert!(!token.is_empty(), "{page}");
    let page = read(
        &gw,
        &format!("{ann_orders}?page_size=1&page_token={token}"),
        None,
    )
    .await;
    assert_eq!(each(&page, "orders", "order_id"), [json!(id(&o1))]);
    assert_eq!(page["next_page_token"], "");
    let cat_orders = format!("/api/v1/customers/{}/orders", id(&cat));
    let cat_list = read(&gw, &cat_orders, None).await;
    assert_eq!(
        each(&cat_list, "orders", "order_id"),
        [id(&o5), id(&o4)].map(|o| json!(o))
    );
    assert_eq!(
        each(&cat_list, "orders", "currency"),
        [&cu2, &cur].map(|c| json!(c))
    );
    let cancelled = read(&gw, &format!("{cat_orders}?status=cancelled"), None).await;
    assert_eq!(each(&cancelled, "orders", "order_id"), [json!(id(&o4))]);
    let reply = gw
        .get(&format!(
            "{cat_orders}?consistent_with={},{}",
            pair(&o4),
            pair(&o5)
        ))
        .await;
    assert_invalid_field(&reply, "consistent_with");

    // Monthly sales: a row per (month, segment, currency), by segment then currency; o4 cancelled.
    let ours = |rows: &Value, array: &str, key: &str| -> Vec<Value> {
        rows[array]
            .as_array()
            .unwrap_or_else(|| panic!("no {array} in {rows}"))
            .iter()
            .filter(|r| r[key].as_str().is_some_and(|v| v.starts_with(&t)))
            .cloned()
            .collect()
    };
    let monthly = read(
        &gw,
        &format!("/api/v1/reports/monthly-sales?from_month={month}&to_month={month}"),
        None,
    )
    .await;
    assert_eq!(
        ours(&monthly, "rows", "segment"),
        [
            json!({ "month": month, "segment": corporate, "revenue": money(8496, &cur),
                    "order_count": 1, "units_sold": 6 }),
            // Two currencies of one segment: ordered by code.
            if cur < cu2 {
                json!({ "month": month, "segment": retail, "revenue": money(29560, &cur),
                        "order_count": 2, "units_sold": 16 })
            } else {
                json!({ "month": month, "segment": retail, "revenue": money(100, &cu2),
                        "order_count": 1, "units_sold": 1 })
            },
            if cur < cu2 {
                json!({ "month": month, "segment": retail, "revenue": money(100, &cu2),
                        "order_count": 1, "units_sold": 1 })
            } else {
                json!({ "month": month, "segment": retail, "revenue": money(29560, &cur),
                        "order_count": 2, "units_sold": 16 })
            },
        ]
    );
    // A period without any of it.
    let later = read(
        &gw,
        "/api/v1/reports/monthly-sales?from_month=9999-01",
        None,
    )
    .await;
    assert_eq!(later, json!({ "rows": [] }));

    // Top customers in one currency, by revenue and by order count; a limit.
    let top = read(
        &gw,
        &format!("/api/v1/reports/top-customers?currency={cur}"),
        None,
    )
    .await;
    assert_eq!(
        top,
        json!({ "customers": [
            { "rank": 1, "customer_id": id(&ann), "name": "Ann Archer",
              "email": format!("ann.archer.{t}@example.com"), "segment": retail, "region": north,
              "order_count": 2, "revenue": money(29560, &cur) },
            { "rank": 2, "customer_id": id(&ben), "name": "Ben Baker",
              "email": format!("ben.baker.{t}@example.com"), "segment": corporate, "region": south,
              "order_count": 1, "revenue": money(8496, &cur) },
        ] })
    );
    let by_count = read(
        &gw,
        &format!(
            "/api/v1/reports/top-customers?currency={}&by=order_count&limit=1",
            cur.to_lowercase()
        ),
        None,
    )
    .await;
    assert_eq!(
        each(&by_count, "customers", "customer_id"),
        [json!(id(&ann))]
    );
    assert_eq!(by_count["customers"][0]["order_count"], 2);
    let second_currency = read(
        &gw,
        &format!("/api/v1/reports/top-customers?currency={cu2}"),
        None,
    )
    .await;
    assert_eq!(
        each(&second_currency, "customers", "customer_id"),
        [json!(id(&cat))]
    );
    assert_eq!(second_currency["customers"][0]["revenue"], money(100, &cu2));

    // Repeat customers: Ann ordered twice; Ben and Cat once each (Cat's cancelled order does
    // not count). This test is the only one placing orders, so the counts are exact.
    let repeat = read(&gw, "/api/v1/reports/repeat-customers", None).await;
    assert_eq!(repeat["active_customers"], 3, "{repeat}");
    assert_eq!(repeat["repeat_customers"], 1, "{repeat}");
    let share = repeat["repeat_share"].as_f64().expect("share");
    assert!((share - 1.0 / 3.0).abs() < 1e-9, "{repeat}");
    assert_eq!(each(&repeat, "customers", "customer_id"), [json!(id(&ann))]);
    assert_eq!(repeat["customers"][0]["name"], "Ann Archer");
    assert_eq!(repeat["customers"][0]["order_count"], 2);
    let o2_read = read(&gw, &format!("/api/v1/orders/{}", id(&o2)), None).await;
    assert_eq!(
        repeat["customers"][0]["last_order_at"],
        o2_read["placed_at"]
    );
    assert!(
        repeat["window_start"].as_str() < repeat["window_end"].as_str(),
        "{repeat}"
    );

    // Sales by region: a row per (region, currency), highest revenue first.
    let regions = read(
        &gw,
        &format!("/api/v1/reports/sales-by-region?from_month={month}"),
        None,
    )
    .await;
    assert_eq!(
        ours(&regions, "regions", "region"),
        [
            json!({ "region": north, "revenue": money(29560, &cur), "order_count": 2,
                    "customer_count": 1 }),
            json!({ "region": south, "revenue": money(8496, &cur), "order_count": 1,
                    "customer_count": 1 }),
            json!({ "region": south, "revenue": money(100, &cu2), "order_count": 1,
                    "customer_count": 1 }),
        ]
    );

    // Product performance: a row per (sku, currency), ranked three ways; o4's cameras excluded.
    let products = |by: &str, limit: u32| {
        let path = format!(
            "/api/v1/reports/product-performance?from_month={month}&to_month={month}&by={by}&limit={limit}"
        );
        let gw = gw.clone();
        async move { read(&gw, &path, None).await }
    };
    let row = |rank: u32, letter: &str, name: &str, orders: u64, units: u64, revenue: Value| {
        json!({ "rank": rank, "sku": sku(letter), "name": name, "order_count": orders,
                "units_sold": units, "revenue": revenue })
    };
    let by_revenue = products("revenue", 100).await;
    assert_eq!(
        by_revenue,
        json!({ "products": [
            row(1, "c", "Camera", 1, 1, money(25000, &cur)),
            row(2, "d", "Desk lamp", 1, 1, money(5000, &cur)),
            row(3, "b", "Book", 2, 3, money(4500, &cur)),
            row(4, "e", "Eraser", 1, 4, money(1996, &cur)),
            row(5, "a", "Apple", 2, 13, money(1560, &cur)),
            row(6, "a", "Apple", 1, 1, money(100, &cu2)),
        ] })
    );
    let by_units = products("units_sold", 3).await;
    assert_eq!(
        by_units,
        json!({ "products": [
            row(1, "a", "Apple", 2, 13, money(1560, &cur)),
            row(2, "e", "Eraser", 1, 4, money(1996, &cur)),
            row(3, "b", "Book", 2, 3, money(4500, &cur)),
        ] })
    );
    // Ties (two orders each) go by sku.
    let by_orders = products("order_count", 2).await;
    assert_eq!(
        each(&by_orders, "products", "sku"),
        [json!(sku("a")), json!(sku("b"))]
    );

    // Items by price group, per customer by name, a page at a time.
    let groups = |customer: &Value, cheap: u64, affordable: u64, expensive: u64, name: &str| {
        json!({ "customer_id": id(customer), "name": name, "cheap_units": cheap,
                "affordable_units": affordable, "expensive_units": expensive })
    };
    let first = read(
        &gw,
        "/api/v1/reports/items-by-price-group?page_size=2",
        None,
    )
    .await;
    assert_eq!(first["total_size"], 3, "{first}");
    assert_eq!(
        first["customers"],
        json!([
            groups(&ann, 13, 2, 1, "Ann Archer"),
            groups(&ben, 4, 2, 0, "Ben Baker")
        ])
    );
    let token = first["next_page_token"].as_str().expect("token");
    assert!(!token.is_empty(), "{first}");
    let second = read(
        &gw,
        &format!("/api/v1/reports/items-by-price-group?page_size=2&page_token={token}"),
        None,
    )
    .await;
    assert_eq!(
        second,
        json!({ "customers": [groups(&cat, 1, 0, 0, "Cat Carter")], "next_page_token": "",
                "total_size": 3 })
    );
    let only_ben = read(
        &gw,
        &format!(
            "/api/v1/reports/items-by-price-group?customer_id={}",
            id(&ben)
        ),
        None,
    )
    .await;
    assert_eq!(
        only_ben,
        json!({ "customers": [groups(&ben, 4, 2, 0, "Ben Baker")], "next_page_token": "",
                "total_size": 1 })
    );
}

// Admin -------------------------------------------------------------------------------------------

#[tokio::test]
async fn admin_routes_refuse_anonymous_callers_and_non_admins_before_any_call() {
    // Services down: a refusal here cannot have come from upstream.
    let gw = Gateway::new(&config(CLOSED, CLOSED, &[]));
    let user = gw.token("alice", &["editor"]).await;
    let admin = gw.token("root", &["admin"]).await;
    let routes = [
        (Method::GET, "/api/v1/admin/dead-letters", None),
        (
            Method::POST,
            "/api/v1/admin/dead-letters/replay",
            Some(json!({ "all": true })),
        ),
        (
            Method::POST,
            "/api/v1/admin/dead-letters/1/skip",
            Some(json!({ "reason": "junk" })),
        ),
        (Method::POST, "/api/v1/admin/rebuilds", None),
        (Method::GET, "/api/v1/admin/rebuilds/latest", None),
        (
            Method::GET,
            "/api/v1/admin/rebuilds/0190a0b0-0000-7000-8000-000000000001",
            None,
        ),
    ];
    for (method, path, body) in routes {
        let anonymous = gw.call(method.clone(), path, None, body.clone(), &[]).await;
        anonymous.assert_error(401, "unauthenticated");
        assert!(
            anonymous.header("www-authenticate").is_some(),
            "{method} {path}"
        );
        gw.call(method.clone(), path, Some(&user), body.clone(), &[])
            .await
            .assert_error(403, "permission_denied");
        gw.call(method.clone(), path, Some(&admin), body, &[])
            .await
            .assert_error(503, "unavailable");
    }
}

#[tokio::test]
async fn parked_events_are_listed_a_page_at_a_time_and_replayed_by_id() {
    let gw = stack().await;
    let admin = gw.token("root", &["admin"]).await;
    let alice = gw.token(&format!("alice-{}", tag()), &[]).await;
    // The projector is up and reading before anything is parked.
    let first = accepted(
        &gw,
        Method::POST,
        "/api/v1/posts",
        &alice,
        Some(json!({ "message": "before" })),
    )
    .await;
    read(
        &gw,
        &format!("/api/v1/posts/{}?min_version=1", id(&first)),
        None,
    )
    .await;
    let list = |query: &str| {
        let path = format!("/api/v1/admin/dead-letters{query}");
        let (gw, admin) = (gw.clone(), admin.clone());
        async move { read(&gw, &path, Some(&admin)).await }
    };
    assert_eq!(
        list("").await,
        json!({ "dead_letters": [], "next_page_token": "", "total_size": 0 })
    );

    // Two messages that are not events, one key so they land in order on one partition.
    let topic = format!(
        "{}{}",
        testkit::kafka::topic_prefix(),
        cqrsplus_domain::topics::POSTS
    );
    let producer: rdkafka::producer::FutureProducer =
        testkit::kafka::client_config().create().expect("producer");
    for payload in ["junk one", "junk two"] {
        producer
            .send(
                rdkafka::producer::FutureRecord::to(&topic)
                    .key("junk")
                    .payload(payload),
                Duration::from_secs(10),
            )
            .await
            .expect("produce junk");
    }
    // The consumer moves on past them: a later event still applies.
    let after = accepted(
        &gw,
        Method::POST,
        "/api/v1/posts",
        &alice,
        Some(json!({ "message": "after" })),
    )
    .await;
    read(
        &gw,
        &format!("/api/v1/posts/{}?min_version=1", id(&after)),
        None,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let page = loop {
        let page = list("?page_size=1").await;
        if page["total_size"] == 2 {
            break page;
        }
        assert!(Instant::now() < deadline, "not parked: {page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let letter = &page["dead_letters"][0];
    assert_eq!(letter["raw_payload"], "junk one");
    assert!(letter.get("event").is_none(), "{letter}");
    assert_eq!(letter["topic"], topic.as_str());
    assert_eq!(letter["attempts"], 1);
    assert!(
        letter["error"]
            .as_str()
            .is_some_and(|e| e.contains("not an event envelope")),
        "{letter}"
    );
    assert!(
        letter["partition"].as_i64().is_some_and(|p| p >= 0),
        "{letter}"
    );
    assert!(
        letter["offset"].as_i64().is_some_and(|o| o >= 0),
        "{letter}"
    );
    assert!(letter["parked_at"].is_string() && letter["last_attempt_at"].is_string());
    let one = letter["dead_letter_id"].as_str().expect("id").to_owned();
    let token = page["next_page_token"].as_str().expect("token").to_owned();
    assert!(!token.is_empty(), "{page}");
    let page = list(&format!("?page_size=1&page_token={token}")).await;
    assert_eq!(page["dead_letters"][0]["raw_payload"], "junk two");
    assert_eq!(page["next_page_token"], "");
    assert_eq!(page["total_size"], 2);
    let two = page["dead_letters"][0]["dead_letter_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let reply = gw
        .call(
            Method::GET,
            "/api/v1/admin/dead-letters?page_token=garbage",
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_invalid_field(&reply, "page_token");

    // Replaying cannot cure junk: it fails again and stays, one more attempt counted.
    let replay = |body: Value| {
        let (gw, admin) = (gw.clone(), admin.clone());
        async move {
            gw.call(
                Method::POST,
                "/api/v1/admin/dead-letters/replay",
                Some(&admin),
                Some(body),
                &[],
            )
            .await
        }
    };
    let reply = replay(json!({ "dead_letter_ids": [one] })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({ "replayed_count": 0, "failed_count": 1, "failed_ids": [one] })
    );
    let page = list("").await;
    assert_eq!(
        each(&page, "dead_letters", "attempts"),
        [json!(2), json!(1)]
    );
    let reply = replay(json!({ "all": true })).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({ "replayed_count": 0, "failed_count": 2, "failed_ids": [one, two] })
    );

    // Unknown ids are 404; a malformed request is a 400 naming the field.
    replay(json!({ "dead_letter_ids": ["999999999"] }))
        .await
        .assert_error(404, "not_found");
    assert_invalid_field(&replay(json!({})).await, "dead_letter_ids");
    assert_invalid_field(
        &replay(json!({ "dead_letter_ids": [one], "all": true })).await,
        "dead_letter_ids",
    );
    assert_invalid_field(
        &replay(json!({ "dead_letter_ids": ["abc"] })).await,
        "dead_letter_ids",
    );

    // An admin resolves one for good: skipped with a reason, recorded, gone from the list.
    let skip = |id: String, body: Value| {
        let (gw, admin) = (gw.clone(), admin.clone());
        async move {
            gw.call(
                Method::POST,
                &format!("/api/v1/admin/dead-letters/{id}/skip"),
                Some(&admin),
                Some(body),
                &[],
            )
            .await
        }
    };
    assert_invalid_field(&skip(one.clone(), json!({ "reason": " " })).await, "reason");
    assert_invalid_field(
        &skip(one.clone(), json!({ "reason": "bad\u{0}reason" })).await,
        "reason",
    );
    let reply = skip(
        one.clone(),
        json!({ "reason": "junk from a test producer" }),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let skipped = reply.json();
    assert_eq!(skipped["dead_letter_id"], one.as_str());
    assert_eq!(skipped["resolved_by"], "root");
    assert_eq!(skipped["reason"], "junk from a test producer");
    assert!(
        skipped["resolved_at"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    let page = list("").await;
    assert_eq!(page["total_size"], 1, "{page}");
    assert_eq!(page["dead_letters"][0]["dead_letter_id"], two.as_str());
    skip(one, json!({ "reason": "again" }))
        .await
        .assert_error(404, "not_found");
}

#[tokio::test]
async fn a_rebuild_is_accepted_runs_to_completion_and_readers_keep_their_posts() {
    let gw = stack().await;
    let admin = gw.token("root", &["admin"]).await;
    let author = format!("alice-{}", tag());
    let alice = gw.token(&author, &[]).await;
    let bob = gw.token("bob", &[]).await;
    let admin_get = |path: String| {
        let (gw, admin) = (gw.clone(), admin.clone());
        async move { gw.call(Method::GET, &path, Some(&admin), None, &[]).await }
    };

    // Before any rebuild: idle, zero counters, no id.
    let idle = admin_get("/api/v1/admin/rebuilds/latest".into()).await;
    assert_eq!(idle.status, StatusCode::OK, "{}", idle.text);
    assert_eq!(
        idle.json(),
        json!({ "rebuild_id": "", "state": "idle", "events_applied": 0, "events_total": 0,
                "percent": 0.0, "error": "", "target_schema": "" })
    );

    // 3 posts, 2 likes, 1 comment: 6 events in the store.
    let mut pairs = Vec::new();
    let mut posts = Vec::new();
    for message in ["one", "two", "three"] {
        let created = accepted(
            &gw,
            Method::POST,
            "/api/v1/posts",
            &alice,
            Some(json!({ "message": message })),
        )
        .await;
        posts.push(id(&created));
        pairs.push(pair(&created));
    }
    for post in &posts[..2] {
        let liked = accepted(
            &gw,
            Method::POST,
            &format!("/api/v1/posts/{post}/likes"),
            &bob,
            None,
        )
        .await;
        pairs.push(pair(&liked));
    }
    let commented = accepted(
        &gw,
        Method::POST,
        &format!("/api/v1/posts/{}/comments", posts[0]),
        &bob,
        Some(json!({ "text": "hi" })),
    )
    .await;
    pairs.push(pair(&commented));
    let list_path = format!(
        "/api/v1/posts?author={author}&sort=oldest&consistent_with={}",
        pairs.join(",")
    );
    let before = read(&gw, &list_path, Some(&bob)).await;
    assert_eq!(before["total_size"], 3, "{before}");

    let started = gw
        .call(
            Method::POST,
            "/api/v1/admin/rebuilds",
            Some(&admin),
            None,
            &[],
        )
        .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.text);
    let started = started.json();
    assert_eq!(started["already_running"], false);
    let rebuild = started["progress"]["rebuild_id"]
        .as_str()
        .expect("rebuild id")
        .to_owned();
    uuid::Uuid::parse_str(&rebuild).expect("rebuild id is a uuid");
    assert!(
        started["progress"]["target_schema"]
            .as_str()
            .is_some_and(|s| s.starts_with("rebuild_")),
        "{started}"
    );
    assert!(started["progress"]["started_at"].is_string(), "{started}");

    // Polled by id until it ends; readers are served all along.
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let during = gw.get(&format!("/api/v1/posts?author={author}")).await;
        assert_eq!(during.status, StatusCode::OK, "{}", during.text);
        let progress = admin_get(format!("/api/v1/admin/rebuilds/{rebuild}")).await;
        assert_eq!(progress.status, StatusCode::OK, "{}", progress.text);
        let progress = progress.json();
        assert_eq!(progress["rebuild_id"], rebuild.as_str());
        if progress["state"] == "completed" || progress["state"] == "failed" {
            break progress;
        }
        assert!(Instant::now() < deadline, "rebuild too slow: {progress}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["state"], "completed", "{done}");
    assert_eq!(done["percent"], 100.0);
    assert_eq!(done["events_total"], 6, "{done}");
    assert_eq!(done["events_applied"], 6, "{done}");
    assert_eq!(done["error"], "");
    assert!(done["finished_at"].is_string(), "{done}");
    let latest = admin_get("/api/v1/admin/rebuilds/latest".into()).await;
    assert_eq!(latest.status, StatusCode::OK, "{}", latest.text);
    assert_eq!(latest.json(), done);

    // After the switch readers see the same posts, likes and comments, from the new schema.
    let after = read(&gw, &list_path, Some(&bob)).await;
    assert_eq!(after, before);
    // And the live projector carries on there.
    let liked = accepted(
        &gw,
        Method::POST,
        &format!("/api/v1/posts/{}/likes", posts[2]),
        &bob,
        None,
    )
    .await;
    let post = read(
        &gw,
        &format!(
            "/api/v1/posts/{}?min_version={}",
            posts[2], liked["version"]
        ),
        None,
    )
    .await;
    assert_eq!(post["like_count"], 1);

    // Unknown and malformed rebuild ids.
    admin_get(format!("/api/v1/admin/rebuilds/{}", uuid::Uuid::now_v7()))
        .await
        .assert_error(404, "not_found");
    assert_invalid_field(&admin_get("/api/v1/admin/rebuilds/nope".into()).await, "id");
}
