//! Unit tests of the parser: formats, headers, rejects, chunking.

use super::*;

type Row = (i64, u64, Option<u16>, Vec<u8>);

/// Parses a whole input, collecting (timestamp, sc_bytes, status, result type).
fn parse_all(input: &[u8]) -> (Vec<Row>, ParseStats) {
    let mut p = LogParser::new();
    let mut out = Vec::new();
    let used = p
        .process(input, true, |r| {
            out.push((
                r.timestamp_ms,
                r.sc_bytes,
                r.sc_status,
                r.field(Field::XEdgeResultType).to_vec(),
            ))
        })
        .unwrap();
    assert_eq!(used, input.len());
    (out, p.into_stats())
}

const HDR: &str =
    "#Version: 1.0\n#Fields: date time sc-bytes sc-status x-edge-result-type time-taken\n";

#[test]
fn a_parser_reading_some_fields_leaves_the_others_empty() {
    let input = b"#Fields: date time x-edge-location c-country sc-bytes\n2024-01-02\t10:00:00\tIAD89-C1\tDE\t7\n";
    let seen = |mut p: LogParser| {
        let mut out = Vec::new();
        p.process(input, true, |r| {
            out.push((
                r.sc_bytes,
                r.field(Field::XEdgeLocation).to_vec(),
                r.field(Field::CCountry).to_vec(),
            ))
        })
        .unwrap();
        out
    };
    assert_eq!(
        seen(LogParser::new()),
        [(7, b"IAD89-C1".to_vec(), b"DE".to_vec())]
    );
    // The core fields are always read.
    let p = LogParser::reading(FieldSet::none().with(Field::CCountry));
    assert_eq!(seen(p), [(7, vec![], b"DE".to_vec())]);
}

#[test]
fn w3c_with_header_and_last_line_without_newline() {
    let input = format!(
        "{HDR}2024-01-02\t10:00:00\t100\t200\tHit\t0.082\n2024-01-02\t10:00:59\t-\t000\tError\t-"
    );
    let (recs, stats) = parse_all(input.as_bytes());
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].1, 100);
    assert_eq!(recs[1], (recs[1].0, 0, Some(0), b"Error".to_vec()));
    assert_eq!(stats.rejected, 0);
    assert_eq!(stats.lines, 4);
}

#[test]
fn header_repeated_mid_stream_remaps() {
    let input = format!(
        "{HDR}2024-01-02\t10:00:00\t100\t200\tHit\t0.1\n#Fields: sc-status sc-bytes time date\n404\t7\t11:00:00\t2024-01-02\n"
    );
    let (recs, stats) = parse_all(input.as_bytes());
    assert_eq!(stats.rejected, 0);
    assert_eq!(recs[1].1, 7);
    assert_eq!(recs[1].2, Some(404));
}

#[test]
fn malformed_lines_rejected_not_fatal() {
    let input = format!(
        "{HDR}2024-01-02\t10:00:00\t100\n2024-01-02\t10:00:00\tx\t200\tHit\t0.1\n2024-01-02\t10:00:00\t5\t200\tHit\t0.1\n"
    );
    let (recs, stats) = parse_all(input.as_bytes());
    assert_eq!(recs.len(), 1);
    assert_eq!(stats.rejected, 2);
    assert_eq!(stats.reject_samples[0].line, 3);
    assert_eq!(
        stats.reject_samples[0].reason,
        RejectReason::TooFewFields { got: 3, want: 6 }
    );
    assert_eq!(
        stats.reject_samples[1].reason.to_string(),
        "field sc-bytes is not a number"
    );
}

#[test]
fn json_lines_and_broken_json() {
    let input = b"{\"timestamp(ms)\":\"1731699951183\",\"sc-bytes\":\"1068\",\"sc-status\":\"304\"}\n{\"broken\n{\"date\":\"2024-11-15\",\"time\":\"19:45:52\"}\n";
    let (recs, stats) = parse_all(input);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0], (1_731_699_951_183, 1068, Some(304), vec![]));
    assert_eq!(stats.rejected, 1);
    assert_eq!(stats.reject_samples[0].line, 2);
}

#[test]
fn chunked_feeding_equals_whole() {
    let input = format!(
        "{HDR}2024-01-02\t10:00:00\t100\t200\tHit\t0.082\n2024-01-02\t10:00:01\t200\t404\tMiss\t0.5\n{{\n\"date\": \"2024-01-02\",\n\"time\": \"10:00:02\",\n\"sc-bytes\": \"3\"\n}}\n"
    );
    let whole = parse_all(input.as_bytes());
    for chunk in 1..input.len() {
        let mut p = LogParser::new();
        let mut out = Vec::new();
        let mut carry: Vec<u8> = Vec::new();
        for piece in input.as_bytes().chunks(chunk) {
            carry.extend_from_slice(piece);
            let used = p
                .process(&carry, false, |r| out.push((r.timestamp_ms, r.sc_bytes)))
                .unwrap();
            carry.drain(..used);
        }
        let used = p
            .process(&carry, true, |r| out.push((r.timestamp_ms, r.sc_bytes)))
            .unwrap();
        assert_eq!(used, carry.len());
        let expect: Vec<_> = whole.0.iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(out, expect, "chunk size {chunk}");
        assert_eq!(p.stats(), &whole.1, "chunk size {chunk}");
    }
}

#[test]
fn headerless_legacy_prefix_layouts() {
    let line19 = "2015-03-18\t23:31:44\tLHR5\t1045619\t1.2.3.4\tGET\td.cloudfront.net\t/a\t200\t-\tUA\t-\t-\tMiss\tid==\thost\thttp\t100\t0.5";
    let (recs, stats) = parse_all(line19.as_bytes());
    assert_eq!(stats.rejected, 0);
    assert_eq!(recs[0].1, 1_045_619);
    assert_eq!(recs[0].3, b"Miss");
}

#[test]
fn binary_and_unknown_text_fail_the_file() {
    let mut p = LogParser::new();
    assert!(matches!(
        p.process(b"\x00\x01garbage", true, |_| {}),
        Err(NotALog::Binary { .. })
    ));
    let mut p = LogParser::new();
    assert_eq!(
        p.process(b"hello world\n", true, |_| {}),
        Err(NotALog::UnknownText)
    );
    let mut p = LogParser::new();
    assert_eq!(p.process(b"", true, |_| {}), Ok(0));
    // A JSON file that is no log (issue 25): refused as a whole, not a rejected line.
    let mut p = LogParser::new();
    assert_eq!(
        p.process(b"{\"hello\": \"world\", \"n\": 1}\n", true, |_| {}),
        Err(NotALog::ForeignJson)
    );
    assert_eq!(
        check_log(b"{\"date\":\"2026-11-20\",\"time\":\"12:00:01\"}\n"),
        Ok(())
    );
    assert_eq!(check_log(b"{\"cs_user_agent\":\"x\"}"), Ok(()));
    assert_eq!(
        check_log(b"\x89PNG\r\n\x1a\n\x00\x00"),
        Err(NotALog::Binary {
            byte: 0x1a,
            offset: 6
        })
    );
}
