"""``make bench-scale`` reads the figures the benches print: the parser and the table it fills."""

from __future__ import annotations

import math

from tests.bench._common import Figure
from tests.bench.scale import ROWS, bench_env, parse_figures, table


def test_every_kind_of_figure_line_parses_back_to_its_numbers() -> None:
    figures = [
        Figure(
            "Screen shipments/s, batches of 1,000, 1,100,000 statements held, vs bare grpcio of the same bytes",
            152_345.6,
            301_000.0,
            "shipments/s",
            ">= 0.5",
        ),
        Figure("Lookup p50 at 11,000 vs 110 statements", 412.5, 380.0, "us", "<= 1.5"),
        Figure("receiver peak memory at 10,000 vs 1,000 statements", 98_304.0, 90_112.0, "KiB", "<= 1.5"),
        Figure(
            "bulk sync of 10,000 statements until every signature is checked",
            1.0,
            2.0,
            "statements/s",
            "(information)",
        ),
        Figure("nothing measured", 5.0, 0.0, "B", ">= 1"),
    ]
    noise = "filled 10,000 flagged parties at 23,456 statements/s\n== bench_names\n"
    parsed = parse_figures(noise + "\n".join(f.line() for f in figures) + "\n  (at 1,000: 5/s)")
    assert [p.name for p in parsed] == [f.name for f in figures]
    for p, f in zip(parsed, figures, strict=True):
        assert p.unit == f.unit
        # the line rounds to one decimal and the ratio to two
        assert math.isclose(p.measured, f.measured, abs_tol=0.05)
        assert math.isclose(p.baseline, f.baseline, abs_tol=0.05)
        assert math.isnan(p.ratio) if math.isnan(f.ratio) else math.isclose(p.ratio, f.ratio, abs_tol=0.005)


def test_the_table_has_a_cell_per_figure_and_size_and_a_dash_where_one_is_missing() -> None:
    screen = Figure(
        "Screen shipments/s, batches of 1,000, 9,999 held", 150_000.0, 300_000.0, "shipments/s", ">= 0.5"
    )
    admitted = Figure(
        "bulk sync of 10,000 statements through checkpoints", 30_000.0, 10_000.0, "statements/s", ">= 3"
    )
    checked = Figure(
        "bulk sync of 10,000 statements until every signature is checked",
        15_000.0,
        20_000.0,
        "statements/s",
        "(information)",
    )
    results = {
        ("exchange", 10_000): parse_figures(screen.line()),
        ("federation", 10_000): parse_figures(admitted.line() + "\n" + checked.line()),
    }
    lines = table(results, [10_000, 100_000]).splitlines()
    assert lines[0] == "| figure | 10,000 statements | 100,000 statements |"
    assert len(lines) == 2 + len(ROWS)
    rows = {line.split(" | ")[0].removeprefix("| "): line.split(" | ")[1:] for line in lines[2:]}
    assert rows["Screen, batches of 1,000, identifiers (shipments/s)"] == ["150,000 (0.50)", "— |"]
    assert rows["bulk sync, admitted (statements/s)"][0] == "30,000 (3.00)"
    assert rows["bulk sync, every signature checked (statements/s)"][0] == "15,000 (0.75)"
    assert rows["Publish, batches of 100 (statements/s)"] == ["—", "— |"]


def test_each_bench_is_sized_to_hold_the_asked_number_of_statements() -> None:
    # bench_exchange holds 1,000,000 designations + 100,000 flags at scale 1; bench_federation's
    # large sync is 1,000,000 statements; bench_names takes the party count itself
    assert round(float(bench_env("exchange", 110_000)["BORDERX_BENCH_SCALE"]) * 1_100_000) == 110_000
    assert round(float(bench_env("federation", 100_000)["BORDERX_BENCH_SCALE"]) * 1_000_000) == 100_000
    assert bench_env("names", 10_000) == {"BORDERX_BENCH_PARTIES": "10000"}
