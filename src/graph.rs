//! The dependency graph between services: unknown dependencies, cycles, start waves,
//! stop waves, and the transitive dependents of a service.
//!
//! Pure code with no I/O. Services are numbered by their index in the configuration
//! (`config.services`), and every list this module returns is ordered by that index, so
//! the same configuration always gives the same order. An edge "a after b" means a
//! depends on b: b starts first and stops last.

use std::collections::HashMap;
use std::fmt;

/// Why a set of services cannot be ordered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GraphError {
    /// `service` lists `dep` in its `after`, at position `index`, but no service has that name.
    UnknownDependency {
        service: String,
        dep: String,
        index: usize,
    },
    /// Two services share a name; `index` is the second one's position.
    DuplicateService { name: String, index: usize },
    /// The services in a cycle, each depending on the next, the first one repeated at the
    /// end: `["a", "b", "a"]` means a is after b and b is after a. It starts at the
    /// lexically smallest name.
    Cycle(Vec<String>),
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::UnknownDependency { service, dep, .. } => {
                write!(
                    f,
                    "service {service:?} is after {dep:?}, which is not a service"
                )
            }
            GraphError::DuplicateService { name, .. } => {
                write!(f, "service {name:?} is defined twice")
            }
            GraphError::Cycle(names) => write!(f, "dependency cycle: {}", names.join(" -> ")),
        }
    }
}

impl std::error::Error for GraphError {}

/// A checked, acyclic dependency graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    /// `deps[i]`: the services `i` is after, sorted, without duplicates.
    deps: Vec<Vec<usize>>,
    /// `dependents[i]`: the services that are after `i`, sorted.
    dependents: Vec<Vec<usize>>,
    /// Every service, wave by wave of [`Graph::stop_waves`]: computed once, as each
    /// shutdown plans by it on the way to its first signal.
    stop_order: Vec<usize>,
}

impl Graph {
    /// Builds the graph from `(name, after)` pairs, in configuration order, and checks it:
    /// every dependency names a service, and there is no cycle.
    pub fn new<'a, I>(services: I) -> Result<Graph, GraphError>
    where
        I: IntoIterator<Item = (&'a str, &'a [String])>,
    {
        let services: Vec<(&str, &[String])> = services.into_iter().collect();
        let index = index_by_name(&services)?;
        let mut deps = Vec::with_capacity(services.len());
        for &(name, after) in &services {
            deps.push(resolve_deps(name, after, &index)?);
        }
        let dependents = invert(&deps);
        let mut graph = Graph {
            deps,
            dependents,
            stop_order: Vec::new(),
        };
        match graph.find_cycle() {
            Some(cycle) => Err(GraphError::Cycle(cycle_names(&cycle, &services))),
            None => {
                graph.stop_order = graph.stop_waves().into_iter().flatten().collect();
                Ok(graph)
            }
        }
    }

    /// The number of services.
    pub fn len(&self) -> usize {
        self.deps.len()
    }

    /// True if there are no services.
    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// The services `idx` is directly after (empty for an unknown index).
    pub fn deps(&self, idx: usize) -> &[usize] {
        self.deps.get(idx).map_or(&[], Vec::as_slice)
    }

    /// The services directly after `idx` (empty for an unknown index).
    pub fn direct_dependents(&self, idx: usize) -> &[usize] {
        self.dependents.get(idx).map_or(&[], Vec::as_slice)
    }

    /// Start waves: wave 0 holds the services with no dependencies, wave k those whose
    /// dependencies are all in earlier waves, as early as possible.
    pub fn start_waves(&self) -> Vec<Vec<usize>> {
        group_by_level(&self.levels(&self.deps))
    }

    /// Stop waves: wave 0 holds the services nothing depends on, wave k those whose
    /// dependents are all in earlier waves. A service stops as early as possible, and
    /// always after everything that depends on it.
    pub fn stop_waves(&self) -> Vec<Vec<usize>> {
        group_by_level(&self.levels(&self.dependents))
    }

    /// Every service in stop-wave order: [`Graph::stop_waves`], flattened.
    pub fn stop_order(&self) -> &[usize] {
        &self.stop_order
    }

