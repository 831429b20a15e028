// What the browser tests share: Debian's chromium driven by playwright-core (no browser download),
// one fresh browser profile per run, one context per user, screenshots into a git-ignored folder,
// and waiting helpers that poll the page instead of sleeping.

import { mkdir, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const BASE_URL = (process.env.E2E_BASE_URL ?? "http://127.0.0.1:8080").replace(/\/$/, "");
export const SCREENSHOTS = resolve(
  process.env.E2E_SCREENSHOTS ?? join(dirname(fileURLToPath(import.meta.url)), "..", "test-results", "screenshots"),
);
/** Long enough for a cold projection on 2 busy cores, short enough to fail a stuck page fast. */
export const TIMEOUT_MS = Number(process.env.E2E_TIMEOUT_MS ?? 20_000);

/** A tag that makes this run's names unique, so runs against the same database do not collide. */
export const RUN = Date.now().toString(36);

/** The post the tests toggle a like on to see that the read side projects (made once per database). */
const WARM_UP_POST = "0190a0b0-0000-7000-8000-0000000000e2";

/**
 * Waits until the read side projects new events. /readyz only says the services answer; right
 * after query-service (re)starts, its consumer may still be joining its group, and every page
 * would wait for its own writes in vain. One like (or unlike) of a fixed post, read back with
 * min_version, proves the whole path: command, event store, relay, broker, projection.
 */
export async function waitForReadSide(limitMs = 180_000) {
  const api = (path, init = {}) => fetch(`${BASE_URL}/api/v1${path}`, init);
  const signIn = await api("/dev/sign-in", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ subject: "e2e-warm-up" }),
  });
  if (!signIn.ok) throw new Error(`dev sign-in answered ${signIn.status}: is DEV_MODE=true?`);
  const { token } = await signIn.json();
  const auth = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  // Already there after the first run: then this is a 409 and changes nothing.
  await api("/posts", {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ post_id: WARM_UP_POST, message: "The browser tests like and unlike this post to check that the read side is up to date." }),
  });
  const history = await (await api(`/streams/${WARM_UP_POST}/events`)).json();
  const liked = history.state?.likes?.includes("e2e-warm-up");
  const write = await api(`/posts/${WARM_UP_POST}/likes`, { method: liked ? "DELETE" : "POST", headers: auth });
  if (!write.ok) throw new Error(`warm-up write answered ${write.status}: ${await write.text()}`);
  const { version } = await write.json();
  const started = Date.now();
  while (Date.now() - started < limitMs) {
    const read = await api(`/posts/${WARM_UP_POST}?min_version=${version}`);
    if (read.ok) return Date.now() - started;
    if (read.status !== 503 && read.status !== 404) throw new Error(`warm-up read answered ${read.status}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the read side did not project a new event within ${limitMs / 1000} s`);
}

/** Empties the screenshot folder, so it holds this run's pictures only. */
export async function clearScreenshots() {
  await rm(SCREENSHOTS, { recursive: true, force: true });
  await mkdir(SCREENSHOTS, { recursive: true });
}

export async function launchBrowser() {
  // launch() gives every run a fresh temporary profile (user-data-dir) and removes it on close.
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      // This machine's network is closed: without these Chromium keeps dialling Google's hosts.
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/** A new user's window: its own cookies and localStorage, so each user has their own session. */
export async function newUser(browser, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport, baseURL: BASE_URL, locale: "en-GB", timezoneId: "UTC" });
  context.setDefaultTimeout(TIMEOUT_MS);
  const page = await context.newPage();
  // Uncaught errors in the app fail the test that caused them.
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  page.appErrors = errors;
  return page;
}

let shots = 0;
/** Saves a full-page screenshot named after what it shows; returns its path. */
export async function screenshot(page, name) {
  await mkdir(SCREENSHOTS, { recursive: true });
  shots += 1;
  const path = join(SCREENSHOTS, `${String(shots).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Signs in through the sign-in page and waits until the header names the user. */
/** Signs in through the development sign-in as `name` with a role: "user", "staff" or "admin". */
export async function signIn(page, name, { role = "user" } = {}) {
  const titles = { user: /^User/, staff: /^Staff/, admin: /^Administrator/ };
  await page.goto("/sign-in");
  await page.getByLabel("Your name").fill(name);
  await page.getByRole("radio", { name: titles[role] }).check();
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByTestId("signed-in-as").filter({ hasText: name }).waitFor();
}

/** Waits until `locator`'s text, trimmed, equals `expected`; then returns it. */
export async function waitForText(locator, expected) {
  const pattern = expected instanceof RegExp ? expected : new RegExp(`^\\s*${escape(expected)}\\s*$`);
  try {
    await locator.filter({ hasText: pattern }).first().waitFor();
  } catch (e) {
    // What the page showed instead is the quickest clue.
    console.log(`waiting for ${pattern}: see ${await screenshot(locator.page(), "failure")}`);
    throw e;
  }
  return (await locator.first().textContent())?.trim();
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
