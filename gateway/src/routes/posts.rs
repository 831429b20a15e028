//! `/api/v1/posts`: posts, their likes and comments. Reads go to QueryService (with read-your-writes
//! tokens), writes to CommandService as the token's subject. No rule of the post lives here.

use axum::{Json, extract::State, response::IntoResponse};
use cqrsplus_domain::{
    Actor,
    post::{CommentText as CommentBody, PostMessage},
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
    grpc::{self, optional_timestamp, timestamp},
    routes::reply::{self, Accepted, CommandHeaderDocs, CommandReply, with_etag},
    startup::AppState,
    validate::Violations,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_posts, create_post))
        .routes(routes!(get_post, edit_post, delete_post))
        .routes(routes!(like_post, unlike_post))
        .routes(routes!(list_comments, add_comment))
        .routes(routes!(edit_comment, remove_comment))
}

/// A post as the read model has it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Post {
    pub post_id: String,
    /// The user who created it.
    pub author: String,
    pub message: String,
    pub like_count: u64,
    pub comment_count: u64,
    /// Whether the caller (bearer token) likes it; false without a token.
    pub liked_by_caller: bool,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
    /// The post's version this reflects.
    pub version: u64,
    /// The comments, oldest first, when `include_comments=true` was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comments: Option<Vec<Comment>>,
}

impl From<q::Post> for Post {
    fn from(p: q::Post) -> Self {
        Self {
            created_at: optional_timestamp(p.created_at.as_ref()).unwrap_or_default(),
            edited_at: optional_timestamp(p.edited_at.as_ref()),
            post_id: p.post_id,
            author: p.author,
            message: p.message,
            like_count: p.like_count,
            comment_count: p.comment_count,
            liked_by_caller: p.liked_by_caller,
            version: p.version,
            comments: None,
        }
    }
}

/// A comment on a post.
#[derive(Debug, Serialize, ToSchema)]
pub struct Comment {
    pub comment_id: String,
    pub post_id: String,
    pub author: String,
    pub text: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
}

impl From<q::Comment> for Comment {
    fn from(c: q::Comment) -> Self {
        Self {
            created_at: c.created_at.as_ref().map(timestamp).unwrap_or_default(),
            edited_at: optional_timestamp(c.edited_at.as_ref()),
            comment_id: c.comment_id,
            post_id: c.post_id,
            author: c.author,
            text: c.text,
        }
    }
}

/// A page of posts.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostPage {
    pub posts: Vec<Post>,
    /// Pass as `page_token` for the next page; empty on the last page.
    pub next_page_token: String,
    /// Posts matching the filters, over all pages.
    pub total_size: u64,
}

/// A page of comments.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentPage {
    pub comments: Vec<Comment>,
    pub next_page_token: String,
    pub total_size: u64,
    /// The post's version the comments reflect.
    pub post_version: u64,
}

/// Order of a post list.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostSort {
    Newest,
    Oldest,
    MostLiked,
    MostCommented,
}

/// Which posts to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListPostsParams {
    /// Posts per page, default 20, at most 100.
    page_size: Option<u32>,
    /// `next_page_token` of the previous page.
    page_token: Option<String>,
    /// Only posts by this user.
    author: Option<String>,
    /// Only posts with at least one comment.
    only_with_comments: Option<bool>,
    /// Only posts with at least this many likes.
    min_likes: Option<u64>,
    /// Order; newest first by default.
    sort: Option<PostSort>,
    /// Read your writes: `ID:VERSION` pairs (from command replies), comma separated, the list must
    /// reflect. 503 with Retry-After if the read model is not there yet.
    consistent_with: Option<String>,
}

/// Lists posts, filtered and sorted, a page at a time. Deleted posts are not listed.
#[utoipa::path(get, path = "/posts", tag = "posts", security((), ("bearer" = [])), params(ListPostsParams),
    responses((status = OK, body = PostPage)))]
