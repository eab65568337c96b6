"""The neutral deployment description: ``modelport.toml`` parsed and validated.

Everything a user writes is checked here, before any cloud is touched. Each error names the
file, the dotted field path and what is wrong; unknown keys are errors with a did-you-mean.
Per-target settings are validated by the target's provider (its ``settings_model``).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import SpecError, SpecErrors
from .spec_gates import AnalysisSection, ValidationSection, analysis_problems, dataset_problems

SPEC_FILE = "modelport.toml"
NAME_RE = r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$"
ENV_NAME_RE = r"^[A-Za-z_][A-Za-z0-9_]*$"
SECRET_REF_RE = r"^[a-z][a-z0-9-]*:.+$"
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(Mi|Gi|M|G|MiB|GiB|MB|GB)?\s*$")
_MEMORY_UNITS = {None: 1, "Mi": 1, "MiB": 1, "M": 1, "MB": 1, "Gi": 1024, "GiB": 1024,
                 "G": 1024, "GB": 1024}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ModelSection(_Strict):
    """The model artifact."""

    name: Annotated[str, Field(pattern=NAME_RE, description="Model (and default deployment) name: lowercase letters, digits and '-', 2-40 chars, starting with a letter.")]
    version: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")]
    path: Annotated[str, Field(min_length=1, description="Model file or folder, relative to the spec's folder.")]
    framework: Literal["sklearn", "onnx", "custom"]
    predict: str | None = Field(None, min_length=1, description="custom framework: a predict.py defining load(path) and predict(model, inputs).")

    @model_validator(mode="after")
    def _custom_needs_predict(self) -> "ModelSection":
        if self.framework == "custom" and not self.predict:
            raise ValueError("framework 'custom' needs predict = \"predict.py\"")
        if self.framework != "custom" and self.predict:
            raise ValueError(f"predict is only used with framework 'custom', not {self.framework!r}")
        return self


class ServingSection(_Strict):
    """How the image serves and how a health gate checks it."""

    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    requirements: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=200)
    sample_input: str | None = Field(None, min_length=1, description="An OIP v2 infer request body (JSON file) sent as the smoke request of every health gate.")
    expected_output_shape: list[Annotated[int, Field(ge=-1)]] | None = None
    workers: Annotated[int, Field(ge=1, le=64)] = 1
    max_batch_size: Annotated[int, Field(ge=0, le=65536, description="Adaptive batching: the most rows one merged model call receives (0: off).")] = 0
    max_batch_delay_ms: Annotated[int, Field(ge=0, le=1000, description="Adaptive batching: the longest a request waits for others to join its model call.")] = 5


class BuildSection(_Strict):
    """Image build settings."""

    base_image: Annotated[str, Field(min_length=1, max_length=255)] = "python:3.11-slim"
    platform: Literal["linux/amd64", "linux/arm64"] = "linux/amd64"


class ResourcesSection(_Strict):
    """Per-instance size. Each provider checks it against its cloud's real limits."""

    cpu: Annotated[float, Field(gt=0, le=192)] = 1.0
    memory: Annotated[int, Field(gt=0, le=2_000_000, description="MiB, or a string like '2Gi' / '512Mi'.")] = 2048
    gpu: Annotated[int, Field(ge=0, le=16)] = 0
    gpu_type: str | None = None

    @field_validator("memory", mode="before")
    @classmethod
    def _parse_memory(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _MEMORY_RE.match(value)
            if not match:
                raise ValueError(f"{value!r} is not a size; write e.g. 2048, '512Mi' or '2Gi'")
            return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])
        return value


class ScalingSection(_Strict):
    """Instance counts and per-instance concurrency."""

    min_instances: Annotated[int, Field(ge=0, le=1000)] = 1
    max_instances: Annotated[int, Field(ge=1, le=1000)] = 1
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 80

    @model_validator(mode="after")
    def _min_le_max(self) -> "ScalingSection":
        if self.min_instances > self.max_instances:
            raise ValueError(f"min_instances ({self.min_instances}) is greater than max_instances ({self.max_instances})")
        return self


