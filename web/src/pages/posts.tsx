// The posts list: the filters of CQRS Plus (all, by author, with comments, at least n likes), an
// order, and paging. Filters live in the address, so a filtered list can be bookmarked; the list
// reloads when any post changes.

import { useRef } from "preact/hooks";
import { listPosts } from "../api/posts";
import type { Post, PostSort } from "../api/types";
import { ErrorNote, Empty, LiveBadge, Loading } from "../components/feedback";
import { PagerControls, usePager } from "../components/pager";
import { count, formatTime } from "../format";
import { latestVersions, useLiveEvents, useLoad, useSession } from "../hooks";
import { navigate } from "../router";

const SORTS: Array<[PostSort, string]> = [
  ["newest", "Newest first"],
  ["oldest", "Oldest first"],
  ["most_liked", "Most liked"],
  ["most_commented", "Most commented"],
];

export function PostsPage({ query }: { query: URLSearchParams }) {
  const session = useSession();
  const author = query.get("author") ?? "";
  const withComments = query.get("with_comments") === "1";
  const minLikes = Math.max(0, Number(query.get("min_likes") ?? 0) || 0);
  const sort = (query.get("sort") as PostSort | null) ?? "newest";
  const filterKey = `${author}|${withComments}|${minLikes}|${sort}`;
  const pager = usePager(filterKey);
  // Versions the live stream announced, for the next load only (see useLiveEvents below).
  const seen = useRef<Array<[string, number]>>([]);

  const posts = useLoad(
    (signal) => {
      const announced = seen.current;
      seen.current = [];
      return listPosts(
        { author, onlyWithComments: withComments, minLikes, sort, pageSize: 10, pageToken: pager.token || undefined },
        signal,
        announced,
      );
    },
    [filterKey, pager.token],
  );
  const live = useLiveEvents({ aggregateType: "post" }, (events) => {
    // Ask for a list that already reflects what was announced (the projection may lag the feed).
    seen.current = events ? latestVersions(events) : [];
    posts.reload();
  });

  const apply = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const params = new URLSearchParams();
    const a = String(form.get("author") ?? "").trim();
    if (a) params.set("author", a);
    if (form.get("with_comments")) params.set("with_comments", "1");
    const likes = Number(form.get("min_likes") ?? 0);
    if (likes > 0) params.set("min_likes", String(Math.floor(likes)));
    const s = String(form.get("sort") ?? "newest");
    if (s !== "newest") params.set("sort", s);
    const qs = params.toString();
    navigate(qs ? `/posts?${qs}` : "/posts");
  };

  return (
    <section>
      <div class="title-row">
        <h1>
          Posts <LiveBadge connected={live} />
        </h1>
        {session ? (
          <a class="button primary" href="/posts/new">
            New post
          </a>
        ) : (
          <a href="/sign-in?next=/posts/new">Sign in to write a post</a>
        )}
      </div>

      <form class="filters" onSubmit={apply} key={filterKey} aria-label="Filter posts">
        <label>
          Author
          <input name="author" defaultValue={author} placeholder="anyone" autocomplete="off" />
        </label>
        <label class="check">
          <input type="checkbox" name="with_comments" defaultChecked={withComments} /> With comments
        </label>
        <label>
          At least
          <span class="inline">
            <input name="min_likes" type="number" min="0" step="1" defaultValue={String(minLikes)} class="narrow" />
            likes
          </span>
        </label>
        <label>
          Order
          <select name="sort" defaultValue={sort}>
            {SORTS.map(([value, text]) => (
              <option key={value} value={value}>
                {text}
              </option>
            ))}
          </select>
        </label>
        <div class="actions">
          <button type="submit">Apply</button>
          {(author || withComments || minLikes > 0 || sort !== "newest") && (
            <a href="/posts" class="button">
              Show all
            </a>
          )}
        </div>
      </form>

      <ErrorNote error={posts.error} onRetry={() => posts.reload()} />
      {!posts.data && !posts.error && <Loading what="Loading posts" />}
      {posts.data && (
        <>
          {posts.data.posts.length === 0 ? (
            <Empty>No posts match. {session && <a href="/posts/new">Write the first one.</a>}</Empty>
          ) : (
            <ul class="cards" data-testid="post-list">
              {posts.data.posts.map((p) => (
                <PostCard key={p.post_id} post={p} />
              ))}
            </ul>
          )}
          <PagerControls
            pager={pager}
            nextToken={posts.data.next_page_token}
            total={posts.data.total_size}
            shown={posts.data.posts.length}
          />
        </>
      )}
    </section>
  );
}

function PostCard({ post }: { post: Post }) {
  return (
    <li class="card">
      <a class="card-link" href={`/posts/${post.post_id}`}>
        <p class="message">{post.message}</p>
        <p class="meta split">
          <span>
            by <strong>{post.author}</strong> · {formatTime(post.created_at)}
            {post.edited_at && " · edited"}
          </span>
          <span class="counts">
            <span data-testid="likes">♥ {count(post.like_count, "like")}</span>
            <span data-testid="comment-count">{count(post.comment_count, "comment")}</span>
          </span>
        </p>
      </a>
    </li>
  );
}
