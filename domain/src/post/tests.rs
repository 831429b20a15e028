//! Given/when/then tests of every post rule, plus its event contract and snapshot round trip.

use uuid::Uuid;

use super::*;
use crate::testing::{Scenario, assert_event_contract, assert_snapshot_round_trip};
use crate::{Aggregate, DomainError, FieldError};

const C1: Uuid = Uuid::from_u128(0xc1);
const C2: Uuid = Uuid::from_u128(0xc2);

fn created() -> PostEvent {
    PostEvent::PostCreated {
        author: "alice".to_owned(),
        message: "hello".to_owned(),
    }
}

fn liked(user: &str) -> PostEvent {
    PostEvent::PostLiked {
        user: user.to_owned(),
    }
}

fn comment_added(id: Uuid, author: &str, text: &str) -> PostEvent {
    PostEvent::CommentAdded {
        comment_id: id,
        author: author.to_owned(),
        text: text.to_owned(),
    }
}

fn message(text: &str) -> PostMessage {
    PostMessage::parse(text).expect("a valid message")
}

fn text(text: &str) -> CommentText {
    CommentText::parse(text).expect("a valid comment")
}

fn create(text: &str) -> PostCommand {
    PostCommand::Create(CreatePost {
        message: message(text),
    })
}

fn edit(text: &str) -> PostCommand {
    PostCommand::Edit(EditPost {
        message: message(text),
    })
}

fn add_comment(id: Uuid, body: &str) -> PostCommand {
    PostCommand::AddComment(AddComment {
        comment_id: id,
        text: text(body),
    })
}

fn edit_comment(id: Uuid, body: &str) -> PostCommand {
    PostCommand::EditComment(EditComment {
        comment_id: id,
        text: text(body),
    })
}

fn remove_comment(id: Uuid) -> PostCommand {
    PostCommand::RemoveComment(RemoveComment { comment_id: id })
}

fn invalid(field: &str, reason: &str) -> FieldError {
    FieldError::new(field, reason)
}

fn deleted_post() -> DomainError {
    DomainError::FailedPrecondition("post is deleted".to_owned())
}

fn post_not_found() -> DomainError {
    DomainError::NotFound("post".to_owned())
}

// --- create ---

#[test]
fn create_records_the_actor_as_author_and_trims() {
    let post = Scenario::<Post>::given_nothing()
        .as_actor("alice")
        .when(create("  hello  "))
        .then([created()]);
    assert!(post.exists());
    assert_eq!(post.author(), "alice");
    assert_eq!(post.message(), "hello");
}

#[test]
fn create_refuses_a_blank_message() {
    assert_eq!(
        PostMessage::parse(" \n\t "),
        Err(invalid("message", "must not be blank"))
    );
}

#[test]
fn create_accepts_exactly_the_longest_message() {
    let message = "é".repeat(MAX_MESSAGE_CHARS);
    Scenario::<Post>::given_nothing()
        .when(create(&message))
        .then([PostEvent::PostCreated {
            author: "alice".to_owned(),
            message,
        }]);
}

#[test]
fn create_refuses_a_too_long_message() {
    assert_eq!(
        PostMessage::parse(&"a".repeat(MAX_MESSAGE_CHARS + 1)),
        Err(invalid("message", "must be at most 2000 characters"))
    );
}

#[test]
fn create_refuses_an_existing_post() {
    Scenario::<Post>::given([created()])
        .when(create("again"))
        .then_error(DomainError::AlreadyExists("post".to_owned()));
}

#[test]
fn create_refuses_a_deleted_post_too() {
    Scenario::<Post>::given([created(), PostEvent::PostDeleted])
        .when(create("again"))
        .then_error(DomainError::AlreadyExists("post".to_owned()));
}

// --- a post that does not exist ---

#[test]
fn every_other_command_on_a_missing_post_is_not_found() {
    for command in [
        edit("x"),
        PostCommand::Like,
        PostCommand::Unlike,
        add_comment(C1, "x"),
        edit_comment(C1, "x"),
        remove_comment(C1),
        PostCommand::Delete,
    ] {
        Scenario::<Post>::given_nothing()
            .when(command)
            .then_error(post_not_found());
    }
}

// --- a deleted post ---

#[test]
fn every_other_command_on_a_deleted_post_fails_its_precondition() {
    for command in [
        edit("x"),
        PostCommand::Like,
        PostCommand::Unlike,
        add_comment(C2, "x"),
        edit_comment(C1, "x"),
        remove_comment(C1),
        PostCommand::Delete,
    ] {
        Scenario::<Post>::given([
            created(),
            liked("alice"),
            comment_added(C1, "alice", "first"),
            PostEvent::PostDeleted,
        ])
        .when(command)
        .then_error(deleted_post());
    }
}

// --- edit and delete ---

