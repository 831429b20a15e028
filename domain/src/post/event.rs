//! What can happen to a post, as stored in its stream.
//!
//! Must not depend on the post's state or commands: events are the stable, versioned record the
//! read side consumes, and change only through a new schema version with an upcast.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainEvent;
use crate::envelope::unit_data;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "data")]
pub enum PostEvent {
    PostCreated {
        author: String,
        message: String,
    },
    PostEdited {
        message: String,
    },
    PostLiked {
        user: String,
    },
    PostUnliked {
        user: String,
    },
    CommentAdded {
        comment_id: Uuid,
        author: String,
        text: String,
    },
    CommentEdited {
        comment_id: Uuid,
        text: String,
    },
    CommentRemoved {
        comment_id: Uuid,
    },
    #[serde(with = "unit_data")]
    PostDeleted,
}

impl DomainEvent for PostEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::PostCreated { .. } => "PostCreated",
            Self::PostEdited { .. } => "PostEdited",
            Self::PostLiked { .. } => "PostLiked",
            Self::PostUnliked { .. } => "PostUnliked",
            Self::CommentAdded { .. } => "CommentAdded",
            Self::CommentEdited { .. } => "CommentEdited",
            Self::CommentRemoved { .. } => "CommentRemoved",
            Self::PostDeleted => "PostDeleted",
        }
    }

    fn current_schema_version(event_type: &str) -> Option<u32> {
        match event_type {
            "PostCreated" | "PostEdited" | "PostLiked" | "PostUnliked" | "CommentAdded"
            | "CommentEdited" | "CommentRemoved" | "PostDeleted" => Some(1),
            _ => None,
        }
    }
}
