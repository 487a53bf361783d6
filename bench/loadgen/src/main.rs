//! sift's connection-rate load generator. See `loadgen --help` and BENCHMARKS.md.

mod cli;
mod engine;
mod probe;

use std::process::ExitCode;
use std::thread;
use std::time::Instant;

use cli::{Config, Parsed};
use engine::{Engine, Plan, Tally};
use probe::Usage;

fn main() -> ExitCode {
    let cfg = match cli::parse(std::env::args().skip(1)) {
        Ok(Parsed::Run(cfg)) => cfg,
        Ok(Parsed::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("loadgen: {e} (loadgen --help for usage)");
            return ExitCode::from(2);
        }
    };
    match run(&cfg) {
        Ok(tally) if tally.ok > 0 => ExitCode::SUCCESS,
        Ok(_) => {
            eprintln!("loadgen: no connection succeeded");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        thread::sleep(t - now);
    }
}

fn run(cfg: &Config) -> std::io::Result<Tally> {
    let start = Instant::now();
    let plan = Plan {
        measure_from: start + cfg.warmup,
        end: start + cfg.warmup + cfg.duration,
    };
    println!(
        "loadgen: {} payload {} ({} bytes), concurrency {}, {} thread(s), warm-up {:?}, duration {:?}",
        cfg.addr,
        cfg.payload_name,
        cfg.payload.len(),
        cfg.concurrency,
        cfg.threads,
        cfg.warmup,
        cfg.duration
    );

    let (tally, usage) = thread::scope(|scope| {
        let mut handles = Vec::new();
        for t in 0..cfg.threads {
            let slots =
                cfg.concurrency / cfg.threads + usize::from(t < cfg.concurrency % cfg.threads);
            handles.push(scope.spawn(move || Engine::new(cfg, slots, plan)?.run()));
        }
        // CPU use over the measured window only.
        sleep_until(plan.measure_from);
        let before = probe::sample(cfg.server_pid);
        sleep_until(plan.end);
        let after = probe::sample(cfg.server_pid);
        let mut total = Tally::default();
        for h in handles {
            match h.join() {
                Ok(Ok(t)) => total.merge(t),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(std::io::Error::other("an event-loop thread panicked")),
            }
        }
        Ok((total, probe::usage(&before, &after, cfg.duration)))
    })?;

    report(cfg, tally, &usage)
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() - 1) as f64 * p / 100.0).round() as usize;
    sorted[rank]
}

fn report(cfg: &Config, mut tally: Tally, usage: &Usage) -> std::io::Result<Tally> {
    let secs = cfg.duration.as_secs_f64();
    let cps = tally.ok as f64 / secs;
    tally.latencies_us.sort_unstable();
    let lat = &tally.latencies_us;
    let (p50, p90, p99) = (
        percentile(lat, 50.0),
        percentile(lat, 90.0),
        percentile(lat, 99.0),
    );
    let max = lat.last().copied().unwrap_or(0);
    let ms = |us: u32| us as f64 / 1000.0;
    let cpu = usage.own_user + usage.own_sys;

    println!("  connections: {} in {secs:.2} s = {cps:.1}/s", tally.ok);
    println!(
        "  errors:      {} (connect {}, reset {}, mismatch {}, timeout {})",
        tally.errors(),
        tally.connect_errors,
        tally.resets,
        tally.mismatches,
        tally.timeouts
    );
    if tally.ok_reset > 0 {
        println!(
            "  note:        {} answers were followed by an RST instead of a FIN (server closed with the payload unread)",
            tally.ok_reset
        );
    }
    println!(
        "  latency:     p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms (connect to server close)",
        ms(p50),
        ms(p90),
        ms(p99),
        ms(max)
    );
    println!(
        "  cpu:         loadgen used {cpu:.2} core(s) (user {:.2}, sys {:.2})",
        usage.own_user, usage.own_sys
    );
    let mut extra = String::new();
    if let Some(server) = usage.server {
        println!(
            "               server pid {} used {server:.2} core(s), {:.1} us per connection",
            cfg.server_pid.unwrap_or(0),
            if tally.ok > 0 {
                server * secs * 1e6 / tally.ok as f64
            } else {
                0.0
            }
        );
        extra += &format!(" server_cpu={server:.3}");
    }
    for (i, (busy, softirq)) in usage.cpus.iter().enumerate() {
        println!(
            "               cpu{i} busy {:.0}% (softirq {:.0}%)",
            busy * 100.0,
            softirq * 100.0
        );
        extra += &format!(" cpu{i}_busy={busy:.3}");
    }
    for s in &tally.samples {
        eprintln!("  error sample: {s}");
    }
    println!(
        "RESULT name={} cps={cps:.1} total={} errors={} p50_us={p50} p90_us={p90} p99_us={p99} max_us={max} cpu={cpu:.3}{extra} concurrency={} duration_s={secs:.3}",
        cfg.name,
        tally.ok,
        tally.errors(),
        cfg.concurrency
    );
    Ok(tally)
}