#[tracing::instrument(skip_all)]
async fn list_posts(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiQuery(params): ApiQuery<ListPostsParams>,
) -> Result<Json<PostPage>, ApiError> {
    let sort = match params.sort {
        None | Some(PostSort::Newest) => q::PostSort::Newest,
        Some(PostSort::Oldest) => q::PostSort::Oldest,
        Some(PostSort::MostLiked) => q::PostSort::MostLiked,
        Some(PostSort::MostCommented) => q::PostSort::MostCommented,
    };
    let mut v = Violations::new();
    let author = v.filter("author", params.author.as_deref(), Actor::parse);
    v.finish()?;
    let message = q::ListPostsRequest {
        page_size: params.page_size.unwrap_or_default(),
        page_token: params.page_token.unwrap_or_default(),
        author: author.map(Actor::into_string),
        only_with_comments: params.only_with_comments.unwrap_or_default(),
        min_likes: params.min_likes.unwrap_or_default(),
        sort: sort.into(),
        consistency: grpc::tokens(params.consistent_with.as_deref())?,
    };
    let reply = state
        .queries
        .clone()
        .list_posts(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok(Json(PostPage {
        posts: reply.posts.into_iter().map(Post::from).collect(),
        next_page_token: reply.next_page_token,
        total_size: reply.total_size,
    }))
}

/// A new post.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreatePost {
    /// Optional client-chosen id (UUID); the server picks a UUIDv7 otherwise.
    #[schema(format = Uuid)]
    pub post_id: Option<String>,
    /// The text: not blank, at most 2000 characters, no control characters but newline and tab.
    pub message: String,
}

/// Creates a post authored by the caller.
#[utoipa::path(post, path = "/posts", tag = "posts", request_body = CreatePost,
    params(CommandHeaderDocs), security(("bearer" = [])),
    responses((status = CREATED, body = CommandReply, description = "created; Location names the post")))]
#[tracing::instrument(skip_all, fields(actor = %caller.subject))]
async fn create_post(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiJson(body): ApiJson<CreatePost>,
) -> Result<Accepted, ApiError> {
    let mut v = Violations::new();
    let post_id = v.optional_uuid("post_id", body.post_id.as_deref());
    let message = v.take(PostMessage::parse(&body.message));
    v.finish()?;
    let request = cmd::CreatePostRequest {
        options: reply::options(&headers),
        post_id,
        message: message.map(PostMessage::into_string).unwrap_or_default(),
    };
    let result = state
        .commands
        .clone()
        .create_post(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner()
        .result;
    let accepted = Accepted::new(result)?;
    let location = format!("/api/v1/posts/{}", accepted.reply.aggregate_id);
    Ok(accepted.created(location))
}

/// How to read one post.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetPostParams {
    /// Also return all comments, oldest first.
    include_comments: Option<bool>,
    /// Read your write: wait (briefly) until the read model has this version of the post; 503 with
    /// Retry-After if it does not get there in time.
    min_version: Option<u64>,
}

/// Reads one post. A deleted post is 404.
#[utoipa::path(get, path = "/posts/{id}", tag = "posts", security((), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "post id"), GetPostParams),
    responses((status = OK, body = Post, headers(("ETag" = String, description = "the post's version")))))]
#[tracing::instrument(skip_all, fields(post_id = %id))]
async fn get_post(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<GetPostParams>,
) -> Result<impl IntoResponse, ApiError> {
    let id = id.to_string();
    let message = q::GetPostRequest {
        consistency: grpc::token(&id, params.min_version),
        post_id: id,
        include_comments: params.include_comments.unwrap_or_default(),
    };
    let reply = state
        .queries
        .clone()
        .get_post(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    let mut post = Post::from(
        reply
            .post
            .ok_or_else(|| ApiError::internal("GetPost reply without a post"))?,
    );
    if params.include_comments.unwrap_or_default() {
        post.comments = Some(reply.comments.into_iter().map(Comment::from).collect());
    }
    Ok(with_etag(post.version, Json(post)))
}

/// A new message for a post.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EditPost {
    /// The text: not blank, at most 2000 characters, no control characters but newline and tab.
    pub message: String,
}

