"""The fuzz harness (tests/fuzz_harness.py) in CI: every seed and regression input, then a
bounded number of mutants chosen by hypothesis, through every command in both paths.

The properties are the harness's: no exception but our documented errors, the compiled and the
pure-Python path identical, no terminal control in any output, bounded time. The long run is
``tests/fuzz_harness.py --minutes 30`` (docs/SECURITY.md)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_harness
from conftest import ROOT, quick_subset

SEEDS = fuzz_harness.load_seeds()
# The quick run replays every regression input and built seed and every fifth sample (the
# samples are alike: RFC flows over UDP and TCP); the long run (slow) replays them all.
_SAMPLE_SEEDS = [i for i, path in enumerate(fuzz_harness.seed_paths()) if path.parent == ROOT / "samples"]


@pytest.mark.parametrize("index", quick_subset(range(len(SEEDS)), [
    i for i in range(len(SEEDS)) if i not in _SAMPLE_SEEDS or _SAMPLE_SEEDS.index(i) % 5 == 0]))
def test_seed_and_regression_inputs(index):
    fuzz_harness.check_input(SEEDS[index])


@pytest.mark.parametrize("examples", quick_subset([15, 60], [15]))  # the full count in the long run
def test_mutants(examples):
    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow],
              derandomize=True, database=None)
    @given(index=st.integers(0, len(SEEDS) - 1), rng=st.randoms(use_true_random=False))
    def check(index, rng):
        fuzz_harness.check_input(fuzz_harness.mutate(SEEDS[index], rng, SEEDS))

    check()


def test_the_harness_catches_what_it_must(monkeypatch):
    """A harness that cannot fail proves nothing: a leaked escape and a C/Python difference
    are both findings."""
    import ladder.cli.stats

    real = ladder.cli.stats.format_stats
    monkeypatch.setattr(ladder.cli.stats, "safe_lines", lambda text: text)
    monkeypatch.setattr(ladder.cli.stats, "format_stats", lambda stats: real(stats) + "\x1b[2J")
    with pytest.raises(fuzz_harness.Finding, match="carries"):
        fuzz_harness.check_input(SEEDS[0])
    monkeypatch.setattr(ladder.cli.stats, "format_stats",
                        lambda stats: real(stats) + ("pure" if fuzz_harness.os.environ.get("PCAPLADDER_PURE_PYTHON") else ""))
    with pytest.raises(fuzz_harness.Finding, match="differ"):
        fuzz_harness.check_input(SEEDS[0])
