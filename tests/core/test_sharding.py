"""The replica splitter: no shard is ever empty, and splitting changes no result (on every CPU)."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from drise_tf import data as data_lib
from drise_tf.core import sharding
from drise_tf.core.compat import keras
from drise_tf.training.evaluation import predict_probs

pytestmark = pytest.mark.distributed


@pytest.mark.parametrize("replicas", [1, 2, 3, 4, 7])
def test_batch_bounds_never_make_a_batch_smaller_than_the_replicas(replicas):
    for n_items in range(replicas, 40):
        for batch_size in range(replicas, 12):
            bounds = sharding.batch_bounds(n_items, batch_size, replicas)
            sizes = np.diff(bounds)
            assert bounds[0] == 0 and bounds[-1] == n_items
            assert sizes.min() >= replicas, (n_items, batch_size, sizes)
            plain = np.diff(list(range(0, n_items, batch_size)) + [n_items])  # tf.data's .batch()
            if replicas == 1 or plain[-1] >= replicas:
                np.testing.assert_array_equal(sizes, plain)
            else:  # the short remainder joined the batch before it
                np.testing.assert_array_equal(sizes, [*plain[:-2], plain[-2] + plain[-1]])


def test_batch_bounds_refuse_what_cannot_feed_every_replica():
    with pytest.raises(ValueError, match="1 items cannot feed 2 replicas"):
        sharding.batch_bounds(1, 4, 2)
    with pytest.raises(ValueError, match=r"batch_size \(1\) must be at least the number of replicas \(2\)"):
        sharding.batch_bounds(10, 1, 2)
    with pytest.raises(ValueError, match="n_items must be an int >= 1"):
        sharding.batch_bounds(0, 4)


@pytest.mark.parametrize("replicas", [1, 2, 3, 5])
def test_replica_shard_is_never_empty_and_covers_the_items_once(replicas):
    for count in range(1, 14):
        items = tf.range(count)
        shards = [sharding.replica_shard(items, index, replicas) for index in range(replicas)]
        assert all(int(tf.size(rows)) >= 1 for rows, _ in shards), count
        assert len({int(tf.size(rows)) for rows, _ in shards}) == 1  # equal shapes on every replica
        real = np.concatenate([rows.numpy()[weights.numpy() == 1] for rows, weights in shards])
        np.testing.assert_array_equal(real, np.arange(count))


def test_pad_rows():
    items = np.arange(6).reshape(3, 2)
    assert sharding.pad_rows(items, 2) is items
    np.testing.assert_array_equal(sharding.pad_rows(items[:1], 3), [[0, 1]] * 3)
    with pytest.raises(ValueError, match="items is empty"):
        sharding.pad_rows(items[:0], 2)


def _mirrored():
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def _local_sizes(strategy, dataset):
    out = []
    for batch in strategy.experimental_distribute_dataset(dataset):
        images = batch[0] if isinstance(batch, tuple) else batch
        out.append([int(part.shape[0]) for part in strategy.experimental_local_results(images)])
    return out


@pytest.mark.parametrize("n_items,batch_size", [(5, 4), (9, 4), (7, 6), (2, 2)])
def test_pipelines_feed_every_replica_under_a_real_strategy(n_items, batch_size):
    strategy = _mirrored()
    x = np.zeros((n_items, 4, 4, 3), np.float32)
    y = np.arange(n_items) % 10
    evaluation = data_lib.make_eval_dataset(x, y, batch_size=batch_size, replicas=2)
    training = data_lib.make_train_dataset(x, y, batch_size=batch_size, augmentation="none", replicas=2).take(
        data_lib.train_steps_per_epoch(n_items, batch_size, "none", replicas=2))
    for dataset in (evaluation, training):
        sizes = _local_sizes(strategy, dataset)
        assert min(min(parts) for parts in sizes) >= 1, sizes
        assert sum(map(sum, sizes)) == n_items


def _bn_model():
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="predictions")(x))


def test_predict_and_evaluate_under_a_strategy_equal_one_device():
    x = np.random.default_rng(0).normal(size=(5, 4, 4, 3)).astype(np.float32)
    single = _bn_model()
    expected = np.asarray(single(x, training=False))
    with _mirrored().scope():
        spread = _bn_model()
        spread.set_weights(single.get_weights())
    for count in (1, 3, 5):  # one image, and batches whose last part is smaller than the replicas
        np.testing.assert_allclose(predict_probs(spread, x[:count], batch_size=2), expected[:count], atol=1e-6)


def test_deletion_insertion_under_a_strategy_equal_one_device():
    from drise_tf import metrics

    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4, 4, 3)).astype(np.float32)
    maps = rng.normal(size=(3, 4, 4)).astype(np.float32)
    single = _bn_model()
    with _mirrored().scope():
        spread = _bn_model()
        spread.set_weights(single.get_weights())
    want = metrics.deletion_insertion(single, x[:1], maps[:1], step=3)
    got = metrics.deletion_insertion(spread, x[:1], maps[:1], step=3)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], atol=1e-5, err_msg=key)