/// Replaces a post's message; only its author may.
#[utoipa::path(patch, path = "/posts/{id}", tag = "posts", request_body = EditPost,
    params(("id" = Uuid, Path, description = "post id"), CommandHeaderDocs), security(("bearer" = [])),
    responses((status = OK, body = CommandReply)))]
#[tracing::instrument(skip_all, fields(post_id = %id, actor = %caller.subject))]
async fn edit_post(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<EditPost>,
) -> Result<Accepted, ApiError> {
    let mut v = Violations::new();
    let message = v.take(PostMessage::parse(&body.message));
    v.finish()?;
    let request = cmd::EditPostRequest {
        options: reply::options(&headers),
        post_id: id.to_string(),
        message: message.map(PostMessage::into_string).unwrap_or_default(),
    };
    let result = state
        .commands
        .clone()
        .edit_post(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner()
        .result;
    Accepted::new(result)
}

/// Deletes a post; only its author may. Its history stays readable under /streams.
#[utoipa::path(delete, path = "/posts/{id}", tag = "posts",
    params(("id" = Uuid, Path, description = "post id"), CommandHeaderDocs), security(("bearer" = [])),
    responses((status = OK, body = CommandReply)))]
#[tracing::instrument(skip_all, fields(post_id = %id, actor = %caller.subject))]
async fn delete_post(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Accepted, ApiError> {
    let request = cmd::DeletePostRequest {
        options: reply::options(&headers),
        post_id: id.to_string(),
    };
    let result = state
        .commands
        .clone()
        .delete_post(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner()
        .result;
    Accepted::new(result)
}

/// Likes a post as the caller; liking twice is 422.
#[utoipa::path(post, path = "/posts/{id}/likes", tag = "posts",
    params(("id" = Uuid, Path, description = "post id"), CommandHeaderDocs), security(("bearer" = [])),
    responses((status = OK, body = CommandReply)))]
#[tracing::instrument(skip_all, fields(post_id = %id, actor = %caller.subject))]
async fn like_post(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Accepted, ApiError> {
    let request = cmd::LikePostRequest {
        options: reply::options(&headers),
        post_id: id.to_string(),
    };
    let result = state
        .commands
        .clone()
        .like_post(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner()
        .result;
    Accepted::new(result)
}

/// Withdraws the caller's like; 422 if the caller does not like the post.
#[utoipa::path(delete, path = "/posts/{id}/likes", tag = "posts",
    params(("id" = Uuid, Path, description = "post id"), CommandHeaderDocs), security(("bearer" = [])),
    responses((status = OK, body = CommandReply)))]
#[tracing::instrument(skip_all, fields(post_id = %id, actor = %caller.subject))]
async fn unlike_post(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Accepted, ApiError> {
    let request = cmd::UnlikePostRequest {
        options: reply::options(&headers),
        post_id: id.to_string(),
    };
    let result = state
        .commands
        .clone()
        .unlike_post(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner()
        .result;
    Accepted::new(result)
}

/// Which comments to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListCommentsParams {
    /// Comments per page, default 20, at most 100.
    page_size: Option<u32>,
    /// `next_page_token` of the previous page.
    page_token: Option<String>,
    /// Read your write: the post's version (e.g. from adding a comment) the list must reflect.
    min_version: Option<u64>,
}

/// Lists a post's comments, oldest first.
#[utoipa::path(get, path = "/posts/{id}/comments", tag = "posts", security((), ("bearer" = [])),
    params(("id" = Uuid, Path, description = "post id"), ListCommentsParams),
    responses((status = OK, body = CommentPage)))]
