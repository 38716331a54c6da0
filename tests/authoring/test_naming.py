"""The names detect new and detect import give rule files (deployer/authoring/naming.py)."""

from __future__ import annotations

import pytest

from deployer.authoring.naming import rule_file_stem


@pytest.mark.parametrize(("name", "stem"), [
    ("Überwachung verdächtiger Prozesse", "uberwachung_verdachtiger_prozesse"),
    ("Straße → Größe", "strasse_grosse"),
    ("Qakbot: Named Pipe (v2)", "qakbot_named_pipe_v2"),
    ("Ελληνικά logon", "ellinika_logon"),
])
def test_rule_file_stem_transliterates_instead_of_dropping_letters(name: str, stem: str) -> None:
    assert rule_file_stem(name) == stem
