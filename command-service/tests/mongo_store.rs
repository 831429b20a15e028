//! The official driver against the real MongoDB-wire server: what the event store relies on.

use command_service::store::{StoreError, commit::lenient_i64, mongo::classify};
use futures::TryStreamExt;
use mongodb::{
    IndexModel,
    bson::{Document, doc},
    options::IndexOptions,
};

#[tokio::test]
async fn inserts_and_finds_sorted() {
    let db = testkit::mongo::fresh_database().await;
    let commits = db.collection::<Document>("commits");
    for version in [3_i64, 1, 2] {
        commits
            .insert_one(doc! { "stream_id": "post-1", "first_version": version, "events": [] })
            .await
            .expect("insert");
    }
    commits
        .insert_one(doc! { "stream_id": "post-2", "first_version": 1_i64, "events": [] })
        .await
        .expect("insert other stream");

    let found: Vec<Document> = commits
        .find(doc! { "stream_id": "post-1" })
        .sort(doc! { "first_version": 1 })
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("cursor");
    // The wire server may hand back small Int64 values as Int32, so read them leniently.
    let versions: Vec<i64> = found
        .iter()
        .map(|d| {
            lenient_i64(d.get("first_version"))
                .unwrap_or_else(|| panic!("unexpected first_version {:?}", d.get("first_version")))
        })
        .collect();
    assert_eq!(versions, vec![1, 2, 3]);
}

#[tokio::test]
async fn a_unique_index_violation_is_a_typed_duplicate() {
    let db = testkit::mongo::fresh_database().await;
    let commits = db.collection::<Document>("commits");
    commits
        .create_index(
            IndexModel::builder()
                .keys(doc! { "stream_id": 1, "first_version": 1 })
                .options(IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await
        .expect("create unique index");

    commits
        .insert_one(doc! { "stream_id": "post-1", "first_version": 1_i64 })
        .await
        .expect("first append");
    // Same stream, other version: allowed.
    commits
        .insert_one(doc! { "stream_id": "post-1", "first_version": 2_i64 })
        .await
        .expect("next version");
    let err = commits
        .insert_one(doc! { "stream_id": "post-1", "first_version": 1_i64 })
        .await
        .expect_err("a second writer of version 1 must be refused");

    match classify(err, "commits") {
        StoreError::Duplicate { collection, .. } => assert_eq!(collection, "commits"),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    let count = commits.count_documents(doc! {}).await.expect("count");
    assert_eq!(
        count, 2,
        "the refused insert must not have written anything"
    );
}
