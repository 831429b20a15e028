// Entry point: mounts the app and routes link clicks through the client-side router.
import { render } from "preact";
import * as customers from "./api/customers";
import * as posts from "./api/posts";
import { App } from "./app";
import { plainMessage } from "./errors";
import { interceptLinks } from "./router";
import "./styles.css";

// The API client on `window`, for the browser console and the end-to-end tests (which check that
// the server, not only the hidden buttons, refuses what a user may not do). It adds no power: the
// REST API is public and the token is the user's own.
Object.assign(window, { cqrsplus: { posts, customers, plainMessage } });

const root = document.getElementById("app")!;
interceptLinks(document.body);
render(<App />, root);
