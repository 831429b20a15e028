//! Posts and their comments as the query contract shows them: ListPosts, GetPost and
//! ListComments over `posts`, `post_likes` and `comments`.
//!
//! A deleted post (`deleted_at` set) is invisible to every query here: never listed, NOT_FOUND
//! when named. Each RPC is a query struct: `parse` validates the whole request first (so a
//! malformed request fails at once instead of after a consistency wait), `run` reads. Must not
//! depend on tonic services, Kafka or the projector; the caller passes the actor (`x-actor`).

use cqrsplus_proto::query::v1::{self as pb, PostSort};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Postgres, QueryBuilder};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{paging, parse_id, timestamp};
use crate::error::ServiceError;

/// Reads that take several statements run in one snapshot, so a page agrees with its
/// `total_size` and comments with the post version reported next to them.
const SNAPSHOT: &str = "begin transaction isolation level repeatable read, read only";

const POST_COLUMNS: &str = "p.post_id, p.author, p.message, p.like_count, p.comment_count, \
     p.created_at, p.edited_at, p.version";

#[derive(sqlx::FromRow)]
struct PostRow {
    post_id: Uuid,
    author: String,
    message: String,
    like_count: i64,
    comment_count: i64,
    created_at: OffsetDateTime,
    edited_at: Option<OffsetDateTime>,
    version: i64,
    liked_by_caller: bool,
}

impl From<PostRow> for pb::Post {
    fn from(row: PostRow) -> Self {
        pb::Post {
            post_id: row.post_id.to_string(),
            author: row.author,
            message: row.message,
            like_count: u64::try_from(row.like_count).unwrap_or_default(),
            comment_count: u64::try_from(row.comment_count).unwrap_or_default(),
            liked_by_caller: row.liked_by_caller,
            created_at: Some(timestamp(row.created_at)),
            edited_at: row.edited_at.map(timestamp),
            version: u64::try_from(row.version).unwrap_or_default(),
        }
    }
}

#[derive(sqlx::FromRow)]
struct CommentRow {
    comment_id: Uuid,
    post_id: Uuid,
    author: String,
    text: String,
    created_at: OffsetDateTime,
    edited_at: Option<OffsetDateTime>,
}

impl From<CommentRow> for pb::Comment {
    fn from(row: CommentRow) -> Self {
        pb::Comment {
            comment_id: row.comment_id.to_string(),
            post_id: row.post_id.to_string(),
            author: row.author,
            text: row.text,
            created_at: Some(timestamp(row.created_at)),
            edited_at: row.edited_at.map(timestamp),
        }
    }
}

/// Appends `liked_by_caller` to a select list: whether `actor` has a row in `post_likes`.
fn push_liked_by_caller(select: &mut QueryBuilder<Postgres>, actor: Option<&str>) {
    match actor {
        Some(actor) => {
            select
                .push(
                    ", exists (select 1 from post_likes l \
                     where l.post_id = p.post_id and l.user_id = ",
                )
                .push_bind(actor.to_owned())
                .push(") as liked_by_caller");
        }
        None => {
            select.push(", false as liked_by_caller");
        }
    }
}

// ListPosts ----------------------------------------------------------------------------------------

/// Where a ListPosts page continues: the last row's sort key.
#[derive(Serialize, Deserialize)]
struct PostKey {
    /// The like or comment count, for the sorts that lead with one (0 otherwise).
    #[serde(default)]
    n: i64,
    #[serde(with = "time::serde::rfc3339")]
    t: OffsetDateTime,
    id: Uuid,
}

/// A validated ListPosts request.
pub struct ListPosts {
    sort: PostSort,
    author: Option<String>,
    only_with_comments: bool,
    min_likes: i64,
    page_size: u32,
    after: Option<PostKey>,
    fingerprint: String,
    actor: Option<String>,
}

