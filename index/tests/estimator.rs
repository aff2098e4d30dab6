//! The estimator against exact distances: how often the truth lies within the bound, on
//! random and clustered data, for every metric and several code widths (counts, not times).

mod common;

use silt_index::quantize::rng::SplitMix64;
use silt_index::quantize::{estimate, CodeBlock, Metric, Query, Rotation};

struct Tally {
    pairs: usize,
    within: usize,
    /// Σ (estimate − exact), to check the estimator has no systematic bias.
    signed: f64,
    absolute: f64,
}

fn tally(groups: &[Vec<Vec<f32>>], queries: &[Vec<f32>], metric: Metric, bits: u8) -> Tally {
    let d = groups[0][0].len();
    let rotation = Rotation::new(0x5117, d);
    let mut t = Tally {
        pairs: 0,
        within: 0,
        signed: 0.0,
        absolute: 0.0,
    };
    for g in groups {
        let refs: Vec<&[f32]> = g.iter().map(|v| v.as_slice()).collect();
        let block = CodeBlock::encode(&refs, metric, bits, &rotation).unwrap();
        for q in queries {
            let query = Query::new(&rotation, metric, q).unwrap();
            for (e, v) in estimate(&block, &query).unwrap().iter().zip(g) {
                let exact = metric.distance(q, v);
                t.pairs += 1;
                // A hair of slack for f32 rounding in the exact and estimated sums.
                let slack = 1e-4 * exact.abs().max(1.0);
                if (e.distance - exact).abs() <= e.bound + slack {
                    t.within += 1;
                }
                t.signed += f64::from(e.distance - exact);
                t.absolute += f64::from((e.distance - exact).abs());
            }
        }
    }
    t
}

fn check(name: &str, t: &Tally) {
    let share = t.within as f64 / t.pairs as f64;
    let bias = t.signed / t.pairs as f64;
    let mean_error = t.absolute / t.pairs as f64;
    println!("{name}: {share:.4} of {} pairs within the bound, mean error {mean_error:.5}, bias {bias:+.5}", t.pairs);
    assert!(share >= 0.99, "{name}: only {share:.4} within the bound");
    // Unbiased: the mean signed error is a small fraction of the mean absolute error.
    assert!(
        bias.abs() <= 0.15 * mean_error,
        "{name}: bias {bias} vs error {mean_error}"
    );
}

#[test]
fn bound_holds_on_random_data() {
    let mut rng = SplitMix64::new(1);
    for d in [128, 100] {
        let data = common::random(&mut rng, 250, d);
        let queries = common::random(&mut rng, 20, d);
        for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
            for bits in [1, 4, 8] {
                let t = tally(std::slice::from_ref(&data), &queries, metric, bits);
                check(&format!("random d={d} {metric:?} B={bits}"), &t);
            }
        }
    }
}

#[test]
fn bound_holds_on_clustered_data() {
    let mut rng = SplitMix64::new(2);
    let groups = common::mixture(&mut rng, 2_000, 96, 10, 0.3);
    let queries: Vec<Vec<f32>> = (0..10)
        .map(|i| common::near(&mut rng, &groups[i][i], 0.3))
        .collect();
    for metric in [Metric::L2, Metric::Ip, Metric::Cosine] {
        for bits in [1, 3, 6] {
            let t = tally(&groups, &queries, metric, bits);
            check(&format!("clustered {metric:?} B={bits}"), &t);
        }
    }
}

#[test]
fn more_bits_give_smaller_errors() {
    let mut rng = SplitMix64::new(3);
    let data = common::random(&mut rng, 150, 128);
    let queries = common::random(&mut rng, 10, 128);
    let errors: Vec<f64> = (1..=8)
        .map(|bits| {
            let t = tally(std::slice::from_ref(&data), &queries, Metric::L2, bits);
            t.absolute / t.pairs as f64
        })
        .collect();
    for w in errors.windows(2) {
        assert!(w[1] < w[0], "errors by bits: {errors:?}");
    }
}

#[test]
fn mismatched_queries_are_errors_not_panics() {
    let rotation = Rotation::new(1, 8);
    let v = [1.0f32; 8];
    let block = CodeBlock::encode(&[&v], Metric::L2, 4, &rotation).unwrap();
    assert!(Query::new(&rotation, Metric::L2, &[1.0; 7]).is_err());
    assert!(Query::new(&rotation, Metric::L2, &[f32::NAN; 8]).is_err());
    let other = Query::new(&Rotation::new(2, 8), Metric::L2, &v).unwrap();
    assert!(estimate(&block, &other).is_err());
    let ip = Query::new(&rotation, Metric::Ip, &v).unwrap();
    assert!(estimate(&block, &ip).is_err());
    // A zero cosine query is at distance 1 from everything, as the exact path says.
    let cb = CodeBlock::encode(&[&v], Metric::Cosine, 4, &rotation).unwrap();
    let zero = Query::new(&rotation, Metric::Cosine, &[0.0; 8]).unwrap();
    let e = estimate(&cb, &zero).unwrap();
    assert_eq!((e[0].distance, e[0].bound), (1.0, 0.0));
}
