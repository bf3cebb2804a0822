//! Merging per-file sketches: a report over 20 files equals the report over the same records in
//! one file, wherever its counts are exact (and says they are).

use cloudfront_log_metrics::traffic::{Report, Traffic, TrafficOptions, TrafficProcessor};
use proptest::prelude::*;
use serde_json::Value;

const HEADER: &str = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-uri-stem \
sc-status cs(Referer) cs(User-Agent) x-edge-result-type x-host-header time-taken \
time-to-first-byte ssl-protocol cs-protocol-version sc-content-type c-country\n";

const URIS: [&str; 6] = [
    "/",
    "/a.css",
    "/img/x%20y.png",
    "/api/v1",
    "/missing",
    "/caf%C3%A9",
];
const REFS: [&str; 4] = [
    "-",
    "https://www.example.org/x",
    "https://d111.cloudfront.net/",
    "http://news.example.com/",
];
const UAS: [&str; 4] = [
    "Mozilla/5.0%20(X11;%20Linux%20x86_64;%20rv:120.0)%20Gecko/20100101%20Firefox/120.0",
    "Mozilla/5.0%20(compatible;%20bingbot/2.0;%20+http://www.bing.com/bingbot.htm)",
    "curl/8.0",
    "-",
];
const EDGES: [&str; 3] = ["FRA56-P1", "IAD89-C1", "NRT12-P3"];
const RESULTS: [&str; 4] = ["Hit", "Miss", "RefreshHit", "Error"];
const STATUSES: [u16; 5] = [200, 304, 404, 503, 0];

/// One generated request: indexes into the tables above and a few numbers.
type Req = (u8, u8, u8, u8, u8, u8, u16, u32, u8, u32);

fn line(r: &Req) -> String {
    let (hour, uri, refr, ua, edge, result, bytes, ms, ip, status) = *r;
    format!(
        "2024-05-14\t{:02}:{:02}:00\t{}\t{bytes}\t198.51.100.{ip}\t{}\t{:03}\t{}\t{}\t{}\t\
         www.example.net\t{}.{:03}\t0.{:03}\tTLSv1.3\tHTTP/2.0\ttext/html\tFR\n",
        hour % 24,
        uri as u32 * 7 % 60,
        EDGES[edge as usize % EDGES.len()],
        URIS[uri as usize % URIS.len()],
        STATUSES[status as usize % STATUSES.len()],
        REFS[refr as usize % REFS.len()],
        UAS[ua as usize % UAS.len()],
        RESULTS[result as usize % RESULTS.len()],
        ms / 1000,
        ms % 1000,
        ms % 1000,
    )
}

/// The report over `files`, each a log file's text, as JSON without the file count.
fn report(files: &[String], opts: &TrafficOptions) -> Value {
    let mut run = Traffic::default();
    for (i, text) in files.iter().enumerate() {
        let mut p = TrafficProcessor::new(opts, "E2MERGE0TEST1");
        // Odd chunk sizes: lines are carried across chunks.
        for chunk in text.as_bytes().chunks(97) {
            p.feed(chunk).unwrap();
        }
        run.add_file(&format!("f{i}"), &p.finish().unwrap());
    }
    let mut doc: Value =
        serde_json::from_str(&Report::new(&run, 10, opts.capacity, None, None).to_json()).unwrap();
    doc.as_object_mut().unwrap().remove("files_read");
    doc
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn twenty_files_report_what_one_file_of_their_records_reports(
        reqs in prop::collection::vec(
            (0u8..30, any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>(),
             any::<u16>(), 0u32..3000, 1u8..200, 0u32..5),
            1..300,
        ),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 19),
    ) {
        let lines: Vec<String> = reqs.iter().map(line).collect();
        let one = vec![format!("{HEADER}{}", lines.concat())];
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(lines.len() + 1)).collect();
        at.sort_unstable();
        let mut files = Vec::new();
        let mut from = 0;
        for to in at.into_iter().chain([lines.len()]) {
            files.push(format!("{HEADER}{}", lines[from..to].concat()));
            from = to;
        }
        prop_assert_eq!(files.len(), 20);
        let opts = TrafficOptions::default();
        let whole = report(&one, &opts);
        prop_assert_eq!(&report(&files, &opts), &whole);
        let d = &whole["distributions"][0];
        prop_assert_eq!(d["totals"]["requests"].as_u64(), Some(reqs.len() as u64));
        for (_, list) in d["top"].as_object().unwrap() {
            prop_assert_eq!(&list["by_requests"]["exact"], &Value::Bool(true));
        }
    }
}

#[test]
fn past_capacity_the_merged_lists_say_they_are_approximate_and_bound_their_error() {
    // Six URIs: more than the twice the capacity a sketch monitors.
    let opts = TrafficOptions {
        capacity: 2,
        ..TrafficOptions::default()
    };
    let reqs: Vec<Req> = (0..200u32)
        .map(|i| {
            (
                13,
                (i % 6) as u8,
                0,
                0,
                0,
                0,
                100,
                10,
                (i % 50) as u8 + 1,
                0,
            )
        })
        .collect();
    let files: Vec<String> = reqs
        .chunks(10)
        .map(|c| format!("{HEADER}{}", c.iter().map(line).collect::<String>()))
        .collect();
    let doc = report(&files, &opts);
    let uris = &doc["distributions"][0]["top"]["uris"]["by_requests"];
    assert_eq!(uris["exact"], false);
    let bound = uris["max_overcount"].as_u64().unwrap();
    assert!(bound > 0 && bound <= 200, "{bound}");
    // Every URI had 200/6 ≈ 33 requests; each count is within its stated error.
    for e in uris["entries"].as_array().unwrap() {
        let (count, error) = (e["count"].as_u64().unwrap(), e["error"].as_u64().unwrap());
        assert!(count >= 33 && count - error <= 34, "{e}");
    }
    // Lists whose values fit stay exact.
    assert_eq!(
        doc["distributions"][0]["top"]["edge_locations"]["by_requests"]["exact"],
        true
    );
}