impl ListPosts {
    pub fn parse(req: &pb::ListPostsRequest, actor: Option<&str>) -> Result<Self, ServiceError> {
        let sort = match PostSort::try_from(req.sort) {
            Ok(PostSort::Unspecified) => PostSort::Newest,
            Ok(sort) => sort,
            Err(_) => {
                return Err(ServiceError::invalid(
                    "sort",
                    format!("{} is not a PostSort", req.sort),
                ));
            }
        };
        // An author is an actor: the domain's rule, under this request's name for the field.
        let author = req
            .author
            .as_deref()
            .map(|a| cqrsplus_domain::Actor::parse(a).map(cqrsplus_domain::Actor::into_string))
            .transpose()
            .map_err(|e| ServiceError::refused("author", e))?;
        // A threshold beyond i64 matches no post, as it would in u64.
        let min_likes = i64::try_from(req.min_likes).unwrap_or(i64::MAX);
        let fingerprint = format!(
            "posts|{}|{:?}|{}|{}",
            sort.as_str_name(),
            author,
            req.only_with_comments,
            min_likes
        );
        let after = paging::decode("page_token", &fingerprint, &req.page_token)?;
        Ok(Self {
            sort,
            author,
            only_with_comments: req.only_with_comments,
            min_likes,
            page_size: paging::page_size(req.page_size),
            after,
            fingerprint,
            actor: actor.map(str::to_owned),
        })
    }

    fn push_filters(&self, query: &mut QueryBuilder<Postgres>) {
        query.push(" from posts p where p.deleted_at is null");
        if let Some(author) = &self.author {
            query.push(" and p.author = ").push_bind(author.clone());
        }
        if self.only_with_comments {
            query.push(" and p.comment_count > 0");
        }
        if self.min_likes > 0 {
            query
                .push(" and p.like_count >= ")
                .push_bind(self.min_likes);
        }
    }

    /// The column that leads the sort, before the creation time.
    fn count_column(&self) -> Option<&'static str> {
        match self.sort {
            PostSort::MostLiked => Some("p.like_count"),
            PostSort::MostCommented => Some("p.comment_count"),
            PostSort::Unspecified | PostSort::Newest | PostSort::Oldest => None,
        }
    }

    pub async fn run(self, pool: &PgPool) -> Result<pb::ListPostsResponse, ServiceError> {
        let mut count = QueryBuilder::new("select count(*)");
        self.push_filters(&mut count);

        let mut select = QueryBuilder::new("select ");
        select.push(POST_COLUMNS);
        push_liked_by_caller(&mut select, self.actor.as_deref());
        self.push_filters(&mut select);
        // Row comparisons follow the sort direction, so the page continues right after the
        // last row even when many rows share a count or a creation time.
        let (compare, direction) = match self.sort {
            PostSort::Oldest => (">", "asc"),
            _ => ("<", "desc"),
        };
        if let Some(key) = &self.after {
            select.push(" and (");
            if let Some(column) = self.count_column() {
                select.push(column).push(", ");
            }
            select
                .push("p.created_at, p.post_id) ")
                .push(compare)
                .push(" (");
            if self.count_column().is_some() {
                select.push_bind(key.n).push(", ");
            }
            select
                .push_bind(key.t)
                .push(", ")
                .push_bind(key.id)
                .push(")");
        }
        select.push(" order by ");
        if let Some(column) = self.count_column() {
            select.push(column).push(" desc, ");
        }
        select
            .push("p.created_at ")
            .push(direction)
            .push(", p.post_id ")
            .push(direction)
            .push(" limit ")
            .push_bind(i64::from(self.page_size) + 1);

        let mut tx = pool.begin_with(SNAPSHOT).await?;
        let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
        let rows: Vec<PostRow> = select.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;

        let sort = self.sort;
        let (rows, next_page_token) =
            paging::split_page(rows, self.page_size, &self.fingerprint, |row| PostKey {
                n: match sort {
                    PostSort::MostLiked => row.like_count,
                    PostSort::MostCommented => row.comment_count,
                    _ => 0,
                },
                t: row.created_at,
                id: row.post_id,
            });
        Ok(pb::ListPostsResponse {
            posts: rows.into_iter().map(pb::Post::from).collect(),
            next_page_token,
            total_size: u64::try_from(total).unwrap_or_default(),
        })
    }
}

// GetPost ------------------------------------------------------------------------------------------

/// A validated GetPost request.
pub struct GetPost {
    post_id: Uuid,
    include_comments: bool,
    actor: Option<String>,
}

