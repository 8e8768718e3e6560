"""Profiles: the named places a user fine-tunes in, from the ``providers:`` list of the config.

::

    providers:
      - name: bailian                 # today's DashScope settings, unchanged, are this profile
        kind: dashscope
        region: cn-beijing
        key_env: DASHSCOPE_API_KEY
      - name: xpulink
        kind: openai
        label: XPULink
        base_url: https://www.xpulink.ai/v1
        key_env: XPULINK_API_KEY      # the NAME of the variable, never the key
        hyperparameters_form: hyperparameters   # XPULink's example sends the older top-level form
        extra_hyperparameters: [learning_rate, lora_r, lora_alpha, lora_dropout]
        pricing: {currency: CNY, per_1k_tokens: {qwen3-32b: 0.04}}
    default_profile: bailian

Without ``providers:`` the config means exactly what it meant before: one DashScope profile named
``bailian`` made of the ``dashscope.*`` keys and ``DASHSCOPE_*`` variables. A DashScope profile in the list
that gives no base URL/region/workspace/key of its own inherits those keys too.

Keys are read from the environment variable the profile names. ``api_key:`` in the file works (the user
insists) but earns the same permission warning as ``dashscope.api_key``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

from bailian_tui.core import secrets
from bailian_tui.core.config import REGION_HOSTS, ConfigError, Settings

KINDS = ("dashscope", "openai", "local")
DEFAULT_KEY_ENV = {"dashscope": "DASHSCOPE_API_KEY", "openai": "OPENAI_API_KEY", "local": None}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
FIELDS = {
    "name": str, "kind": str, "label": str, "base_url": str, "key_env": str, "api_key": str, "region": str,
    "workspace": str, "timeout": float, "requests_per_second": float, "hyperparameters_form": str,
    "extra_hyperparameters": list, "models": list, "pricing": dict, "pause": bool, "metadata": bool,
    "badge": str,
    # kind: local (core/providers/local.py) — runs on this machine's GPUs
    "python": str, "runs_dir": str, "gpus": int, "launcher": str, "stand_in": bool,
}


@dataclass
class Profile:
    name: str
    kind: str
    label: str
    base_url: str | None = None
    key_env: str | None = None
    api_key: str | None = field(default=None, repr=False)
    key_origin: str = ""
    region: str | None = None
    workspace: str | None = None
    timeout: float = 60.0
    requests_per_second: float | None = None
    hyperparameters_form: str = "method"
    extra_hyperparameters: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    pricing: dict = field(default_factory=dict)
    pause: bool = True
    metadata: bool = True
    badge: str = ""
    implicit: bool = False  # made from the pre-profiles dashscope.* keys
    # kind: local — the Python of the environment where Unsloth is installed, where run folders go, how
    # many GPUs a run uses (>1: accelerate launch / torchrun), and the stand-in trainer for demo and tests
    python: str | None = None
    runs_dir: str | None = None
    gpus: int = 1
    launcher: str = "accelerate"
    stand_in: bool = False

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)

    @property
    def masked_key(self) -> str:
        return secrets.mask(self.api_key)

    def unit_price(self, model: str, settings: Settings) -> tuple[float, bool, str]:
        """(price per 1k training tokens, is_example, currency) for a model on this profile."""
        if self.kind == "dashscope":
            price, example = settings.unit_price(model)
            return price, example, settings.get("pricing.currency")
        table = self.pricing.get("per_1k_tokens") or {}
        currency = str(self.pricing.get("currency") or "USD")
        if model in table:
            return float(table[model]), False, currency
        if "default_per_1k_tokens" in self.pricing:
            return float(self.pricing["default_per_1k_tokens"]), True, currency
        return 0.0, True, currency


def profiles(settings: Settings, env: dict[str, str] | None = None) -> list[Profile]:
    env = dict(os.environ if env is None else env)
    raw = settings.values.get("providers") or []
    where = settings.origins.get("providers", "config")
    if not raw:
        return [_implicit(settings)]
    out: list[Profile] = []
    for index, entry in enumerate(raw):
        out.append(_parse(entry, index, settings, env, where))
    names = [p.name for p in out]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"profile name {name!r} is used twice; names must be unique", key="providers",
                              path=settings.path)
    default = settings.values.get("default_profile")
    if default and default not in names:
        raise ConfigError(f"default_profile {default!r} is not one of the profiles ({', '.join(names)})",
                          key="default_profile", path=settings.path)
    return out


def default_profile(settings: Settings, all_profiles: list[Profile]) -> Profile:
    wanted = settings.values.get("default_profile")
    return next((p for p in all_profiles if p.name == wanted), all_profiles[0])


def pick(settings: Settings, name: str | None, env: dict[str, str] | None = None) -> Profile:
    """The profile ``--profile NAME`` names (the default one without it); a clear error otherwise."""
    every = profiles(settings, env)
    if not name:
        return default_profile(settings, every)
    for profile in every:
        if profile.name == name:
            return profile
    raise ConfigError(f"no profile named {name!r}; the config has: {', '.join(p.name for p in every)} "
                      "(see `bailian-tui config show`)", key="providers", path=settings.path)


def _implicit(settings: Settings) -> Profile:
    label = "Bailian (simulated)" if settings.demo else "Bailian"
    return Profile(name="bailian", kind="dashscope", label=label, base_url=settings.base_url,
                   key_env="DASHSCOPE_API_KEY", api_key=settings.api_key,
                   key_origin=settings.origins.get("dashscope.api_key", "default"), region=settings.region,
                   workspace=settings.workspace, timeout=settings.get("dashscope.timeout"),
                   requests_per_second=settings.get("polling.requests_per_second"), badge="BL", implicit=True)


def _parse(entry: Any, index: int, settings: Settings, env: dict[str, str], where: str) -> Profile:
    def fail(message: str, key: str | None = None) -> ConfigError:
        spot = f"providers[{index}]" + (f".{key}" if key else "")
        return ConfigError(f"{message} ({where})", key=spot, path=settings.path)

    if not isinstance(entry, dict):
        raise fail("each profile is a mapping with at least name and kind")
    for key, value in entry.items():
        if key not in FIELDS:
            raise fail(f"unknown profile key; known keys are: {', '.join(sorted(FIELDS))}", str(key))
        kind = FIELDS[key]
        ok = isinstance(value, kind) or (kind is float and isinstance(value, (int, float))
                                         and not isinstance(value, bool)) or value is None
        if not ok:
            shown = "(hidden)" if key == "api_key" else repr(value)
            raise fail(f"expected {kind.__name__}, got {shown}", str(key))
    name, kind = entry.get("name"), entry.get("kind")
    if not name or not _NAME.match(str(name)):
        raise fail("needs a name of lower-case letters, digits, - or _ (at most 32)", "name")
    if kind not in KINDS:
        raise fail(f"kind must be one of {', '.join(KINDS)}", "kind")
    if kind == "local":
        return _parse_local(entry, name, fail)
    key_env = entry.get("key_env") or DEFAULT_KEY_ENV[kind]
    if key_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key_env):
        raise fail("key_env is the NAME of an environment variable (like XPULINK_API_KEY), not a key", "key_env")
    api_key, origin = env.get(key_env) or None, f"${key_env}"
    if not api_key and entry.get("api_key"):
        api_key, origin = str(entry["api_key"]), f"{where}: providers[{index}].api_key"
    form = entry.get("hyperparameters_form") or "method"
    if form not in ("method", "hyperparameters"):
        raise fail("hyperparameters_form is 'method' (the current standard) or 'hyperparameters' (older)",
                   "hyperparameters_form")
    rps = entry.get("requests_per_second")
    if rps is not None and not 0 < float(rps) <= 100:
        raise fail("requests_per_second must be between 0 and 100", "requests_per_second")
    pricing = entry.get("pricing") or {}
    for model, price in (pricing.get("per_1k_tokens") or {}).items():
        if isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0:
            raise fail(f"price of {model} must be a number ≥ 0", "pricing")
    base_url = entry.get("base_url")
    region, workspace = entry.get("region"), entry.get("workspace")
    if kind == "dashscope":
        region = region or settings.region
        workspace = workspace or settings.workspace
        if not base_url:
            base_url = settings.base_url if not entry.get("region") else REGION_HOSTS.get(region)
            if entry.get("region") and region not in REGION_HOSTS:
                raise fail(f"unknown region; known: {', '.join(REGION_HOSTS)}", "region")
        if not api_key and key_env == "DASHSCOPE_API_KEY":
            api_key, origin = settings.api_key, settings.origins.get("dashscope.api_key", "default")
    elif not base_url:
        raise fail("an openai profile needs base_url (e.g. https://api.openai.com/v1)", "base_url")
    if base_url and not re.match(r"^https?://", str(base_url)):
        raise fail("base_url must start with http:// or https://", "base_url")
    secrets.remember(api_key)
    label = entry.get("label") or str(name)
    return Profile(name=str(name), kind=kind, label=str(label), base_url=str(base_url).rstrip("/") if base_url else None,
                   key_env=key_env, api_key=api_key, key_origin=origin if api_key else "not set", region=region,
                   workspace=workspace, timeout=float(entry.get("timeout") or settings.get("dashscope.timeout")),
                   requests_per_second=float(rps) if rps is not None else None, hyperparameters_form=form,
                   extra_hyperparameters=tuple(str(x) for x in entry.get("extra_hyperparameters") or ()),
                   models=tuple(str(x) for x in entry.get("models") or ()), pricing=dict(pricing),
                   pause=bool(entry.get("pause", True)), metadata=bool(entry.get("metadata", True)),
                   badge=str(entry.get("badge") or str(name)[:3].upper()))


def _parse_local(entry: dict, name: str, fail) -> Profile:
    import sys

    for key in ("base_url", "key_env", "api_key", "region", "workspace", "hyperparameters_form"):
        if entry.get(key):
            raise fail("a local profile runs on this machine: it has no " + key, key)
    stand_in = bool(entry.get("stand_in", False))
    python = entry.get("python") or (sys.executable if stand_in else None)
    if not python:
        raise fail("a local profile needs python: the bin/python of the environment where Unsloth is installed "
                   "(e.g. /root/miniconda3/envs/unsloth/bin/python)", "python")
    gpus = 1 if entry.get("gpus") is None else int(entry["gpus"])
    if not 1 <= gpus <= 64:
        raise fail("gpus must be between 1 and 64", "gpus")
    launcher = entry.get("launcher") or "accelerate"
    if launcher not in ("accelerate", "torchrun"):
        raise fail("launcher is accelerate or torchrun (used when gpus > 1)", "launcher")

    return Profile(name=str(name), kind="local", label=str(entry.get("label") or f"{name} (local GPU)"),
                   key_env=None, key_origin="no key needed",
                   requests_per_second=float(entry["requests_per_second"]) if entry.get("requests_per_second") else None,
                   models=tuple(str(x) for x in entry.get("models") or ()),
                   badge=str(entry.get("badge") or "GPU"), python=str(Path(str(python)).expanduser()),
                   runs_dir=str(Path(str(entry.get("runs_dir") or default_runs_dir())).expanduser()),
                   gpus=gpus, launcher=launcher, stand_in=stand_in)


def default_runs_dir() -> Path:
    """Where a local profile's run folders go unless it says (here, not in providers/local.py: reading the
    profiles must not import the local provider — the app's first frame waited ~30 ms for it)."""
    return Path.home() / "bailian-tui-runs"


