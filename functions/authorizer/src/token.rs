//! Where a client puts its token. Browsers cannot set `Authorization` on a
//! WebSocket, so it comes as `?token=<jwt>` or as a `bearer.<jwt>` entry
//! among the subprotocols a client offers (`Sec-WebSocket-Protocol`).

/// The subprotocol entry that carries a token.
const BEARER_PROTOCOL: &str = "bearer.";

/// The token of a `$connect` request; the query wins when both are given.
pub fn token_of<'r>(query_token: Option<&'r str>, protocols: Option<&'r str>) -> Option<&'r str> {
    let from_query = query_token.map(str::trim).filter(|t| !t.is_empty());
    let from_protocols =
        || protocols?.split(',').map(str::trim).find_map(|p| p.strip_prefix(BEARER_PROTOCOL)).filter(|t| !t.is_empty());
    from_query.or_else(from_protocols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_from_the_query_or_a_bearer_subprotocol() {
        assert_eq!(token_of(Some("a.b.c"), None), Some("a.b.c"));
        assert_eq!(token_of(None, Some("tessera.v1, bearer.x.y.z")), Some("x.y.z"));
        assert_eq!(token_of(Some("q.q.q"), Some("bearer.p.p.p")), Some("q.q.q"));
        assert_eq!(token_of(Some(" "), Some("bearer.p.p.p")), Some("p.p.p"));
    }

    #[test]
    fn no_token_is_none() {
        assert_eq!(token_of(None, None), None);
        assert_eq!(token_of(None, Some("tessera.v1")), None);
        assert_eq!(token_of(Some(""), Some("bearer.")), None);
    }
}
