// End-to-end tests of the web UI against the full running stack (scripts/run.sh): real gateway,
// command and query services, MongoDB-wire event store, Kafka broker and Postgres. The tests run
// in order and build on each other (the second user looks at the first user's post).
//
// Run: npm --prefix web run e2e   (E2E_BASE_URL, CHROMIUM, E2E_SCREENSHOTS override the defaults)

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  BASE_URL,
  RUN,
  SCREENSHOTS,
  clearScreenshots,
  launchBrowser,
  newUser,
  screenshot,
  signIn,
  waitForReadSide,
  waitForText,
} from "./harness.mjs";

const alice = `alice-${RUN}`;
const bob = `bob-${RUN}`;
const carol = `carol-staff-${RUN}`;
const postMessage = `Hello from the browser test ${RUN}`;
const customerName = `Ada Tester ${RUN}`;

let browser;
let alicePage;
let postUrl;

before(async () => {
  console.log(`browser tests against ${BASE_URL}; screenshots in ${SCREENSHOTS}`);
  await clearScreenshots();
  const waited = await waitForReadSide();
  console.log(`the read side is projecting (waited ${(waited / 1000).toFixed(1)} s)`);
  browser = await launchBrowser();
  alicePage = await newUser(browser);
});

after(async () => {
  await browser?.close();
  console.log(`screenshots saved in ${SCREENSHOTS}`);
});

describe("posts", () => {
  test("a user signs in, writes a post, comments and likes it, and sees one like", async () => {
    const page = alicePage;
    await page.goto("/sign-in");
    await screenshot(page, "sign-in");
    await signIn(page, alice);
    await page.waitForURL("**/posts");

    await page.getByRole("link", { name: "New post" }).click();
    await page.getByLabel("Message").fill(postMessage);
    await screenshot(page, "new-post");
    await page.getByRole("button", { name: "Publish" }).click();
    await page.waitForURL(/\/posts\/[0-9a-f-]{36}$/);
    postUrl = new URL(page.url()).pathname;
    // Read-your-writes: the post's page shows it at once, though the read side is asynchronous.
    assert.equal(await waitForText(page.getByTestId("post-message"), postMessage), postMessage);
    assert.equal(await waitForText(page.getByTestId("like-count"), "0"), "0");

    await page.getByLabel("Add a comment").fill("First!");
    await page.getByRole("button", { name: "Comment", exact: true }).click();
    await waitForText(page.getByTestId("comment").locator(".comment-text"), "First!");

    await page.getByRole("button", { name: "Like", exact: true }).click();
    assert.equal(await waitForText(page.getByTestId("like-count"), "1"), "1");
    await page.getByRole("button", { name: "Unlike" }).waitFor();
    // The author may edit and delete their own post (and their own comment).
    const post = page.locator("article.post");
    assert.equal(await post.getByRole("button", { name: "Edit", exact: true }).count(), 1);
    assert.equal(await post.getByRole("button", { name: "Delete", exact: true }).count(), 1);
    assert.equal(await page.getByTestId("comment").getByRole("button", { name: "Edit" }).count(), 1);
    await screenshot(page, "post-detail");

    await page.goto(`/posts?author=${alice}`);
    const card = page.getByTestId("post-list").locator("li", { hasText: postMessage });
    await card.waitFor();
    assert.equal(await waitForText(card.getByTestId("likes"), "♥ 1 like"), "♥ 1 like");
    assert.equal(await card.getByTestId("comment-count").textContent(), "1 comment");
    await screenshot(page, "posts");
    assert.deepEqual(page.appErrors, []);
  });

  test("another user sees no edit button, is refused a direct edit, and their like shows live", async () => {
    assert.ok(postUrl, "the previous test created a post");
    await alicePage.goto(postUrl);
    await waitForText(alicePage.getByTestId("like-count"), "1");
    await alicePage.locator(".live.on").first().waitFor(); // alice's page follows the live stream

    const page = await newUser(browser);
    await signIn(page, bob);
    await page.goto(postUrl);
    assert.equal(await waitForText(page.getByTestId("post-message"), postMessage), postMessage);
    await page.getByRole("button", { name: "Like", exact: true }).waitFor();
    assert.equal(await page.getByRole("button", { name: "Edit" }).count(), 0, "no Edit button for bob");
    assert.equal(await page.getByRole("button", { name: /Delete|Remove/ }).count(), 0, "no Delete button for bob");
    assert.equal(await page.getByRole("link", { name: "Admin" }).count(), 0, "no admin page for bob");

    // Hidden buttons are not the protection: the server refuses the edit itself.
    const postId = postUrl.split("/").pop();
    const refused = await page.evaluate(async (id) => {
      try {
        await window.cqrsplus.posts.editPost(id, "edited by someone else");
        return { status: 200 };
      } catch (e) {
        return { status: e.status, code: e.code, text: window.cqrsplus.plainMessage(e) };
      }
    }, postId);
    assert.equal(refused.status, 403);
    assert.equal(refused.code, "permission_denied");
    assert.match(refused.text, /^You are not allowed to do that\./);

    // Bob likes the post; alice's page, left open, updates without a reload.
    await page.getByRole("button", { name: "Like", exact: true }).click();
    assert.equal(await waitForText(page.getByTestId("like-count"), "2"), "2");
    assert.equal(await waitForText(alicePage.getByTestId("like-count"), "2"), "2");
    assert.equal(await alicePage.getByTestId("post-message").textContent(), postMessage, "the edit was not applied");
    await screenshot(page, "post-as-other-user");
    await page.context().close();
  });

  test("the post's history shows its events and its state as of an earlier version", async () => {
    const page = alicePage;
    await page.goto(`/history${postUrl.replace("/posts", "")}`);
    const timeline = page.getByTestId("timeline");
    await timeline.locator("li", { hasText: "Post created" }).waitFor();
    await timeline.locator("li", { hasText: "Comment added" }).waitFor();
    assert.equal(await timeline.locator("li", { hasText: "Post liked" }).count(), 2);
    await timeline.getByRole("button", { name: /v1\b/ }).click();
    await page.getByRole("heading", { name: /State as of version 1/ }).waitFor();
    assert.match(await page.getByTestId("state").textContent(), /Likes\s*empty/);
    await screenshot(page, "history");
  });
});

