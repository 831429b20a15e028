// Posts, likes and comments. Every write is recorded in the write log, so the next read of the
// post (or of the post list) waits until it shows that write.

import { writes } from "./consistency";
import { readConsistent, request } from "./http";
import type { CommandReply, Post, PostPage, PostSort } from "./types";

export interface PostFilter {
  author?: string;
  onlyWithComments?: boolean;
  minLikes?: number;
  sort?: PostSort;
  pageSize?: number;
  pageToken?: string;
}

export function listPosts(filter: PostFilter, signal?: AbortSignal, seen: Array<[string, number]> = []) {
  return readConsistent<PostPage>("/posts", {
    signal,
    query: {
      author: filter.author?.trim(),
      only_with_comments: filter.onlyWithComments,
      min_likes: filter.minLikes || undefined,
      sort: filter.sort,
      page_size: filter.pageSize,
      page_token: filter.pageToken,
      consistent_with: writes.listTokens("post", seen),
    },
  });
}

/** One post with its comments, at least at `atLeast` (a version seen on the live stream). */
export function getPost(id: string, signal?: AbortSignal, atLeast = 0) {
  const min = Math.max(writes.minVersion(id) ?? 0, atLeast);
  return readConsistent<Post>(`/posts/${id}`, {
    signal,
    query: { include_comments: true, min_version: min || undefined },
  });
}

async function postCommand(path: string, method: "POST" | "PATCH" | "DELETE", body?: unknown) {
  const reply = await request<CommandReply>(path, { method, body });
  writes.record("post", reply.aggregate_id, reply.version);
  return reply;
}

export const createPost = (message: string) => postCommand("/posts", "POST", { message });
export const editPost = (id: string, message: string) => postCommand(`/posts/${id}`, "PATCH", { message });
export const deletePost = (id: string) => postCommand(`/posts/${id}`, "DELETE");
export const likePost = (id: string) => postCommand(`/posts/${id}/likes`, "POST");
export const unlikePost = (id: string) => postCommand(`/posts/${id}/likes`, "DELETE");
export const addComment = (id: string, text: string) => postCommand(`/posts/${id}/comments`, "POST", { text });
export const editComment = (id: string, commentId: string, text: string) =>
  postCommand(`/posts/${id}/comments/${commentId}`, "PATCH", { text });
export const removeComment = (id: string, commentId: string) =>
  postCommand(`/posts/${id}/comments/${commentId}`, "DELETE");
