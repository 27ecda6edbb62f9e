"""The floor plan and the installed names (docs/ARCHITECTURE.md), checked on the source."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import ROOT

#: Repository folder → import package.
FOLDERS = {"core": "priorbench.core", "envs": "priorbench.envs", "agents": "priorbench.agents",
           "bench": "priorbench.bench"}
#: Modules of the harness: nothing in envs/ or agents/ may import them.
HARNESS = "priorbench.bench"
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules `path` imports (top-level and lazy), resolved to module names."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_core_imports_nothing_of_the_project():
    for name, deps in _graph().items():
        if name.startswith("priorbench.core"):
            assert all(d.startswith("priorbench.core") for d in deps), (name, deps)


def test_envs_and_agents_do_not_import_the_harness():
    for name, deps in _graph().items():
        if name.startswith(("priorbench.envs", "priorbench.agents")):
            bad = sorted(d for d in deps if d.startswith(HARNESS))
            assert not bad, f"{name} imports the harness: {bad}"
        if name.startswith("priorbench.envs"):
            bad = sorted(d for d in deps if d.startswith("priorbench.agents"))
            assert not bad, f"{name} imports agents: {bad}"


def test_no_import_circles_between_files():
    graph = _graph()
    # a package's __init__ re-exporting its own modules is not a circle between files
    edges = {n: {d for d in deps if not (n.startswith(d + ".") and graph.get(d) is not None
                                          and _modules()[d].name == "__init__.py")}
             for n, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                raise AssertionError("import circle: " + " → ".join(cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_the_leaderboard_does_not_import_the_runner():
    graph = _graph()
    for name, deps in graph.items():
        if name == "priorbench.bench.leaderboard" or name.startswith("priorbench.bench.leaderboard."):
            assert "priorbench.bench.runner" not in deps, name
            assert "priorbench.bench.executors" not in deps, name


def test_no_source_file_is_too_long():
    long = {str(p.relative_to(ROOT)): n for p in _modules().values()
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these by responsibility (> {MAX_LINES} lines): {long}"


def test_every_package_folder_is_packaged():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    folders = {name for name, path in _modules().items() if path.name == "__init__.py"}
    assert folders == listed, f"add to pyproject's packages: {sorted(folders - listed)}; " \
                              f"remove: {sorted(listed - folders)}"
    assert config["package-dir"] == {package: folder for folder, package in FOLDERS.items()}


def test_installed_names_do_not_collide(tmp_path):
    """No top-level `agents`, `envs` or `bench`: another distribution's `agents` (openai-agents
    installs one) imports beside priorbench."""
    from importlib import metadata

    dist = metadata.distribution("priorbench")
    top = set((dist.read_text("top_level.txt") or "").split())
    assert top == {"priorbench"}, top
    standin = tmp_path / "agents"
    standin.mkdir()
    (standin / "__init__.py").write_text("WHO = 'another distribution'\n")
    code = ("import agents, priorbench.agents as pa; "
            "assert agents.WHO == 'another distribution'; assert 'dqn' in pa.AGENTS; "
            "import priorbench.envs, priorbench.bench.cli")
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True,
                   env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})


def test_only_the_prior_layer_holds_a_language_model():
    """Causal LMs and LoRA (peft) live in agents/priors/ and nowhere else of the library (the
    Q networks' frozen sentence encoder, agents/qnet.py, is not a language-model prior)."""
    outside = []
    for name, path in _modules().items():
        if name.startswith("priorbench.agents.priors"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                names = [a.name for a in node.names]
                if any(m.split(".")[0] == "peft" for m in modules) or "AutoModelForCausalLM" in names:
                    outside.append(name)
    assert not outside, f"language-model code outside agents/priors/: {sorted(set(outside))}"


def test_the_prior_contract_is_complete():
    """Callers reach a prior only through the ABC: the cache wraps it without __getattr__."""
    from priorbench.agents.priors.base import Prior
    from priorbench.agents.priors.cache import CachedPrior

    assert {"score", "propose", "format", "count_tokens"} <= Prior.__abstractmethods__
    assert "context_length" in Prior.__annotations__
    assert "__getattr__" not in vars(CachedPrior)
