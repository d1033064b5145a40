"""The run profiles of ``reproduce`` and ``figures``: frozen settings, nothing else.

``quick`` proves the whole pipeline on a 2-core CPU in about 20 minutes (a data subset, a few epochs, small N);
``thesis`` is the thesis's full recipe (SPEC 1.2-1.3) and is meant for a GPU. ``tiny`` exists for the test suite.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, Optional


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
        Replay the thesis's learning-rate decay-length bug (SPEC 1.2).
    epoch0_val : str
        Where the epoch-0 validation point is evaluated: ``"test"`` (the thesis) or ``"validation"``.
    precision : str
        ``"float32"`` or ``"bfloat16"`` for training and D-RISE forward passes. ``bfloat16`` pays off only on
        hardware with native bfloat16 (GPUs, CPUs with AVX512-BF16 / AMX); elsewhere it is several times slower.
    n_masks, grid_size, p : int, int, float
        D-RISE masks (SPEC 1.3).
    mask_batch : int
        Masked images per forward pass.
    k_images : int
        Images per selected group (cat->cat, cat->dog) for the thesis figures.
    k_compare : int
        Test images for the similarity-score and method comparisons.
    compare_masks : int
        Masks per D-RISE map in the comparisons.
    k_sanity, sanity_masks : int
        Test images and masks per D-RISE map of the model-randomisation sanity check (one map per cascade step).
    seed : int
        Seed of every random step.
    """

    name: str
    run_name: str
    architecture: str = "resnet18"
    recipe: str = "thesis"
    epochs: int = 100
    n_train: Optional[int] = None
    n_val: int = 10000
    n_test: Optional[int] = None
    augmentation: str = "thesis"
    lr_quirk: bool = True
    epoch0_val: str = "test"
    precision: str = "float32"
    n_masks: int = 5000
    grid_size: int = 16
    p: float = 0.5
    mask_batch: int = 100
    k_images: int = 5
    k_compare: int = 50
    compare_masks: int = 2000
    k_sanity: int = 8
    sanity_masks: int = 1000
    seed: int = 0

    def replace(self, **changes: object) -> "Profile":
        """A copy with some settings changed (e.g. ``epochs=2``)."""
        return dataclasses.replace(self, **changes)


PROFILES: Dict[str, Profile] = {
    "thesis": Profile(name="thesis", run_name="thesis"),
    # Sized for a 2-core AVX2 CPU without GPU, which trains the CIFAR ResNet-18 at only ~18 images/s (2 epochs of
    # 4k images leave it near chance). The quick profile therefore trains the Keras CNN study's model (simple_cnn,
    # ~60% test accuracy in a few minutes) and runs every thesis step on it with the thesis's N = 5000 masks; the
    # thesis profile trains ResNet-18. Same code path, same figures.
    "quick": Profile(
        name="quick",
        run_name="quick",
        architecture="simple_cnn",
        recipe="adam_cnn",
        epochs=5,
        n_train=16000,
        n_val=2000,
        n_test=None,
        augmentation="none",
        lr_quirk=False,
        epoch0_val="validation",
        n_masks=5000,
        k_images=5,
        k_compare=50,
        compare_masks=2000,
        k_sanity=8,
        sanity_masks=1000,
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
        n_masks=40,
        grid_size=4,
        mask_batch=20,
        k_images=1,
        k_compare=4,
        compare_masks=40,
        k_sanity=2,
        sanity_masks=20,
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
