//! Route keys as API Gateway writes them (`POST /projects/{projectId}/slides`,
//! `ANY /admin/{proxy+}`), matched against a request's method and path.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePattern {
    key: String,
    /// `None` for `ANY`.
    method: Option<String>,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{name}`: exactly one segment.
    Param,
    /// `{name+}`: one or more segments, last only.
    Greedy,
}

const METHODS: [&str; 8] = ["ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl RoutePattern {
    pub fn parse(key: &str) -> Result<Self, String> {
        let (method, path) = key.split_once(' ').ok_or_else(|| format!("route `{key}` is not `METHOD /path`"))?;
        if !METHODS.contains(&method) {
            return Err(format!("route `{key}` has an unknown method `{method}`"));
        }
        let Some(path) = path.strip_prefix('/') else {
            return Err(format!("route `{key}`: the path must start with `/`"));
        };
        let parts: Vec<&str> = if path.is_empty() { Vec::new() } else { path.split('/').collect() };
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            let segment = match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if name.ends_with('+') && i + 1 == parts.len() => Segment::Greedy,
                Some(name) if name.ends_with('+') => {
                    return Err(format!("route `{key}`: a greedy `{{{name}}}` must be the last segment"));
                }
                Some(name) if !name.is_empty() => Segment::Param,
                _ if part.is_empty() || part.contains(['{', '}']) => {
                    return Err(format!("route `{key}` has a malformed segment `{part}`"));
                }
                _ => Segment::Literal((*part).to_owned()),
            };
            segments.push(segment);
        }
        let method = (method != "ANY").then(|| method.to_owned());
        Ok(Self { key: key.to_owned(), method, segments })
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        if self.method.as_deref().is_some_and(|m| m != method) {
            return false;
        }
        let path = path.strip_prefix('/').unwrap_or(path);
        let mut parts = path.split('/').filter(|p| !p.is_empty());
        for segment in &self.segments {
            match segment {
                Segment::Greedy => return parts.next().is_some(),
                Segment::Param => {
                    if parts.next().is_none() {
                        return false;
                    }
                }
                Segment::Literal(literal) => {
                    if parts.next() != Some(literal.as_str()) {
                        return false;
                    }
                }
            }
        }
        parts.next().is_none()
    }

    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(key: &str, method: &str, path: &str) -> bool {
        RoutePattern::parse(key).unwrap().matches(method, path)
    }

    #[test]
    fn parameters_match_one_segment_and_greedy_ones_the_rest() {
        assert!(matches("POST /projects/{projectId}/slides", "POST", "/projects/p1/slides"));
        assert!(!matches("POST /projects/{projectId}/slides", "GET", "/projects/p1/slides"));
        assert!(!matches("POST /projects/{projectId}/slides", "POST", "/projects/p1/slides/s1"));
        assert!(!matches("POST /projects/{projectId}/slides", "POST", "/projects/slides"));
        assert!(matches("ANY /admin/{proxy+}", "DELETE", "/admin/rate-limits/blocks/user/bob"));
        assert!(!matches("ANY /admin/{proxy+}", "GET", "/admin"));
        assert!(matches("ANY /{proxy+}", "GET", "/health/ready"));
        assert!(matches("GET /health", "GET", "/health"));
        assert!(!matches("GET /health", "GET", "/health/ready"));
    }

    #[test]
    fn malformed_route_keys_are_refused_with_a_reason() {
        for (key, reason) in [
            ("/projects", "is not `METHOD /path`"),
            ("FETCH /projects", "unknown method"),
            ("GET projects", "must start with `/`"),
            ("GET /a/{rest+}/b", "must be the last segment"),
            ("GET /a//b", "malformed segment"),
            ("GET /a/{}/b", "malformed segment"),
        ] {
            let err = RoutePattern::parse(key).unwrap_err();
            assert!(err.contains(reason), "{key}: {err}");
        }
    }
}