describe("customers, orders and reports", () => {
  let customerUrl;
  let staffPage;

  test("a user without the staff role sees no customer data and is told why", async () => {
    const page = alicePage;
    await page.goto("/posts");
    await page.getByRole("link", { name: "Posts" }).waitFor();
    assert.equal(await page.getByRole("link", { name: "Customers" }).count(), 0, "no Customers link");
    assert.equal(await page.getByRole("link", { name: "Reports" }).count(), 0, "no Reports link");
    await page.goto("/customers");
    const notice = page.getByTestId("staff-only");
    await notice.getByRole("heading", { name: "For staff only" }).waitFor();
    assert.match(await notice.textContent(), /personal data/);
    await screenshot(page, "customers-not-staff");
  });

  test("invalid input is explained in plain words", async () => {
    staffPage = await newUser(browser);
    await signIn(staffPage, carol, { role: "staff" });
    await staffPage.getByRole("link", { name: "Customers" }).waitFor();
    const page = staffPage;
    await page.goto("/customers/new");
    await page.getByLabel("Name").fill(customerName);
    await page.getByLabel("Email").fill("not-an-email");
    await page.getByLabel("Region").fill("emea");
    await page.getByRole("button", { name: "Register" }).click();
    const alert = page.getByRole("alert").first();
    await alert.waitFor();
    const text = await alert.textContent();
    assert.match(text, /^Please check: Email /);
    assert.doesNotMatch(text, /[{}]|invalid_argument/, "no raw JSON or codes");
    await screenshot(page, "customer-form-error");
  });

  test("staff register a customer and place an order with several items", async () => {
    const page = staffPage;
    await page.getByLabel("Email").fill(`ada.${RUN}@example.com`);
    await page.getByLabel("Segment").selectOption("corporate");
    await page.getByRole("button", { name: "Register" }).click();
    await page.waitForURL(/\/customers\/[0-9a-f-]{36}$/);
    customerUrl = new URL(page.url()).pathname;
    await waitForText(page.getByTestId("customer-name"), customerName);
    await screenshot(page, "customer");

    await page.getByRole("link", { name: "Place an order" }).click();
    // A price that grows with time keeps this run's customer first in "top customers by revenue"
    // however many earlier runs left theirs in the same database.
    const bigPrice = (Math.floor(Date.now() / 1000) / 100).toFixed(2);
    const rows = page.getByTestId("item-row");
    await rows.nth(0).getByLabel("Product code").fill("SKU-BIG");
    await rows.nth(0).getByLabel("Name").fill("Grand piano");
    await rows.nth(0).getByLabel("Unit price").fill(bigPrice);
    await page.getByRole("button", { name: "+ Add an item" }).click();
    await rows.nth(1).getByLabel("Product code").fill("SKU-PEN");
    await rows.nth(1).getByLabel("Name").fill("Pencil");
    await rows.nth(1).getByLabel("Unit price").fill("1.25");
    await rows.nth(1).getByLabel("Quantity").fill("4");
    const expectedTotal = new Intl.NumberFormat("en-GB", { style: "currency", currency: "EUR" }).format(
      Number(bigPrice) + 5,
    );
    await waitForText(page.getByTestId("order-total"), expectedTotal);
    await screenshot(page, "order-new");
    await page.getByRole("button", { name: "Place order" }).click();

    await page.waitForURL(/\/orders\/[0-9a-f-]{36}$/);
    await waitForText(page.getByTestId("order-status"), "Placed");
    assert.equal(await waitForText(page.getByTestId("order-total"), expectedTotal), expectedTotal);
    await page.getByRole("button", { name: "Ship" }).click();
    await waitForText(page.getByTestId("order-status"), "Shipped");
    assert.equal(await page.getByRole("button", { name: "Cancel order" }).count(), 0, "a shipped order cannot be cancelled");
    await page.getByRole("button", { name: "Mark delivered" }).click();
    await waitForText(page.getByTestId("order-status"), "Delivered");
    await screenshot(page, "order");

    await page.goto(customerUrl);
    await page.getByTestId("order-table").locator("tr", { hasText: "Delivered" }).waitFor();
  });

  test("the order appears in the reports", async () => {
    const page = staffPage;
    await page.goto("/reports");
    const top = page.getByTestId("report-top-customers");
    const row = top.locator("tbody tr", { hasText: customerName });
    await row.waitFor();
    assert.equal((await row.locator("td").first().textContent()).trim(), "1", "ranked first by revenue");
    await top.getByTestId("bar").filter({ hasText: customerName }).waitFor();
    await page.getByTestId("report-monthly").locator("svg rect").first().waitFor();
    await screenshot(page, "reports");
  });

  test("the customers list shows the new customer", async () => {
    const page = staffPage;
    await page.goto("/customers?segment=corporate");
    await page.getByTestId("customer-table").getByRole("link", { name: customerName }).waitFor();
    await screenshot(page, "customers");
  });
});

describe("admin and small screens", () => {
  test("an admin sees the dead letters and the rebuild controls", async () => {
    const page = await newUser(browser);
    await signIn(page, `admin-${RUN}`, { role: "admin" });
    await page.getByRole("link", { name: "Admin" }).click();
    await page.getByRole("heading", { name: "Rebuild the read model" }).waitFor();
    await page.getByRole("heading", { name: "Dead letters" }).waitFor();
    await page.getByRole("button", { name: /Start a rebuild|Rebuilding/ }).waitFor();
    await page.locator(".empty, [data-testid=dead-letters]").first().waitFor();
    await screenshot(page, "admin");
    await page.context().close();
  });

  test("pages fit a 375 px wide phone screen", async () => {
    const page = await newUser(browser, { width: 375, height: 740 });
    await signIn(page, carol, { role: "staff" });
    for (const [path, ready, name] of [
      ["/posts", "post-list", "posts-phone"],
      [postUrl, "like-count", "post-phone"],
      ["/reports", "report-top-customers", "reports-phone"],
    ]) {
      await page.goto(path);
      await page.getByTestId(ready).first().waitFor();
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `${path} is ${width}px wide on a 375px screen`);
      await screenshot(page, name);
    }
    await page.context().close();
  });
});
