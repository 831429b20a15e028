//! The Kafka topic names: the one place that says which topic carries which aggregate's events.
//!
//! The write side publishes to them and the read side subscribes to them, so both take the names
//! from here. One topic per aggregate type keeps each aggregate's events in one ordered stream per
//! key (the aggregate id). Pure data: must not depend on a Kafka client or any configuration.

/// Events of posts (and their comments).
pub const POSTS: &str = "posts.events";
/// Events of customers.
pub const CUSTOMERS: &str = "customers.events";
/// Events of orders.
pub const ORDERS: &str = "orders.events";

/// Every event topic, for creating them on start and for subscribing to all of them.
pub const ALL: [&str; 3] = [POSTS, CUSTOMERS, ORDERS];

/// The topic names with a deployment's prefix (`KAFKA_TOPIC_PREFIX`): several deployments, or
/// tests running side by side, can share one broker without reading each other's events.
pub fn prefixed(prefix: &str) -> [String; 3] {
    ALL.map(|topic| format!("{prefix}{topic}"))
}

/// The topic of an aggregate type (`Aggregate::TYPE`), or `None` for a type no topic carries.
pub fn topic_for(aggregate_type: &str) -> Option<&'static str> {
    match aggregate_type {
        "post" => Some(POSTS),
        "customer" => Some(CUSTOMERS),
        "order" => Some(ORDERS),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Aggregate, customer::Customer, order::Order, post::Post};

    #[test]
    fn topics_each_aggregate_type() {
        assert_eq!(topic_for(Post::TYPE), Some("posts.events"));
        assert_eq!(topic_for(Customer::TYPE), Some("customers.events"));
        assert_eq!(topic_for(Order::TYPE), Some("orders.events"));
    }

    #[test]
    fn prefixes_are_prepended_to_every_topic() {
        assert_eq!(prefixed(""), ALL.map(str::to_owned));
        assert_eq!(prefixed("t1-")[0], "t1-posts.events");
    }

    #[test]
    fn unknown_types_have_no_topic() {
        assert_eq!(topic_for("widget"), None);
        assert_eq!(topic_for(""), None);
        assert_eq!(topic_for("Post"), None);
    }

    #[test]
    fn all_lists_each_topic_once() {
        let mut names = ALL.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for aggregate_type in ["post", "customer", "order"] {
            let topic = topic_for(aggregate_type);
            assert!(ALL.iter().any(|t| Some(*t) == topic), "{aggregate_type}");
        }
    }
}