def info_of(profile: Profile):
    from bailian_tui.core.providers.base import ProviderInfo

    return ProviderInfo(name=profile.name, kind=profile.kind, label=profile.label, base_url=profile.base_url,
                        key_env=profile.key_env, has_key=profile.has_key, masked_key=profile.masked_key,
                        badge=profile.badge or profile.name[:3].upper())


def open_provider(profile: Profile, settings: Settings, **kwargs: Any):
    """A live provider for a profile (the caller closes it with ``await provider.aclose()``)."""
    from bailian_tui.core.platform import Platform, RetryPolicy

    if profile.kind == "local":
        from bailian_tui.core.providers.local import LocalProvider
        from bailian_tui.core.store import Store

        store = kwargs.get("store") or Store(settings.state_dir / "state.db", endpoint="local")
        provider = LocalProvider(info_of(profile), python=profile.python or "", runs_dir=profile.runs_dir or "runs",
                                 store=store, gpus=profile.gpus, launcher=profile.launcher,
                                 stand_in=profile.stand_in, stand_in_pace=float(kwargs.get("stand_in_pace", 0.5)))
        provider.owns_store = "store" not in kwargs
        return provider
    retry = RetryPolicy(attempts=settings.get("dashscope.read_retries"))
    # The window an ambiguous create is looked for (docs/design.md), for every cloud profile alike.
    retry.reconcile_window = float(settings.get("dashscope.reconcile_window"))
    if profile.kind == "dashscope":
        from bailian_tui.core.providers.dashscope import DashScopeProvider

        platform = Platform(api_key=profile.api_key, base_url=profile.base_url, workspace=profile.workspace,
                            timeout=profile.timeout, retry=retry, **kwargs)
        return DashScopeProvider(info_of(profile), platform, request_budget=profile.requests_per_second)
    from bailian_tui.core.providers.openai_compat import OpenAIProvider

    return OpenAIProvider(info_of(profile), api_key=profile.api_key, base_url=profile.base_url or "",
                          timeout=profile.timeout, retry=retry, hyperparameters_form=profile.hyperparameters_form,
                          extra_hyperparameters=profile.extra_hyperparameters, pause=profile.pause,
                          metadata=profile.metadata, request_budget=profile.requests_per_second, **kwargs)


def describe(settings: Settings, env: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Rows for ``config show``: each profile, where it points and whether its key is set (masked)."""
    rows = []
    every = profiles(settings, env)
    default = default_profile(settings, every).name
    for p in every:
        rows.append({"profile": p.name + (" (default)" if p.name == default else ""), "kind": p.kind,
                     "label": p.label, "base_url": p.base_url or "(workspace gateway)",
                     "key": f"{p.masked_key} from {p.key_origin}" if p.has_key else
                     ("none needed" if p.kind == "local" else f"missing: set ${p.key_env}")})
        if p.kind == "local":
            rows[-1]["base_url"] = f"python {p.python} · runs in {p.runs_dir}" + (" · stand-in trainer" if p.stand_in
                                                                                  else "")
    return rows
