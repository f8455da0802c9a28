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
        let panels = [
            Panel {
                title: "Aggregate forwarding rate (sink clock)".into(),
                x_label: routers_axis.into(),
                y_label: "kp/s".into(),
                series: vec![
                    Series {
                        name: "offered".into(),
                        points: series(summary, "routers", "offered_kpps", None, &any),
                    },
                    Series {
                        name: "forwarded".into(),
                        points: series(summary, "routers", "forwarded_kpps", None, &any),
                    },
                ],
                x_names: None,
            },
            Panel {
                title: "Loss and CPU".into(),
                x_label: routers_axis.into(),
                y_label: "% (loss; CPU per router of one core)".into(),
                series: vec![
                    Series {
                        name: "loss %".into(),
                        points: series(summary, "routers", "loss_pct", None, &any),
                    },
                    Series {
                        name: "CPU per router %".into(),
                        points: series(summary, "routers", "cpu_per_router_pct", None, &any),
                    },
                ],
                x_names: None,
            },
        ];
        plot::render(
            &dir.join("routers.svg"),
            &format!(
                "{kpps:.0} kp/s of {frame} frames per router, {} placement, {} routes each",
                p.mode, p.routes
            ),
            &panels,
        )?;
    }
    if has(Experiment::TableSize) {
        let names: Vec<String> = {
            let mut v: Vec<(f64, String)> = summary
                .iter()
                .filter(|r| r.experiment == "table-size" && r.metric == "routes")
                .map(|r| (r.x, r.point.trim_end_matches(" routes").to_string()))
                .collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            v.into_iter().map(|x| x.1).collect()
        };
        let panels = [
            Panel {
                title: format!("Forwarded at {kpps:.0} kp/s offered"),
                x_label: "routes in the table".into(),
                y_label: "kp/s".into(),
                series: vec![Series {
                    name: "forwarded".into(),
                    points: series(summary, "table-size", "forwarded_kpps", None, &any),
                }],
                x_names: Some(names.clone()),
            },
            Panel {
                title: "Highest zero-loss rate".into(),
                x_label: "routes in the table".into(),
                y_label: "Mp/s".into(),
                series: vec![Series {
                    name: "zero-loss throughput".into(),
                    points: series(summary, "table-size", "zero_loss_mpps", None, &any),
                }],
                x_names: Some(names),
            },
        ];
        plot::render(
            &dir.join("table_size.svg"),
            &format!(
                "Forwarding rate vs table size ({frame} frames, {} placement)",
                p.mode
            ),
            &panels,
        )?;
    }
    if has(Experiment::Fairness) {
        let mut s = vec![Series {
            name: "aggregate".into(),
            points: series(summary, "fairness", "throughput_mbps", None, &any),
        }];
        for i in 0..p.max_routers {
            s.push(Series {
                name: format!("VR {i}"),
                points: series(summary, "fairness", "throughput_mbps", Some(i), &any),
            });
        }
        let panels = [
            Panel {
                title: "UDP throughput (1472-byte payloads)".into(),
                x_label: routers_axis.into(),
                y_label: "Mb/s".into(),
                series: s,
                x_names: None,
            },
            Panel {
                title: "Jain's fairness index".into(),
                x_label: routers_axis.into(),
                y_label: "index (1 = equal shares)".into(),
                series: vec![Series {
                    name: "Jain".into(),
                    points: series(summary, "fairness", "jain", None, &any),
                }],
                x_names: None,
            },
        ];
        plot::render(
            &dir.join("fairness.svg"),
            &format!(
                "Throughput shares, routers sending as fast as they can ({} placement)",
                p.mode
            ),
            &panels,
        )?;
    }
    if has(Experiment::Rfc2544) {
        let lat = |m: &str| series(summary, "rfc2544", m, None, &|pt: &str| pt.contains('%'));
        let panels = [Panel {
            title: "One-way latency at fractions of the zero-loss throughput".into(),
            x_label: "% of zero-loss throughput".into(),
            y_label: "µs".into(),
            series: vec![
                Series {
                    name: "p50".into(),
                    points: lat("p50_us"),
                },
                Series {
                    name: "p99".into(),
                    points: lat("p99_us"),
                },
            ],
            x_names: None,
        }];
        plot::render(
            &dir.join("rfc2544.svg"),
            &format!(
                "RFC 2544 latency, {frame} frames, full table ({} placement)",
                p.mode
            ),
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
        "\nmean ± 95% CI over {} trials ({} cores, {:?} backend)",
        p.trials, p.cores, p.backend
    );
    let _ = writeln!(
        out,
        "{:<11} {:<26} {:>16} {:>20} {:>16} {:>8} {:>14} {:>14} other",
        "experiment",
        "point",
        "offered kp/s",
        "forwarded kp/s",
        "loss %",
        "Jain",
        "CPU/router %",
        "p99 µs",
    );
    for (e, pt) in points {
        let other = match e {
            "table-size" => {
                get(e, pt, "zero_loss_mpps").map(|s| format!("{} Mp/s max", fmt(Some(s), 2)))
            }
            "fairness" => {
                get(e, pt, "throughput_mbps").map(|s| format!("{} Mb/s", fmt(Some(s), 0)))
            }
            "rfc2544" if pt == "throughput" => Some(format!(
                "0 loss {} Mp/s; {}%: {} Mp/s",
                fmt(get(e, pt, "zero_loss_mpps"), 2),
                p.loss_tolerance_pct,
                fmt(get(e, pt, "tolerant_mpps"), 2)
            )),
            _ => None,
        };
        let _ = writeln!(
            out,
            "{:<11} {:<26} {:>16} {:>20} {:>16} {:>8} {:>14} {:>14} {}",
            e,
            pt,
            fmt(get(e, pt, "offered_kpps"), 1),
            fmt(get(e, pt, "forwarded_kpps"), 1),
            fmt(get(e, pt, "loss_pct"), 4),
            get(e, pt, "jain").map_or("-".into(), |s| format!("{:.4}", s.mean)),
            fmt(get(e, pt, "cpu_per_router_pct"), 1),
            fmt(get(e, pt, "p99_us"), 0),
            other.unwrap_or_default()
        );
    }
    out
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
}