    /// Every service that depends on `idx`, directly or not, in an order that is safe to
    /// stop them one wave at a time: by stop wave, then by index.
    pub fn dependents(&self, idx: usize) -> Vec<usize> {
        let mut seen = vec![false; self.len()];
        let mut todo: Vec<usize> = self.direct_dependents(idx).to_vec();
        let mut found = Vec::new();
        while let Some(next) = todo.pop() {
            if let Some(flag) = seen.get_mut(next) {
                if !*flag {
                    *flag = true;
                    found.push(next);
                    todo.extend_from_slice(self.direct_dependents(next));
                }
            }
        }
        let stop_level = self.levels(&self.dependents);
        found.sort_by_key(|&i| (stop_level.get(i).copied().unwrap_or(0), i));
        found
    }

    /// For each service, the length of the longest path along `edges` from it: 0 if it
    /// has no edges. The graph is acyclic, so this is well defined; it is computed in
    /// topological order, without recursion.
    fn levels(&self, edges: &[Vec<usize>]) -> Vec<usize> {
        let mut level = vec![0; self.len()];
        for node in self.topological_order(edges) {
            let below = edges.get(node).into_iter().flatten();
            let highest = below.filter_map(|&d| level.get(d)).max().map(|l| l + 1);
            if let (Some(slot), Some(l)) = (level.get_mut(node), highest) {
                *slot = l;
            }
        }
        level
    }

    /// The services ordered so that each one comes after every target of its `edges`
    /// (Kahn's algorithm). Services left out are on a cycle.
    fn topological_order(&self, edges: &[Vec<usize>]) -> Vec<usize> {
        let reverse = invert(edges);
        let mut waiting: Vec<usize> = edges.iter().map(Vec::len).collect();
        let mut ready: Vec<usize> = (0..self.len())
            .filter(|&i| waiting.get(i) == Some(&0))
            .collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(node) = ready.pop() {
            order.push(node);
            for &up in reverse.get(node).into_iter().flatten() {
                if let Some(count) = waiting.get_mut(up) {
                    *count -= 1;
                    if *count == 0 {
                        ready.push(up);
                    }
                }
            }
        }
        order
    }

    /// A cycle along `deps`, if there is one, as the list of its nodes (not repeated).
    fn find_cycle(&self) -> Option<Vec<usize>> {
        let mut on_cycle_or_above = vec![true; self.len()];
        for node in self.topological_order(&self.deps) {
            if let Some(flag) = on_cycle_or_above.get_mut(node) {
                *flag = false;
            }
        }
        let start = on_cycle_or_above.iter().position(|&left| left)?;
        // Every node left out of the topological order has a dependency that was left out
        // too, so following those dependencies must come back to a node already visited.
        let mut path = vec![start];
        let mut current = start;
        loop {
            let next = *self
                .deps(current)
                .iter()
                .find(|&&d| on_cycle_or_above.get(d) == Some(&true))?;
            if let Some(pos) = path.iter().position(|&p| p == next) {
                return Some(path.split_off(pos));
            }
            path.push(next);
            current = next;
        }
    }
}

/// Maps each name to its index; a repeated name is an error.
fn index_by_name<'a>(
    services: &[(&'a str, &[String])],
) -> Result<HashMap<&'a str, usize>, GraphError> {
    let mut index = HashMap::with_capacity(services.len());
    for (i, &(name, _)) in services.iter().enumerate() {
        if index.insert(name, i).is_some() {
            return Err(GraphError::DuplicateService {
                name: name.to_string(),
                index: i,
            });
        }
    }
    Ok(index)
}

/// The indices of `after`, sorted and without duplicates.
fn resolve_deps(
    name: &str,
    after: &[String],
    index: &HashMap<&str, usize>,
) -> Result<Vec<usize>, GraphError> {
    let mut deps = Vec::with_capacity(after.len());
    for (pos, dep) in after.iter().enumerate() {
        match index.get(dep.as_str()) {
            Some(&d) => deps.push(d),
            None => {
                return Err(GraphError::UnknownDependency {
                    service: name.to_string(),
                    dep: dep.clone(),
                    index: pos,
                });
            }
        }
    }
    deps.sort_unstable();
    deps.dedup();
    Ok(deps)
}

/// The reverse of `edges`: for each node, the nodes that have an edge to it, sorted.
fn invert(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut reverse = vec![Vec::new(); edges.len()];
    for (from, targets) in edges.iter().enumerate() {
        for &to in targets {
            if let Some(list) = reverse.get_mut(to) {
                list.push(from);
            }
        }
    }
    reverse
}

