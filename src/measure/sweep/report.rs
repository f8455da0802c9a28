//! What a sweep writes and prints: `trials.csv` (one value per trial, router and metric),
//! `summary.csv`, `sweep.json`, one SVG per experiment, and the summary table; plus the UTC
//! timestamp that names the results folder.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

use super::{unit, Experiment, Params, Run, SummaryRow, Value};
use crate::measure::bed::Placement;
use crate::measure::plot::{self, Panel, Series};
use crate::measure::stats::Summary;

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn opt(r: Option<usize>) -> String {
    r.map_or("all".into(), |r| r.to_string())
}

pub const TRIALS_HEADER: &str = "experiment,point,x,trial,router,metric,unit,value";
pub const SUMMARY_HEADER: &str = "experiment,point,x,router,metric,unit,n,mean,ci95,stddev,min,max";

/// One line of `trials.csv`.
pub(super) fn trial_line(v: &Value) -> String {
    format!(
        "{},{},{},{},{},{},{},{}",
        v.experiment,
        csv_field(&v.point),
        v.x,
        v.trial,
        opt(v.router),
        v.metric,
        unit(v.metric),
        v.value
    )
}

pub(super) fn write_outputs(dir: &Path, run: &Run, summary: &[SummaryRow]) -> Result<()> {
    let mut t = String::from(TRIALS_HEADER);
    t.push('\n');
    for v in &run.values {
        let _ = writeln!(t, "{}", trial_line(v));
    }
    let mut s = String::from(SUMMARY_HEADER);
    s.push('\n');
    for r in summary {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            r.experiment,
            csv_field(&r.point),
            r.x,
            opt(r.router),
            r.metric,
            unit(r.metric),
            r.s.n,
            r.s.mean,
            r.s.ci95,
            r.s.stddev,
            r.s.min,
            r.s.max
        );
    }
    let w = |name: &str, body: &str| -> Result<()> {
        let path = dir.join(name);
        std::fs::write(&path, body).with_context(|| format!("writing {}", path.display()))
    };
    w("trials.csv", &t)?;
    w("summary.csv", &s)?;
    let j = json!({
        "vrouter": env!("CARGO_PKG_VERSION"),
        "params": run.p,
        "seconds": run.started.elapsed().as_secs_f64(),
        "summary": summary,
        "trials": run.values,
    });
    w("sweep.json", &serde_json::to_string_pretty(&j)?)?;
    plots(dir, &run.p, summary)
}

/// The sweep's rows as (name, point prefix): one unnamed row, or each row by name.
fn row_prefixes(p: &Params) -> Vec<(String, String)> {
    if p.rows.len() > 1 {
        p.rows
            .iter()
            .map(|r| (r.name(), format!("{}: ", r.name())))
            .collect()
    } else {
        vec![(String::new(), String::new())]
    }
}

/// What a plot calls a metric.
fn metric_name(metric: &str) -> &str {
    match metric {
        "forwarded_kpps" => "forwarded",
        "loss_pct" => "loss",
        "cpu_per_router_pct" => "CPU per router",
        m => m,
    }
}

/// The group of a point named `<group><n><suffix>` (`vrouter busy: total, 2 routers` is in
/// group `vrouter busy: total, `); `None` for points not of that form.
fn group_of<'a>(point: &'a str, suffix: &str) -> Option<&'a str> {
    let head = point.strip_suffix(suffix)?;
    let cut = head.trim_end_matches(|c: char| c.is_ascii_digit());
    (cut.len() < head.len()).then_some(cut)
}

/// The groups of an experiment's points, in the order they first appear.
fn groups(summary: &[SummaryRow], experiment: &str, suffix: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in summary.iter().filter(|r| r.experiment == experiment) {
        if let Some(g) = group_of(&r.point, suffix) {
            if !out.iter().any(|o| o == g) {
                out.push(g.to_string());
            }
        }
    }
    out
}

/// Points of one aggregate metric, by x, for a chart.
fn series(
    summary: &[SummaryRow],
    experiment: &str,
    metric: &str,
    router: Option<usize>,
    point_filter: &dyn Fn(&str) -> bool,
) -> Vec<(f64, f64, f64)> {
    summary
        .iter()
        .filter(|r| {
            r.experiment == experiment
                && r.metric == metric
                && r.router == router
                && point_filter(&r.point)
        })
        .map(|r| (r.x, r.s.mean, r.s.ci95))
        .collect()
}

