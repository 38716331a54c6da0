from __future__ import annotations

from pathlib import Path

from deployer.errors import Problem
from deployer.rules.files import MAX_RULE_BYTES, load_rules, parse_rule_text, read_rule_file


def test_folders_expand_to_sorted_json_files(in_tmp: Path) -> None:
    (in_tmp / "d" / "sub").mkdir(parents=True)
    (in_tmp / "d" / "b.json").write_text("{}")
    (in_tmp / "d" / "sub" / "a.json").write_text("[]")
    (in_tmp / "d" / "notes.txt").write_text("x")
    loaded = load_rules([in_tmp / "d"])
    assert [source.path.name for source in loaded.sources] == ["b.json", "a.json"]
    assert loaded.problems == []


def test_missing_path_is_a_problem(in_tmp: Path) -> None:
    loaded = load_rules([Path("nope")])
    assert loaded.problems == [Problem("nope", "", "no such file or folder")]


def test_truncated_json_names_line_and_column(in_tmp: Path) -> None:
    problem = parse_rule_text(in_tmp / "r.json", b'{\n  "rule_id": "x",\n  "version": ')
    assert problem == Problem("r.json", "", "invalid JSON at line 3 column 14: Expecting value")


def test_invalid_utf8_is_a_problem(in_tmp: Path) -> None:
    problem = parse_rule_text(in_tmp / "r.json", b'{"name": "\xff"}')
    assert isinstance(problem, Problem) and problem.message == "not UTF-8: invalid byte at offset 10"


def test_deep_nesting_is_a_problem_not_a_crash(in_tmp: Path) -> None:
    problem = parse_rule_text(in_tmp / "r.json", b"[" * 100_000 + b"]" * 100_000)
    assert isinstance(problem, Problem) and "nested too deeply" in problem.message


def test_huge_file_is_refused_before_reading(in_tmp: Path) -> None:
    path = in_tmp / "big.json"
    path.write_bytes(b" " * (MAX_RULE_BYTES + 1))
    problem = read_rule_file(path)
    assert isinstance(problem, Problem) and "at most" in problem.message
