"""File names that are not UTF-8 survive every file the app writes and every message it shows."""
import json
import os

import pytest

from flowerstudio.core.foundation.fsnames import display_path, encode_text, json_bytes, json_text

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX names are bytes")


def test_a_latin1_name_round_trips_through_text_and_json():
    name = os.fsdecode(b"/photos/caf\xe9.jpg")
    assert encode_text(name) == b"/photos/caf\xe9.jpg"  # the original bytes, as ls shows them
    assert json.loads(json_bytes({"p": name}))["p"] == name  # \udcXX escapes load back to the same path
    assert json_text({"p": "rosé"}) == '{"p": "rosé"}'  # readable where it can be
    assert display_path(name) == "/photos/caf\\xe9.jpg"  # shown, never a crash
