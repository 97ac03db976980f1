"""host_tools/guessing.py: the offline-guessing figures pin set prints and
docs/security.md's table."""
from host_tools import guessing
from host_tools.mpy import REPO


def test_exhaust_time_scales_with_the_pin_space_and_iterations():
    cpu6, gpu6 = guessing.seconds_to_exhaust(6)
    assert cpu6 == 10 ** 6 / guessing.CPU_CORE_RATE and gpu6 == 10 ** 6 / guessing.GPU_RATE
    cpu7, _ = guessing.seconds_to_exhaust(7)
    assert cpu7 == 10 * cpu6
    double, _ = guessing.seconds_to_exhaust(6, 2 * guessing.REFERENCE_ITERATIONS)
    assert double == 2 * cpu6


def test_warning_until_one_gpu_needs_a_year():
    assert guessing.warning(guessing.SAFE_DIGITS) is None
    short = guessing.warning(guessing.SAFE_DIGITS - 1)
    assert short is not None and "dumps the flash" in short and str(guessing.SAFE_DIGITS) in short


def test_docs_table_is_the_computed_one():
    import os
    doc = open(os.path.join(REPO, "docs", "security.md")).read()
    for digits, presses, _, _ in guessing.table():
        assert "| %d | %d |" % (digits, presses) in doc


def test_durations_read_as_a_person_would():
    assert guessing.duration(5) == "5 s"
    assert guessing.duration(120) == "2.0 min"
    assert guessing.duration(3 * 86400) == "3.0 days"
    assert guessing.duration(100 * 365.25 * 86400) == "100 years"
