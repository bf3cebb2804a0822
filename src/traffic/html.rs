//! The report as one self-contained HTML page: inline CSS, charts as inline SVG, no script, no
//! font, image or link that would make a request. Readable on a phone and a desktop, printable.

use super::display::{bytes, exactness, pct, range, rows, thousands};
use super::model::{Distribution, HourRow, Ranking, Report};
use std::fmt::Write;

const CSS: &str = "
:root{color-scheme:light;--fg:#1d2433;--muted:#5b6577;--line:#d9dee7;--bar:#3b6fd8;--err:#d8453b;--warn:#e09a2b}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);margin:0;padding:16px;max-width:1200px;margin:auto;background:#fff}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.25em;margin:1.6em 0 .4em;border-bottom:2px solid var(--line);padding-bottom:.2em}
h3{font-size:1em;margin:1.2em 0 .3em}
.meta{color:var(--muted)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin:.6em 0}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 10px}
.card b{display:block;font-size:1.25em}
.card span{color:var(--muted);font-size:.85em}
table{border-collapse:collapse;width:100%;font-size:.9em}
td,th{padding:3px 6px;border-bottom:1px solid var(--line);text-align:right;vertical-align:top}
th{background:#f3f5f9}
td.v,th.v{text-align:left;word-break:break-all}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media (max-width:760px){.pair{grid-template-columns:1fr}body{padding:8px}}
.note{color:var(--muted);font-size:.85em}
.scroll{overflow-x:auto}
svg{width:100%;height:auto;display:block}
@media print{body{max-width:none;padding:0}.pair{grid-template-columns:1fr 1fr}h2{break-before:page}}
";

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn card(s: &mut String, value: &str, label: &str) {
    let _ = write!(
        s,
        "<div class=card><b>{}</b><span>{}</span></div>",
        esc(value),
        esc(label)
    );
}

/// Bars of requests per hour (4xx and 5xx stacked in colour), and p50/p99 latency lines.
fn charts(s: &mut String, hours: &[HourRow]) {
    if hours.is_empty() {
        return;
    }
    let (w, h, pad) = (900.0f64, 200.0f64, 36.0f64);
    let n = hours.len() as f64;
    let bw = (w - pad) / n;
    let max = hours.iter().map(|r| r.requests).max().unwrap_or(1).max(1) as f64;
    let y = |v: f64, top: f64| h - 20.0 - (h - 20.0 - 10.0) * v / top;
    let _ = write!(
        s,
        "<h3>Requests per hour (UTC)</h3><svg viewBox='0 0 {w} {h}' role=img \
         aria-label='requests per hour'><line x1={pad} y1={} x2={w} y2={} stroke='#999'/>\
         <text x=0 y=16 font-size=11 fill='#5b6577'>{}</text>",
        h - 20.0,
        h - 20.0,
        thousands(max as u64)
    );
    for (i, r) in hours.iter().enumerate() {
        let x = pad + i as f64 * bw;
        let bar = |s: &mut String, from: f64, to: f64, colour: &str| {
            let _ = write!(
                s,
                "<rect x='{x:.1}' y='{:.1}' width='{:.1}' height='{:.1}' fill='{colour}'/>",
                y(to, max),
                (bw * 0.85).max(0.5),
                (y(from, max) - y(to, max)).max(0.0)
            );
        };
        let total = r.requests as f64;
        let e5 = r.status_5xx as f64;
        let e4 = r.status_4xx as f64;
        bar(s, 0.0, total - e4 - e5, "var(--bar)");
        bar(s, total - e4 - e5, total - e5, "var(--warn)");
        bar(s, total - e5, total, "var(--err)");
    }
    let label_every = (hours.len() / 8).max(1);
    for (i, r) in hours.iter().enumerate().step_by(label_every) {
        let _ = write!(
            s,
            "<text x='{:.1}' y='{}' font-size=10 fill='#5b6577'>{}</text>",
            pad + i as f64 * bw,
            h - 5.0,
            esc(&r.hour.get(5..13).unwrap_or(&r.hour).replace('T', " "))
        );
    }
    s.push_str("</svg><p class=note>Blue: other statuses; orange: 4xx; red: 5xx.</p>");
    let lmax = hours
        .iter()
        .filter_map(|r| r.p99_ms)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let _ = write!(
        s,
        "<h3>Latency per hour, time-taken p50 and p99 (ms)</h3><svg viewBox='0 0 {w} {h}' \
         role=img aria-label='latency per hour'><line x1={pad} y1={} x2={w} y2={} \
         stroke='#999'/><text x=0 y=16 font-size=11 fill='#5b6577'>{}</text>",
        h - 20.0,
        h - 20.0,
        lmax
    );
    for (pick, colour) in [(0usize, "var(--bar)"), (1, "var(--err)")] {
        let points: Vec<String> = hours
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let v = if pick == 0 { r.p50_ms } else { r.p99_ms }?;
                Some(format!(
                    "{:.1},{:.1}",
                    pad + (i as f64 + 0.4) * bw,
                    y(f64::from(v), lmax)
                ))
            })
            .collect();
        let _ = write!(
            s,
            "<polyline fill=none stroke='{colour}' stroke-width=2 points='{}'/>",
            points.join(" ")
        );
    }
    s.push_str("</svg><p class=note>Blue: p50; red: p99.</p>");
}

