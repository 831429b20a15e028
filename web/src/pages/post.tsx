// One post: its text, likes and comments, with the actions the signed-in user may take — edit and
// delete for the author, like/unlike for anyone signed in, edit/remove for a comment's author.
// After each action the post is read again at the version the command returned, so the page
// shows the user's own write; other people's changes arrive through the live stream.

import { useState } from "preact/hooks";
import { ApiError } from "../api/http";
import * as posts from "../api/posts";
import type { Comment, Post } from "../api/types";
import { ErrorNote, LiveBadge, Loading } from "../components/feedback";
import { count, formatTime } from "../format";
import { reloadOnNewer, useAction, useLiveEvents, useLoad, useSession } from "../hooks";
import { navigate } from "../router";
import type { Session } from "../session";

export function PostPage({ id }: { id: string }) {
  const session = useSession();
  const post = useLoad((signal, hint) => posts.getPost(id, signal, hint), [id, session?.subject]);
  const live = useLiveEvents({ aggregateId: id }, reloadOnNewer(post));

  if (post.error instanceof ApiError && post.error.code === "not_found") {
    return (
      <section>
        <h1>Post not found</h1>
        <p>
          This post was deleted, or never existed. Its <a href={`/history/${id}`}>history</a> is kept.
        </p>
        <p>
          <a href="/posts">Back to the posts</a>
        </p>
      </section>
    );
  }
  if (!post.data) {
    return post.error ? <ErrorNote error={post.error} onRetry={() => post.reload()} /> : <Loading what="Loading the post" />;
  }
  return (
    <section class="post-detail">
      <p class="crumbs">
        <a href="/posts">← Posts</a> · <a href={`/history/${id}`}>History</a> <LiveBadge connected={live} />
      </p>
      <ErrorNote error={post.error} />
      <PostBody post={post.data} session={session} onChanged={() => post.reload()} />
      <Comments post={post.data} session={session} onChanged={() => post.reload()} />
    </section>
  );
}

function PostBody({ post, session, onChanged }: { post: Post; session: Session | null; onChanged: () => void }) {
  const action = useAction();
  const [editing, setEditing] = useState(false);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const isAuthor = session?.subject === post.author;

  const like = () =>
    action.run(async () => {
      await (post.liked_by_caller ? posts.unlikePost(post.post_id) : posts.likePost(post.post_id));
      onChanged();
    });
  const save = (message: string) =>
    action.run(async () => {
      await posts.editPost(post.post_id, message);
      setEditing(false);
      onChanged();
    });
  const remove = () =>
    action.run(async () => {
      await posts.deletePost(post.post_id);
      navigate("/posts");
    });

  return (
    <article class="card post">
      <p class="meta">
        <strong>{post.author}</strong> · {formatTime(post.created_at)}
        {post.edited_at && <> · edited {formatTime(post.edited_at)}</>}
      </p>
      {editing ? (
        <TextEditor
          initial={post.message}
          label="Message"
          busy={action.busy}
          onSave={save}
          onCancel={() => {
            setEditing(false);
            action.clear();
          }}
        />
      ) : (
        <p class="message large" data-testid="post-message">
          {post.message}
        </p>
      )}
      <div class="toolbar">
        <span class="count" data-testid="like-count" aria-label="likes">
          {post.like_count}
        </span>
        <span class="muted">{post.like_count === 1 ? "like" : "likes"}</span>
        {session && (
          <button type="button" onClick={like} disabled={action.busy} aria-pressed={post.liked_by_caller}>
            {post.liked_by_caller ? "Unlike" : "Like"}
          </button>
        )}
        {isAuthor && !editing && (
          <button type="button" onClick={() => setEditing(true)} disabled={action.busy}>
            Edit
          </button>
        )}
        {isAuthor && !confirmDelete && (
          <button type="button" class="danger" onClick={() => setConfirmDelete(true)} disabled={action.busy}>
            Delete
          </button>
        )}
        {isAuthor && confirmDelete && (
          <span class="confirm">
            Delete this post?{" "}
            <button type="button" class="danger" onClick={remove} disabled={action.busy}>
              Yes, delete
            </button>
            <button type="button" onClick={() => setConfirmDelete(false)}>
              Keep it
            </button>
          </span>
        )}
        {!session && <a href={`/sign-in?next=/posts/${post.post_id}`}>Sign in to like or comment</a>}
      </div>
      <ErrorNote error={action.error} />
    </article>
  );
}

function Comments({ post, session, onChanged }: { post: Post; session: Session | null; onChanged: () => void }) {
  const comments = post.comments ?? [];
  return (
    <section class="comments" aria-label="Comments">
      <h2>{count(comments.length, "comment")}</h2>
      <ul class="plain" data-testid="comments">
        {comments.map((c) => (
          <CommentItem key={c.comment_id} postId={post.post_id} comment={c} session={session} onChanged={onChanged} />
        ))}
      </ul>
      {session && <AddComment postId={post.post_id} onAdded={onChanged} />}
    </section>
  );
}

function CommentItem({ postId, comment, session, onChanged }: {
  postId: string;
  comment: Comment;
  session: Session | null;
  onChanged: () => void;
}) {
  const action = useAction();
  const [editing, setEditing] = useState(false);
  const mine = session?.subject === comment.author;
  return (
    <li class="comment" data-testid="comment">
      <p class="meta">
        <strong>{comment.author}</strong> · {formatTime(comment.created_at)}
        {comment.edited_at && " · edited"}
      </p>
      {editing ? (
        <TextEditor
          initial={comment.text}
          label="Comment"
          busy={action.busy}
          onSave={(text) =>
            action.run(async () => {
              await posts.editComment(postId, comment.comment_id, text);
              setEditing(false);
              onChanged();
            })
          }
          onCancel={() => setEditing(false)}
        />
      ) : (
        <p class="comment-text">{comment.text}</p>
      )}
      {mine && !editing && (
        <div class="toolbar small">
          <button type="button" class="link" onClick={() => setEditing(true)}>
            Edit
          </button>
          <button
            type="button"
            class="link danger"
            disabled={action.busy}
            onClick={() =>
              action.run(async () => {
                await posts.removeComment(postId, comment.comment_id);
                onChanged();
              })
            }
          >
            Remove
          </button>
        </div>
      )}
      <ErrorNote error={action.error} />
    </li>
  );
}

function AddComment({ postId, onAdded }: { postId: string; onAdded: () => void }) {
  const action = useAction();
  const [text, setText] = useState("");
  const submit = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      await posts.addComment(postId, text);
      setText("");
      onAdded();
    });
  };
  return (
    <form class="stack" onSubmit={submit}>
      <label>
        Add a comment
        <textarea
          name="comment"
          rows={3}
          maxLength={1000}
          value={text}
          onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
          required
        />
      </label>
      <ErrorNote error={action.error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={action.busy || !text.trim()}>
          {action.busy ? "Posting…" : "Comment"}
        </button>
      </div>
    </form>
  );
}

/** A textarea with Save and Cancel, for editing a post's message or a comment. */
function TextEditor({ initial, label, busy, onSave, onCancel }: {
  initial: string;
  label: string;
  busy: boolean;
  onSave: (text: string) => void;
  onCancel: () => void;
}) {
  const [text, setText] = useState(initial);
  return (
    <form
      class="stack"
      onSubmit={(e) => {
        e.preventDefault();
        onSave(text);
      }}
    >
      <label>
        {label}
        <textarea rows={4} value={text} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />
      </label>
      <div class="actions">
        <button type="submit" class="primary" disabled={busy || !text.trim() || text === initial}>
          Save
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
