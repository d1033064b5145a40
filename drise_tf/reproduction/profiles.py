"""The run profiles of ``reproduce`` and ``figures``: frozen settings, nothing else.

``quick`` runs the whole pipeline on the thesis's network (ResNet-18 at a reduced width) on a 2-core CPU in
minutes; ``thesis`` is the thesis's full recipe (docs/thesis.md, "The training recipe" and "Its D-RISE") and is
meant for a GPU; ``keras_cnn`` trains the Keras CNN study's simple_cnn instead; ``tiny`` exists for the test suite.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, Optional, Tuple


@dataclass(frozen=True)
class Profile:
    """Settings of one end-to-end run.

    Attributes
    ----------
    name : str
        Profile name, also the default run folder ``models/<run_name>``.
    run_name : str
        Folder name of the trained run under ``models/``.
    architecture : str
        Model to train (see :func:`drise_tf.training.architectures.build`).
    width : int or None
        ResNet-18's base width (None: the thesis's 64; see :func:`drise_tf.training.architectures.resnet18`).
    recipe : str
        Training recipe (see :mod:`drise_tf.training`).
    epochs : int
        Training epochs.
    n_train, n_val, n_test : int or None
        Images used for training / validation / test; ``None`` = the thesis split (all but the last ``n_val``
        training images train; the whole official test set tests).
    augmentation : str
        ``"thesis"`` (originals + augmented copy per epoch) or ``"random"``.
    lr_quirk : bool
        Replay the thesis's learning-rate decay-length bug (docs/thesis.md, "The training recipe").
    epoch0_val : str
        Where the epoch-0 validation point is evaluated: ``"test"`` (the thesis) or ``"validation"``.
    epoch0_train : str
        Where the epoch-0 training point is evaluated: ``"stream"`` (the thesis: the first epoch's training stream,
        originals plus augmented copy) or ``"originals"``.
    precision : str
        ``"float32"`` or ``"bfloat16"`` for D-RISE forward passes (and training unless ``train_precision`` says
        otherwise). ``bfloat16`` pays off only on hardware with native bfloat16 (GPUs, CPUs with AVX512-BF16 / AMX);
        elsewhere it is several times slower.
    train_precision : str or None
        Precision of training (None: ``precision``); the saved model is float32 either way.
    keep_epochs : tuple of int
        Epochs whose training checkpoints are kept (early checkpoints of the same training, to explain).
    n_masks, grid_size, p : int, int, float
        D-RISE masks (docs/thesis.md, "Its D-RISE").
    mask_batch : int
        Masked images per forward pass.
    k_images : int
        Images per selected group (cat->cat, cat->dog) for the thesis figures.
    k_compare : int
        Test images for the similarity-score and method comparisons.
    compare_masks : int
        Masks per D-RISE / RISE map in the comparisons; with ``compare_stability``, the masks per round.
    compare_stability : float or None
        The comparisons' declared stability: every D-RISE and RISE map draws rounds of ``compare_masks``
        antithetic Sobol masks until its estimated two-seed Spearman reaches this value, or ``compare_max_masks``
        (a panel that stopped at the cap says so); None: exactly ``compare_masks`` i.i.d. masks.
    compare_max_masks : int
        The cap of masks per comparison map with ``compare_stability``.
    k_sanity, sanity_masks : int
        Test images and masks per D-RISE map of the model-randomisation sanity check (one map per cascade step).
    k_evaluate : int or None
        Test images of the evaluation run (``evaluate-maps``, experiment 11); None: the whole test set.
    evaluate_masks : int
        D-RISE / RISE masks per map in the evaluation run (antithetic pairs).
    seed : int
        Seed of every random step.
    """

    name: str
    run_name: str
    architecture: str = "resnet18"
    width: Optional[int] = None
    recipe: str = "thesis"
    epochs: int = 100
    n_train: Optional[int] = None
    n_val: int = 10000
    n_test: Optional[int] = None
    augmentation: str = "thesis"
    lr_quirk: bool = True
    epoch0_val: str = "test"
    epoch0_train: str = "stream"
    precision: str = "float32"
    train_precision: Optional[str] = None
    keep_epochs: Tuple[int, ...] = ()
    n_masks: int = 5000
    grid_size: int = 16
    p: float = 0.5
    mask_batch: int = 100
    k_images: int = 5
    k_compare: int = 50
    compare_masks: int = 2000
    compare_stability: Optional[float] = 0.9
    compare_max_masks: int = 40000
    k_sanity: int = 8
    sanity_masks: int = 1000
    k_evaluate: Optional[int] = None
    evaluate_masks: int = 2000
    seed: int = 0

    def replace(self, **changes: object) -> "Profile":
        """A copy with some settings changed (e.g. ``epochs=2``)."""
        return dataclasses.replace(self, **changes)


# The thesis's network in minutes on a 2-core AVX2 CPU: ResNet-18's topology (same 8 BasicBlocks and layer names)
# at a reduced base width, trained with the CPU recipe on the development subset, then every thesis step at
# the thesis's N = 5000 masks; the comparisons use fewer images and masks (benchmarks/quick_profile_tradeoff.py
# measured the choice, see docs/results.md) and run on 3 images only, all of them drawn: each Monte Carlo map runs to
# the declared stability (the thesis's D-RISE needs 12,000-40,000 masks for it), and the first command stays under 15
# minutes on a 2-core AVX2 CPU (docs/usage.md).
_QUICK = Profile(
    name="quick",
    run_name="quick",
    architecture="resnet18",
    width=8,
    recipe="cpu_onecycle",
    epochs=6,
    n_train=18000,
    n_val=2000,
    n_test=None,
    augmentation="random",
    lr_quirk=False,
    epoch0_val="validation",
    epoch0_train="originals",
    n_masks=5000,
    k_images=5,
    k_compare=3,
    compare_masks=1000,
    k_sanity=4,
    sanity_masks=500,
    k_evaluate=1000,
)


PROFILES: Dict[str, Profile] = {
    "thesis": Profile(name="thesis", run_name="thesis"),
    "quick": _QUICK,
    # The thesis's network, strong, trained on a 2-core CPU in under 2 hours: ResNet-18 at base width 32 (a quarter of
    # the thesis's multiply-adds), the cpu_strong recipe for 50 epochs on 19,000 of the development subset's 20,000
    # training images, trained in bfloat16 (2x faster than float32 on this width with AVX512-BF16/AMX; on an AVX2-only
    # CPU train with --precision float32); the explanations run in float32. The trained run is shipped in
    # models/strong (benchmarks/strong_profile_tradeoff.py measured the choice; see docs/strong-network.md).
    "strong": _QUICK.replace(
        name="strong", run_name="strong", width=32, recipe="cpu_strong", epochs=50, n_train=19000, n_val=1000,
        augmentation="random_cutout", train_precision="bfloat16", keep_epochs=(5, 10, 20), k_compare=6,
    ),
    # The Keras CNN study's model (simple_cnn, Adam, 16k images, 5 epochs): minutes on any CPU.
    "keras_cnn": Profile(
        name="keras_cnn",
        run_name="keras_cnn",
        architecture="simple_cnn",
        recipe="adam_cnn",
        epochs=5,
        n_train=16000,
        n_val=2000,
        n_test=None,
        augmentation="none",
        lr_quirk=False,
        epoch0_val="validation",
        epoch0_train="originals",
        n_masks=5000,
        k_images=5,
        k_compare=50,
        compare_masks=2000,
        k_sanity=8,
        sanity_masks=1000,
        k_evaluate=1000,
    ),
    "tiny": Profile(
        name="tiny",
        run_name="tiny",
        architecture="simple_cnn",
        recipe="thesis",
        epochs=1,
        n_train=256,
        n_val=64,
        n_test=256,
        augmentation="random",
        lr_quirk=False,
        epoch0_val="validation",
        epoch0_train="originals",
        n_masks=40,
        grid_size=4,
        mask_batch=20,
        k_images=1,
        k_compare=4,
        compare_masks=40,
        compare_max_masks=120,
        k_sanity=2,
        sanity_masks=20,
        k_evaluate=6,
        evaluate_masks=16,
    ),
}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not a known profile; the message lists the known ones.
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(sorted(PROFILES))}") from None
