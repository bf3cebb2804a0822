//! What the traffic report keys its lists by, from raw field values: decoded URIs without their
//! query, referrer hosts, and user-agent families (woothee's cross-language dataset, cached).

use hashbrown::HashMap;
use percent_encoding::percent_decode;
use rustc_hash::FxBuildHasher;
use std::sync::Arc;

/// Longest key kept for a list, in bytes (a longer URI is cut, marked with `…`).
pub const MAX_KEY_BYTES: usize = 200;

/// Writes the decoded request path of `stem` into `out`: percent-decoded once, cut at a `?`
/// (real-time logs may carry the query in the stem), control characters replaced by `?`, at
/// most [`MAX_KEY_BYTES`]. With `query` (only when the caller keeps queries), `?query` follows.
pub fn uri(stem: &[u8], query: Option<&[u8]>, out: &mut Vec<u8>) {
    out.clear();
    let stem = match memchr::memchr(b'?', stem) {
        Some(i) => &stem[..i],
        None => stem,
    };
    decode_into(stem, out);
    if let Some(q) = query.filter(|q| !q.is_empty() && *q != b"-") {
        out.push(b'?');
        decode_into(q, out);
    }
    clean(out);
}

/// Appends `src` percent-decoded to `out`, as [`percent_decode`] does (a `%` not followed by two
/// hex digits stays as it is), copying the runs between escapes whole.
fn decode_into(src: &[u8], out: &mut Vec<u8>) {
    let mut rest = src;
    while let Some(i) = memchr::memchr(b'%', rest) {
        out.extend_from_slice(&rest[..i]);
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            rest.get(i + 1).copied().and_then(hex),
            rest.get(i + 2).copied().and_then(hex),
        ) {
            (Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                rest = &rest[i + 3..];
            }
            _ => {
                out.push(b'%');
                rest = &rest[i + 1..];
            }
        }
    }
    out.extend_from_slice(rest);
}

/// Replaces control characters (a terminal escape in a URI, say) and cuts to the key length.
fn clean(out: &mut Vec<u8>) {
    for b in out.iter_mut() {
        if *b < 0x20 || *b == 0x7f {
            *b = b'?';
        }
    }
    if out.len() > MAX_KEY_BYTES {
        let mut cut = MAX_KEY_BYTES;
        // Cut on a UTF-8 character boundary.
        while cut > 0 && (out[cut] & 0xC0) == 0x80 {
            cut -= 1;
        }
        out.truncate(cut);
        out.extend_from_slice("…".as_bytes());
    }
}

/// The host of a referrer URL (`https://www.example.com:8443/a` → `www.example.com`),
/// lower-cased; `None` for no referrer (`-`, empty) or one without a host.
pub fn referrer_host(referer: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    if referer.is_empty() || referer == b"-" {
        return false;
    }
    // Decoded into `out` first (no allocation per record), the host then moved to its start.
    decode_into(referer, out);
    let start = memchr::memmem::find(out, b"://").map_or(0, |i| i + 3);
    let rest = &out[start..];
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    // Drop user info and port.
    let host = authority.rsplit(|&b| b == b'@').next().unwrap_or(b"");
    let host = match host.iter().rposition(|&b| b == b':') {
        Some(i) if !host.starts_with(b"[") => &host[..i],
        _ => host,
    };
    let (from, len) = (host.as_ptr() as usize - out.as_ptr() as usize, host.len());
    out.copy_within(from..from + len, 0);
    out.truncate(len);
    out.make_ascii_lowercase();
    clean(out);
    !out.is_empty()
}

/// A user agent's class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UaClass {
    Browser,
    Crawler,
    Library,
    Other,
}

impl UaClass {
    /// The class's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            UaClass::Browser => "browser",
            UaClass::Crawler => "crawler",
            UaClass::Library => "library",
            UaClass::Other => "other",
        }
    }
}

/// Distinct user agents remembered before the cache starts over (real logs carry a few thousand).
const UA_CACHE_ENTRIES: usize = 8192;

/// What the cache keeps of one raw user agent: its class, family name and the report's key
/// (`Chrome (browser)`).
type UaEntry = (UaClass, Arc<str>, Box<[u8]>);

/// User-agent families by woothee, cached by raw value: the parse is regex work, and the same
/// few agents make most requests.
#[derive(Default)]
pub struct UaFamilies {
    parser: Option<woothee::parser::Parser>,
    /// Per raw value.
    cache: HashMap<Vec<u8>, UaEntry, FxBuildHasher>,
}

