"""drise_tf.studies.imagenet: offline class names, preprocessing, sample picking, the study on small random models."""
from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np
import pytest

from drise_tf.core.compat import keras
from drise_tf.studies import imagenet

L = keras.layers


def test_class_file_is_keras_imagenet_class_index_byte_for_byte():
    data = resources.files("drise_tf").joinpath("resources/imagenet_classes.json").read_bytes()
    assert hashlib.md5(data).hexdigest() == imagenet.CLASS_INDEX_MD5
    index = imagenet.class_index()
    assert len(index) == 1000 and len(set(index)) == 1000 and len({w for w, _ in index}) == 1000
    names = imagenet.class_names()
    assert names[:2] == ["tench", "goldfish"] and names[999] == "toilet tissue"
    assert names[404] == "airliner" and names[817] == "sports car" and names[134] == names[517] == "crane"


def test_decode_predictions_by_hand():
    probs = np.zeros((2, 1000))
    probs[0, [1, 999, 5]] = [0.5, 0.3, 0.2]
    probs[1, 404] = 1.0
    decoded = imagenet.decode_predictions(probs, top=2)
    assert decoded[0] == [(1, "goldfish", 0.5), (999, "toilet tissue", 0.3)]
    assert decoded[1][0] == (404, "airliner", 1.0)
    with pytest.raises(ValueError, match="1000"):
        imagenet.decode_predictions(np.zeros((1, 10)))
    with pytest.raises(ValueError, match="top"):
        imagenet.decode_predictions(probs, top=0)


def test_preprocess_torch_mode_is_mean_std_on_unit_pixels():
    images = np.random.default_rng(0).integers(0, 256, (2, 4, 4, 3)).astype(np.uint8)
    out = imagenet.preprocess(images, size=4)
    expected = (images / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert imagenet.preprocess(images, size=8).shape == (2, 8, 8, 3)
    flat = np.full((1, 32, 32, 3), 200, np.uint8)  # a constant image stays constant when resized to 224
    np.testing.assert_allclose(imagenet.resize(flat, 224), 200.0, atol=1e-3)


def test_preprocess_caffe_mode_is_keras_preprocess_input():
    images = np.random.default_rng(1).integers(0, 256, (1, 4, 4, 3)).astype(np.uint8)
    expected = images[..., ::-1] - np.array([103.939, 116.779, 123.68])
    np.testing.assert_allclose(imagenet.preprocess(images, size=4, mode="caffe"), expected, rtol=1e-5, atol=1e-4)


def test_preprocess_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        imagenet.preprocess(np.zeros((1, 4, 4)))
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        imagenet.preprocess(np.full((1, 4, 4, 3), 300.0))
    with pytest.raises(ValueError, match="mode"):
        imagenet.preprocess(np.zeros((1, 4, 4, 3)), mode="tf")


def test_pick_samples_takes_the_first_of_each_study_class():
    labels = np.array([3, 0, 1, 0, 8, 9, 7, 1, 8])  # airplane 0, automobile 1, ship 8, truck 9, horse 7
    np.testing.assert_array_equal(imagenet.pick_samples(labels), [1, 2, 4, 5, 6])
    with pytest.raises(ValueError, match="no image"):
        imagenet.pick_samples(labels, ["deer"])
    with pytest.raises(ValueError, match="not a CIFAR-10 class"):
        imagenet.pick_samples(labels, ["zebra"])


def test_offline_imagenet_weights_give_one_clear_message(monkeypatch):
    def offline(**kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3]")

    monkeypatch.setattr(keras.applications, "ResNet50", offline)
    with pytest.raises(RuntimeError, match="could not download the ImageNet weights.*weights=None"):
        imagenet.load_resnet50()


def _small_imagenet_model(size=32):
    inputs = keras.Input((size, size, 3))
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="conv")(inputs)
    x = L.Activation("relu", name="last_out")(L.Conv2D(8, 3, padding="same", name="conv_b")(x))
    x = L.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, L.Dense(1000, activation="softmax", name="predictions")(x))
    rng = np.random.default_rng(0)
    model.set_weights([(rng.standard_normal(w.shape) * 0.3).astype(np.float32) for w in model.get_weights()])
    return model


def test_imagenet_on_cifar_on_a_small_random_model():
    model = _small_imagenet_model(48)
    images = np.random.default_rng(2).integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    result = imagenet.imagenet_on_cifar(model, images, top=3, method_options={"faster_scorecam": {"max_n": 3}})
    assert result["images"].shape == (2, 48, 48, 3) and result["images"].dtype == np.uint8
    probs = model(imagenet.preprocess(images, size=48, mode="caffe")).numpy()  # the default preprocessing
    np.testing.assert_array_equal(result["targets"], probs.argmax(axis=1))
    assert result["predictions"][0][0][1] == imagenet.class_names()[probs[0].argmax()]
    assert set(result["maps"]) == {"gradcam", "gradcam++", "faster_scorecam"}
    for maps in result["maps"].values():
        assert maps.shape == (2, 48, 48) and maps.min() >= 0 and maps.max() <= 1


def test_resnet50_without_weights_explains_its_last_block():
    from drise_tf.explain import default_cam_layer, make_explainer

    model = imagenet.load_resnet50(weights=None, input_shape=(64, 64, 3))
    assert default_cam_layer(model) == "conv5_block3_out"
    x = imagenet.preprocess(np.zeros((1, 32, 32, 3), np.uint8), size=64)
    assert make_explainer("gradcam", model).explain(x, [404]).shape == (1, 64, 64)