/// Groups node indices by level: result[k] holds, in index order, the nodes of level k.
fn group_by_level(level: &[usize]) -> Vec<Vec<usize>> {
    let count = level.iter().max().map_or(0, |m| m + 1);
    let mut waves = vec![Vec::new(); count];
    for (node, &l) in level.iter().enumerate() {
        if let Some(wave) = waves.get_mut(l) {
            wave.push(node);
        }
    }
    waves
}

/// The names along `cycle`, rotated to start at the smallest name, first name repeated.
fn cycle_names(cycle: &[usize], services: &[(&str, &[String])]) -> Vec<String> {
    let name = |i: &usize| services.get(*i).map_or("?", |s| s.0).to_string();
    let mut names: Vec<String> = cycle.iter().map(name).collect();
    let smallest = names
        .iter()
        .enumerate()
        .min_by_key(|(_, n)| n.as_str())
        .map_or(0, |(i, _)| i);
    names.rotate_left(smallest);
    if let Some(first) = names.first().cloned() {
        names.push(first);
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a graph from `("name", &["dep", ...])` pairs.
    fn build(spec: &[(&str, &[&str])]) -> Result<Graph, GraphError> {
        let owned: Vec<(&str, Vec<String>)> = spec
            .iter()
            .map(|(n, d)| (*n, d.iter().map(|s| s.to_string()).collect()))
            .collect();
        Graph::new(owned.iter().map(|(n, d)| (*n, d.as_slice())))
    }

    /// Names per wave, for readable assertions.
    fn named(spec: &[(&str, &[&str])], waves: &[Vec<usize>]) -> Vec<Vec<String>> {
        waves
            .iter()
            .map(|w| w.iter().map(|&i| spec[i].0.to_string()).collect())
            .collect()
    }

    fn wave_of(waves: &[Vec<usize>], n: usize) -> usize {
        waves.iter().position(|w| w.contains(&n)).unwrap()
    }

    /// Every node in exactly one wave; for every edge a after b, start(b) < start(a) and
    /// stop(a) < stop(b).
    fn assert_wave_properties(g: &Graph) {
        let start = g.start_waves();
        let stop = g.stop_waves();
        for waves in [&start, &stop] {
            let mut all: Vec<usize> = waves.iter().flatten().copied().collect();
            all.sort();
            assert_eq!(all, (0..g.len()).collect::<Vec<_>>());
            assert!(waves.iter().all(|w| !w.is_empty()));
            assert!(waves.iter().all(|w| w.windows(2).all(|p| p[0] < p[1])));
        }
        for a in 0..g.len() {
            for &b in g.deps(a) {
                assert!(
                    wave_of(&start, b) < wave_of(&start, a),
                    "start {a} after {b}"
                );
                assert!(wave_of(&stop, a) < wave_of(&stop, b), "stop {a} before {b}");
            }
        }
    }

    #[test]
    fn chain() {
        let spec: &[(&str, &[&str])] = &[("c", &["b"]), ("b", &["a"]), ("a", &[])];
        let g = build(spec).unwrap();
        assert_eq!(named(spec, &g.start_waves()), [["a"], ["b"], ["c"]]);
        assert_eq!(named(spec, &g.stop_waves()), [["c"], ["b"], ["a"]]);
        assert_eq!(g.dependents(2), vec![0, 1]);
        assert_eq!(g.dependents(0), Vec::<usize>::new());
        assert_wave_properties(&g);
    }

    #[test]
    fn diamond() {
        let spec: &[(&str, &[&str])] = &[
            ("db", &[]),
            ("api", &["db"]),
            ("cache", &["db"]),
            ("web", &["api", "cache"]),
        ];
        let g = build(spec).unwrap();
        assert_eq!(
            named(spec, &g.start_waves()),
            vec![vec!["db"], vec!["api", "cache"], vec!["web"]]
        );
        assert_eq!(
            named(spec, &g.stop_waves()),
            vec![vec!["web"], vec!["api", "cache"], vec!["db"]]
        );
        assert_eq!(g.dependents(0), vec![3, 1, 2]);
        assert_eq!(g.dependents(1), vec![3]);
        assert_wave_properties(&g);
    }

    #[test]
    fn stop_waves_stop_as_early_as_possible() {
        // "log" depends on nothing and nothing depends on it, so it stops in wave 0 even
        // though it starts in wave 0 too.
        let spec: &[(&str, &[&str])] = &[("a", &[]), ("b", &["a"]), ("c", &["b"]), ("log", &[])];
        let g = build(spec).unwrap();
        assert_eq!(
            named(spec, &g.start_waves()),
            vec![vec!["a", "log"], vec!["b"], vec!["c"]]
        );
        assert_eq!(
            named(spec, &g.stop_waves()),
            vec![vec!["c", "log"], vec!["b"], vec!["a"]]
        );
        // c, log, b, a: the waves, flattened, kept from the graph's making.
        assert_eq!(g.stop_order(), &[2, 3, 1, 0]);
        assert_wave_properties(&g);
    }

    #[test]
    fn duplicate_dependencies_are_merged() {
        let spec: &[(&str, &[&str])] = &[("a", &[]), ("b", &["a", "a"])];
        let g = build(spec).unwrap();
        assert_eq!(g.deps(1), &[0]);
        assert_wave_properties(&g);
    }

    #[test]
    fn hundred_nodes_ten_levels() {
        // Node i is on level i / 10 and depends on up to three nodes of the level below.
        let names: Vec<String> = (0..100).map(|i| format!("s{i:03}")).collect();
        let deps: Vec<Vec<String>> = (0..100usize)
            .map(|i| {
                let level = i / 10;
                if level == 0 {
                    return Vec::new();
                }
                let below = (level - 1) * 10;
                [i % 10, (i * 7) % 10, (i * 3 + 1) % 10]
                    .iter()
                    .map(|k| names[below + k].clone())
                    .collect()
            })
            .collect();
        // Shuffle the configuration order deterministically so waves are not just ranges.
        let order: Vec<usize> = (0..100).map(|i| (i * 37) % 100).collect();
        let g = Graph::new(
            order
                .iter()
                .map(|&i| (names[i].as_str(), deps[i].as_slice())),
        )
        .unwrap();
        let start = g.start_waves();
        assert_eq!(start.len(), 10);
        for (k, wave) in start.iter().enumerate() {
            assert_eq!(wave.len(), 10);
            assert!(wave.iter().all(|&pos| order[pos] / 10 == k));
        }
        assert_eq!(g.stop_waves().len(), 10);
        assert_wave_properties(&g);
        // Everything above level 0 depends, transitively, on some level-0 node.
        let root = order.iter().position(|&i| i == 0).unwrap();
        assert!(!g.dependents(root).is_empty());
    }

    #[test]
    fn self_cycle() {
        let err = build(&[("a", &["a"])]).unwrap_err();
        assert_eq!(err, GraphError::Cycle(vec!["a".into(), "a".into()]));
        assert_eq!(err.to_string(), "dependency cycle: a -> a");
    }

    #[test]
    fn two_cycle() {
        let err = build(&[("x", &[]), ("b", &["a"]), ("a", &["b"])]).unwrap_err();
        assert_eq!(err.to_string(), "dependency cycle: a -> b -> a");
    }

    #[test]
    fn three_cycle_starts_at_smallest_name() {
        let spec: &[(&str, &[&str])] = &[
            ("ok", &[]),
            ("c", &["a", "ok"]),
            ("b", &["c"]),
            ("a", &["b"]),
            ("d", &["a"]),
        ];
        let err = build(spec).unwrap_err();
        assert_eq!(err.to_string(), "dependency cycle: a -> b -> c -> a");
    }

    #[test]
    fn unknown_dependency() {
        let err = build(&[("a", &[]), ("b", &["a", "nope"])]).unwrap_err();
        assert_eq!(
            err,
            GraphError::UnknownDependency {
                service: "b".into(),
                dep: "nope".into(),
                index: 1
            }
        );
    }

    #[test]
    fn duplicate_service() {
        let err = build(&[("a", &[]), ("a", &[])]).unwrap_err();
        assert_eq!(
            err,
            GraphError::DuplicateService {
                name: "a".into(),
                index: 1
            }
        );
    }

    #[test]
    fn empty_graph() {
        let g = build(&[]).unwrap();
        assert!(g.is_empty());
        assert!(g.start_waves().is_empty());
        assert!(g.stop_waves().is_empty());
        assert!(g.dependents(5).is_empty());
    }
}
