//! Pure: the order in which a migration stops services, as compose does: a service stops only
//! after every service that needs it (its dependents first: an app before its database), and
//! the services of one layer stop at once, so the stop takes the longest grace period of each
//! layer, not the sum of all of them.

use std::collections::{BTreeMap, BTreeSet};

/// `services` in stop layers: the first layer holds those no other of them needs, each next
/// layer those needed only by services of the layers before. Services in a cycle of needs
/// (compose refuses one, a hand-edited file may have it) stop together in one last layer.
pub fn layers(services: &[String], needs: &BTreeMap<String, Vec<String>>) -> Vec<Vec<String>> {
    let mut left: BTreeSet<&str> = services.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    while !left.is_empty() {
        let needed: BTreeSet<&str> = left
            .iter()
            .filter_map(|s| needs.get(*s))
            .flatten()
            .map(String::as_str)
            .collect();
        let mut layer: Vec<&str> = left
            .iter()
            .copied()
            .filter(|s| !needed.contains(s))
            .collect();
        if layer.is_empty() {
            layer = left.iter().copied().collect();
        }
        for s in &layer {
            left.remove(s);
        }
        out.push(layer.into_iter().map(str::to_owned).collect());
    }
    out
}

/// For each of `services`, the others of them it needs, directly or through services outside
/// the list (`graph`: every service's direct needs, as the compose file says).
pub fn needs_among(
    services: &[String],
    graph: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Vec<String>> {
    let wanted: BTreeSet<&str> = services.iter().map(String::as_str).collect();
    let mut out = BTreeMap::new();
    for service in services {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut todo: Vec<&str> = vec![service];
        while let Some(s) = todo.pop() {
            for next in graph.get(s).into_iter().flatten() {
                if seen.insert(next) {
                    todo.push(next);
                }
            }
        }
        let reached: Vec<String> = seen
            .into_iter()
            .filter(|s| wanted.contains(s) && *s != service)
            .map(str::to_owned)
            .collect();
        if !reached.is_empty() {
            out.insert(service.clone(), reached);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        edges
            .iter()
            .map(|(s, n)| ((*s).to_owned(), names(n)))
            .collect()
    }

    #[test]
    fn dependents_stop_first_and_independent_services_together() {
        // immich: the server and the ML both need the database and redis
        let needs = graph(&[("server", &["database", "redis"]), ("ml", &["database"])]);
        let services = names(&["database", "ml", "redis", "server"]);
        assert_eq!(
            layers(&services, &needs),
            vec![names(&["ml", "server"]), names(&["database", "redis"])]
        );
    }

    #[test]
    fn a_chain_stops_one_by_one_and_no_needs_stop_all_at_once() {
        let needs = graph(&[("app", &["cache"]), ("cache", &["db"])]);
        assert_eq!(
            layers(&names(&["db", "cache", "app"]), &needs),
            vec![names(&["app"]), names(&["cache"]), names(&["db"])]
        );
        assert_eq!(
            layers(&names(&["b", "a"]), &BTreeMap::new()),
            vec![names(&["a", "b"])]
        );
        assert!(layers(&[], &needs).is_empty());
    }

    #[test]
    fn a_cycle_stops_together_after_what_needs_it() {
        let needs = graph(&[("a", &["b"]), ("b", &["a"]), ("c", &["a"])]);
        assert_eq!(
            layers(&names(&["a", "b", "c"]), &needs),
            vec![names(&["c"]), names(&["a", "b"])]
        );
    }

    #[test]
    fn needs_pass_through_services_outside_the_list() {
        // web -> proxy (not migrated) -> db: web still stops before db
        let all = graph(&[("web", &["proxy"]), ("proxy", &["db"]), ("db", &[])]);
        let among = needs_among(&names(&["db", "web"]), &all);
        assert_eq!(among, graph(&[("web", &["db"])]));
        assert_eq!(
            layers(&names(&["db", "web"]), &among),
            vec![names(&["web"]), names(&["db"])]
        );
        // a cycle back to itself is not a need of itself
        let looped = graph(&[("a", &["b"]), ("b", &["a"])]);
        assert_eq!(needs_among(&names(&["a"]), &looped), BTreeMap::new());
    }
}
