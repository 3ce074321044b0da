"""Hypothesis strategies for web-style Arabic text: what users paste from news sites, tweets and forums."""

from __future__ import annotations

from html.entities import html5

from hypothesis import strategies as st

ARABIC_LETTERS = "".join(chr(c) for c in range(0x0621, 0x063B)) + "".join(chr(c) for c in range(0x0641, 0x064B))
TASHKEEL = "".join(chr(c) for c in range(0x064B, 0x0653))
OTHER_MARKS = "\u0670\u0653\u0654\u0655\u06da\u06d6\u0b4d"  # superscript alef, maddah, hamzas, Quranic marks
PUNCTUATION = "!?.,:;،؛؟…-–—_()[]{}«»\"'“”‘’*/\\|#%$&+=<>@^~`·٪"
INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff\u00ad"
EMOJI = ["😀", "❤️", "👍🏽", "🇸🇦", "✅", "🔥🔥🔥", "☺", "\ufe0f"]
SEPARATORS = ["", " ", " ", " ", "  ", "\n", "\t", "\u00a0", "\r\n"]

arabic_word = st.text(ARABIC_LETTERS, min_size=1, max_size=8)
vocalized_word = st.text(ARABIC_LETTERS + TASHKEEL + "\u0640" + OTHER_MARKS, min_size=1, max_size=10)
latin_word = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8)
digits = st.sampled_from(["0123456789", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹"]).flatmap(
    lambda alphabet: st.text(alphabet, min_size=1, max_size=5)
)
# A character repeated: elongated letters (رائعععع) and punctuation runs (!!!!, ...).
run = st.builds(
    lambda c, n: c * n, st.sampled_from(ARABIC_LETTERS[:8] + "!?.،-_*" + "ab" + "ـ" + " "), st.integers(2, 7)
)
host = st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8), min_size=1, max_size=3)
url = st.builds(
    lambda scheme, parts, tld, path: scheme + ".".join(parts) + tld + path,
    st.sampled_from(["http://", "https://", "ftp://", "www.", "", "", "HTTP://", "http://www."]),
    host,
    st.sampled_from([".com", ".org", ".net", ".fr", ".io", ".co.uk", ".info", ".gov", ".sa", ".COM", ""]),
    st.sampled_from(["", "/", "/news", "/news?id=5&x=%20", "/a/b.html", "/#top", "/عربي"]),
)
email = st.builds(
    lambda user, parts, tld: user + "@" + ".".join(parts) + tld,
    st.text("abcdefghijklmnopqrstuvwxyz0123456789._-+", min_size=1, max_size=8),
    host,
    st.sampled_from([".com", ".org", ".net", ".fr", ".sa", ""]),
)
mention = st.builds(
    lambda name, suffix: "@" + name + suffix,
    st.text("abcdefghijklmnopqrstuvwxyz0123456789_" + ARABIC_LETTERS[:6], min_size=1, max_size=8),
    st.sampled_from(["", "", ".x", "_1", ":"]),
)
entity = st.one_of(
    st.sampled_from(["&amp;", "&amp", "&lt;", "&gt;", "&quot;", "&nbsp;", "&#1575;", "&#1575", "&#x627;", "&#0;"]),
    st.sampled_from(["&#1;", "&#x80;", "&copy2023", "&ampx", "&notanentity;", "&#8207;", "&", "&#", "&#x"]),
    st.sampled_from(sorted(html5)).map(lambda name: "&" + name),
)
markup = st.sampled_from(["<br />", "<br>", "<b>", "</p>", '<a href="x.html">', "<", ">", "<>", "</>", "<<", "< b >"])
other = st.one_of(
    st.sampled_from(EMOJI),
    st.sampled_from(INVISIBLE),
    st.text(PUNCTUATION, min_size=1, max_size=3),
    st.sampled_from(["[رابط]", "[بريد]", "[مستخدم]", "[", "]", "/", "COVID-19", "و2024م", "و900MHz", "x.comb"]),
    st.characters(codec="utf-8", exclude_categories=["Cs"]),
)
piece = st.one_of(
    arabic_word, arabic_word, vocalized_word, latin_word, digits, run, url, email, mention, entity, markup, other
)
web_text = st.lists(st.tuples(piece, st.sampled_from(SEPARATORS)), max_size=12).map(
    lambda parts: "".join(p + s for p, s in parts)
)
