"""D-RISE and RISE (:class:`drise_tf.drise.DRise`) behind the common explainer interface."""
from __future__ import annotations

from typing import Any

import numpy as np

from drise_tf.drise import DRise
from drise_tf.explainers._base import Explainer, register


class DRiseExplainer(Explainer):
    """Adapter: ``explain`` forwards to a :class:`~drise_tf.drise.DRise` engine (which gets the model as given).

    Parameters
    ----------
    engine : DRise
        The configured engine; ``engine.model`` is the explained model.
    normalize : {"none", "minmax"}
        Applied after the engine's own ``normalization`` (see :class:`~drise_tf.explainers.Explainer`).
    """

    def __init__(self, engine: DRise, *, normalize: str = "none") -> None:
        super().__init__(engine.model, normalize=normalize)
        self.engine = engine

    def _explain(self, images: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return self.engine.explain(images, targets)


@register("drise")
def _drise(model: Any, *, normalize: str = "none", **options: Any) -> DRiseExplainer:
    """D-RISE with :class:`~drise_tf.drise.DRise` defaults (the thesis settings); ``options`` go to ``DRise``."""
    return DRiseExplainer(DRise(model, **options), normalize=normalize)


@register("rise")
def _rise(model: Any, *, normalize: str = "none", **options: Any) -> DRiseExplainer:
    """RISE (:meth:`DRise.rise`: 4000 bilinear 7x7 masks, class probability, / N p); ``options`` override it."""
    return DRiseExplainer(DRise.rise(model, **options), normalize=normalize)
