"""The prior registry: names → LLM-prior backends with their presets."""

from __future__ import annotations

from agents.priors.base import Normalization, Prior, Proposals
from bench.registry import Registry

PRIORS: Registry[type[Prior]] = Registry("prior")

__all__ = ["PRIORS", "Normalization", "Prior", "Proposals"]
