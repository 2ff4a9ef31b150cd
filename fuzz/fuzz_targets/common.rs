//! What the config targets check on every load, beyond "no panic": an error can be
//! displayed, and a loaded configuration always has a usable dependency graph.

use rinit::config::{ConfigError, Loaded};

/// Checks the result of a load. Panics (a finding) if a documented invariant breaks.
pub fn check(result: Result<Loaded, ConfigError>) {
    let loaded = match result {
        Ok(loaded) => loaded,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    for w in &loaded.warnings {
        let _ = w.len();
    }
    let config = loaded.config;
    let _ = config.require_exec();
    // config.rs: "A loaded configuration has already been checked, so this fails only for
    // one built by hand."
    check_graph(&config);
    // Adding `-- COMMAND` as main (after everything else) must keep it acyclic.
    let with_main = match config.with_main(vec!["/bin/true".into()]) {
        Ok(c) => c,
        Err(e) => panic!("with_main refused a good argv: {e}"),
    };
    check_graph(&with_main);
}

/// The graph builds, and its start waves put every service exactly once, after its
/// dependencies; stop waves likewise cover every service once.
fn check_graph(config: &rinit::config::Config) {
    let graph = match config.graph() {
        Ok(g) => g,
        Err(e) => panic!("a loaded configuration has a bad graph: {e}"),
    };
    let n = config.services.len();
    assert_eq!(graph.len(), n);
    let mut wave_of = vec![usize::MAX; n];
    for (w, wave) in graph.start_waves().iter().enumerate() {
        for &i in wave {
            assert_eq!(wave_of[i], usize::MAX, "service {i} in two start waves");
            wave_of[i] = w;
        }
    }
    for (i, &w) in wave_of.iter().enumerate() {
        assert_ne!(w, usize::MAX, "service {i} in no start wave");
        for &d in graph.deps(i) {
            assert!(
                wave_of[d] < w,
                "service {i} starts before its dependency {d}"
            );
        }
    }
    let stopped: usize = graph.stop_waves().iter().map(Vec::len).sum();
    assert_eq!(stopped, n, "stop waves do not cover every service once");
    for i in 0..n {
        let _ = graph.dependents(i);
    }
}
