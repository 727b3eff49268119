//! The fixed business-time workload (shared/bench/WORKLOAD.md): a 5×8 China
//! 2026 calendar, seeded random opens, deadlines and elapsed times, printed
//! as throughput and checksums that any implementation must reproduce.
//!
//! `cargo run --release -p sla-engine --example workload -- --seed S --n N`

use std::hint::black_box;
use std::time::Instant;

use sla_engine::{BusinessSeconds, Calendar, HolidaySchedule, Preset, ServiceWindow, Timestamp};

const CN_2026: &str = include_str!("../../../config/calendars/cn-2026.toml");
const TARGET_MINUTES: [u64; 7] = [30, 60, 120, 240, 360, 1440, 4320];
const YEAR_START: i64 = 1_767_196_800; // 2026-01-01T00:00:00+08:00
const MERSENNE_61: u128 = (1 << 61) - 1;

/// The workload's 64-bit LCG, returning the upper 32 bits of each state.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 32
    }
}

fn checksums(values: &[i64]) -> (i64, u128) {
    let sum = values.iter().sum();
    let weighted = values
        .iter()
        .enumerate()
        .fold(0u128, |acc, (i, &v)| (acc + (i as u128 + 1) * v as u128 % MERSENNE_61) % MERSENNE_61);
    (sum, weighted)
}

fn arg(args: &[String], name: &str, default: u64) -> Result<u64, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => {
            let v = args.get(i + 1).ok_or_else(|| format!("{name} needs a value"))?;
            v.parse().map_err(|_| format!("{name} {v}: not a whole number"))
        }
    }
}

#[allow(clippy::print_stdout)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed = arg(&args, "--seed", 20_260_101)?;
    let n = usize::try_from(arg(&args, "--n", 100_000)?)?;

    let mut rng = Lcg(seed);
    let opens: Vec<i64> = (0..n).map(|_| YEAR_START + (rng.next() % 31_536_000) as i64).collect();
    let ends: Vec<i64> = opens.iter().map(|&o| o + (rng.next() % 2_592_001) as i64).collect();
    let targets: Vec<BusinessSeconds> =
        (0..n).map(|i| BusinessSeconds::from_minutes(TARGET_MINUTES[i % 7])).collect();

    let built = Instant::now();
    let (_, holidays) = HolidaySchedule::from_toml_str("cn-2026.toml", CN_2026)?;
    let calendar = Calendar::build(&ServiceWindow::default_preset(Preset::FiveByEight), &holidays)?;
    let build_ms = built.elapsed().as_secs_f64() * 1e3;

    let mut deadlines = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let r = calendar.deadline(Timestamp::from_unix(black_box(opens[i])), targets[i])?;
        deadlines.push(r.value.unix());
    }
    let deadline_secs = started.elapsed().as_secs_f64();

    let mut elapsed = Vec::with_capacity(n);
    let started = Instant::now();
    for i in 0..n {
        let r = calendar.elapsed(Timestamp::from_unix(black_box(opens[i])), Timestamp::from_unix(ends[i]))?;
        elapsed.push(r.value.get() as i64);
    }
    let elapsed_secs = started.elapsed().as_secs_f64();

    let (d_sum, d_weighted) = checksums(&deadlines);
    let (e_sum, e_weighted) = checksums(&elapsed);
    println!("deadline ops_per_sec={:.1} sum={d_sum} weighted={d_weighted}", n as f64 / deadline_secs);
    println!("elapsed ops_per_sec={:.1} sum={e_sum} weighted={e_weighted}", n as f64 / elapsed_secs);
    println!("build_ms={build_ms:.3}");
    Ok(())
}
