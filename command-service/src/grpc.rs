//! The gRPC surface: `CommandService` (one RPC per command) and `EventStore` (reading streams
//! and the whole store). Handlers only translate: requests into domain commands and
//! `CommandMeta`, results into replies, errors through `error.rs`. The actor comes from the
//! `x-actor` metadata, never from a request body.

use cqrsplus_domain::{
    Actor, Aggregate, EventEnvelope,
    customer::{Customer, CustomerCommand, CustomerProfile, ProfileInput},
    order::{CancelOrder, CancelReason, ItemInput, Order, OrderCommand, PlaceOrder},
    post::{
        AddComment, CommentText, CreatePost, EditComment, EditPost, Post, PostCommand, PostMessage,
        RemoveComment,
    },
};
use cqrsplus_proto::{
    command::v1::{self as pb, command_service_server::CommandService, event_store_server},
    convert::{envelope_to_pb, from_timestamp, timestamp},
    error_code,
};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    application::{Command, CommandMeta, Commands, Executed, Target},
    error::ServiceError,
    store::{EventStore, StreamEnd, StreamRead, commit::CommitDocument},
};

/// Most commits one `ReadAll` page returns.
const MAX_PAGE_SIZE: u32 = 1000;
/// Longest ReadAll overlap: a minute covers any insert still in flight and modest clock skew
/// between instances; more would only re-send pages.
const MAX_OVERLAP_MS: u32 = 60_000;
const DEFAULT_PAGE_SIZE: u32 = 100;

/// Implements both gRPC services: commands through the application layer's one entry point,
/// reads straight from the event store.
#[derive(Clone)]
pub struct CommandGrpc<S> {
    commands: Commands<S>,
    store: S,
}

impl<S: EventStore> CommandGrpc<S> {
    pub fn new(commands: Commands<S>, store: S) -> Self {
        Self { commands, store }
    }

    /// Executes `command` and wraps the result in the RPC's reply type.
    async fn run<R>(
        &self,
        command: Command,
        meta: &CommandMeta,
        reply: impl FnOnce(Option<pb::CommandResult>) -> R,
    ) -> Result<Response<R>, Status> {
        let executed = self.commands.execute(command, meta).await?;
        Ok(Response::new(reply(result(&executed))))
    }
}

fn parse_id(field: &'static str, value: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(value.trim())
        .map_err(|_| ServiceError::invalid(field, format!("{value:?} is not a UUID")))
}

/// A client-chosen id, or a fresh UUIDv7.
fn new_id(field: &'static str, value: Option<&str>) -> Result<Uuid, ServiceError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => parse_id(field, v),
        None => Ok(Uuid::now_v7()),
    }
}

/// The aggregate a creating command makes: the client's choice of id, or one the server picks.
fn new_target(field: &'static str, value: Option<&str>) -> Result<Target, ServiceError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => parse_id(field, v).map(Target::Id),
        None => Ok(Target::New),
    }
}

fn meta<T>(
    request: &Request<T>,
    options: Option<&pb::CommandOptions>,
) -> Result<CommandMeta, ServiceError> {
    let actor = error_code::actor(request.metadata()).ok_or_else(|| {
        ServiceError::Unauthenticated(format!("missing {} metadata", error_code::ACTOR_METADATA))
    })?;
    let actor = Actor::new(actor)
        .map_err(|_| ServiceError::Unauthenticated("the actor is blank or too long".into()))?;
    let options = options.cloned().unwrap_or_default();
    let client_command_id = options
        .command_id
        .as_deref()
        .is_some_and(|v| !v.trim().is_empty());
    let command_id = new_id("options.command_id", options.command_id.as_deref())?;
    let correlation_id = match options
        .correlation_id
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        Some(v) => parse_id("options.correlation_id", v)?,
        None => command_id,
    };
    Ok(CommandMeta {
        actor,
        command_id,
        client_command_id,
        correlation_id,
        expected_version: options.expected_version,
    })
}

fn result(executed: &Executed) -> Option<pb::CommandResult> {
    Some(pb::CommandResult {
        aggregate_id: executed.aggregate_id.to_string(),
        version: executed.version,
        command_id: executed.command_id.to_string(),
        already_applied: executed.already_applied,
    })
}

