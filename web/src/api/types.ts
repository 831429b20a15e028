// The JSON shapes of the gateway's REST API (/api/v1), as gateway/src/routes/*.rs serialize them.
// Field names stay snake_case, exactly as on the wire, so nothing is renamed in between.

/** What every accepted command answers. */
export interface CommandReply {
  aggregate_id: string;
  /** The aggregate's version after the command: read with min_version to see the write. */
  version: number;
  command_id: string;
  already_applied: boolean;
  comment_id?: string;
}

/** Integer minor units and an ISO 4217 code: 1250 EUR is 12.50 EUR. */
export interface Money {
  amount_minor: number;
  currency: string;
}

export interface Post {
  post_id: string;
  author: string;
  message: string;
  like_count: number;
  comment_count: number;
  liked_by_caller: boolean;
  created_at: string;
  edited_at?: string;
  version: number;
  comments?: Comment[];
}

export interface Comment {
  comment_id: string;
  post_id: string;
  author: string;
  text: string;
  created_at: string;
  edited_at?: string;
}

export interface PostPage {
  posts: Post[];
  next_page_token: string;
  total_size: number;
}

export type PostSort = "newest" | "oldest" | "most_liked" | "most_commented";

export interface Customer {
  customer_id: string;
  name: string;
  email: string;
  phone?: string;
  segment: string;
  region: string;
  registered_at: string;
  updated_at?: string;
  version: number;
}

export interface CustomerPage {
  customers: Customer[];
  next_page_token: string;
  total_size: number;
}

/** What registering or updating a customer sends. */
export interface CustomerDetails {
  name: string;
  email: string;
  phone?: string;
  segment: string;
  region: string;
}

export type OrderStatus = "placed" | "shipped" | "delivered" | "cancelled" | "unknown";

export interface OrderLine {
  sku: string;
  name: string;
  unit_price: Money;
  quantity: number;
  line_total: Money;
}

export interface Order {
  order_id: string;
  customer_id: string;
  customer_name: string;
  status: OrderStatus;
  currency: string;
  items: OrderLine[];
  total: Money;
  placed_at: string;
  shipped_at?: string;
  delivered_at?: string;
  cancelled_at?: string;
  cancel_reason?: string;
  version: number;
}

export interface OrderPage {
  orders: Order[];
  next_page_token: string;
  total_size: number;
}

export interface NewOrderItem {
  sku: string;
  name: string;
  unit_price_minor: number;
  quantity: number;
}

export interface MonthlySegmentSales {
  month: string;
  segment: string;
  revenue: Money;
  order_count: number;
  units_sold: number;
}

export interface TopCustomer {
  rank: number;
  customer_id: string;
  name: string;
  email: string;
  segment: string;
  region: string;
  order_count: number;
  revenue: Money;
}

export interface CustomerPriceGroups {
  customer_id: string;
  name: string;
  cheap_units: number;
  affordable_units: number;
  expensive_units: number;
}

export interface PriceGroupPage {
  customers: CustomerPriceGroups[];
  next_page_token: string;
  total_size: number;
}

export interface RegionSales {
  region: string;
  revenue: Money;
  order_count: number;
  customer_count: number;
}

/** One domain event with its metadata, in history reads and on the live stream alike. */
export interface DomainEvent {
  event_id: string;
  event_type: string;
  schema_version: number;
  aggregate_type: string;
  aggregate_id: string;
  version: number;
  occurred_at: string;
  command_id: string;
  correlation_id: string;
  actor: string;
  data: unknown;
}

export interface Stream {
  aggregate_id: string;
  aggregate_type: string;
  events: DomainEvent[];
  /** The version `state` is at (0 before the first event). */
  version: number;
  state: unknown;
  current_version: number;
}

export interface DeadLetter {
  dead_letter_id: string;
  event?: DomainEvent;
  raw_payload: string;
  topic: string;
  partition: number;
  offset: number;
  error: string;
  attempts: number;
  parked_at: string;
  last_attempt_at: string;
}

export interface DeadLetterPage {
  dead_letters: DeadLetter[];
  next_page_token: string;
  total_size: number;
}

export interface ReplayOutcome {
  replayed_count: number;
  failed_count: number;
  failed_ids: string[];
}

export type RebuildState = "idle" | "running" | "switching" | "completed" | "failed" | "unknown";

export interface RebuildProgress {
  rebuild_id: string;
  state: RebuildState;
  events_applied: number;
  events_total: number;
  percent: number;
  started_at?: string;
  finished_at?: string;
  error: string;
  target_schema: string;
}

export interface Token {
  token: string;
  token_type: string;
  expires_at: number;
  subject: string;
  roles: string[];
}

/** The body of every error response. */
export interface ErrorBody {
  code: string;
  message: string;
  details: unknown;
}
