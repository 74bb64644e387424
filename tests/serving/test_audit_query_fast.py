"""`query_audit` tests lines by their bytes before parsing them, and keeps only the matches it returns: it must find
exactly what parsing every line with `json.loads` and filtering in plain Python finds, whatever the values hold."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinfile.cli import app
from thinfile.serving import audit
from thinfile.serving.audit import AuditLog, AuditQuery, audit_record, query_audit, scan_audit, summarise

KEY = b"audit-key-0123456789abcdef"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
ODD = ['q"uote', "back\\slash", "caf\u00e9 \u4e2d", "tab\there", "nl\nx", "ctl\x01", "slash/", "\u2028"]


def make_log(path: Path) -> list[str]:
    """A chained log whose values hold what JSON escapes, with a garbled middle line and a torn last one; its ids."""
    ids = []
    with AuditLog(path, key=KEY) as log:
        for i in range(40):
            rid = f"r{i:03d}" if i % 4 else f"r{i:03d}-{ODD[i // 4 % len(ODD)]}"
            ids.append(rid)
            version = ODD[i % len(ODD)] if i % 7 == 3 else str(1 + i % 3)
            decision = ("approve", "refer", "decline")[i % 3]
            hmac_ = ODD[i % len(ODD)] if i % 5 == 2 else f"{i % 6:064x}"
            reasons = [{"code": f'C{i % 2}\\"', "points_lost": 1.5}]
            log.append(
                [audit_record(rid, "m", version, hmac_, "k", 500.0 + i, decision, reasons, T0 + timedelta(hours=i))]
            )
            if i == 20:
                with open(path, "ab") as fh:
                    fh.write(b'{"request_id":"torn-one","decision":"decl')  # glued: the next record follows it
    lines = path.read_bytes().splitlines(keepends=True)
    lines.insert(10, b'{"request_id":"r005","decision":"decline"  garbled\n')
    rest = b', "model": "m", "key_id": "k", "score": 1e2, "reasons": [{"code": "\\u00e9", "points_lost": 1}]}\n'
    lines.insert(
        30,
        b'{"request_id": "r\\u0030x", "time": "2026-03-01T00:00:00+00:00", "decision": "d\\u0065cline",'
        b' "model_version": 2, "input_hmac": "caf\\u00e9 \\u4e2d"' + rest,
    )
    lines.insert(
        31,
        b'{"request_id": "nv", "time": "2026-03-02T00:00:00+00:00", "decision": "refer", "model_version": null' + rest,
    )
    path.write_bytes(b"".join(lines) + b'{"request_id":"r999","time":"2026-')
    return ids


def reference(path: Path, query: AuditQuery) -> list[dict]:
    """Every line parsed with json.loads, glued records after torn ones too, filtered in plain Python."""
    found = []
    for line in path.read_bytes().splitlines(keepends=True):
        candidates = [line, line[line.rfind(b'{"request_id":') :]] if line.endswith(b"\n") else []
        for text in candidates:
            try:
                r = json.loads(text)
            except ValueError:
                continue
            if not all(k in r for k in ("request_id", "time", "decision")):
                continue
            if all(
                [
                    not query.request_id or r.get("request_id") == query.request_id,
                    not query.input_hmac or r.get("input_hmac") == query.input_hmac,
                    not query.decision or r.get("decision") == query.decision,
                    not query.model_version or str(r.get("model_version")) == query.model_version,
                ]
            ):
                found.append(r)
            break
    return found


def outcome(summary: Callable[[], dict]) -> object:
    try:
        return summary()
    except Exception as err:
        return repr(err)


def queries(ids: list[str]) -> Iterator[AuditQuery]:
    yield AuditQuery()
    for rid in [*ids[::3], ids[8], "r0x", "\ud800x", "nope", "r005", "torn-one", "r"]:
        yield AuditQuery(request_id=rid)
    for value in [*ODD, f"{4:064x}", f"{0:064x}", "caf\u00e9 \u4e2d", "0" * 64]:
        yield AuditQuery(input_hmac=value)
    for decision in ("approve", "refer", "decline", "decl", "d\u0065cline"):
        yield AuditQuery(decision=decision)
        yield AuditQuery(decision=decision, model_version="2")
        yield AuditQuery(decision=decision, input_hmac=f"{2:064x}")
    for version in [*ODD, "1", "2", "3", "None", "2.0", "nan", "-0", "0", "True", "x"]:
        yield AuditQuery(model_version=version)


@pytest.mark.parametrize("block", [audit._SCAN, 7, 100, 333])
def test_a_query_finds_what_parsing_every_line_finds(tmp_path: Path, monkeypatch, block: int) -> None:
    path = tmp_path / "decisions.jsonl"
    ids = make_log(path)
    monkeypatch.setattr(audit, "_SCAN", block)
    for query in queries(ids):
        expected = reference(path, query)
        assert query_audit(path, query) == expected, query
        for limit in (1, 2, 5, len(expected), len(expected) + 3):
            scan = scan_audit(path, query, limit)
            assert scan.shown == expected[-limit:], (query, limit)
            assert outcome(scan.tally.summary) == outcome(functools.partial(summarise, expected)), (query, limit)
            assert query_audit(path, query, limit) == expected[-limit:]


def test_the_tricky_lines_are_found(tmp_path: Path) -> None:
    """The reference itself finds the escaped, glued and numeric-version records (so the comparison means something)."""
    path = tmp_path / "decisions.jsonl"
    make_log(path)
    assert [r["request_id"] for r in reference(path, AuditQuery(decision="decline", model_version="2"))][-1] == "r0x"
    assert [r["request_id"] for r in query_audit(path, AuditQuery(input_hmac="caf\u00e9 \u4e2d"))][-1] == "r0x"
    assert [r["request_id"] for r in query_audit(path, AuditQuery(request_id="r021"))] == ["r021"]  # glued
    assert [r["request_id"] for r in query_audit(path, AuditQuery(model_version="None"))] == ["nv"]
    assert query_audit(path, AuditQuery(request_id="r999")) == []  # the torn last line


def test_a_summary_error_is_raised_as_summarise_raises_it() -> None:
    records = [{"decision": "approve", "time": "b", "model_version": 1}, {"decision": "refer", "time": None}]
    with pytest.raises(KeyError, match="model_version"):
        summarise(records)  # counting comes first: not the TypeError comparing the times
    with pytest.raises(TypeError):
        summarise([{**r, "model_version": 1} for r in records])
    assert summarise([]) == {"decisions": 0, "by_decision": {}, "by_model_version": {}, "first": None, "last": None}


runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["-n", "0"],
        ["--decision", "decline", "-n", "3"],
        ["--decision", "refer", "-n", "100"],
        ["--request-id", "r021"],
        ["--model-version", "2", "-n", "2"],
        ["--input-hmac", f"{4:064x}", "--decision", "approve"],
        ["--since", "2026-03-01T05:00:00", "--until", "2026-03-01T20:00:00", "-n", "4"],
    ],
)
def test_the_audit_command_prints_the_most_recent_matches_and_counts_them_all(
    tmp_path: Path, monkeypatch, args: list[str]
) -> None:
    path = tmp_path / "decisions.jsonl"
    make_log(path)
    monkeypatch.setenv("THINFILE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "250")
    flags = dict(zip(args[::2], args[1::2], strict=True))
    limit = int(flags.get("-n", 20))
    query = AuditQuery(
        request_id=flags.get("--request-id"),
        input_hmac=flags.get("--input-hmac"),
        decision=flags.get("--decision"),
        model_version=flags.get("--model-version"),
    )
    expected = reference(path, query)
    if "--since" in flags:
        since, until = (datetime.fromisoformat(flags[k]).replace(tzinfo=UTC) for k in ("--since", "--until"))
        expected = [r for r in expected if since <= datetime.fromisoformat(r["time"]) < until]
    shown = expected[-limit:] if limit else expected

    result = runner.invoke(app, ["audit", "--log", str(path), "--json", *args])
    assert result.exit_code == 0, result.output
    assert result.stdout == "".join(json.dumps(r) + "\n" for r in shown)

    result = runner.invoke(app, ["audit", "--log", str(path), *args])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    summary = summarise(expected)
    decisions = ", ".join(f"{d} {n:,}" for d, n in summary["by_decision"].items())
    if expected:
        assert f"{len(shown)} of {len(expected)} matching decisions" in text
        assert f"all {summary['decisions']:,} matching: {decisions}; by model version: " in text
    else:
        assert text == f"no decision in {path} matches" + (
            "; --request-id matches a whole id, as /score returned it" if "--request-id" in flags else ""
        )


def test_a_request_id_that_matches_nothing_says_it_matches_whole_ids(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    make_log(path)
    first = json.loads(path.read_text().splitlines()[0])["request_id"]

    result = runner.invoke(app, ["audit", "--log", str(path), "--request-id", first[:-1]])

    assert result.exit_code == 0, result.output
    assert " ".join(result.output.split()) == (
        f"no decision in {path} matches; --request-id matches a whole id, as /score returned it"
    )


def test_a_model_version_written_as_the_table_shows_it_finds_the_same_decisions(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    make_log(path)
    plain = runner.invoke(app, ["audit", "--log", str(path), "--json", "--model-version", "2"])
    shown = runner.invoke(app, ["audit", "--log", str(path), "--json", "--model-version", "v2"])
    assert plain.exit_code == shown.exit_code == 0
    assert plain.stdout and shown.stdout == plain.stdout
