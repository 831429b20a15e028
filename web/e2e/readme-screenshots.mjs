// Makes the README's screenshots (docs/screenshots/*.png): seeds a small, readable data set
// through the REST API, then photographs a few pages in Debian's Chromium. Best run against a
// stack with empty databases, so the reports show only this data, e.g. with a .env that names a
// fresh MONGODB_DATABASE, DATABASE_URL and KAFKA_TOPIC_PREFIX.
//
// Run: node web/e2e/readme-screenshots.mjs   (E2E_BASE_URL as for the browser tests)

import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BASE_URL, launchBrowser, newUser, signIn, waitForReadSide } from "./harness.mjs";

const OUT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "screenshots");

async function api(user, method, path, body) {
  const response = await fetch(`${BASE_URL}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${user.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function user(name) {
  const response = await fetch(`${BASE_URL}/api/v1/dev/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ subject: name }),
  });
  return { name, ...(await response.json()) };
}

async function seed() {
  const [ada, grace, linus] = await Promise.all(["ada", "grace", "linus"].map(user));
  const post = await api(ada, "POST", "/posts", {
    message:
      "Event sourcing in practice: every like and comment on this post is an event, and its History page shows the post as of any of them.",
  });
  const id = post.aggregate_id;
  await api(grace, "POST", `/posts/${id}/comments`, { text: "The read side caught up before I finished typing." });
  await api(linus, "POST", `/posts/${id}/comments`, { text: "And the timeline says who did what, and when." });
  await api(grace, "POST", `/posts/${id}/likes`);
  await api(linus, "POST", `/posts/${id}/likes`);
  const other = await api(grace, "POST", "/posts", { message: "Reports are SQL views over the read model: analysts can query them too." });
  await api(ada, "POST", `/posts/${other.aggregate_id}/likes`);

  const customers = {};
  for (const [key, name, email, segment, region] of [
    ["northwind", "Northwind Traders", "orders@northwind.example", "corporate", "emea"],
    ["maria", "Maria Anders", "maria@example.com", "consumer", "emea"],
    ["blueridge", "Blue Ridge Studio", "hello@blueridge.example", "home_office", "americas"],
    ["kenji", "Kenji Sato", "kenji@example.jp", "consumer", "apac"],
  ]) {
    customers[key] = (await api(ada, "POST", "/customers", { name, email, segment, region })).aggregate_id;
  }
  const item = (sku, name, price, quantity) => ({ sku, name, unit_price_minor: price, quantity });
  const order = (customer, items) => api(ada, "POST", `/customers/${customers[customer]}/orders`, { currency: "EUR", items });
  const big = await order("northwind", [
    item("DESK-OAK", "Oak desk", 48900, 2),
    item("CHAIR-ERG", "Ergonomic chair", 21950, 4),
    item("PEN-BLK", "Black pen (box)", 450, 10),
  ]);
  await api(ada, "POST", `/orders/${big.aggregate_id}/ship`);
  await api(ada, "POST", `/orders/${big.aggregate_id}/deliver`);
  const shipped = await order("maria", [item("LAMP-01", "Reading lamp", 3900, 1), item("BULB-E27", "LED bulb", 399, 3)]);
  await api(ada, "POST", `/orders/${shipped.aggregate_id}/ship`);
  await order("blueridge", [item("MON-27", "27-inch monitor", 27900, 2), item("CABLE-HD", "HDMI cable", 899, 2)]);
  await order("kenji", [item("NOTE-A5", "A5 notebook", 650, 6), item("PEN-BLK", "Black pen (box)", 450, 2)]);
  const cancelled = await order("maria", [item("RUG-XL", "Large rug", 15900, 1)]);
  await api(ada, "POST", `/orders/${cancelled.aggregate_id}/cancel`, { reason: "Ordered the wrong size" });
  return { postId: id, orderId: big.aggregate_id };
}

async function shoot(page, name, { fullPage = false } = {}) {
  const path = join(OUT, `${name}.png`);
  await page.screenshot({ path, fullPage });
  console.log(`wrote ${path}`);
}

await waitForReadSide();
const { postId, orderId } = await seed();
await mkdir(OUT, { recursive: true });
const browser = await launchBrowser();
try {
  const page = await newUser(browser, { width: 1100, height: 680 });
  await signIn(page, "ada", { role: "staff" });
  await page.goto(`/posts/${postId}`);
  await page.getByTestId("comment").nth(1).waitFor();
  await page.getByTestId("like-count").filter({ hasText: "2" }).waitFor();
  await shoot(page, "post");

  await page.goto(`/history/${postId}?v=3`);
  await page.getByRole("heading", { name: /State as of version 3/ }).waitFor();
  await shoot(page, "history");

  await page.goto(`/orders/${orderId}`);
  await page.getByTestId("order-status").filter({ hasText: "Delivered" }).waitFor();
  await shoot(page, "order");

  await page.setViewportSize({ width: 1100, height: 900 });
  await page.goto("/reports");
  await page.getByTestId("report-top-customers").getByText("Kenji Sato").first().waitFor();
  await shoot(page, "reports");

  const phone = await newUser(browser, { width: 375, height: 720 });
  await signIn(phone, "grace");
  await phone.goto(`/posts/${postId}`);
  await phone.getByTestId("comment").nth(1).waitFor();
  await shoot(phone, "post-phone");
} finally {
  await browser.close();
}