#[tracing::instrument(skip_all, fields(post_id = %id))]
async fn list_comments(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<ListCommentsParams>,
) -> Result<Json<CommentPage>, ApiError> {
    let id = id.to_string();
    let message = q::ListCommentsRequest {
        consistency: grpc::token(&id, params.min_version),
        post_id: id,
        page_size: params.page_size.unwrap_or_default(),
        page_token: params.page_token.unwrap_or_default(),
    };
    let reply = state
        .queries
        .clone()
        .list_comments(grpc::request(message, caller.as_ref(), state.call_timeout)?)
        .await
        .map_err(grpc::query_error)?
        .into_inner();
    Ok(Json(CommentPage {
        comments: reply.comments.into_iter().map(Comment::from).collect(),
        next_page_token: reply.next_page_token,
        total_size: reply.total_size,
        post_version: reply.post_version,
    }))
}

/// A comment's text.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CommentText {
    /// Not blank, at most 1000 characters, no control characters but newline and tab.
    pub text: String,
}

/// Adds a comment by the caller; the reply carries the new `comment_id`.
#[utoipa::path(post, path = "/posts/{id}/comments", tag = "posts", request_body = CommentText,
    params(("id" = Uuid, Path, description = "post id"), CommandHeaderDocs), security(("bearer" = [])),
    responses((status = CREATED, body = CommandReply)))]
#[tracing::instrument(skip_all, fields(post_id = %id, actor = %caller.subject))]
async fn add_comment(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<CommentText>,
) -> Result<Accepted, ApiError> {
    let mut v = Violations::new();
    let text = v.take(CommentBody::parse(&body.text));
    v.finish()?;
    let request = cmd::AddCommentRequest {
        options: reply::options(&headers),
        post_id: id.to_string(),
        text: text.map(CommentBody::into_string).unwrap_or_default(),
    };
    let reply = state
        .commands
        .clone()
        .add_comment(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner();
    let mut accepted = Accepted::new(reply.result)?;
    accepted.reply.comment_id = Some(reply.comment_id);
    Ok(accepted.created(format!("/api/v1/posts/{id}/comments")))
}

/// Replaces a comment's text; only its author may.
#[utoipa::path(patch, path = "/posts/{id}/comments/{comment_id}", tag = "posts",
    request_body = CommentText,
    params(("id" = Uuid, Path, description = "post id"), ("comment_id" = Uuid, Path, description = "comment id"),
        CommandHeaderDocs),
    security(("bearer" = [])), responses((status = OK, body = CommandReply)))]
#[tracing::instrument(skip_all, fields(post_id = %id, comment_id = %comment_id, actor = %caller.subject))]
async fn edit_comment(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath((id, comment_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(body): ApiJson<CommentText>,
) -> Result<Accepted, ApiError> {
    let mut v = Violations::new();
    let text = v.take(CommentBody::parse(&body.text));
    v.finish()?;
    let request = cmd::EditCommentRequest {
        options: reply::options(&headers),
        post_id: id.to_string(),
        comment_id: comment_id.to_string(),
        text: text.map(CommentBody::into_string).unwrap_or_default(),
    };
    let result = state
        .commands
        .clone()
        .edit_comment(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner()
        .result;
    Accepted::new(result)
}

/// Removes a comment; only its author may.
#[utoipa::path(delete, path = "/posts/{id}/comments/{comment_id}", tag = "posts",
    params(("id" = Uuid, Path, description = "post id"), ("comment_id" = Uuid, Path, description = "comment id"),
        CommandHeaderDocs),
    security(("bearer" = [])), responses((status = OK, body = CommandReply)))]
#[tracing::instrument(skip_all, fields(post_id = %id, comment_id = %comment_id, actor = %caller.subject))]
async fn remove_comment(
    State(state): State<AppState>,
    caller: Caller,
    headers: CommandHeaders,
    ApiPath((id, comment_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Accepted, ApiError> {
    let request = cmd::RemoveCommentRequest {
        options: reply::options(&headers),
        post_id: id.to_string(),
        comment_id: comment_id.to_string(),
    };
    let result = state
        .commands
        .clone()
        .remove_comment(grpc::request(request, Some(&caller), state.call_timeout)?)
        .await?
        .into_inner()
        .result;
    Accepted::new(result)
}
