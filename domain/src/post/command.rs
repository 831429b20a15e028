//! What may be asked of a post, and the input it carries, parsed.
//!
//! Must not depend on the post's state: whether a command is allowed is decided in `state.rs`.
//! No command carries an author; the actor always comes from the command context. Commands hold
//! [`PostMessage`] and [`CommentText`], so `handle` never sees unchecked text.

use uuid::Uuid;

use crate::input::text_newtype;

/// The longest post message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2000;
/// The longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 1000;

text_newtype!(
    /// A post's message: free text (newline and tab allowed), at most [`MAX_MESSAGE_CHARS`].
    PostMessage,
    field = "message",
    max = MAX_MESSAGE_CHARS,
    lines = Multi
);

text_newtype!(
    /// A comment's text: free text (newline and tab allowed), at most [`MAX_COMMENT_CHARS`].
    CommentText,
    field = "text",
    max = MAX_COMMENT_CHARS,
    lines = Multi
);

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
    pub message: PostMessage,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditPost {
    pub message: PostMessage,
}

/// Adds a comment under an id the caller chose, so a retried command cannot add it twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddComment {
    pub comment_id: Uuid,
    pub text: CommentText,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditComment {
    pub comment_id: Uuid,
    pub text: CommentText,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveComment {
    pub comment_id: Uuid,
}
