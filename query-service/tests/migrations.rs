//! sqlx against the real Postgres: the migrations apply to an empty database, are idempotent,
//! and leave the bookkeeping tables the projector relies on.

use query_service::read_model::MIGRATOR;

#[tokio::test]
async fn migrations_apply_once_and_again_change_nothing() {
    let db = testkit::postgres::fresh_database().await;
    MIGRATOR.run(&db.pool).await.expect("first run");
    MIGRATOR.run(&db.pool).await.expect("second run is a no-op");

    let applied: Vec<i64> =
        sqlx::query_scalar("select version from _sqlx_migrations order by version")
            .fetch_all(&db.pool)
            .await
            .expect("applied migrations");
    let known: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
    assert_eq!(applied, known);
}

#[tokio::test]
async fn checkpoints_refuse_version_zero_and_dead_letters_park_a_delivery_once() {
    let db = testkit::postgres::fresh_database().await;
    MIGRATOR.run(&db.pool).await.expect("migrate");

    let zero = sqlx::query(
        "insert into projection_checkpoints (aggregate_id, aggregate_type, version) values (gen_random_uuid(), 'post', 0)",
    )
    .execute(&db.pool)
    .await;
    assert!(zero.is_err(), "versions are 1-based");

    let park = "insert into dead_letters (topic, partition, \"offset\", payload, error) values ('posts.events', 0, 42, 'not json', 'malformed')";
    sqlx::query(park).execute(&db.pool).await.expect("park");
    let again = sqlx::query(park).execute(&db.pool).await;
    assert!(again.is_err(), "the same delivery must be parked only once");
}
