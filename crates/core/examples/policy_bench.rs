//! Micro-benchmark of gateway rule matching (run by bench/rules.sh):
//! the time to decide one request with 10 rules and with 10,000, to show
//! that matching walks the path, not the rule list. A decision includes
//! putting the path in canonical form, as the gateway and `/v1/authz` do.

use std::hint::black_box;
use std::time::Instant;
use tessera_core::policy::{CanonicalPath, Policy};
use tessera_model::config::{GatewayConfig, GatewayRule};

fn config(n: usize) -> GatewayConfig {
    let mut rules: Vec<GatewayRule> = (0..n)
        .map(|i| GatewayRule {
            methods: vec!["GET".into(), "POST".into()],
            path: format!("/api/v{}/resource{i}/{{id}}/items/{{item}}", i % 7),
            allow: vec!["anonymous".into()],
        })
        .collect();
    // The rule the measured request hits sits last, behind all the others.
    rules.push(GatewayRule {
        methods: vec!["GET".into()],
        path: "/api/hosts/{id}/disks".into(),
        allow: vec!["anonymous".into()],
    });
    GatewayConfig {
        rules,
        ..GatewayConfig::default()
    }
}

/// Nanoseconds per decision, best of five rounds of `rounds` decisions.
fn measure(policy: &Policy, rounds: u32) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..rounds {
            let path = match CanonicalPath::parse(black_box("/api/hosts/42/disks")) {
                Ok(path) => path,
                Err(e) => panic!("{e}"),
            };
            black_box(policy.decide(black_box("GET"), &path, None, None));
        }
        best = best.min(start.elapsed().as_nanos() as f64 / f64::from(rounds));
    }
    best
}

fn main() {
    let small = Policy::compile(&config(10)).unwrap_or_else(|e| panic!("{e}"));
    let large = Policy::compile(&config(10_000)).unwrap_or_else(|e| panic!("{e}"));
    let (s, l) = (measure(&small, 200_000), measure(&large, 200_000));
    println!("rules=10 ns_per_decision={s:.0}");
    println!("rules=10000 ns_per_decision={l:.0}");
    println!("ratio={:.2}", l / s);
}
