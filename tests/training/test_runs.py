"""Tests of drise_tf.training.runs: train, save, load and evaluate a run folder; one real-data epoch."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from toy_models import tiny_bn_classifier

from drise_tf import training
from drise_tf.core.compat import MODEL_SUFFIX, keras

# ------------------------------------------------------------------------------------------------------ schedules

# ------------------------------------------------------------------------------------------------------ whole runs
@pytest.fixture(scope="module")
def npz_source(tmp_path_factory):
    rng = np.random.default_rng(1)
    y_train = np.arange(80) % 10
    y_test = np.arange(30) % 10
    x_train = rng.integers(0, 256, size=(80, 32, 32, 3), dtype=np.uint8)
    x_test = rng.integers(0, 256, size=(30, 32, 32, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    np.savez(path, x_train=x_train, y_train=y_train.astype(np.uint8), x_test=x_test, y_test=y_test.astype(np.uint8))
    return str(path)


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_train_run_save_load_evaluate(npz_source, tmp_path, precision, capsys):
    policy = keras.mixed_precision.global_policy().name
    result = training.train_run(tmp_path, recipe="adam_cnn", architecture="simple_cnn", data=npz_source,
                                n_val=20, n_train=40, n_test=25, epochs=1, batch_size=20, precision=precision,
                                verbose=1)
    assert keras.mixed_precision.global_policy().name == policy  # restored
    for key in ("model_path", "standardizer_path", "history_path", "evaluation_path"):
        assert (tmp_path / result[key].split("/")[-1]).is_file()
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    assert evaluation["n"] == 25 and evaluation["train"]["n"] == 40
    assert np.asarray(evaluation["confusion_matrix"]).sum() == 25
    assert "confusion matrix" in capsys.readouterr().out
    model, standardizer = training.load_run(tmp_path)
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert all(layer.compute_dtype == "float32" for layer in model.layers if hasattr(layer, "compute_dtype"))
    again = training.evaluate_run(tmp_path, data=npz_source, n_test=25, verbose=0)
    assert again["accuracy"] == pytest.approx(evaluation["accuracy"], abs=0.04 if precision != "float32" else 1e-9)
    assert again["train"] == evaluation["train"]


def test_train_run_narrow_resnet18_with_the_cpu_recipe(npz_source, tmp_path):
    result = training.train_run(tmp_path, recipe="cpu_onecycle", architecture="resnet18", width=2, data=npz_source,
                                n_val=20, n_train=40, n_test=10, epochs=2, batch_size=10, verbose=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, _ = training.load_run(tmp_path)
    assert not [w for w in caught if "strided 1x1" in str(w.message)]  # the current ResNet-18 has none
    assert model.get_layer("stem_conv").filters == 2 and model.get_layer("stage4_block2_conv2").filters == 16
    assert result["history"]["epoch"] == [0, 1, 2] and np.isfinite(result["history"]["loss"]).all()
    # a run saved with the thesis's strided 1x1 shortcut on few channels loads, with a warning that names the layer
    inputs = keras.Input((32, 32, 3), name="input")
    narrow = keras.layers.Conv2D(8, 1, strides=2, name="narrow_shortcut")(inputs)
    wide = keras.layers.Conv2D(4, 1, strides=2, name="wide_enough")(keras.layers.Conv2D(16, 1, name="c16")(inputs))
    outputs = keras.layers.Dense(10, activation="softmax", name="predictions")(
        keras.layers.Flatten(name="flatten")(keras.layers.Concatenate(name="both")([narrow, wide])))
    (tmp_path / "old").mkdir()
    keras.Model(inputs, outputs).save(tmp_path / "old" / f"model{MODEL_SUFFIX}")
    (tmp_path / "old" / "standardizer.json").write_text((tmp_path / "standardizer.json").read_text())
    expected = r"\['narrow_shortcut'\] are strided 1x1 convolutions .* TF_ENABLE_ONEDNN_OPTS"
    with pytest.warns(UserWarning, match=expected):
        training.load_run(tmp_path / "old")


def test_train_run_bad_arguments_and_missing_files(npz_source, tmp_path):
    with pytest.raises(ValueError, match="precision"):
        training.train_run(tmp_path, data=npz_source, precision="float16")
    with pytest.raises(ValueError, match="n_train"):
        training.train_run(tmp_path, recipe="adam_cnn", architecture="simple_cnn", data=npz_source, n_val=20,
                           n_train=1000)
    with pytest.raises(ValueError, match="width applies to resnet18 only, not to architecture 'simple_cnn'"):
        training.train_run(tmp_path / "w", recipe="adam_cnn", architecture="simple_cnn", width=8, data=npz_source,
                           n_val=20, epochs=1)
    with pytest.raises(FileNotFoundError, match=f"model{MODEL_SUFFIX}"):
        training.load_run(tmp_path / "nothing")
    (tmp_path / "half").mkdir()
    tiny_bn_classifier().save(tmp_path / "half" / f"model{MODEL_SUFFIX}")
    with pytest.raises(FileNotFoundError, match="standardizer.json"):
        training.load_run(tmp_path / "half")


@pytest.mark.realdata
def test_simple_cnn_one_epoch_on_real_data(cifar_subset_file, tmp_path):
    result = training.train_run(tmp_path, recipe="adam_cnn", architecture="simple_cnn", data=str(cifar_subset_file),
                                n_train=4000, n_val=1000, n_test=1000, epochs=1, batch_size=32,
                                evaluate_train=False, verbose=0)
    assert result["evaluation"]["accuracy"] > 0.3  # chance is 0.1


def test_a_run_is_checked_against_its_manifest(npz_source, tmp_path):
    training.train_run(tmp_path, recipe="adam_cnn", architecture="simple_cnn", data=npz_source, n_val=20, n_train=40,
                       n_test=10, epochs=1, batch_size=20, verbose=0)
    manifest = json.loads((tmp_path / "manifest.json").read_text())["files"]
    assert set(manifest) == {f"model{MODEL_SUFFIX}", "standardizer.json", "history.json", "history.csv"}
    import hashlib

    model_file = tmp_path / f"model{MODEL_SUFFIX}"
    assert manifest[model_file.name]["sha256"] == hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert training.verify_run(tmp_path) is True
    training.load_run(tmp_path)
    content = model_file.read_bytes()
    model_file.write_bytes(content[: len(content) // 2])  # truncated
    with pytest.raises(ValueError, match=r"model\.keras does not match .*manifest\.json.*truncated or altered"):
        training.load_run(tmp_path)
    model_file.write_bytes(content[:-1] + bytes([content[-1] ^ 1]))  # same size, one bit flipped
    with pytest.raises(ValueError, match="SHA-256 differs"):
        training.load_run(tmp_path)
    model_file.write_bytes(content)
    (tmp_path / "standardizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="standardizer.json"):
        training.load_run(tmp_path)
    assert training.verify_run(tmp_path / "elsewhere") is False  # no manifest: a run from before manifests


def test_a_kept_checkpoint_exports_as_a_float32_run_of_its_own(npz_source, tmp_path):
    training.train_run(tmp_path / "run", recipe="cpu_strong", architecture="resnet18", width=2, data=npz_source,
                       n_val=20, n_train=40, n_test=10, epochs=2, batch_size=10, precision="bfloat16",
                       keep_epochs=(1,), verbose=0)
    checkpoint = keras.models.load_model(tmp_path / "run" / "checkpoints" / f"epoch_001{MODEL_SUFFIX}")
    result = training.export_checkpoint(tmp_path / "run", 1, tmp_path / "early", architecture="resnet18", width=2,
                                        data=npz_source, n_test=10, verbose=0)
    model, standardizer = training.load_run(tmp_path / "early")  # checked against its manifest
    assert training.verify_run(tmp_path / "early")
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert all(layer.compute_dtype == "float32" for layer in model.layers if hasattr(layer, "compute_dtype"))
    for mine, theirs in zip(model.get_weights(), checkpoint.get_weights()):
        np.testing.assert_array_equal(mine, np.asarray(theirs, np.float32))
    final, _ = training.load_run(tmp_path / "run")
    assert not all(np.array_equal(a, b) for a, b in zip(model.get_weights(), final.get_weights()))  # an early model
    assert result["evaluation"]["n"] == 10
    assert json.loads((tmp_path / "early" / "evaluation.json").read_text())["accuracy"] == result["evaluation"][
        "accuracy"]
    with pytest.raises(FileNotFoundError, match="keep_epochs including 5"):
        training.export_checkpoint(tmp_path / "run", 5, tmp_path / "later", architecture="resnet18", width=2)
