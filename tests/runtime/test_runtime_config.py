"""Configuration from the environment, the pinned requirements, and the package's import rules."""

import ast
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

from runtime_helpers import EXAMPLES
from modelport.runtime.config import RuntimeConfig
from modelport.runtime.errors import RuntimeConfigError
from modelport.runtime.requirements import RUNTIME_MODULE, pip_download_args, runtime_requirements

RUNTIME_DIR = Path(__file__).resolve().parents[2] / "core" / "runtime"
BASE = {"MODELPORT_MODEL_NAME": "iris", "MODELPORT_MODEL_PATH": "/m/model.joblib", "MODELPORT_FRAMEWORK": "sklearn"}


def test_defaults_when_only_the_required_variables_are_set():
    config = RuntimeConfig.from_env(BASE)
    assert (config.host, config.port, config.model_version, config.workers) == ("0.0.0.0", 8080, "1", 1)
    assert config.max_body_bytes == 16 * 1024 * 1024 and config.model_path == Path("/m/model.joblib")


def test_every_variable_is_read():
    env = {**BASE, "MODELPORT_MODEL_VERSION": "2.1", "PORT": "9000", "MODELPORT_HOST": "127.0.0.7",
           "MODELPORT_MAX_BODY_BYTES": "1024", "MODELPORT_WORKERS": "3", "MODELPORT_PREDICT_THREADS": "0",
           "MODELPORT_GRACEFUL_TIMEOUT": "9", "MODELPORT_INLINE_BELOW_MS": "3", "MODELPORT_ACCESS_LOG": "true", "MODELPORT_FRAMEWORK": "CUSTOM",
           "MODELPORT_PREDICT_FILE": "/m/predict.py", "MODELPORT_MAX_BATCH_SIZE": "64", "MODELPORT_MAX_BATCH_DELAY_MS": "7"}
    config = RuntimeConfig.from_env(env)
    assert (config.model_version, config.port, config.host, config.max_body_bytes) == ("2.1", 9000, "127.0.0.7", 1024)
    assert (config.workers, config.predict_threads, config.graceful_timeout, config.access_log) == (3, 0, 9, True)
    assert config.framework == "custom" and config.predict_file == Path("/m/predict.py")
    assert config.inline_below_ms == 3
    assert (config.max_batch_size, config.max_batch_delay_ms) == (64, 7)
    assert RuntimeConfig.from_env({**BASE, "MODELPORT_ACCESS_LOG": "off"}).access_log is False


def test_access_log_on_and_batching_off_by_default():
    config = RuntimeConfig.from_env(BASE)
    assert config.access_log is True and config.max_batch_size == 0


@pytest.mark.parametrize("change,words", [
    ({"MODELPORT_MODEL_NAME": ""}, "MODELPORT_MODEL_NAME"),
    ({"MODELPORT_FRAMEWORK": "torch"}, "not supported"),
    ({"PORT": "70000"}, "outside"),
    ({"MODELPORT_WORKERS": "two"}, "not an integer"),
    ({"MODELPORT_FRAMEWORK": "custom"}, "MODELPORT_PREDICT_FILE"),
    ({"MODELPORT_MODEL_NAME": "a/b"}, "without '/'"),
    ({"MODELPORT_MAX_BATCH_SIZE": "-1"}, "MODELPORT_MAX_BATCH_SIZE=-1 is outside"),
    ({"MODELPORT_MAX_BATCH_DELAY_MS": "5s"}, "MODELPORT_MAX_BATCH_DELAY_MS.*not an integer"),
    ({"MODELPORT_ACCESS_LOG": "maybe"}, "MODELPORT_ACCESS_LOG.*not a boolean"),
])
def test_bad_environment_is_a_config_error_naming_the_variable(change, words):
    with pytest.raises(RuntimeConfigError, match=words):
        RuntimeConfig.from_env({**BASE, **change})


@pytest.mark.parametrize("framework,needs", [("sklearn", "scikit-learn=="), ("onnx", "onnxruntime=="), ("custom", "numpy==")])
def test_requirements_are_pinned_per_framework(framework, needs):
    requirements = runtime_requirements(framework)
    assert all("==" in r for r in requirements)
    assert any(r.startswith(needs) for r in requirements)
    assert any(r.startswith("uvicorn==") for r in requirements) and any(r.startswith("orjson==") for r in requirements)
    assert RUNTIME_MODULE == "modelport_runtime"
    args = pip_download_args(framework, "/tmp/w")
    assert args[0] == "download" and "--only-binary=:all:" in args and "manylinux_2_28_x86_64" in args


