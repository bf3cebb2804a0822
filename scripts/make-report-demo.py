#!/usr/bin/env python3
"""Writes a deterministic demo access log (legacy W3C, one day of one distribution, documentation
IP range 198.51.100.0/24) for the `cflogs report` screenshot in docs/:

    python3 scripts/make-report-demo.py /tmp/demo/E2EXAMPLE1234.2026-11-20-00.demo
    cflogs report --format html --top 8 --out /tmp/demo/report.html /tmp/demo/
    chromium --headless --no-sandbox --hide-scrollbars --window-size=1100,2400 \
        --screenshot=docs/report-screenshot.png file:///tmp/demo/report.html
"""
import math
import random
import sys

random.seed(7)
HEADER = (
    "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) "
    "cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type "
    "x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol "
    "ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields "
    "c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end c-country\n"
)
# (uri, content type, size, weight)
URIS = [
    ("/", "text/html", 9000, 120), ("/index.html", "text/html", 9000, 40),
    ("/assets/app.js", "application/javascript", 180000, 90),
    ("/assets/app.css", "text/css", 40000, 85), ("/img/hero.jpg", "image/jpeg", 450000, 60),
    ("/api/products", "application/json", 3000, 50),
    ("/blog/launch-notes", "text/html", 22000, 25),
    ("/docs/getting-started", "text/html", 30000, 20),
    ("/favicon.ico", "image/x-icon", 1500, 30), ("/robots.txt", "text/plain", 200, 8),
    ("/downloads/release-2.4.tar.gz", "application/gzip", 25000000, 1),
    ("/old-page", "text/html", 300, 6), ("/wp-login.php", "text/html", 300, 4),
]
REFS = [("-", 50), ("https://www.google.com/", 20), ("https://d111111abcdef8.cloudfront.net/", 15),
        ("https://news.ycombinator.com/item", 5), ("https://duckduckgo.com/", 4),
        ("https://t.co/abc", 3), ("https://github.com/example/repo", 3)]
UAS = [
    ("Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/120.0.0.0%20Safari/537.36", 40),
    ("Mozilla/5.0%20(iPhone;%20CPU%20iPhone%20OS%2017_0%20like%20Mac%20OS%20X)%20AppleWebKit/605.1.15%20(KHTML,%20like%20Gecko)%20Version/17.0%20Mobile/15E148%20Safari/604.1", 20),
    ("Mozilla/5.0%20(X11;%20Linux%20x86_64;%20rv:120.0)%20Gecko/20100101%20Firefox/120.0", 10),
    ("Mozilla/5.0%20(compatible;%20Googlebot/2.1;%20+http://www.google.com/bot.html)", 8),
    ("Mozilla/5.0%20(compatible;%20bingbot/2.0;%20+http://www.bing.com/bingbot.htm)", 4),
    ("curl/8.5.0", 3), ("Wget/1.21", 1),
]
EDGES = [("FRA56-P1", "DE", 30), ("LHR61-C2", "GB", 25), ("IAD89-C1", "US", 30),
         ("NRT12-P3", "JP", 10), ("GRU3-C1", "BR", 5)]


def pick(xs):
    r = random.uniform(0, sum(x[-1] for x in xs))
    for x in xs:
        r -= x[-1]
        if r <= 0:
            return x
    return xs[-1]


def main(path):
    out = [HEADER]
    for hour in range(24):
        for _ in range(int(400 + 250 * math.sin((hour - 8) / 24 * 2 * math.pi))):
            uri, ctype, size, _ = pick(URIS)
            edge, country, _ = pick(EDGES)
            status = 200
            if uri in ("/old-page", "/wp-login.php"):
                status = 404
            elif uri == "/api/products" and hour in (14, 15) and random.random() < 0.3:
                status = 503
            elif random.random() < 0.05:
                status = 304
            result = (random.choice(["Hit", "Hit", "Hit", "Miss", "RefreshHit"])
                      if status in (200, 304) else "Error")
            tt = max(0.001, random.lognormvariate(math.log(0.03 if result == "Hit" else 0.15), 0.8))
            if status == 503:
                tt = 2 + random.random()
            size = size if status == 200 else 400
            fields = [
                "2026-11-20", "%02d:%02d:%02d" % (hour, random.randint(0, 59), random.randint(0, 59)),
                edge, str(size), "198.51.100.%d" % random.randint(1, 250), "GET",
                "d111111abcdef8.cloudfront.net", uri, str(status), pick(REFS)[0], pick(UAS)[0],
                "-", "-", result, "REQ", "www.example.com", "https", "350", "%.3f" % tt, "-",
                "TLSv1.3" if random.random() < 0.8 else "TLSv1.2", "TLS_AES_128_GCM_SHA256",
                result, "HTTP/2.0" if random.random() < 0.7 else "HTTP/1.1", "-", "-", "443",
                "%.3f" % (tt * 0.8), result, ctype, str(size), "-", "-", country,
            ]
            out.append("\t".join(fields) + "\n")
    with open(path, "w") as f:
        f.write("".join(out))


if __name__ == "__main__":
    main(sys.argv[1])
