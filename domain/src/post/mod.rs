//! The post aggregate: a message with likes and the comments that live inside it.
//!
//! Owns everything about posts: their commands, events, state and rules. Must not depend on the
//! other aggregates, nor on anything outside this crate's pure core.

mod command;
mod event;
mod state;
#[cfg(test)]
mod tests;

pub use command::{
    AddComment, CommentText, CreatePost, EditComment, EditPost, MAX_COMMENT_CHARS,
    MAX_MESSAGE_CHARS, PostCommand, PostMessage, RemoveComment,
};
pub use event::PostEvent;
pub use state::{Comment, Post};
