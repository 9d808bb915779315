"""Text a stranger typed, shown with its hidden characters as codes (flisportal/lib/visible.py)."""

from flisportal.lib.visible import visible_text

RLO = "\u202e"


def test_bidirectional_controls_are_written_as_codes():
    # Rule: a right-to-left override cannot reach stored text; it shows as its code instead.
    shown = visible_text(f"admin{RLO}nimda", limit=80)
    assert RLO not in shown
    assert shown == "admin\\u202enimda"


def test_control_and_zero_width_characters_are_written_as_codes():
    assert visible_text("a\nb\x00c\u200bd\u2066e", limit=80) == "a\\u000ab\\u0000c\\u200bd\\u2066e"


def test_ordinary_danish_text_is_kept_as_it_is():
    assert visible_text("Søren Ærø-Åberg", limit=80) == "Søren Ærø-Åberg"


def test_long_text_is_cut_and_says_so():
    shown = visible_text("x" * 500, limit=80)
    assert len(shown) == 80 and shown.endswith("…")
    # The codes count towards the limit too: escaping cannot make it longer.
    assert len(visible_text(RLO * 500, limit=80)) == 80