fn ranking(s: &mut String, what: &str, r: &Ranking, as_bytes: bool) {
    let _ = write!(
        s,
        "<div class=scroll><table><tr><th>#</th><th>{}</th><th>share</th><th class=v>value \
         <span class=note>({})</span></th></tr>",
        esc(what),
        esc(&exactness(r))
    );
    if r.entries.is_empty() {
        s.push_str("<tr><td></td><td></td><td></td><td class=v>none in these logs</td></tr>");
    }
    for row in rows(r, as_bytes) {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=v>{}</td></tr>",
            row.rank,
            esc(&row.count),
            esc(&row.share),
            esc(row.value)
        );
    }
    s.push_str("</table></div>");
}

fn distribution(s: &mut String, d: &Distribution) {
    let t = &d.totals;
    let _ = write!(s, "<h2>Distribution {}</h2>", esc(&d.id));
    if let (Some(a), Some(b)) = (&d.first_record, &d.last_record) {
        let _ = write!(s, "<p class=meta>{} to {}</p>", esc(a), esc(b));
    }
    s.push_str("<div class=cards>");
    card(s, &thousands(t.requests), "requests");
    card(s, &bytes(t.bytes_out), "bytes out");
    card(s, &bytes(t.bytes_in), "bytes in");
    card(s, &pct(t.cache_hit_ratio), "cache hits (Hit+RefreshHit)");
    card(s, &pct(t.error_ratio), "errors (4xx+5xx)");
    let visitors = match t.unique_visitors {
        None => "-".to_owned(),
        Some(v) if t.unique_visitors_exact => thousands(v),
        Some(v) => format!("~{}", thousands(v)),
    };
    card(s, &visitors, "unique visitors (±1.6% past 128)");
    let p = &t.time_taken_ms;
    let f = |v: Option<u32>| v.map_or("-".to_owned(), |v| v.to_string());
    card(
        s,
        &format!("{}/{}/{}", f(p.p50), f(p.p90), f(p.p99)),
        "time-taken ms p50/p90/p99",
    );
    let p = &t.time_to_first_byte_ms;
    card(
        s,
        &format!("{}/{}/{}", f(p.p50), f(p.p90), f(p.p99)),
        "first byte ms p50/p90/p99",
    );
    s.push_str("</div>");
    charts(s, &d.hours);
    s.push_str(
        "<h3>Per hour</h3><div class=scroll><table><tr><th class=v>hour (UTC)</th>\
         <th>requests</th><th>bytes</th><th>hit %</th><th>4xx</th><th>5xx</th>\
         <th>p50 ms</th><th>p99 ms</th></tr>",
    );
    for h in &d.hours {
        let f = |v: Option<u32>| v.map_or("-".to_owned(), |v| v.to_string());
        let _ = write!(
            s,
            "<tr><td class=v>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            esc(&h.hour),
            thousands(h.requests),
            bytes(h.bytes),
            pct(h.cache_hit_ratio),
            thousands(h.status_4xx),
            thousands(h.status_5xx),
            f(h.p50_ms),
            f(h.p99_ms)
        );
    }
    s.push_str("</table></div>");
    for l in d.lists() {
        let _ = write!(s, "<h3>{}</h3><div class=pair>", esc(l.title));
        ranking(s, "requests", &l.by_requests, false);
        ranking(s, "bytes", &l.by_bytes, true);
        s.push_str("</div>");
    }
}

/// The whole report as one HTML document.
pub fn render(r: &Report) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content='width=device-width,initial-scale=1'>\
         <meta http-equiv=Content-Security-Policy content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">\
         <title>CloudFront traffic report</title><style>{CSS}</style></head><body>\
         <h1>CloudFront traffic report</h1>"
    );
    let range = range(r);
    let _ = write!(
        s,
        "<p class=meta>{} · {} files read, {} failed · {} records · {} lines rejected · \
         {} outside the range · top {} per list, sketches of capacity {}</p>",
        esc(&range),
        thousands(r.counts.files_read),
        thousands(r.counts.files_failed),
        thousands(r.counts.records),
        thousands(r.counts.rejected_lines),
        thousands(r.counts.outside_range),
        r.top_n,
        thousands(r.sketch_capacity as u64)
    );
    if !r.counts.problems.is_empty() {
        s.push_str("<h3>Broken files and lines</h3><ul>");
        for p in &r.counts.problems {
            let at = p.line.map_or(String::new(), |l| format!(" line {l}"));
            let _ = write!(s, "<li>{}{at}: {}</li>", esc(&p.file), esc(&p.reason));
        }
        if r.counts.problems_omitted > 0 {
            let _ = write!(
                s,
                "<li>… and {} more</li>",
                thousands(r.counts.problems_omitted)
            );
        }
        s.push_str("</ul>");
    }
    for d in &r.distributions {
        distribution(&mut s, d);
    }
    s.push_str("</body></html>\n");
    s
}