#[test]
fn author_edits_the_message() {
    let post = Scenario::<Post>::given([created()])
        .when(edit(" better "))
        .then([PostEvent::PostEdited {
            message: "better".to_owned(),
        }]);
    assert_eq!(post.message(), "better");
}

#[test]
fn only_the_author_edits() {
    Scenario::<Post>::given([created()])
        .as_actor("bob")
        .when(edit("mine now"))
        .then_error(DomainError::PermissionDenied(
            "only the author may edit this post".to_owned(),
        ));
}

#[test]
fn edit_refuses_a_blank_message() {
    // Edit carries the same newtype as create: a message cannot be blank in either.
    assert!(PostMessage::parse("   ").is_err());
}

#[test]
fn edit_refuses_a_too_long_message() {
    assert!(PostMessage::parse(&"a".repeat(MAX_MESSAGE_CHARS + 1)).is_err());
    assert!(PostMessage::parse(&"a".repeat(MAX_MESSAGE_CHARS)).is_ok());
}

#[test]
fn author_deletes() {
    let post = Scenario::<Post>::given([created()])
        .when(PostCommand::Delete)
        .then([PostEvent::PostDeleted]);
    assert!(post.is_deleted());
    assert!(post.exists());
}

#[test]
fn only_the_author_deletes() {
    Scenario::<Post>::given([created()])
        .as_actor("bob")
        .when(PostCommand::Delete)
        .then_error(DomainError::PermissionDenied(
            "only the author may delete this post".to_owned(),
        ));
}

// --- likes ---

#[test]
fn anyone_likes_once() {
    let post = Scenario::<Post>::given([created()])
        .as_actor("bob")
        .when(PostCommand::Like)
        .then([liked("bob")]);
    assert_eq!(post.like_count(), 1);
    assert!(post.is_liked_by("bob"));
}

#[test]
fn a_second_like_by_the_same_user_fails() {
    Scenario::<Post>::given([created(), liked("bob")])
        .as_actor("bob")
        .when(PostCommand::Like)
        .then_error(DomainError::FailedPrecondition(
            "post is already liked by bob".to_owned(),
        ));
}

#[test]
fn likes_by_different_users_add_up() {
    let post = Scenario::<Post>::given([created(), liked("bob")])
        .as_actor("carol")
        .when(PostCommand::Like)
        .then([liked("carol")]);
    assert_eq!(post.like_count(), 2);
    assert_eq!(post.likes().collect::<Vec<_>>(), ["bob", "carol"]);
}

#[test]
fn unlike_removes_the_like() {
    let post = Scenario::<Post>::given([created(), liked("bob")])
        .as_actor("bob")
        .when(PostCommand::Unlike)
        .then([PostEvent::PostUnliked {
            user: "bob".to_owned(),
        }]);
    assert_eq!(post.like_count(), 0);
}

#[test]
fn unlike_without_a_like_fails() {
    Scenario::<Post>::given([created(), liked("bob")])
        .as_actor("carol")
        .when(PostCommand::Unlike)
        .then_error(DomainError::FailedPrecondition(
            "post is not liked by carol".to_owned(),
        ));
}

// --- comments ---

#[test]
fn anyone_comments_with_trimmed_text() {
    let post = Scenario::<Post>::given([created()])
        .as_actor("bob")
        .when(add_comment(C1, "  nice  "))
        .then([comment_added(C1, "bob", "nice")]);
    let comment = post.comment(C1).unwrap();
    assert_eq!(comment.author(), "bob");
    assert_eq!(comment.text(), "nice");
}

#[test]
fn comment_refuses_blank_text() {
    assert_eq!(
        CommentText::parse("  "),
        Err(invalid("text", "must not be blank"))
    );
}

#[test]
fn comment_refuses_too_long_text() {
    assert_eq!(
        CommentText::parse(&"a".repeat(MAX_COMMENT_CHARS + 1)),
        Err(invalid("text", "must be at most 1000 characters"))
    );
}

#[test]
fn comment_accepts_exactly_the_longest_text() {
    let text = "a".repeat(MAX_COMMENT_CHARS);
    Scenario::<Post>::given([created()])
        .when(add_comment(C1, &text))
        .then([comment_added(C1, "alice", &text)]);
}

#[test]
fn comment_id_already_used_is_refused() {
    Scenario::<Post>::given([created(), comment_added(C1, "bob", "first")])
        .when(add_comment(C1, "second"))
        .then_error(DomainError::AlreadyExists(format!("comment {C1}")));
}

#[test]
fn comment_id_of_a_removed_comment_is_not_reused() {
    Scenario::<Post>::given([
        created(),
        comment_added(C1, "bob", "first"),
        PostEvent::CommentRemoved { comment_id: C1 },
    ])
    .when(add_comment(C1, "second"))
    .then_error(DomainError::AlreadyExists(format!("comment {C1}")));
}

