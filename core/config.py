"""Settings: a YAML file, then the environment variables the DashScope SDK honours, then defaults.

Which file is read::

    --config PATH                      if given (a missing file is an error)
    $XDG_CONFIG_HOME/bailian-tui/config.yaml   (~/.config/… when XDG_CONFIG_HOME is unset), if present
    nothing                            defaults only

Environment variables win over the file, as they do for the SDK: DASHSCOPE_API_KEY, DASHSCOPE_WORKSPACE,
DASHSCOPE_REGION, DASHSCOPE_BASE_URL (wins) / DASHSCOPE_HTTP_BASE_URL, BAILIAN_TUI_STATE_DIR.
``Settings.origins`` records where each value came from, for ``bailian-tui config show``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bailian_tui.core import secrets

REGION_HOSTS = {
    "cn-beijing": "https://dashscope.aliyuncs.com/api/v1",
    "ap-southeast-1": "https://dashscope-intl.aliyuncs.com/api/v1",
    "us-east-1": "https://dashscope-intl.aliyuncs.com/api/v1",
    "eu-central-1": "https://dashscope-intl.aliyuncs.com/api/v1",
    "ap-northeast-1": "https://dashscope-intl.aliyuncs.com/api/v1",
    "cn-hongkong": "https://cn-hongkong.dashscope.aliyuncs.com/api/v1",
}


class ConfigError(Exception):
    """One clear problem with a config file: which file, which key, which line, what to do."""

    def __init__(self, message: str, *, path: Path | None = None, key: str | None = None,
                 line: int | None = None) -> None:
        where = str(path) if path else "config"
        if line:
            where += f":{line}"
        if key:
            where += f": {key}"
        super().__init__(f"{where}: {message}")
        self.path, self.key, self.line = path, key, line


# key -> (type, default). Dotted keys mirror the YAML sections of config.example.yaml.
SCHEMA: dict[str, tuple[type, Any]] = {
    "dashscope.api_key": (str, None),
    "dashscope.workspace": (str, None),
    "dashscope.region": (str, "cn-beijing"),
    "dashscope.base_url": (str, None),
    "dashscope.timeout": (float, 60.0),
    "dashscope.read_retries": (int, 6),
    "dashscope.reconcile_window": (float, 60.0),
    "paths.state_dir": (str, None),
    "paths.datasets_dir": (str, None),
    "polling.requests_per_second": (float, 2.0),
    "validation.max_length": (int, 8192),
    "pricing.currency": (str, "CNY"),
    "pricing.default_per_1k_tokens": (float, 0.002),
    "pricing.models": (dict, {}),
}

ENV = {
    "dashscope.api_key": ("DASHSCOPE_API_KEY",),
    "dashscope.workspace": ("DASHSCOPE_WORKSPACE",),
    "dashscope.region": ("DASHSCOPE_REGION",),
    "dashscope.base_url": ("DASHSCOPE_BASE_URL", "DASHSCOPE_HTTP_BASE_URL"),
    "paths.state_dir": ("BAILIAN_TUI_STATE_DIR",),
}


@dataclass
class Settings:
    values: dict[str, Any]
    path: Path | None = None
    origins: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    demo: bool = False

    def get(self, key: str) -> Any:
        return self.values[key]

    @property
    def api_key(self) -> str | None:
        return self.values["dashscope.api_key"]

    @property
    def masked_key(self) -> str:
        return secrets.mask(self.api_key)

    @property
    def workspace(self) -> str | None:
        return self.values["dashscope.workspace"]

    @property
    def region(self) -> str:
        return self.values["dashscope.region"]

    @property
    def base_url(self) -> str | None:
        """The native endpoint incl. ``/api/v1``; None lets the SDK build the workspace gateway host."""
        explicit = self.values["dashscope.base_url"]
        if explicit:
            return explicit.rstrip("/")
        if self.workspace:
            return None
        return REGION_HOSTS.get(self.region, REGION_HOSTS["cn-beijing"])

    @property
    def state_dir(self) -> Path:
        configured = self.values["paths.state_dir"]
        if configured:
            return Path(configured).expanduser()
        base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(base) / "bailian-tui"

    def where(self) -> str:
        """Where the app is connected, for the header: never the key itself."""
        if self.demo:
            return f"demo simulator · {self.base_url} · key {self.masked_key}"
        return f"{self.region} · workspace {self.workspace or '-'} · key {self.masked_key}"

    def unit_price(self, model: str) -> tuple[float, bool]:
        """(price per 1k tokens, is_example). Falls back to the documented example price."""
        from bailian_tui.core.hyperparams import UNIT_PRICES_CNY_PER_1K

        custom = self.values["pricing.models"] or {}
        if model in custom:
            return float(custom[model]), False
        if model in UNIT_PRICES_CNY_PER_1K and self.values["pricing.currency"] == "CNY":
            return UNIT_PRICES_CNY_PER_1K[model], False
        return float(self.values["pricing.default_per_1k_tokens"]), True


def default_config_path(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "bailian-tui" / "config.yaml"


def no_key_message(settings: Settings) -> str:
    """What is missing and the two ways on, for the app and any command that needs the platform."""
    where = settings.path or default_config_path()
    return (
        "bailian-tui cannot reach Model Studio (Bailian) without a DashScope API key.\n"
        f"Looked for: $DASHSCOPE_API_KEY, and dashscope.api_key in\n  {where}\n\n"
        "Two ways on:\n"
        " 1. Use your key, then start bailian-tui again:\n"
        "      export DASHSCOPE_API_KEY=sk-...\n"
        "    (or api_key: under dashscope: in that file; chmod 600 it)\n"
        " 2. Try everything on the built-in simulator (no key, nothing billed):\n"
        "      bailian-tui --demo")


def load(path: str | Path | None = None, *, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    explicit = path is not None
    cfg_path = Path(path).expanduser() if explicit else default_config_path(env)
    values = {k: default for k, (_, default) in SCHEMA.items()}
    origins = {k: "default" for k in SCHEMA}
    warnings: list[str] = []

    if cfg_path.exists() or explicit:
        raw, lines = _read_yaml(cfg_path)
        for key, value in _flatten(raw).items():
            values[key] = _coerce(key, value, cfg_path, lines.get(key))
            origins[key] = f"{cfg_path}:{lines.get(key, '?')}"
        if values["dashscope.api_key"] and _loosely_readable(cfg_path):
            warnings.append(f"{cfg_path} holds an API key and is readable by others: run chmod 600 {cfg_path}")
    else:
        cfg_path = None

    for key, names in ENV.items():
        for name in names:
            if env.get(name):
                values[key] = env[name]
                origins[key] = f"${name}"
                break
    secrets.remember(values["dashscope.api_key"])
    return Settings(values=values, path=cfg_path, origins=origins, warnings=warnings)


def _read_yaml(path: Path) -> tuple[dict, dict[str, int]]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file; copy config.example.yaml there or drop --config", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot be read ({exc.__class__.__name__}); check its permissions and encoding",
                          path=path) from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(f"is not valid YAML: {getattr(exc, 'problem', exc)}", path=path,
                          line=mark.line + 1 if mark else None) from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping of sections (see config.example.yaml)", path=path)
    return data, _line_numbers(node)


def _line_numbers(node: Any, prefix: str = "") -> dict[str, int]:
    import yaml

    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}{key_node.value}"
            lines[key] = key_node.start_mark.line + 1
            if f"{key}" not in SCHEMA or SCHEMA[key][0] is not dict:
                lines.update(_line_numbers(value_node, key + "."))
    return lines


def _flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict) and (full not in SCHEMA or SCHEMA[full][0] is not dict):
            flat.update(_flatten(value, full + "."))
        else:
            flat[full] = value
    return flat


def _coerce(key: str, value: Any, path: Path, line: int | None) -> Any:
    if key not in SCHEMA:
        known = ", ".join(sorted(SCHEMA))
        raise ConfigError(f"unknown key; known keys are: {known}", path=path, key=key, line=line)
    kind, _ = SCHEMA[key]
    if value is None:
        return SCHEMA[key][1]
    try:
        if kind is dict:
            if not isinstance(value, dict):
                raise TypeError
            return {str(k): float(v) for k, v in value.items()}
        if kind is str:
            if isinstance(value, (dict, list)):
                raise TypeError
            return str(value)
        if kind is int and (isinstance(value, bool) or float(value) != int(float(value))):
            raise TypeError
        return kind(value)
    except (TypeError, ValueError):
        shown = "(hidden)" if key == "dashscope.api_key" else repr(value)
        raise ConfigError(f"expected {kind.__name__}, got {shown}", path=path, key=key, line=line) from None


def _loosely_readable(path: Path) -> bool:
    try:
        return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False