fn profile(
    name: &str,
    email: &str,
    phone: Option<&str>,
    segment: &str,
    region: &str,
) -> Result<CustomerProfile, ServiceError> {
    Ok(CustomerProfile::parse(&ProfileInput {
        name,
        email,
        phone,
        segment,
        region,
    })?)
}

#[tonic::async_trait]
impl<S: EventStore> CommandService for CommandGrpc<S> {
    #[tracing::instrument(skip_all)]
    async fn create_post(
        &self,
        request: Request<pb::CreatePostRequest>,
    ) -> Result<Response<pb::CreatePostResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let r = request.into_inner();
        let target = new_target("post_id", r.post_id.as_deref())?;
        let command = PostCommand::Create(CreatePost {
            message: PostMessage::parse(&r.message).map_err(ServiceError::from)?,
        });
        self.run(Command::Post(target, command), &meta, |result| {
            pb::CreatePostResponse { result }
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn edit_post(
        &self,
        request: Request<pb::EditPostRequest>,
    ) -> Result<Response<pb::EditPostResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let r = request.into_inner();
        let target = Target::Id(parse_id("post_id", &r.post_id)?);
        let command = PostCommand::Edit(EditPost {
            message: PostMessage::parse(&r.message).map_err(ServiceError::from)?,
        });
        self.run(Command::Post(target, command), &meta, |result| {
            pb::EditPostResponse { result }
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn like_post(
        &self,
        request: Request<pb::LikePostRequest>,
    ) -> Result<Response<pb::LikePostResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let target = Target::Id(parse_id("post_id", &request.get_ref().post_id)?);
        self.run(Command::Post(target, PostCommand::Like), &meta, |result| {
            pb::LikePostResponse { result }
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn unlike_post(
        &self,
        request: Request<pb::UnlikePostRequest>,
    ) -> Result<Response<pb::UnlikePostResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let target = Target::Id(parse_id("post_id", &request.get_ref().post_id)?);
        self.run(
            Command::Post(target, PostCommand::Unlike),
            &meta,
            |result| pb::UnlikePostResponse { result },
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn add_comment(
        &self,
        request: Request<pb::AddCommentRequest>,
    ) -> Result<Response<pb::AddCommentResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let r = request.into_inner();
        let target = Target::Id(parse_id("post_id", &r.post_id)?);
        let command = PostCommand::AddComment(AddComment {
            comment_id: Uuid::now_v7(),
            text: CommentText::parse(&r.text).map_err(ServiceError::from)?,
        });
        let executed = self
            .commands
            .execute(Command::Post(target, command), &meta)
            .await?;
        // From the events, so a retried command id answers with the comment it created first.
        let comment_id = executed
            .events
            .iter()
            .find_map(|e| {
                e.data
                    .get("comment_id")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        Ok(Response::new(pb::AddCommentResponse {
            result: result(&executed),
            comment_id,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn edit_comment(
        &self,
        request: Request<pb::EditCommentRequest>,
    ) -> Result<Response<pb::EditCommentResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let r = request.into_inner();
        let target = Target::Id(parse_id("post_id", &r.post_id)?);
        let command = PostCommand::EditComment(EditComment {
            comment_id: parse_id("comment_id", &r.comment_id)?,
            text: CommentText::parse(&r.text).map_err(ServiceError::from)?,
        });
        self.run(Command::Post(target, command), &meta, |result| {
            pb::EditCommentResponse { result }
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn remove_comment(
        &self,
        request: Request<pb::RemoveCommentRequest>,
    ) -> Result<Response<pb::RemoveCommentResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let r = request.into_inner();
        let target = Target::Id(parse_id("post_id", &r.post_id)?);
        let command = PostCommand::RemoveComment(RemoveComment {
            comment_id: parse_id("comment_id", &r.comment_id)?,
        });
        self.run(Command::Post(target, command), &meta, |result| {
            pb::RemoveCommentResponse { result }
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn delete_post(
        &self,
        request: Request<pb::DeletePostRequest>,
    ) -> Result<Response<pb::DeletePostResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let target = Target::Id(parse_id("post_id", &request.get_ref().post_id)?);
        self.run(
            Command::Post(target, PostCommand::Delete),
            &meta,
            |result| pb::DeletePostResponse { result },
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn register_customer(
        &self,
        request: Request<pb::RegisterCustomerRequest>,
    ) -> Result<Response<pb::RegisterCustomerResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let r = request.into_inner();
        let target = new_target("customer_id", r.customer_id.as_deref())?;
        let command = CustomerCommand::Register(profile(
            &r.name,
            &r.email,
            r.phone.as_deref(),
            &r.segment,
            &r.region,
        )?);
        self.run(Command::Customer(target, command), &meta, |result| {
            pb::RegisterCustomerResponse { result }
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> Result<Response<pb::UpdateCustomerResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let r = request.into_inner();
        let target = Target::Id(parse_id("customer_id", &r.customer_id)?);
        let command = CustomerCommand::Update(profile(
            &r.name,
            &r.email,
            r.phone.as_deref(),
            &r.segment,
            &r.region,
        )?);
        self.run(Command::Customer(target, command), &meta, |result| {
            pb::UpdateCustomerResponse { result }
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn place_order(
        &self,
        request: Request<pb::PlaceOrderRequest>,
    ) -> Result<Response<pb::PlaceOrderResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let r = request.into_inner();
        let target = new_target("order_id", r.order_id.as_deref())?;
        let items: Vec<ItemInput<'_>> = r
            .items
            .iter()
            .map(|item| ItemInput {
                sku: &item.sku,
                name: &item.name,
                unit_price_minor: item.unit_price_minor,
                quantity: i64::from(item.quantity),
            })
            .collect();
        let customer_id = parse_id("customer_id", &r.customer_id)?;
        let command = OrderCommand::Place(
            PlaceOrder::parse(customer_id, &r.currency, &items).map_err(ServiceError::from)?,
        );
        self.run(Command::Order(target, command), &meta, |result| {
            pb::PlaceOrderResponse { result }
        })
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn ship_order(
        &self,
        request: Request<pb::ShipOrderRequest>,
    ) -> Result<Response<pb::ShipOrderResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let target = Target::Id(parse_id("order_id", &request.get_ref().order_id)?);
        self.run(
            Command::Order(target, OrderCommand::Ship),
            &meta,
            |result| pb::ShipOrderResponse { result },
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn deliver_order(
        &self,
        request: Request<pb::DeliverOrderRequest>,
    ) -> Result<Response<pb::DeliverOrderResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let target = Target::Id(parse_id("order_id", &request.get_ref().order_id)?);
        self.run(
            Command::Order(target, OrderCommand::Deliver),
            &meta,
            |result| pb::DeliverOrderResponse { result },
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let meta = meta(&request, request.get_ref().options.as_ref())?;
        let r = request.into_inner();
        let target = Target::Id(parse_id("order_id", &r.order_id)?);
        let command = OrderCommand::Cancel(CancelOrder {
            reason: CancelReason::parse(&r.reason).map_err(ServiceError::from)?,
        });
        self.run(Command::Order(target, command), &meta, |result| {
            pb::CancelOrderResponse { result }
        })
        .await
    }
}

fn commit_to_pb(c: &CommitDocument) -> Result<pb::Commit, ServiceError> {
    Ok(pb::Commit {
        commit_id: c.position.to_string(),
        aggregate_type: c.aggregate_type.clone(),
        aggregate_id: c.stream_id.clone(),
        first_version: u64::try_from(c.first_version).unwrap_or(0),
        last_version: u64::try_from(c.last_version).unwrap_or(0),
        command_id: c.command_id.clone(),
        committed_at: OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(c.committed_at.timestamp_millis()) * 1_000_000,
        )
        .ok()
        .map(timestamp),
        events: c.envelopes()?.iter().map(envelope_to_pb).collect(),
    })
}

/// Folds `events` into `A`'s state and renders it as JSON.
fn fold_json<A: Aggregate>(events: &[EventEnvelope]) -> Result<String, ServiceError> {
    let mut state = A::default();
    for envelope in events {
        let event: A::Event = envelope.decode().map_err(|e| {
            crate::store::StoreError::Corrupt(format!("event {}: {e}", envelope.event_id))
        })?;
        state.apply(&event);
    }
    serde_json::to_string(&state)
        .map_err(|e| crate::store::StoreError::Internal(format!("state to json: {e}")).into())
}

#[tonic::async_trait]
impl<S: EventStore> event_store_server::EventStore for CommandGrpc<S> {
    #[tracing::instrument(skip_all)]
    async fn read_stream(
        &self,
        request: Request<pb::ReadStreamRequest>,
    ) -> Result<Response<pb::ReadStreamResponse>, Status> {
        let r = request.into_inner();
        let id = parse_id("aggregate_id", &r.aggregate_id)?;
        let end = match r.until {
            None => StreamEnd::Latest,
            Some(pb::read_stream_request::Until::ToVersion(v)) => StreamEnd::Version(v),
            Some(pb::read_stream_request::Until::AsOf(t)) => StreamEnd::AsOf(
                from_timestamp(&t).ok_or_else(|| ServiceError::invalid("as_of", "out of range"))?,
            ),
        };
        let store = &self.store;
        let Some(StreamRead {
            aggregate_type,
            events,
            current_version,
        }) = store
            .read_stream(id, end)
            .await
            .map_err(ServiceError::from)?
        else {
            return Err(
                ServiceError::Domain(cqrsplus_domain::DomainError::NotFound(format!(
                    "stream {id}"
                )))
                .into(),
            );
        };
        // The state folds every event up to the end; `from_version` only trims what is listed.
        let state_json = match aggregate_type.as_str() {
            Post::TYPE => fold_json::<Post>(&events)?,
            Customer::TYPE => fold_json::<Customer>(&events)?,
            Order::TYPE => fold_json::<Order>(&events)?,
            other => {
                return Err(
                    ServiceError::Store(crate::store::StoreError::Corrupt(format!(
                        "unknown aggregate type {other}"
                    )))
                    .into(),
                );
            }
        };
        Ok(Response::new(pb::ReadStreamResponse {
            aggregate_id: id.to_string(),
            aggregate_type,
            version: events.last().map_or(0, |e| e.version),
            events: events
                .iter()
                .filter(|e| e.version >= r.from_version)
                .map(envelope_to_pb)
                .collect(),
            state_json,
            current_version,
        }))
    }

    #[tracing::instrument(skip_all)]
    async fn read_all(
        &self,
        request: Request<pb::ReadAllRequest>,
    ) -> Result<Response<pb::ReadAllResponse>, Status> {
        let r = request.into_inner();
        let after: i64 = match r.cursor.trim() {
            "" => 0,
            c => c
                .parse()
                .map_err(|_| ServiceError::invalid("cursor", "not a cursor this service issued"))?,
        };
        if r.overlap_ms > MAX_OVERLAP_MS {
            return Err(
                ServiceError::invalid("overlap_ms", format!("at most {MAX_OVERLAP_MS}")).into(),
            );
        }
        let page_size = match r.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let from = after.saturating_sub(i64::from(r.overlap_ms) * 1000).max(0);
        let store = &self.store;
        let page = store
            .read_all(from, i64::from(page_size))
            .await
            .map_err(ServiceError::from)?;
        let end_of_store = page.len() < page_size as usize;
        let next_cursor = page.last().map_or(after, |c| c.position).to_string();
        let commits = page
            .iter()
            .filter(|c| {
                r.aggregate_types.is_empty() || r.aggregate_types.contains(&c.aggregate_type)
            })
            .map(commit_to_pb)
            .collect::<Result<_, _>>()?;
        let (total_commit_count, total_event_count) = if r.cursor.is_empty() {
            (
                store.commit_count().await.map_err(ServiceError::from)?,
                store.event_count().await.map_err(ServiceError::from)?,
            )
        } else {
            (0, 0)
        };
        Ok(Response::new(pb::ReadAllResponse {
            commits,
            next_cursor,
            total_commit_count,
            total_event_count,
            end_of_store,
        }))
    }
}