pub(super) fn plots(dir: &Path, p: &Params, summary: &[SummaryRow]) -> Result<()> {
    let any = |_: &str| true;
    let kpps = p.rate / 1e3;
    let frame = p.frame;
    let has = |e: Experiment| p.experiments.contains(&e);
    let routers_axis = "virtual routers";
    if has(Experiment::Routers) {
        // One line per row and reading (`vrouter busy: total, `), or the plain series.
        let gs = groups(summary, "routers", " routers");
        let by_group = |metric: &str| -> Vec<Series> {
            gs.iter()
                .map(|g| Series {
                    name: if g.is_empty() {
                        metric_name(metric).into()
                    } else {
                        g.trim_end_matches([',', ':', ' ']).to_string()
                    },
                    points: series(summary, "routers", metric, None, &|pt: &str| {
                        group_of(pt, " routers") == Some(g.as_str())
                    }),
                })
                .collect()
        };
        let mut fwd = by_group("forwarded_kpps");
        if gs.len() == 1 {
            fwd.insert(
                0,
                Series {
                    name: "offered".into(),
                    points: series(summary, "routers", "offered_kpps", None, &any),
                },
            );
        }
        let panels = [
            Panel {
                title: "Aggregate forwarding rate".into(),
                x_label: routers_axis.into(),
                y_label: "kp/s (sink, over the sending window)".into(),
                series: fwd,
                x_names: None,
            },
            Panel {
                title: "Aggregate loss".into(),
                x_label: routers_axis.into(),
                y_label: "% of offered frames".into(),
                series: by_group("loss_pct"),
                x_names: None,
            },
            Panel {
                title: "CPU per router".into(),
                x_label: routers_axis.into(),
                y_label: "% of one core".into(),
                series: by_group("cpu_per_router_pct"),
                x_names: None,
            },
        ];
        let rate = match (p.rate_per, p.total_rate) {
            (super::RatePer::Router, _) => format!("{kpps:.0} kp/s per router"),
            (_, Some(t)) => format!("{:.0} kp/s in total / per router", t / 1e3),
            (_, None) => {
                format!("one router's zero-loss rate in total / {kpps:.0} kp/s per router")
            }
        };
        plot::render(
            &dir.join("routers.svg"),
            &format!(
                "{rate}, {frame} frames, {} routes each ({:?})",
                p.routes, p.backend
            ),
            &panels,
        )?;
    }
    let rows = row_prefixes(p);
    let named = |base: &str, row: &str| {
        if row.is_empty() {
            base.to_string()
        } else {
            format!("{row} {base}")
        }
    };
    if has(Experiment::TableSize) {
        let names: Vec<String> = {
            let mut v: Vec<(f64, String)> = summary
                .iter()
                .filter(|r| {
                    r.experiment == "table-size"
                        && r.metric == "routes"
                        && r.point.starts_with(rows[0].1.as_str())
                })
                .map(|r| {
                    let name = r.point[rows[0].1.len()..].trim_end_matches(" routes");
                    (r.x, name.to_string())
                })
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            v.into_iter().map(|x| x.1).collect()
        };
        // One series per row and family: IPv6 points (`v6 ...`) sit right of the IPv4 ones.
        let per_row = |metric: &str, base: &str| -> Vec<Series> {
            rows.iter()
                .flat_map(|(name, prefix)| {
                    [false, true].map(|v6| Series {
                        name: named(&format!("{base}{}", if v6 { ", IPv6" } else { "" }), name),
                        points: series(summary, "table-size", metric, None, &|pt: &str| {
                            pt.strip_prefix(prefix.as_str())
                                .is_some_and(|rest| rest.starts_with("v6 ") == v6)
                        }),
                    })
                })
                .filter(|s| !s.points.is_empty())
                .collect()
        };
        let panels = [
            Panel {
                title: format!("Forwarded at {kpps:.0} kp/s offered"),
                x_label: "routes in the table".into(),
                y_label: "kp/s".into(),
                series: per_row("forwarded_kpps", "forwarded"),
                x_names: Some(names.clone()),
            },
            Panel {
                title: "Highest zero-loss rate".into(),
                x_label: "routes in the table".into(),
                y_label: "Mp/s".into(),
                series: per_row("zero_loss_mpps", "zero-loss throughput"),
                x_names: Some(names),
            },
        ];
        plot::render(
            &dir.join("table_size.svg"),
            &format!(
                "Forwarding rate vs table size ({frame} frames, {:?})",
                p.backend
            ),
            &panels,
        )?;
    }
    if has(Experiment::Fairness) {
        // One line per row and link (`kernel: 1 Gb/s link, `), as for the routers experiment.
        let gs = groups(summary, "fairness", " routers");
        let label = |g: &str, base: &str| {
            let g = g.trim_end_matches([',', ':', ' ']);
            if g.is_empty() {
                base.to_string()
            } else {
                format!("{g} {base}")
            }
        };
        let in_group = |g: &str, pt: &str| group_of(pt, " routers") == Some(g);
        let mut tput = Vec::new();
        let mut jains = Vec::new();
        for g in &gs {
            tput.push(Series {
                name: label(g, "aggregate"),
                points: series(summary, "fairness", "throughput_mbps", None, &|pt: &str| {
                    in_group(g, pt)
                }),
            });
            jains.push(Series {
                name: label(g, "Jain"),
                points: series(summary, "fairness", "jain", None, &|pt: &str| {
                    in_group(g, pt)
                }),
            });
        }
        if gs.len() <= 2 {
            // Per-router lines of the shared link (or of the one run there is).
            let g = gs.last().cloned().unwrap_or_default();
            for i in 0..p.max_routers {
                tput.push(Series {
                    name: label(&g, &format!("VR {i}")),
                    points: series(
                        summary,
                        "fairness",
                        "throughput_mbps",
                        Some(i),
                        &|pt: &str| in_group(&g, pt),
                    ),
                });
            }
        }
        // Mb/s up to a few Gb/s, Gb/s beyond (memory links carry hundreds of Gb/s).
        let top = tput
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max);
        let (unit, div) = if top > 5_000.0 {
            ("Gb/s", 1e3)
        } else {
            ("Mb/s", 1.0)
        };
        for s in &mut tput {
            for pt in &mut s.points {
                pt.1 /= div;
                pt.2 /= div;
            }
        }
        let panels = [
            Panel {
                title: "UDP throughput (1472-byte payloads)".into(),
                x_label: routers_axis.into(),
                y_label: format!("{unit} of payload"),
                series: tput,
                x_names: None,
            },
            Panel {
                title: "Jain's fairness index".into(),
                x_label: routers_axis.into(),
                y_label: "index (1 = equal shares)".into(),
                series: jains,
                x_names: None,
            },
        ];
        let link = p.link_rate.map_or(String::new(), |b| {
            format!("; shared {} link beside own links", super::rate_name(b))
        });
        plot::render(
            &dir.join("fairness.svg"),
            &format!("Throughput shares ({:?}{link})", p.backend),
            &panels,
        )?;
    }
    if has(Experiment::Rfc2544) {
        let mut lat = Vec::new();
        for (name, prefix) in &rows {
            for (m, base) in [("p50_us", "p50"), ("p99_us", "p99")] {
                lat.push(Series {
                    name: named(base, name),
                    points: series(summary, "rfc2544", m, None, &|pt: &str| {
                        pt.starts_with(prefix.as_str()) && pt.contains('%')
                    }),
                });
            }
        }
        let panels = [Panel {
            title: "One-way latency at fractions of the zero-loss throughput".into(),
            x_label: "% of zero-loss throughput".into(),
            y_label: "µs".into(),
            series: lat,
            x_names: None,
        }];
        plot::render(
            &dir.join("rfc2544.svg"),
            &format!("RFC 2544 latency, {frame} frames ({:?})", p.backend),
            &panels,
        )?;
    }
    if has(Experiment::Modes) {
        let by_mode = |metric: &str| {
            Placement::ALL
                .iter()
                .map(|m| Series {
                    name: m.name().into(),
                    points: series(summary, "modes", metric, None, &|pt: &str| {
                        pt.starts_with(&format!("{}, ", m.name()))
                    }),
                })
                .collect::<Vec<_>>()
        };
        let panels = [
            Panel {
                title: "Aggregate forwarded".into(),
                x_label: routers_axis.into(),
                y_label: "kp/s".into(),
                series: by_mode("forwarded_kpps"),
                x_names: None,
            },
            Panel {
                title: "CPU per router".into(),
                x_label: routers_axis.into(),
                y_label: "% of one core".into(),
                series: by_mode("cpu_per_router_pct"),
                x_names: None,
            },
            Panel {
                title: "Worst router's p99 latency".into(),
                x_label: routers_axis.into(),
                y_label: "µs".into(),
                series: by_mode("p99_us"),
                x_names: None,
            },
        ];
        plot::render(
            &dir.join("modes.svg"),
            &format!(
                "Polling modes at {kpps:.0} kp/s per router on {} cores",
                p.cores
            ),
            &panels,
        )?;
    }
    Ok(())
}

