// Writing a new post. On success the post's own page opens, reading it at the version the
// command returned, so it is there even if the read model is a moment behind.

import { useState } from "preact/hooks";
import { createPost } from "../api/posts";
import { ErrorNote } from "../components/feedback";
import { useAction, useSession } from "../hooks";
import { navigate } from "../router";
import { SignInFirst } from "./sign-in";

export const MAX_MESSAGE_CHARS = 2000;

export function NewPostPage() {
  const session = useSession();
  const action = useAction();
  const [message, setMessage] = useState("");
  if (!session) return <SignInFirst what="write a post" next="/posts/new" />;

  const submit = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const reply = await createPost(message);
      navigate(`/posts/${reply.aggregate_id}`);
    });
  };
  return (
    <section>
      <p class="crumbs">
        <a href="/posts">← Posts</a>
      </p>
      <h1>New post</h1>
      <form class="stack card" onSubmit={submit}>
        <label>
          Message
          <textarea
            name="message"
            rows={6}
            maxLength={MAX_MESSAGE_CHARS}
            value={message}
            onInput={(e) => setMessage((e.currentTarget as HTMLTextAreaElement).value)}
            placeholder="What would you like to say?"
            required
          />
        </label>
        <p class="muted small">
          {message.length} / {MAX_MESSAGE_CHARS}
        </p>
        <ErrorNote error={action.error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={action.busy || !message.trim()}>
            {action.busy ? "Publishing…" : "Publish"}
          </button>
          <a class="button" href="/posts">
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}
