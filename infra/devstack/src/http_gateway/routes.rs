//! Route selection as API Gateway HTTP APIs do it: a full literal match
//! beats path variables, which beat a greedy `{proxy+}`, which beats
//! `$default`; a route for the method beats `ANY`.

use std::collections::BTreeMap;

use crate::plan::HttpRoute;

/// A route that matched, with its path parameters.
#[derive(Debug, PartialEq, Eq)]
pub struct Matched<'a> {
    pub route: &'a HttpRoute,
    pub path_parameters: BTreeMap<String, String>,
}

pub struct RouteTable {
    routes: Vec<HttpRoute>,
}

impl RouteTable {
    pub fn new(routes: Vec<HttpRoute>) -> Self {
        Self { routes }
    }

    pub fn select(&self, method: &str, path: &str) -> Option<Matched<'_>> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.routes
            .iter()
            .filter(|route| route.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method)))
            .filter_map(|route| {
                let Some(pattern) = &route.path else {
                    return Some((Specificity::DEFAULT, Matched { route, path_parameters: BTreeMap::new() }));
                };
                let (specificity, path_parameters) = match_path(pattern, &segments)?;
                let specificity = Specificity { method_specific: route.method.is_some(), ..specificity };
                Some((specificity, Matched { route, path_parameters }))
            })
            .max_by_key(|(specificity, _)| *specificity)
            .map(|(_, matched)| matched)
    }
}

/// Ordered from least to most specific; the field order is the priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Specificity {
    not_default: bool,
    not_greedy: bool,
    literal_segments: usize,
    method_specific: bool,
}

impl Specificity {
    const DEFAULT: Self = Self { not_default: false, not_greedy: false, literal_segments: 0, method_specific: false };
}

fn match_path(pattern: &str, segments: &[&str]) -> Option<(Specificity, BTreeMap<String, String>)> {
    let parts: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let mut parameters = BTreeMap::new();
    let mut literal_segments = 0;
    for (index, part) in parts.iter().enumerate() {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
            let rest = segments.get(index..).filter(|rest| !rest.is_empty() && !rest[0].is_empty())?;
            parameters.insert(name.to_owned(), rest.join("/"));
            let specificity =
                Specificity { not_default: true, not_greedy: false, literal_segments, method_specific: false };
            return Some((specificity, parameters));
        }
        let segment = segments.get(index)?;
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !segment.is_empty() => {
                parameters.insert(name.to_owned(), (*segment).to_owned());
            }
            Some(_) => return None,
            None if part == segment => literal_segments += 1,
            None => return None,
        }
    }
    (parts.len() == segments.len()).then_some((
        Specificity { not_default: true, not_greedy: true, literal_segments, method_specific: false },
        parameters,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(key: &str) -> HttpRoute {
        let (method, path) = match key.split_once(' ') {
            Some((method, path)) => ((method != "ANY").then(|| method.to_owned()), Some(path.to_owned())),
            None => (None, None),
        };
        let timeout = std::time::Duration::from_secs(30);
        HttpRoute { route_key: key.into(), method, path, function: "F".into(), authorized: false, timeout }
    }

    fn table(keys: &[&str]) -> RouteTable {
        RouteTable::new(keys.iter().map(|k| route(k)).collect())
    }

    fn selected(table: &RouteTable, method: &str, path: &str) -> Option<String> {
        table.select(method, path).map(|m| m.route.route_key.clone())
    }

    #[test]
    fn a_literal_path_beats_a_path_variable_which_beats_a_greedy_one_which_beats_default() {
        let table = table(&["GET /pets/dog", "GET /pets/{id}", "ANY /pets/{proxy+}", "$default"]);
        assert_eq!(selected(&table, "GET", "/pets/dog").unwrap(), "GET /pets/dog");
        assert_eq!(selected(&table, "GET", "/pets/cat").unwrap(), "GET /pets/{id}");
        assert_eq!(selected(&table, "GET", "/pets/cat/toys").unwrap(), "ANY /pets/{proxy+}");
        assert_eq!(selected(&table, "DELETE", "/pets/cat").unwrap(), "ANY /pets/{proxy+}");
        assert_eq!(selected(&table, "GET", "/owners").unwrap(), "$default");
    }

    #[test]
    fn a_route_for_the_method_beats_any() {
        let table = table(&["ANY /health", "GET /health"]);
        assert_eq!(selected(&table, "GET", "/health").unwrap(), "GET /health");
        assert_eq!(selected(&table, "POST", "/health").unwrap(), "ANY /health");
    }

    #[test]
    fn path_parameters_are_extracted_and_greedy_ones_keep_their_slashes() {
        let table = table(&["GET /projects/{projectId}/blocks/{blockId}", "ANY /files/{proxy+}"]);
        let matched = table.select("GET", "/projects/p1/blocks/b2").unwrap();
        assert_eq!(matched.path_parameters["projectId"], "p1");
        assert_eq!(matched.path_parameters["blockId"], "b2");
        assert_eq!(table.select("PUT", "/files/a/b/c.txt").unwrap().path_parameters["proxy"], "a/b/c.txt");
    }

    #[test]
    fn nothing_matches_a_wrong_method_a_longer_path_or_an_empty_variable() {
        let table = table(&["GET /health", "GET /items/{id}", "ANY /files/{proxy+}"]);
        assert_eq!(selected(&table, "POST", "/health"), None);
        assert_eq!(selected(&table, "GET", "/health/extra"), None);
        assert_eq!(selected(&table, "GET", "/items/"), None);
        assert_eq!(selected(&table, "GET", "/files"), None);
    }
}