class RolloutSection(_Strict):
    """Defaults for swaps."""

    strategy: Literal["all-at-once", "blue-green", "canary"] = "blue-green"
    steps: list[Annotated[int, Field(ge=1, le=100)]] = Field(default_factory=lambda: [10, 50, 100], min_length=1, max_length=20)
    gate_timeout: Annotated[float, Field(gt=0, le=3600)] = 180.0
    keep_revisions: Annotated[int, Field(ge=1, le=10)] = 1
    analysis: AnalysisSection = AnalysisSection()

    @field_validator("steps")
    @classmethod
    def _steps_rise_to_100(cls, steps: list[int]) -> list[int]:
        if steps != sorted(set(steps)) or steps[-1] != 100:
            raise ValueError("steps must rise strictly and end at 100, e.g. [10, 50, 100]")
        return steps


class AccessSection(_Strict):
    """``[access]``: who may call the endpoint, the same on every cloud. With ``api_key`` the
    serving runtime answers inference and metadata requests only with that key (health probes
    stay open); modelport's own gates, ``predict`` and comparisons send it."""

    api_key: str | None = Field(
        None, max_length=1024,
        description="A secret REFERENCE to the key, never the key: 'env:VAR' or 'file:PATH', or a scheme the "
                    "target's provider resolves itself (then modelport's own requests read the key from the "
                    "MODELPORT_API_KEY environment variable). Clients send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'.")

    @field_validator("api_key")
    @classmethod
    def _a_reference(cls, value: str | None) -> str | None:
        if value is not None and not re.match(SECRET_REF_RE, value):
            raise ValueError("must be a secret reference such as 'env:VAR' or 'file:PATH', never the key itself")
        return value


class TargetSection(BaseModel):
    """``[targets.NAME]``: a provider name plus that provider's own settings (checked by it)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    provider: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")]

    @property
    def settings(self) -> dict[str, Any]:
        """The provider-specific keys (everything but ``provider``)."""
        return dict(self.model_extra or {})


class Spec(_Strict):
    """A whole ``modelport.toml``."""

    name: Annotated[str, Field(pattern=NAME_RE)] | None = Field(None, description="Deployment name (default: model.name).")
    model: ModelSection
    serving: ServingSection = ServingSection()
    build: BuildSection = BuildSection()
    resources: ResourcesSection = ResourcesSection()
    scaling: ScalingSection = ScalingSection()
    rollout: RolloutSection = RolloutSection()
    validation: ValidationSection | None = None
    env: dict[Annotated[str, Field(pattern=ENV_NAME_RE, max_length=128)], Annotated[str, Field(max_length=32768)]] = Field(default_factory=dict, max_length=500)
    secrets: dict[Annotated[str, Field(pattern=ENV_NAME_RE, max_length=128)], Annotated[str, Field(pattern=SECRET_REF_RE, max_length=1024)]] = Field(
        default_factory=dict, max_length=100,
        description="Environment variable name -> secret REFERENCE, never a value: 'env:VAR' or 'file:PATH' (read by modelport at deploy time), or a scheme the target's provider resolves itself (its capabilities' secret_schemes; see `modelport providers`).")
    targets: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")], TargetSection] = Field(default_factory=dict)
    access: AccessSection = AccessSection()

    @property
    def deployment(self) -> str:
        """The deployment name: ``name`` or the model's name."""
        return self.name or self.model.name


class LoadedSpec(BaseModel):
    """A validated spec plus where it came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    spec: Spec
    file: Path
    root: Path

    @property
    def model_path(self) -> Path:
        return (self.root / self.spec.model.path).resolve()

    def resolve(self, relative: str) -> Path:
        """A path named in the spec, resolved against the spec's folder."""
        return (self.root / relative).resolve()

    def spec_hash(self) -> str:
        """sha256 of the canonical spec (model, serving, build), recorded in image labels."""
        data = self.spec.model_dump(mode="json", include={"model", "serving", "build"})
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def find_spec_file(path: str | Path | None) -> Path:
    """PATH is a folder holding modelport.toml or the file itself (default: the current folder)."""
    p = Path(path or ".")
    problem = _unusable_path(str(p))
    if problem:
        raise SpecError(str(path), "", problem)
    try:
        candidate = p / SPEC_FILE if p.is_dir() else p
        found = candidate.is_file()
    except OSError as exc:  # e.g. a name too long for the file system
        raise SpecError(str(p), "", f"cannot be read: {exc.strerror or exc}") from None
    if not found:
        raise SpecError(str(candidate), "", "no such file",
                        hint=f"pass a folder holding {SPEC_FILE} or the file itself")
    return candidate