/// The summary table printed at the end.
pub(super) fn table_text(p: &Params, summary: &[SummaryRow]) -> String {
    let get = |e: &str, point: &str, m: &str| {
        summary
            .iter()
            .find(|r| r.experiment == e && r.point == point && r.metric == m && r.router.is_none())
            .map(|r| r.s)
    };
    let fmt = |s: Option<Summary>, prec: usize| match s {
        Some(s) if s.n > 1 => format!("{:.*} ± {:.*}", prec, s.mean, prec, s.ci95),
        Some(s) => format!("{:.*}", prec, s.mean),
        None => "-".into(),
    };
    let mut out = String::new();
    let mut points: Vec<(&str, &str)> = Vec::new();
    for r in summary.iter().filter(|r| r.router.is_none()) {
        if !points.contains(&(r.experiment, r.point.as_str())) {
            points.push((r.experiment, r.point.as_str()));
        }
    }
    let _ = writeln!(
        out,
        "\nmean ± 95% CI over n trials ({} cores, {:?} backend){}",
        p.cores,
        p.backend,
        if p.trials < 5 {
            format!(
                "; with {} trials an interval is ±{:.1} standard deviations wide: indicative only",
                p.trials,
                crate::measure::stats::t975(p.trials.saturating_sub(1)) / (p.trials as f64).sqrt()
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "{:<11} {:<40} {:>3} {:>16} {:>20} {:>16} {:>8} {:>14} {:>14} other",
        "experiment",
        "point",
        "n",
        "offered kp/s",
        "forwarded kp/s",
        "loss %",
        "Jain",
        "CPU/router %",
        "p99 µs",
    );
    for (e, pt) in points {
        // A zero-loss answer that did not hold its full-length confirmation says so.
        let unheld = match get(e, pt, "held") {
            Some(h) if h.mean < 1.0 => format!(
                " ({} of {} did not hold)",
                ((1.0 - h.mean) * h.n as f64).round(),
                h.n
            ),
            _ => String::new(),
        };
        let other = match e {
            "table-size" => get(e, pt, "zero_loss_mpps")
                .map(|s| format!("{} Mp/s max{unheld}", fmt(Some(s), 2))),
            "fairness" => {
                get(e, pt, "throughput_mbps").map(|s| format!("{} Mb/s", fmt(Some(s), 0)))
            }
            "routers" if pt.ends_with("zero-loss rate") => get(e, pt, "zero_loss_kpps")
                .map(|s| format!("{} kp/s without loss{unheld}", fmt(Some(s), 1))),
            "rfc2544" if pt.ends_with("unpaced") => Some(limit_text(
                get(e, pt, "generator_cpu_pct").map(|s| s.mean),
                ["ingress_drops", "router_drops", "host_drops", "sink_drops"]
                    .iter()
                    .filter_map(|m| get(e, pt, m).map(|s| s.mean))
                    .sum(),
                get(e, pt, "loss_pct").map_or(0.0, |s| s.mean),
            )),
            "rfc2544" if pt == "throughput" || pt.ends_with(": throughput") => Some(format!(
                "0 loss {} Mp/s{unheld}; {}%: {} Mp/s",
                fmt(get(e, pt, "zero_loss_mpps"), 2),
                p.loss_tolerance_pct,
                fmt(get(e, pt, "tolerant_mpps"), 2)
            )),
            _ => None,
        };
        // Where frames were lost, per trial, when anything counted them.
        let drops: Vec<String> = [
            ("router ingress", "ingress_drops"),
            ("router", "router_drops"),
            ("host", "host_drops"),
            ("link", "link_drops"),
            ("sink", "sink_drops"),
            ("late", "late"),
        ]
        .iter()
        .filter_map(|(place, m)| {
            get(e, pt, m)
                .filter(|s| s.mean > 0.0)
                .map(|s| format!("{place} {:.0}", s.mean))
        })
        .collect();
        // Frames refused at a router's ingress came either from a router that stalled or from
        // a generator that did and then caught up in a burst: its worst lag tells which.
        let mut drops = drops;
        if get(e, pt, "ingress_drops").is_some_and(|s| s.mean > 0.0) {
            if let Some(lag) = get(e, pt, "generator_lag_frames") {
                drops.push(format!("generator lag up to {:.0} frames", lag.max));
            }
        }
        let other = match (other, drops.is_empty()) {
            (o, true) => o,
            (Some(o), false) => Some(format!("{o}; dropped/trial: {}", drops.join(", "))),
            (None, false) => Some(format!("dropped/trial: {}", drops.join(", "))),
        };
        let _ = writeln!(
            out,
            "{:<11} {:<40} {:>3} {:>16} {:>20} {:>16} {:>8} {:>14} {:>14} {}",
            e,
            pt,
            summary
                .iter()
                .filter(|r| r.experiment == e && r.point == pt && r.router.is_none())
                .map(|r| r.s.n)
                .max()
                .unwrap_or(0),
            fmt(get(e, pt, "offered_kpps"), 1),
            fmt(get(e, pt, "forwarded_kpps"), 1),
            fmt(get(e, pt, "loss_pct"), 4),
            get(e, pt, "jain").map_or("-".into(), |s| format!("{:.4}", s.mean)),
            fmt(get(e, pt, "cpu_per_router_pct"), 1),
            fmt(get(e, pt, "p99_us"), 0),
            other.unwrap_or_default()
        );
    }
    // The paper's first finding, read off the table-size rows: how flat the rate stays, per
    // family (IPv6 points are named `v6 ...`).
    for ((name, prefix), v6) in row_prefixes(p)
        .into_iter()
        .flat_map(|r| [(r.clone(), false), (r, true)])
    {
        let flat = |metric: &str| {
            let v: Vec<f64> = summary
                .iter()
                .filter(|r| {
                    r.experiment == "table-size"
                        && r.metric == metric
                        && r.router.is_none()
                        && r.point
                            .strip_prefix(prefix.as_str())
                            .is_some_and(|rest| rest.starts_with("v6 ") == v6)
                })
                .map(|r| r.s.mean)
                .collect();
            let (lo, hi) = v.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
            (v.len() > 1 && lo > 0.0).then(|| hi / lo)
        };
        if let Some(f) = flat("forwarded_kpps") {
            let _ = writeln!(
                out,
                "table-size{}{}: forwarded rate max/min across table sizes {f:.3}{}",
                if v6 { " IPv6" } else { "" },
                if name.is_empty() {
                    String::new()
                } else {
                    format!(" ({name})")
                },
                flat("zero_loss_mpps").map_or(String::new(), |z| format!(
                    "; zero-loss rate max/min {z:.2}"
                ))
            );
        }
    }
    out
}

/// What held an unpaced trial back, judged from where frames were lost and how busy the
/// generator was (as `vrouter bench lab` says it).
fn limit_text(generator_cpu_pct: Option<f64>, drops: f64, loss_pct: f64) -> String {
    let limit = if drops > 0.0 {
        "the router (frames dropped at its rings)"
    } else if generator_cpu_pct.is_some_and(|c| c >= 90.0) && loss_pct < 0.1 {
        "the generator (its core busy, nothing lost)"
    } else if loss_pct >= 0.1 {
        "lost where nothing counts"
    } else {
        "unclear"
    };
    format!("limit: {limit}")
}

/// `YYYYmmdd-HHMMSS` in UTC, for result folders.
pub fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil(secs.div_euclid(86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's civil_from_days).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(11_016), (2000, 2, 29));
        assert_eq!(civil(20_782), (2026, 11, 25));
    }

    #[test]
    fn csv_quoting_and_units() {
        assert_eq!(csv_field("busy, 2 routers"), "\"busy, 2 routers\"");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(unit("forwarded_kpps"), "kp/s");
        assert_eq!(unit("loss_pct"), "%");
        assert_eq!(unit("jain"), "");
    }

    #[test]
    fn points_fall_into_groups_by_row_and_reading() {
        assert_eq!(group_of("2 routers", " routers"), Some(""));
        assert_eq!(
            group_of("vrouter busy: total, 12 routers", " routers"),
            Some("vrouter busy: total, ")
        );
        assert_eq!(
            group_of("kernel: 1 router, zero-loss rate", " routers"),
            None
        );
        assert_eq!(group_of("total routers", " routers"), None);
    }
}