impl GetPost {
    pub fn parse(req: &pb::GetPostRequest, actor: Option<&str>) -> Result<Self, ServiceError> {
        Ok(Self {
            post_id: parse_id("post_id", &req.post_id)?,
            include_comments: req.include_comments,
            actor: actor.map(str::to_owned),
        })
    }

    pub async fn run(self, pool: &PgPool) -> Result<pb::GetPostResponse, ServiceError> {
        let mut select = QueryBuilder::new("select ");
        select.push(POST_COLUMNS);
        push_liked_by_caller(&mut select, self.actor.as_deref());
        select
            .push(" from posts p where p.deleted_at is null and p.post_id = ")
            .push_bind(self.post_id);

        if !self.include_comments {
            let post: Option<PostRow> = select.build_query_as().fetch_optional(pool).await?;
            let post = post.ok_or_else(|| post_not_found(self.post_id))?;
            return Ok(pb::GetPostResponse {
                post: Some(post.into()),
                comments: Vec::new(),
            });
        }
        let mut tx = pool.begin_with(SNAPSHOT).await?;
        let post: Option<PostRow> = select.build_query_as().fetch_optional(&mut *tx).await?;
        let post = post.ok_or_else(|| post_not_found(self.post_id))?;
        let comments: Vec<CommentRow> = sqlx::query_as(
            "select comment_id, post_id, author, text, created_at, edited_at \
             from comments where post_id = $1 order by created_at, comment_id",
        )
        .bind(self.post_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(pb::GetPostResponse {
            post: Some(post.into()),
            comments: comments.into_iter().map(pb::Comment::from).collect(),
        })
    }
}

fn post_not_found(post_id: Uuid) -> ServiceError {
    ServiceError::NotFound(format!("post {post_id} not found"))
}

// ListComments -------------------------------------------------------------------------------------

/// Where a ListComments page continues: the last comment's creation time and id.
#[derive(Serialize, Deserialize)]
struct CommentKey {
    #[serde(with = "time::serde::rfc3339")]
    t: OffsetDateTime,
    id: Uuid,
}

/// A validated ListComments request.
pub struct ListComments {
    post_id: Uuid,
    page_size: u32,
    after: Option<CommentKey>,
    fingerprint: String,
}

impl ListComments {
    pub fn parse(req: &pb::ListCommentsRequest) -> Result<Self, ServiceError> {
        let post_id = parse_id("post_id", &req.post_id)?;
        let fingerprint = format!("comments|{post_id}");
        Ok(Self {
            post_id,
            page_size: paging::page_size(req.page_size),
            after: paging::decode("page_token", &fingerprint, &req.page_token)?,
            fingerprint,
        })
    }

    pub async fn run(self, pool: &PgPool) -> Result<pb::ListCommentsResponse, ServiceError> {
        let mut select = QueryBuilder::new(
            "select comment_id, post_id, author, text, created_at, edited_at \
             from comments where post_id = ",
        );
        select.push_bind(self.post_id);
        if let Some(key) = &self.after {
            select
                .push(" and (created_at, comment_id) > (")
                .push_bind(key.t)
                .push(", ")
                .push_bind(key.id)
                .push(")");
        }
        select
            .push(" order by created_at, comment_id limit ")
            .push_bind(i64::from(self.page_size) + 1);

        let mut tx = pool.begin_with(SNAPSHOT).await?;
        let post_version: Option<i64> = sqlx::query_scalar(
            "select version from posts where post_id = $1 and deleted_at is null",
        )
        .bind(self.post_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(post_version) = post_version else {
            return Err(post_not_found(self.post_id));
        };
        let total: i64 = sqlx::query_scalar("select count(*) from comments where post_id = $1")
            .bind(self.post_id)
            .fetch_one(&mut *tx)
            .await?;
        let rows: Vec<CommentRow> = select.build_query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;

        let (rows, next_page_token) =
            paging::split_page(rows, self.page_size, &self.fingerprint, |row| CommentKey {
                t: row.created_at,
                id: row.comment_id,
            });
        Ok(pb::ListCommentsResponse {
            comments: rows.into_iter().map(pb::Comment::from).collect(),
            next_page_token,
            total_size: u64::try_from(total).unwrap_or_default(),
            post_version: u64::try_from(post_version).unwrap_or_default(),
        })
    }
}