#[test]
fn comments_keep_insertion_order() {
    let post = Scenario::<Post>::given([created(), comment_added(C2, "bob", "first")])
        .when(add_comment(C1, "second"))
        .then([comment_added(C1, "alice", "second")]);
    let ids: Vec<Uuid> = post.comments().map(Comment::id).collect();
    assert_eq!(ids, [C2, C1]);
}

#[test]
fn commenter_edits_their_comment() {
    let post = Scenario::<Post>::given([created(), comment_added(C1, "bob", "first")])
        .as_actor("bob")
        .when(edit_comment(C1, " fixed "))
        .then([PostEvent::CommentEdited {
            comment_id: C1,
            text: "fixed".to_owned(),
        }]);
    assert_eq!(post.comment(C1).map(Comment::text), Some("fixed"));
}

#[test]
fn only_the_commenter_edits_a_comment_not_even_the_post_author() {
    Scenario::<Post>::given([created(), comment_added(C1, "bob", "first")])
        .as_actor("alice")
        .when(edit_comment(C1, "changed"))
        .then_error(DomainError::PermissionDenied(format!(
            "only the author of comment {C1} may edit it"
        )));
}

#[test]
fn edit_comment_refuses_blank_text() {
    assert!(CommentText::parse("").is_err());
}

#[test]
fn edit_comment_refuses_too_long_text() {
    assert!(CommentText::parse(&"a".repeat(MAX_COMMENT_CHARS + 1)).is_err());
}

#[test]
fn edit_of_an_unknown_comment_is_not_found() {
    Scenario::<Post>::given([created(), comment_added(C1, "bob", "first")])
        .when(edit_comment(C2, "x"))
        .then_error(DomainError::NotFound(format!("comment {C2}")));
}

#[test]
fn edit_of_a_removed_comment_is_not_found() {
    Scenario::<Post>::given([
        created(),
        comment_added(C1, "bob", "first"),
        PostEvent::CommentRemoved { comment_id: C1 },
    ])
    .as_actor("bob")
    .when(edit_comment(C1, "x"))
    .then_error(DomainError::NotFound(format!("comment {C1}")));
}

#[test]
fn commenter_removes_their_comment() {
    let post = Scenario::<Post>::given([created(), comment_added(C1, "bob", "first")])
        .as_actor("bob")
        .when(remove_comment(C1))
        .then([PostEvent::CommentRemoved { comment_id: C1 }]);
    assert_eq!(post.comment(C1), None);
    assert_eq!(post.comment_count(), 0);
}

#[test]
fn only_the_commenter_removes_a_comment() {
    Scenario::<Post>::given([created(), comment_added(C1, "bob", "first")])
        .as_actor("carol")
        .when(remove_comment(C1))
        .then_error(DomainError::PermissionDenied(format!(
            "only the author of comment {C1} may remove it"
        )));
}

#[test]
fn removal_of_an_unknown_comment_is_not_found() {
    Scenario::<Post>::given([created()])
        .when(remove_comment(C1))
        .then_error(DomainError::NotFound(format!("comment {C1}")));
}

#[test]
fn removal_of_a_removed_comment_is_not_found() {
    Scenario::<Post>::given([
        created(),
        comment_added(C1, "bob", "first"),
        PostEvent::CommentRemoved { comment_id: C1 },
    ])
    .as_actor("bob")
    .when(remove_comment(C1))
    .then_error(DomainError::NotFound(format!("comment {C1}")));
}

// --- events and snapshots ---

fn rich_history() -> Vec<PostEvent> {
    vec![
        created(),
        PostEvent::PostEdited {
            message: "hello, world".to_owned(),
        },
        liked("bob"),
        liked("carol"),
        PostEvent::PostUnliked {
            user: "bob".to_owned(),
        },
        comment_added(C1, "bob", "first"),
        comment_added(C2, "carol", "second"),
        PostEvent::CommentEdited {
            comment_id: C1,
            text: "first!".to_owned(),
        },
        PostEvent::CommentRemoved { comment_id: C2 },
        PostEvent::PostDeleted,
    ]
}

#[test]
fn every_event_honours_the_envelope_contract() {
    assert_event_contract(&rich_history());
}

#[test]
fn snapshot_round_trip_equals_replaying_every_event() {
    let post = assert_snapshot_round_trip::<Post>(&rich_history());
    assert_eq!(post.author(), "alice");
    assert_eq!(post.message(), "hello, world");
    assert_eq!(post.likes().collect::<Vec<_>>(), ["carol"]);
    assert_eq!(post.comment(C1).map(Comment::text), Some("first!"));
    assert_eq!(post.comment(C2), None);
    assert!(post.is_deleted());
}

#[test]
fn messages_and_comments_refuse_nul_and_keep_newlines() {
    assert_eq!(PostMessage::parse("a\0b").unwrap_err().field, "message");
    assert_eq!(CommentText::parse("a\0b").unwrap_err().field, "text");
    assert_eq!(
        message("line one\r\nline two").as_str(),
        "line one\nline two"
    );
}