impl std::fmt::Debug for UaFamilies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UaFamilies")
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl UaFamilies {
    /// The class and family name (`Chrome`, `Googlebot`, `curl` ...) of a raw `cs(User-Agent)`
    /// value (percent-encoded in standard logs, sometimes twice).
    pub fn family(&mut self, raw: &[u8]) -> (UaClass, Arc<str>) {
        let (class, name, _) = self.entry(raw);
        (*class, name.clone())
    }

    /// The class of a raw agent and its list key, the family with its class:
    /// `Chrome (browser)`.
    #[inline]
    pub fn key(&mut self, raw: &[u8]) -> (UaClass, &[u8]) {
        let (class, _, key) = self.entry(raw);
        (*class, key)
    }

    fn entry(&mut self, raw: &[u8]) -> &(UaClass, Arc<str>, Box<[u8]>) {
        if self.cache.len() >= UA_CACHE_ENTRIES {
            self.cache.clear();
        }
        let parser = &mut self.parser;
        self.cache.entry_ref(raw).or_insert_with(|| {
            let parser = parser.get_or_insert_with(woothee::parser::Parser::new);
            let (class, name) = classify(parser, raw);
            let key = format!("{name} ({})", class.name()).into_bytes().into();
            (class, name.into(), key)
        })
    }
}

fn classify(parser: &woothee::parser::Parser, raw: &[u8]) -> (UaClass, Box<str>) {
    if raw.is_empty() || raw == b"-" {
        return (UaClass::Other, "(none)".into());
    }
    let mut decoded: Vec<u8> = percent_decode(raw).collect();
    // Legacy logs encode the agent twice (`%2520` for a space).
    if memchr::memmem::find(&decoded, b"%20").is_some() {
        decoded = percent_decode(&decoded).collect();
    }
    let text = String::from_utf8_lossy(&decoded);
    let text = text.strip_prefix("User-Agent: ").unwrap_or(&text);
    let Some(r) = parser.parse(text) else {
        return (UaClass::Other, "unknown".into());
    };
    let class = match r.category {
        "crawler" => UaClass::Crawler,
        "pc" | "smartphone" | "mobilephone" | "appliance" => UaClass::Browser,
        _ if r.name == "HTTP Library" => UaClass::Library,
        _ => UaClass::Other,
    };
    let name = match class {
        UaClass::Library => r.version,
        _ if r.name == woothee::woothee::VALUE_UNKNOWN => "unknown",
        _ => r.name,
    };
    (class, name.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[u8]) -> &str {
        std::str::from_utf8(v).unwrap()
    }

    #[test]
    fn uris_are_decoded_without_their_query() {
        let mut out = Vec::new();
        uri(b"/a%20b/caf%C3%A9.html", None, &mut out);
        assert_eq!(s(&out), "/a b/café.html");
        uri(b"/p?token=secret", None, &mut out);
        assert_eq!(s(&out), "/p");
        uri(b"/p", Some(b"x=1"), &mut out);
        assert_eq!(s(&out), "/p?x=1");
        uri(b"/esc%1B[31m", None, &mut out);
        assert_eq!(s(&out), "/esc?[31m");
        uri("/é".repeat(300).as_bytes(), None, &mut out);
        assert!(out.len() <= MAX_KEY_BYTES + 3 && s(&out).ends_with('…'));
    }

    #[test]
    fn decoding_matches_percent_encoding_crate() {
        for raw in [
            &b""[..],
            b"plain",
            b"%",
            b"%4",
            b"%41",
            b"a%zz%4g%41%c3%a9%",
            b"%%41%2F%2f",
            b"/caf%C3%A9/x%20y",
        ] {
            let mut out = b"keep:".to_vec();
            decode_into(raw, &mut out);
            let want: Vec<u8> = b"keep:"
                .iter()
                .copied()
                .chain(percent_decode(raw))
                .collect();
            assert_eq!(out, want, "{raw:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn decoding_matches_on_any_input(
            raw in proptest::collection::vec(proptest::sample::select(b"%0aF9gz/\xc3".to_vec()), 0..40)
        ) {
            let mut out = Vec::new();
            decode_into(&raw, &mut out);
            proptest::prop_assert_eq!(out, percent_decode(&raw).collect::<Vec<u8>>());
        }
    }

    #[test]
    fn referrer_hosts() {
        let mut out = Vec::new();
        assert!(referrer_host(
            b"https://User@WWW.Example.com:8443/a?b",
            &mut out
        ));
        assert_eq!(s(&out), "www.example.com");
        assert!(referrer_host(b"http%3A//news.example.org/", &mut out));
        assert_eq!(s(&out), "news.example.org");
        assert!(!referrer_host(b"-", &mut out));
    }

    #[test]
    fn user_agent_families() {
        let mut f = UaFamilies::default();
        let chrome = b"Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/120.0.0.0%20Safari/537.36";
        assert_eq!(f.family(chrome), (UaClass::Browser, "Chrome".into()));
        let bot =
            b"Mozilla/5.0%2520(compatible;%2520Googlebot/2.1;%2520+http://www.google.com/bot.html)";
        assert_eq!(f.family(bot), (UaClass::Crawler, "Googlebot".into()));
        assert_eq!(f.family(b"curl/8.5.0"), (UaClass::Library, "curl".into()));
        assert_eq!(f.family(b"-").0, UaClass::Other);
    }
}
