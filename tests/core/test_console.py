"""The runtime line's CPU description (parsed from /proc/cpuinfo texts written here) and Keras's fit verbosity."""
import sys

from drise_tf.core.console import MATMUL_FLAGS, cpu_description, fit_verbosity

_XEON = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni avx512_bf16 amx_tile amx_bf16
bogomips\t: 4000.00

processor\t: 1
model name\t: Another CPU
flags\t\t: fpu
"""
_EPYC = """processor\t: 0
model name\t: AMD EPYC 7B13
flags\t\t: fpu sse2 avx avx2 fma
"""


def test_cpu_description_names_the_first_processor_and_its_matmul_flags():
    assert cpu_description(_XEON) == ("Intel(R) Xeon(R) Processor "
                                      "(avx2 avx512f avx512_vnni avx512_bf16 amx_bf16)")
    assert cpu_description(_EPYC) == "AMD EPYC 7B13 (avx2)"  # avx and fma are not listed


def test_cpu_description_without_any_listed_flag_says_so():
    text = cpu_description("model name : Old CPU\nflags : fpu sse2\n")
    assert text.startswith("Old CPU (none of ") and all(flag in text for flag in MATMUL_FLAGS)


def test_cpu_description_of_this_machine_is_one_line():
    text = cpu_description()
    assert text and "\n" not in text


class _Stream:
    def __init__(self, tty: bool) -> None:
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_fit_verbosity_draws_the_progress_bar_only_where_it_redraws_in_place(monkeypatch):
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys, "stdout", _Stream(tty=True))
    assert [fit_verbosity(v) for v in (0, 1, 2)] == [0, 1, 2]
    monkeypatch.setattr(sys, "stdout", _Stream(tty=False))  # a log file, a pipe
    assert [fit_verbosity(v) for v in (0, 1, 2)] == [0, 2, 2]
    monkeypatch.setitem(sys.modules, "ipykernel", object())  # Spyder's or Jupyter's console
    assert fit_verbosity(1) == 1
