//! What may be asked of a post, and the shape checks that need no state.
//!
//! Must not depend on the post's state: whether a command is allowed is decided in `state.rs`.
//! No command carries an author; the actor always comes from the command context.

use uuid::Uuid;

use crate::DomainError;
use crate::validate::required_text;

/// The longest post message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// The longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostCommand {
    Create(CreatePost),
    Edit(EditPost),
    Like,
    Unlike,
    AddComment(AddComment),
    EditComment(EditComment),
    RemoveComment(RemoveComment),
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatePost {
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditPost {
    pub message: String,
}

/// Adds a comment under an id the caller chose, so a retried command cannot add it twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddComment {
    pub comment_id: Uuid,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditComment {
    pub comment_id: Uuid,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveComment {
    pub comment_id: Uuid,
}

/// Trims and bounds a post message.
pub(super) fn message(value: &str) -> Result<String, DomainError> {
    required_text("message", value, MAX_MESSAGE_CHARS)
}

/// Trims and bounds a comment's text.
pub(super) fn comment_text(value: &str) -> Result<String, DomainError> {
    required_text("text", value, MAX_COMMENT_CHARS)
}
