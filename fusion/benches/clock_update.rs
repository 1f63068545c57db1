//! Cost of one latch pair through each clock estimator under the shared policy, including the
//! estimate refresh (target: ≤ 1 µs per latch pair); and of one frame arrival through the
//! passive estimator, the radar clock of every replay (a full window of 600 arrivals).

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use radcam_fusion::clock::{
    ArrivalSample, ClockEstimator, ClockSync, ESTIMATOR_NAMES, LatchSample, Passive, SyncPolicy,
    by_name,
};
use std::hint::black_box;

/// Pseudo-random numbers below `bound` from a xorshift generator seeded with `seed`
/// (non-zero).
fn below(mut seed: u64, bound: u64) -> impl FnMut() -> i64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound) as i64
    }
}

/// Latches of 200 s at 2 Hz bursts of 4, with deterministic pseudo-random leg delays.
fn latches() -> Vec<LatchSample> {
    let mut jitter = below(0x9E37_79B9_7F4A_7C15, 60_000);
    let mut out = Vec::new();
    for i in 0..400i64 {
        for k in 0..4u32 {
            let t = 1_000_000_000 + i * 500_000_000 + i64::from(k) * 1_000_000;
            let out_leg = 35_000 + jitter() / 4;
            let back = 55_000 + jitter();
            out.push(LatchSample {
                host_before_ns: t,
                device_ns: t + out_leg + 7_000_000_000 + t / 40_000,
                host_after_ns: t + out_leg + back,
                host_after_read_ns: t + out_leg + back + 120_000 + jitter(),
                burst_index: k,
            });
        }
    }
    out
}

fn per_latch(c: &mut Criterion) {
    let samples = latches();
    let mut group = c.benchmark_group("latch_update");
    group.throughput(Throughput::Elements(samples.len() as u64));
    for name in ESTIMATOR_NAMES {
        group.bench_function(name, |b| {
            b.iter_batched(
                || ClockSync::new(by_name(name).expect("registered"), SyncPolicy::default()),
                |mut sync| {
                    for s in &samples {
                        black_box(sync.observe_latch(black_box(s)));
                    }
                    sync
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

/// Radar frame arrivals at 20 Hz for 120 s: a device clock 40 ppm fast, transport delays of
/// 3 ms plus up to 2 ms of deterministic pseudo-random queueing.
fn arrivals() -> Vec<ArrivalSample> {
    let mut queueing = below(0x2545_F491_4F6C_DD1D, 2_000_000);
    (0..2_400i64)
        .map(|i| {
            let device_ns = 5_000_000_000 + i * 50_000_000;
            ArrivalSample {
                device_ns,
                host_arrival_ns: device_ns + device_ns / 25_000 + 3_000_000 + queueing(),
            }
        })
        .collect()
}

/// Per arrival with the default window (600 arrivals, blocks of 20): the first 600 fill it,
/// so the mean is over 1,800 arrivals at a full window and 600 filling it.
fn per_arrival(c: &mut Criterion) {
    let samples = arrivals();
    let mut group = c.benchmark_group("arrival_update");
    group.throughput(Throughput::Elements(samples.len() as u64));
    group.bench_function(Passive::NAME, |b| {
        b.iter_batched(
            Passive::default,
            |mut p| {
                for s in &samples {
                    p.observe_arrival(black_box(s));
                }
                black_box(p.estimate());
                p
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, per_latch, per_arrival);
criterion_main!(benches);