def test_onnx_image_does_not_carry_scikit_learn():
    assert not any(r.startswith("scikit-learn") for r in runtime_requirements("onnx"))


def test_unknown_framework_has_no_requirements():
    with pytest.raises(ValueError, match="unknown framework"):
        runtime_requirements("tensorflow")


@pytest.mark.parametrize("example", ["iris", "iris-v2"])
def test_example_pickles_were_made_with_the_pinned_scikit_learn(example):
    pinned = next(r.split("==")[1] for r in runtime_requirements("sklearn") if r.startswith("scikit-learn=="))
    model = joblib.load(EXAMPLES / example / "model.joblib")
    assert model.__getstate__()["_sklearn_version"] == pinned


def test_runtime_imports_only_relative_modules_and_the_pinned_libraries():
    # inside the image the package is `modelport_runtime`: an absolute `modelport` import would break it
    allowed = {"numpy", "orjson", "uvicorn", "joblib", "onnxruntime", "prometheus_client", "__future__"} | set(sys.stdlib_module_names)
    for path in RUNTIME_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_heavy_frameworks_are_imported_only_when_a_model_needs_them():
    code = ("import sys, modelport.runtime.app, modelport.runtime.requirements;"
            "print(sorted(m for m in ('sklearn', 'onnxruntime', 'scipy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr
    light = subprocess.run([sys.executable, "-c", "import sys, modelport.runtime.requirements;"
                            "print('numpy' in sys.modules)"], capture_output=True, text=True, timeout=120)
    assert light.stdout.strip() == "False", light.stderr


def test_pickle_files_load_too(tmp_path):
    from modelport.runtime.sklearn_model import SklearnModel

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(joblib.load(EXAMPLES / "iris" / "model.joblib")))
    model = SklearnModel.load(tmp_path)  # a directory holding one model file works as well
    assert model.outputs[0].name == "predict" and model.inputs[0].shape == (-1, 4)


def test_load_errors_say_what_is_wrong(tmp_path):
    from modelport.runtime.errors import ModelLoadError
    from modelport.runtime.frameworks import load_model

    def fails(words, **settings):
        config = RuntimeConfig(model_name="m", **settings)
        with pytest.raises(ModelLoadError, match=words):
            load_model(config)

    (tmp_path / "a.joblib").write_bytes(b"x")
    (tmp_path / "b.pkl").write_bytes(b"x")
    fails("exactly one", framework="sklearn", model_path=tmp_path)
    fails("cannot load scikit-learn model", framework="sklearn", model_path=tmp_path / "a.joblib")
    joblib.dump({"not": "a model"}, tmp_path / "dict.joblib")
    fails("has no predict", framework="sklearn", model_path=tmp_path / "dict.joblib")
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    fails("cannot load ONNX model", framework="onnx", model_path=tmp_path / "bad.onnx")
    (tmp_path / "predict.py").write_text("def load(path):\n    return 1\n")
    fails(r"define a function predict\(\)", framework="custom", model_path=tmp_path, predict_file=tmp_path / "predict.py")
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere\n")
    fails("importing .* failed", framework="custom", model_path=tmp_path, predict_file=tmp_path / "broken.py")


def test_serving_batch_keys_travel_from_the_spec_to_the_runtime(tmp_path):
    from modelport.image.image import image_env  # what the image build bakes into the image
    from modelport.errors import SpecErrors
    from modelport.spec import load_spec

    def runtime_config(serving_keys: str) -> RuntimeConfig:
        shutil.copytree(EXAMPLES / "iris", tmp_path / "p", dirs_exist_ok=True)
        toml = (EXAMPLES / "iris" / "modelport.toml").read_text().replace("[serving]\n", "[serving]\n" + serving_keys)
        (tmp_path / "p" / "modelport.toml").write_text(toml)
        env = image_env(load_spec(tmp_path / "p"))
        return RuntimeConfig.from_env({**env, "MODELPORT_MODEL_PATH": str(EXAMPLES / "iris" / "model.joblib")})

    on = runtime_config("max_batch_size = 32\nmax_batch_delay_ms = 2\n")
    assert (on.max_batch_size, on.max_batch_delay_ms) == (32, 2)
    assert runtime_config("").max_batch_size == 0  # off unless the spec says so
    with pytest.raises(SpecErrors, match="serving.max_batch_size"):
        runtime_config("max_batch_size = -4\n")
    with pytest.raises(SpecErrors, match="serving.max_batch_delay_ms"):
        runtime_config("max_batch_size = 8\nmax_batch_delay_ms = 100000\n")
