//! The post's state and its decisions: `handle` applies the rules, `apply` folds events.
//!
//! Must not depend on the other aggregates. Everything in `Post` is rebuilt from `PostEvent`s or a
//! snapshot of it, so fields are private and only `apply` changes them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::command::{AddComment, CreatePost, EditComment, EditPost, PostCommand, RemoveComment};
use super::event::PostEvent;
use crate::{Aggregate, CommandContext, DomainError};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    created: bool,
    author: String,
    message: String,
    likes: BTreeSet<String>,
    /// In the order they were added. Removed comments stay, flagged, so their ids are never reused.
    comments: Vec<Comment>,
    deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    id: Uuid,
    author: String,
    text: String,
    removed: bool,
}

impl Comment {
    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn author(&self) -> &str {
        &self.author
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

impl Post {
    /// The actor who created the post; empty before it exists.
    pub fn author(&self) -> &str {
        &self.author
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted
    }

    pub fn like_count(&self) -> usize {
        self.likes.len()
    }

    pub fn is_liked_by(&self, user: &str) -> bool {
        self.likes.contains(user)
    }

    /// Users who like the post, in lexical order.
    pub fn likes(&self) -> impl Iterator<Item = &str> {
        self.likes.iter().map(String::as_str)
    }

    /// Comments not removed, oldest first.
    pub fn comments(&self) -> impl Iterator<Item = &Comment> {
        self.comments.iter().filter(|comment| !comment.removed)
    }

    pub fn comment_count(&self) -> usize {
        self.comments().count()
    }

    /// A comment that exists and was not removed.
    pub fn comment(&self, id: Uuid) -> Option<&Comment> {
        self.comments().find(|comment| comment.id == id)
    }

    fn comment_mut(&mut self, id: Uuid) -> Option<&mut Comment> {
        self.comments.iter_mut().find(|comment| comment.id == id)
    }

    /// Every command but create needs a post that exists and is not deleted.
    fn ensure_open(&self) -> Result<(), DomainError> {
        if !self.created {
            Err(DomainError::NotFound("post".to_owned()))
        } else if self.deleted {
            Err(DomainError::FailedPrecondition(
                "post is deleted".to_owned(),
            ))
        } else {
            Ok(())
        }
    }

    fn ensure_author(&self, actor: &str, action: &str) -> Result<(), DomainError> {
        if self.author == actor {
            Ok(())
        } else {
            Err(DomainError::PermissionDenied(format!(
                "only the author may {action} this post"
            )))
        }
    }

    /// The live comment `id` may be changed by `actor` only if `actor` wrote it.
    fn own_comment(&self, id: Uuid, actor: &str, action: &str) -> Result<&Comment, DomainError> {
        let comment = self
            .comment(id)
            .ok_or_else(|| DomainError::NotFound(format!("comment {id}")))?;
        if comment.author == actor {
            Ok(comment)
        } else {
            Err(DomainError::PermissionDenied(format!(
                "only the author of comment {id} may {action} it"
            )))
        }
    }

    fn create(&self, create: CreatePost, actor: &str) -> Result<Vec<PostEvent>, DomainError> {
        if self.created {
            return Err(DomainError::AlreadyExists("post".to_owned()));
        }
        Ok(vec![PostEvent::PostCreated {
            author: actor.to_owned(),
            message: create.message.into_string(),
        }])
    }

    fn edit(&self, edit: EditPost, actor: &str) -> Result<Vec<PostEvent>, DomainError> {
        self.ensure_open()?;
        self.ensure_author(actor, "edit")?;
        Ok(vec![PostEvent::PostEdited {
            message: edit.message.into_string(),
        }])
    }

    fn like(&self, actor: &str) -> Result<Vec<PostEvent>, DomainError> {
        self.ensure_open()?;
        if self.is_liked_by(actor) {
            return Err(DomainError::FailedPrecondition(format!(
                "post is already liked by {actor}"
            )));
        }
        Ok(vec![PostEvent::PostLiked {
            user: actor.to_owned(),
        }])
    }

    fn unlike(&self, actor: &str) -> Result<Vec<PostEvent>, DomainError> {
        self.ensure_open()?;
        if !self.is_liked_by(actor) {
            return Err(DomainError::FailedPrecondition(format!(
                "post is not liked by {actor}"
            )));
        }
        Ok(vec![PostEvent::PostUnliked {
            user: actor.to_owned(),
        }])
    }

    fn add_comment(&self, add: AddComment, actor: &str) -> Result<Vec<PostEvent>, DomainError> {
        self.ensure_open()?;
        // Removed comments count too: reusing an id would make two comments one on the read side.
        if self
            .comments
            .iter()
            .any(|comment| comment.id == add.comment_id)
        {
            return Err(DomainError::AlreadyExists(format!(
                "comment {}",
                add.comment_id
            )));
        }
        Ok(vec![PostEvent::CommentAdded {
            comment_id: add.comment_id,
            author: actor.to_owned(),
            text: add.text.into_string(),
        }])
    }

    fn edit_comment(&self, edit: EditComment, actor: &str) -> Result<Vec<PostEvent>, DomainError> {
        self.ensure_open()?;
        self.own_comment(edit.comment_id, actor, "edit")?;
        Ok(vec![PostEvent::CommentEdited {
            comment_id: edit.comment_id,
            text: edit.text.into_string(),
        }])
    }

    fn remove_comment(
        &self,
        remove: RemoveComment,
        actor: &str,
    ) -> Result<Vec<PostEvent>, DomainError> {
        self.ensure_open()?;
        self.own_comment(remove.comment_id, actor, "remove")?;
        Ok(vec![PostEvent::CommentRemoved {
            comment_id: remove.comment_id,
        }])
    }

    fn delete(&self, actor: &str) -> Result<Vec<PostEvent>, DomainError> {
        self.ensure_open()?;
        self.ensure_author(actor, "delete")?;
        Ok(vec![PostEvent::PostDeleted])
    }
}

impl Aggregate for Post {
    const TYPE: &'static str = "post";

    type Command = PostCommand;
    type Event = PostEvent;

    fn handle(
        &self,
        command: PostCommand,
        ctx: &CommandContext,
    ) -> Result<Vec<PostEvent>, DomainError> {
        let actor = ctx.actor.as_str();
        match command {
            PostCommand::Create(create) => self.create(create, actor),
            PostCommand::Edit(edit) => self.edit(edit, actor),
            PostCommand::Like => self.like(actor),
            PostCommand::Unlike => self.unlike(actor),
            PostCommand::AddComment(add) => self.add_comment(add, actor),
            PostCommand::EditComment(edit) => self.edit_comment(edit, actor),
            PostCommand::RemoveComment(remove) => self.remove_comment(remove, actor),
            PostCommand::Delete => self.delete(actor),
        }
    }

    fn apply(&mut self, event: &PostEvent) {
        match event {
            PostEvent::PostCreated { author, message } => {
                self.created = true;
                self.author.clone_from(author);
                self.message.clone_from(message);
            }
            PostEvent::PostEdited { message } => self.message.clone_from(message),
            PostEvent::PostLiked { user } => {
                self.likes.insert(user.clone());
            }
            PostEvent::PostUnliked { user } => {
                self.likes.remove(user);
            }
            PostEvent::CommentAdded {
                comment_id,
                author,
                text,
            } => self.comments.push(Comment {
                id: *comment_id,
                author: author.clone(),
                text: text.clone(),
                removed: false,
            }),
            PostEvent::CommentEdited { comment_id, text } => {
                if let Some(comment) = self.comment_mut(*comment_id) {
                    comment.text.clone_from(text);
                }
            }
            PostEvent::CommentRemoved { comment_id } => {
                if let Some(comment) = self.comment_mut(*comment_id) {
                    comment.removed = true;
                }
            }
            PostEvent::PostDeleted => self.deleted = true,
        }
    }

    fn exists(&self) -> bool {
        self.created
    }
}
