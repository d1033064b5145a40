"""What drise_tf lets third-party code print: TensorFlow's C++ start-up lines and one repeated Keras warning are
hidden by default; ``DRISE_TF_VERBOSE=1`` (the CLI's ``--verbose``) shows everything.

Hidden, and only these:

* the C++ log lines TensorFlow writes while it is imported and first probes its devices (CUDA probing,
  CPU-feature notes): stderr is captured meanwhile and replayed only if that fails; afterwards
  ``TF_CPP_MIN_LOG_LEVEL`` defaults to 2 (errors only), unless you set it yourself;
* Keras's UserWarning "The structure of `inputs` doesn't match the expected structure", which tf-keras-vis's calls
  (a list holding one image tensor) trigger on every explanation.
"""
from __future__ import annotations

import contextlib
import os
import platform
import sys
import tempfile
import warnings
from typing import Iterator, Optional

VERBOSE_ENV = "DRISE_TF_VERBOSE"
KERAS_INPUTS_WARNING = r"The structure of `inputs` doesn't match the expected structure"


def verbose() -> bool:
    """True when ``DRISE_TF_VERBOSE`` is set to something other than "", "0" or "false"."""
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false")


@contextlib.contextmanager
def _stderr_captured() -> Iterator[None]:
    """Send file descriptor 2 to a temporary file; replay it to stderr if the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def import_tensorflow() -> None:
    """Import TensorFlow without its C++ start-up lines (unless verbose), and hide the one Keras warning above."""
    if verbose() or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=KERAS_INPUTS_WARNING, category=UserWarning)
    with _stderr_captured():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # the device probe logs its CUDA errors on a machine without GPU


def fit_verbosity(verbose: int) -> int:
    """Keras's ``fit`` verbosity for ``verbose``: its progress bar (1) only where it redraws in place, on a terminal
    or in an IPython console (Spyder, Jupyter); one line per epoch (2) when the output goes to a file or pipe, where
    the bar would append every step's redraw to the log. 0 stays 0."""
    if verbose != 1:
        return verbose
    interactive = (hasattr(sys.stdout, "isatty") and sys.stdout.isatty()) or "ipykernel" in sys.modules
    return 1 if interactive else 2


#: The CPU instruction sets that decide how fast the forward passes run (float32 / bfloat16 matrix kernels), in
#: /proc/cpuinfo's spelling, strongest last.
MATMUL_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16")


def cpu_description(cpuinfo: Optional[str] = None) -> str:
    """The CPU's model name and which of :data:`MATMUL_FLAGS` it has, e.g. ``"Intel(R) Xeon(R) Processor
    (avx2 avx512f avx512_vnni avx512_bf16 amx_bf16)"``.

    Parameters
    ----------
    cpuinfo : str, optional
        The text of ``/proc/cpuinfo``; read from the file when omitted. Without it (not Linux) the model name is
        ``platform.processor()`` and the instruction sets are not listed.
    """
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as stream:
                cpuinfo = stream.read()
        except OSError:
            return platform.processor() or platform.machine() or "unknown CPU"
    fields = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())  # the first processor's entry
    name = fields.get("model name") or platform.processor() or "unknown CPU"
    flags = set(fields.get("flags", "").split())
    present = [flag for flag in MATMUL_FLAGS if flag in flags]
    return f"{name} ({' '.join(present) or 'none of ' + ', '.join(MATMUL_FLAGS)})"


def runtime_summary(precision: str = "float32") -> str:
    """One line on what the run computes on: TensorFlow and Keras versions, CPU threads and model (with its
    :data:`MATMUL_FLAGS`), GPUs, precision."""
    import tensorflow as tf

    from drise_tf.core.compat import KERAS_VERSION

    gpus = tf.config.list_physical_devices("GPU")
    threads = tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()
    gpu_text = f"{len(gpus)} GPU{'s' if len(gpus) != 1 else ''}" if gpus else "no GPU"
    return (f"TensorFlow {tf.__version__} (Keras {KERAS_VERSION}) on {threads} CPU threads of {cpu_description()}, "
            f"{gpu_text}, {precision}")
