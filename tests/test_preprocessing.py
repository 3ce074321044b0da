import pytest

from akhbar.preprocessing import PreprocessingConfig, normalize, split_words

ARABERT = PreprocessingConfig()


def words_and_sources(text, config=ARABERT):
    words = split_words(text, config)
    return [words.mapped.text[a:b] for a, b in words.spans], [text[a:b] for a, b in words.original_spans]


def test_diacritics_and_tatweel_are_removed_but_spans_cover_them():
    words, sources = words_and_sources("قالَ مُحَمَّدٌ في الـعـراق")
    assert words == ["قال", "محمد", "في", "العراق"]
    assert sources == ["قالَ", "مُحَمَّدٌ", "في", "الـعـراق"]


def test_punctuation_is_spaced_out_and_maps_back():
    words, sources = words_and_sources("(رويترز): زار عمّان، أمس.")
    assert words == ["(", "رويترز", ")", ":", "زار", "عمان", "،", "أمس", "."]
    assert sources == ["(", "رويترز", ")", ":", "زار", "عمّان", "،", "أمس", "."]


def test_latin_digits_and_indic_digits():
    words, sources = words_and_sources("شركة Nour Telecom عام ٢٠٢٣ و2024م COVID-19")
    assert words == ["شركة", "Nour", "Telecom", "عام", "2023", "و", "2024", "م", "COVID", "-", "19"]
    assert sources == ["شركة", "Nour", "Telecom", "عام", "٢٠٢٣", "و", "2024", "م", "COVID", "-", "19"]


def test_clitics_stay_attached():
    words, _ = words_and_sources("وبيروت ولدمشق بالقاهرة")
    assert words == ["وبيروت", "ولدمشق", "بالقاهرة"]


def test_url_becomes_placeholder_spanning_the_whole_url():
    text = "المصدر: https://example.org/news?id=5 اليوم"
    words, sources = words_and_sources(text)
    assert "[رابط]" in words
    assert sources[words.index("[رابط]")] == "https://example.org/news?id=5"


def test_invisible_marks_do_not_split_words():
    text = "بير\u200fوت و\u061cعمّان"
    words, sources = words_and_sources(text)
    assert words == ["بيروت", "وعمان"]
    assert sources == ["بير\u200fوت", "و\u061cعمّان"]


def test_repetition_is_cut_and_the_span_keeps_the_run():
    words, sources = words_and_sources("رائعععع جدا")
    assert words == ["رائعع", "جدا"]
    assert sources == ["رائعععع", "جدا"]


def test_none_preset_only_collapses_whitespace():
    config = PreprocessingConfig.from_preset("none")
    mapped = normalize("  قالَ   (رويترز)  ", config)
    assert mapped.text == "قالَ (رويترز)"
    assert mapped.original_span(0, len(mapped.text)) == (2, 17)


def test_overrides_and_errors():
    config = PreprocessingConfig.from_preset("arabertv02", strip_tashkeel=False, map_indic_digits=None)
    assert not config.strip_tashkeel and config.map_indic_digits
    with pytest.raises(ValueError, match="unknown preprocessing preset 'arabertv2'.*Farasa"):
        PreprocessingConfig.from_preset("arabertv2")
    with pytest.raises(ValueError, match="unknown preprocessing setting"):
        PreprocessingConfig.from_dict({"preset": "none", "lowercase": True})


def test_every_sample_word_maps_back_to_text_that_normalizes_to_it(sample_articles):
    # The character map is exact: the original characters behind each normalized word normalize to
    # that word again, for every word of every sample article.
    for article in sample_articles:
        text = article["text"]
        words = split_words(text, ARABERT)
        for (a, b), (s, e) in zip(words.spans, words.original_spans):
            assert normalize(text[s:e], ARABERT).text == words.mapped.text[a:b], (article["id"], text[s:e])
