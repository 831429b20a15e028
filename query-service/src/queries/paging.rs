//! Keyset paging shared by every List RPC: page sizes as the contract defines them, and opaque
//! page tokens that carry the last row's sort key (never an offset, so pages stay stable while
//! rows are inserted).
//!
//! A token is base64url of a small JSON document that also records a fingerprint of the filters
//! and sort it was issued for, so a token replayed with other filters is INVALID_ARGUMENT instead
//! of a silently wrong page.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::ServiceError;

/// Rows per page when the request says 0.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Larger requests are capped here.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The page size to use for a request's `page_size`.
pub fn page_size(requested: u32) -> u32 {
    match requested {
        0 => DEFAULT_PAGE_SIZE,
        n => n.min(MAX_PAGE_SIZE),
    }
}

#[derive(Serialize, Deserialize)]
struct Token<K> {
    /// What the token was issued for (filters and sort), compared on use.
    q: String,
    /// The sort key of the last row of the previous page.
    k: K,
}

/// A token continuing after the row whose sort key is `key`, valid only with the same `query`
/// (a string the caller builds from its filters and sort).
pub fn encode<K: Serialize>(query: &str, key: &K) -> String {
    let token = Token {
        q: query.to_owned(),
        k: key,
    };
    // Serializing plain structs of strings and numbers cannot fail.
    let json = serde_json::to_vec(&token).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// The sort key a `page_token` continues after; `None` for the first page (empty token).
pub fn decode<K: DeserializeOwned>(
    field: &'static str,
    query: &str,
    page_token: &str,
) -> Result<Option<K>, ServiceError> {
    if page_token.is_empty() {
        return Ok(None);
    }
    let invalid = || ServiceError::invalid(field, "not a page token issued by this service");
    let json = URL_SAFE_NO_PAD.decode(page_token).map_err(|_| invalid())?;
    let token: Token<K> = serde_json::from_slice(&json).map_err(|_| invalid())?;
    if token.q != query {
        return Err(ServiceError::invalid(
            field,
            "the page token was issued for other filters or another sort order",
        ));
    }
    Ok(Some(token.k))
}

/// Splits a fetch of `page_size + 1` rows into the page and the next token: the extra row only
/// tells that there is a next page.
pub fn split_page<R, K: Serialize>(
    mut rows: Vec<R>,
    page_size: u32,
    query: &str,
    key_of: impl Fn(&R) -> K,
) -> (Vec<R>, String) {
    let size = page_size as usize;
    if rows.len() > size {
        rows.truncate(size);
        let next = rows.last().map(|last| encode(query, &key_of(last)));
        (rows, next.unwrap_or_default())
    } else {
        (rows, String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_and_cap() {
        assert_eq!(page_size(0), 20);
        assert_eq!(page_size(7), 7);
        assert_eq!(page_size(1000), 100);
    }

    #[test]
    fn a_token_round_trips_with_the_same_query_only() {
        let token = encode("posts:newest", &(42_i64, "abc".to_owned()));
        let key: Option<(i64, String)> = decode("page_token", "posts:newest", &token).unwrap();
        assert_eq!(key, Some((42, "abc".to_owned())));
        let other = decode::<(i64, String)>("page_token", "posts:oldest", &token);
        assert!(matches!(
            other,
            Err(ServiceError::InvalidArgument {
                field: "page_token",
                ..
            })
        ));
    }

    #[test]
    fn garbage_tokens_are_invalid_arguments() {
        for bad in ["%%%", "bm90IGpzb24", "eyJxIjoxfQ"] {
            let r = decode::<i64>("page_token", "q", bad);
            assert!(
                matches!(r, Err(ServiceError::InvalidArgument { .. })),
                "{bad}"
            );
        }
        assert!(decode::<i64>("page_token", "q", "").unwrap().is_none());
    }

    #[test]
    fn the_extra_row_becomes_the_next_token() {
        let (page, next) = split_page(vec![1, 2, 3], 2, "q", |r| *r);
        assert_eq!(page, vec![1, 2]);
        assert_eq!(decode::<i32>("t", "q", &next).unwrap(), Some(2));
        let (page, next) = split_page(vec![1, 2], 2, "q", |r| *r);
        assert_eq!(page, vec![1, 2]);
        assert!(next.is_empty());
    }
}