def load_spec(path: str | Path | None = None) -> LoadedSpec:
    """Read, parse and validate a spec; raise :class:`SpecErrors` listing every problem."""
    file = find_spec_file(path)
    shown = str(file)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecErrors([SpecError(shown, "", f"not UTF-8 text ({exc.reason})")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecErrors([SpecError(shown, "", f"not valid TOML: {exc}")]) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise SpecErrors([SpecError(shown, "", "not valid TOML: arrays or tables nested too deeply")]) from None
    except OSError as exc:
        raise SpecErrors([SpecError(shown, "", f"cannot be read: {exc.strerror or exc}")]) from None
    return validate_spec(raw, file)


def validate_spec(raw: dict[str, Any], file: Path) -> LoadedSpec:
    """Validate parsed TOML data; check that referenced files exist inside the spec's folder."""
    shown = str(file)
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as exc:
        raise SpecErrors([_to_spec_error(shown, err, raw) for err in exc.errors()]) from None
    loaded = LoadedSpec(spec=spec, file=file.resolve(), root=file.resolve().parent)
    problems = list(_check_files(loaded, shown))
    if problems:
        raise SpecErrors(problems)
    return loaded


def _check_files(loaded: LoadedSpec, shown: str):
    spec = loaded.spec
    for key in sorted(set(spec.env) & set(spec.secrets)):
        yield SpecError(shown, f"env.{key}", "is set both in env and in secrets", hint="keep one")
    for table in ("env", "secrets"):
        if "PORT" in getattr(spec, table):  # the image sets PORT from serving.port; another breaks the gates
            yield SpecError(shown, f"{table}.PORT", "is set from serving.port (and by Cloud Run)",
                            hint="set serving.port instead")
    yield from analysis_problems(spec, shown)
    files = [("model.path", spec.model.path, True)]
    if spec.model.predict:
        files.append(("model.predict", spec.model.predict, False))
    if spec.serving.sample_input:
        files.append(("serving.sample_input", spec.serving.sample_input, False))
    if spec.validation is not None:
        files.append(("validation.dataset", spec.validation.dataset, False))
    sample_ok = False
    for field, rel, dir_ok in files:
        problem = _unusable_path(rel) or _project_file_problem(loaded, rel, dir_ok)
        if problem:
            outside = "outside the project" in problem
            yield SpecError(shown, field, problem, hint="use a path relative to the folder holding "
                            "modelport.toml" if outside else None)
        elif field == "serving.sample_input":
            sample_ok = True
        elif field == "validation.dataset":
            yield from dataset_problems(loaded, shown)
    if sample_ok:
        problem = _sample_problem(loaded.resolve(spec.serving.sample_input))
        if problem:
            yield SpecError(shown, "serving.sample_input", f"not an OIP v2 infer request: {problem}")
    references = {f"secrets.{key}": ref for key, ref in spec.secrets.items()}
    if spec.access.api_key:
        references["access.api_key"] = spec.access.api_key
        yield from _api_key_clashes(spec, shown)
    for field, ref in references.items():
        scheme, _, rest = ref.partition(":")
        problem = _secret_file_problem(loaded.root, rest) if scheme == "file" else None
        if problem:
            yield SpecError(shown, field, problem,
                            hint="file: names a readable file, absolute or relative to the project folder")


#: the environment variable the serving runtime reads its API key from (``[access] api_key``)
API_KEY_ENV = "MODELPORT_API_KEY"


def _api_key_clashes(spec: Spec, shown: str):
    for table in ("env", "secrets"):
        if API_KEY_ENV in getattr(spec, table):
            yield SpecError(shown, f"{table}.{API_KEY_ENV}", "is set from [access] api_key",
                            hint=f"remove {table}.{API_KEY_ENV}; [access] api_key gives the runtime its key")


def _unusable_path(rel: str) -> str | None:
    """Why a path written in the spec cannot name a file on any system, or None."""
    if "\x00" in rel:
        return f"{rel!r} contains a NUL character"
    if len(rel.encode("utf-8", "surrogatepass")) > 4096:
        return "is longer than 4096 bytes"
    return None


def _project_file_problem(loaded: LoadedSpec, rel: str, dir_ok: bool) -> str | None:
    """Why ``rel`` is not an existing file (or folder) inside the project, or None."""
    try:
        target = loaded.resolve(rel)
        if Path(rel).is_absolute() or not target.is_relative_to(loaded.root):
            return f"{rel!r} points outside the project folder {loaded.root}"
        if not target.exists():
            return f"{rel!r} does not exist (looked for {target})"
        if target.is_dir() and not dir_ok:
            return f"{rel!r} is a folder; a file is needed"
    except RuntimeError:  # Path.resolve on a symlink loop
        return f"{rel!r} is a symlink loop"
    except OSError as exc:  # a name too long, a permission denied on the way
        return f"{rel!r} cannot be used: {exc.strerror or exc}"
    return None


def _sample_problem(sample: Path) -> str | None:
    """Why the sample input file is not an OIP v2 infer request body, or None."""
    try:
        body = json.loads(sample.read_text(encoding="utf-8"))
    except RecursionError:
        return "JSON nested too deeply"
    except (ValueError, UnicodeDecodeError) as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        return "an OIP v2 infer request needs an 'inputs' list"
    return None


def _secret_file_problem(root: Path, rest: str) -> str | None:
    """Why a ``file:`` secret reference cannot be read at deploy time, or None. The file may live
    outside the project (secrets usually do: /run/secrets/..., ~/.config/...); it must exist. The
    reference is not quoted back: what is written under [secrets] is never echoed."""
    if _unusable_path(rest):
        return "the file: reference is not a usable path (a NUL character, or longer than 4096 bytes)"
    path = Path(rest) if Path(rest).is_absolute() else root / rest  # as resolve_secret_values reads it
    try:
        if not path.is_file():
            return "the file: reference names no file (relative paths start at the project folder)"
    except OSError as exc:
        return f"the file: reference cannot be used: {exc.strerror or type(exc).__name__}"
    return None


def _to_spec_error(shown: str, err: dict, raw: dict) -> SpecError:
    loc = [str(p) for p in err["loc"]]
    field = ".".join(loc)
    if err["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        choices = sorted(parent.model_fields) if parent else []
        close = difflib.get_close_matches(loc[-1], choices, n=1)
        hint = f"did you mean {close[0]!r}?" if close else (
            f"allowed: {', '.join(choices)}" if choices else None)
        return SpecError(shown, field, "unknown key", hint=hint)
    if err["type"] == "missing":
        return SpecError(shown, field, "required but missing")
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "string_pattern_mismatch" and loc[-1:] == ["name"]:
        msg = "must be lowercase letters, digits and '-', 2-40 chars, starting with a letter"
    got = err.get("input")
    if loc[:1] == ["secrets"] or loc[:1] == ["access"]:
        got = None  # never echo what was written there: it may be a secret pasted instead of a reference
    if err["type"] not in ("model_type",) and got is not None and not isinstance(got, (dict, list)):
        shown_value = repr(got)
        msg = f"{msg} (got {shown_value[:60]}{'...' if len(shown_value) > 60 else ''})"
    return SpecError(shown, field, msg)


def _model_at(loc: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Spec
    for part in loc:
        if model is None:
            return None
        info = model.model_fields.get(part)
        if info is None:
            return None
        ann = info.annotation
        # an optional table (``X | None``) suggests X's keys too
        ann = next((a for a in typing.get_args(ann) if isinstance(a, type) and issubclass(a, BaseModel)), ann)
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return model


def spec_error_from_settings(shown: str, target: str, exc: ValidationError,
                             settings_model: type[BaseModel]) -> list[SpecError]:
    """Turn a provider settings ValidationError into spec errors under ``targets.NAME``."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        field = ".".join(["targets", target, *loc])
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(loc[-1], ["provider", *settings_model.model_fields], n=1)
            out.append(SpecError(shown, field, "unknown key",
                                 hint=f"did you mean {close[0]!r}?" if close else
                                 f"allowed: {', '.join(sorted(settings_model.model_fields))}"))
        elif err["type"] == "missing":
            out.append(SpecError(shown, field, "required but missing"))
        else:
            out.append(SpecError(shown, field, err["msg"].removeprefix("Value error, ")))
    return out
