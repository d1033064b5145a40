"""How work is split over the replicas of a ``tf.distribute`` strategy, so that no replica ever gets zero items.

TensorFlow's oneDNN graph optimisations (on by default on AVX512_VNNI/BF16/AMX CPUs, or with
``TF_ENABLE_ONEDNN_OPTS=1``) reject an empty batch in some layers (BatchNormalization among them), so an empty
shard is an error on some machines and silently fine on others. Two splits are used in the package:

* **Inside a compiled step** (D-RISE's masks): :func:`replica_shard` pads the items to ``replicas`` equal,
  non-empty shards by repeating the last item, and returns which rows are real; the padding rows are computed
  and then given zero weight and dropped, so results are unchanged.
* **Batches of a tf.data pipeline** distributed by Keras: ``experimental_distribute_dataset`` splits each batch
  as evenly as possible, so a replica gets nothing only when a batch holds fewer items than there are replicas.
  :func:`batch_bounds` never makes such a batch: a short remainder joins the batch before it.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
import tensorflow as tf


def replica_count(strategy: Optional[tf.distribute.Strategy] = None) -> int:
    """Replicas in sync of ``strategy`` (default: the active strategy; 1 outside any)."""
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    return int(strategy.num_replicas_in_sync)


def _check_count(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def batch_bounds(n_items: int, batch_size: int, replicas: int = 1) -> np.ndarray:
    """Bounds of the batches of ``n_items`` items: batch ``k`` is ``items[bounds[k]:bounds[k + 1]]``.

    Batches hold ``batch_size`` items in order; a last batch with fewer than ``replicas`` items joins the batch
    before it, so that every batch splits over ``replicas`` replicas without an empty shard. With one replica
    (or a remainder of at least ``replicas``) these are the plain batches of ``tf.data.Dataset.batch``.

    Parameters
    ----------
    n_items : int
        Items to split (>= 1).
    batch_size : int
        Items per batch (>= replicas).
    replicas : int
        Replicas each batch is split over.

    Returns
    -------
    np.ndarray
        int64 (n_batches + 1,), from 0 to ``n_items``.

    Raises
    ------
    ValueError
        If ``n_items`` < ``replicas`` (no split can feed every replica) or ``batch_size`` < ``replicas``.
    """
    n_items = _check_count(n_items, "n_items", 1)
    batch_size = _check_count(batch_size, "batch_size", 1)
    replicas = _check_count(replicas, "replicas", 1)
    if batch_size < replicas:
        raise ValueError(f"batch_size ({batch_size}) must be at least the number of replicas ({replicas})")
    if n_items < replicas:
        raise ValueError(f"{n_items} items cannot feed {replicas} replicas: give at least {replicas} items")
    bounds = list(range(0, n_items, batch_size)) + [n_items]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < replicas:
        del bounds[-2]
    return np.asarray(bounds, dtype=np.int64)


def replica_shard(items: tf.Tensor, replica_id: Any, replicas: int) -> Tuple[tf.Tensor, tf.Tensor]:
    """The shard of ``items`` (first axis, n >= 1) that replica ``replica_id`` of ``replicas`` computes.

    Every replica gets ``ceil(n / replicas)`` rows, never zero: the items are padded to ``replicas`` equal shards
    by repeating the last item.

    Returns
    -------
    (tf.Tensor, tf.Tensor)
        The shard's rows, and a float32 vector that is 1 for real rows and 0 for padding.
    """
    count = tf.shape(items)[0]
    per_replica = (count + replicas - 1) // replicas
    positions = tf.cast(replica_id, tf.int32) * per_replica + tf.range(per_replica)
    rows = tf.gather(items, tf.minimum(positions, count - 1))
    return rows, tf.cast(positions < count, tf.float32)


def pad_rows(items: np.ndarray, rows: int) -> np.ndarray:
    """``items`` with its last row repeated until it has at least ``rows`` rows (callers drop the extra outputs).

    For a batch handed whole to a distributed Keras call (``predict_on_batch``), which splits it over the replicas
    (``rows`` = the replica count), or padded to a fixed size so that a compiled call is not traced again.
    """
    rows = _check_count(rows, "rows", 1)
    if len(items) == 0:
        raise ValueError("items is empty: nothing to split over the replicas")
    missing = rows - len(items)
    return items if missing <= 0 else np.concatenate([items, np.repeat(items[-1:], missing, axis=0)])


def is_chief(strategy: Optional[tf.distribute.Strategy] = None) -> bool:
    """True on the worker that writes results: always outside a multi-worker strategy; under one (e.g.
    ``MultiWorkerMirroredStrategy`` configured by ``TF_CONFIG``), the ``chief`` task, or worker 0 when the cluster
    has no chief."""
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and int(resolver.task_id) == 0 and \
        "chief" not in resolver.cluster_spec().as_dict()


def is_multi_worker(strategy: Optional[tf.distribute.Strategy] = None) -> bool:
    """True when ``strategy`` spans several processes (a cluster of more than one task, as ``TF_CONFIG`` names)."""
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return False
    return sum(len(tasks) for tasks in resolver.cluster_spec().as_dict().values()) > 1
