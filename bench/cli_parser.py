"""The grammar of the `priorbench` command line: every command, flag and help text (the
commands themselves are in `bench.cli`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def executor_flags(parser: argparse.ArgumentParser) -> None:
    """--executor and --address, for every command that runs many runs."""
    parser.add_argument("--executor", choices=["local", "ray"], default="local",
                        help="local: serial or a process pool (--workers); ray: Ray tasks")
    parser.add_argument("--address", metavar="ADDR",
                        help="with --executor ray: a cluster (auto, ray://…); default a local Ray of --workers CPUs")
    parser.add_argument("--prior-server", metavar="URL|auto",
                        help="hf priors asked from `priorbench serve-prior` at URL (comma-separated for several "
                             "models) instead of loaded per worker; auto: started by this command (Ray: one per node)")
    parser.add_argument("--eval-batch", type=int, default=1, metavar="K",
                        help="play K test episodes at once, one batched prior call per step, for agents whose "
                             "evaluation draws nothing at random (llm with decision=argmax); same records "
                             "(default 1: one at a time)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="priorbench",
        description="Benchmark RL agents with LLM priors on text games.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("list", help="list registered envs, agents, priors or suites")
    p.add_argument("what", choices=["envs", "agents", "priors", "suites"])

    p = sub.add_parser("run", help="run envs × agents × seeds (no arguments: the demo)")
    p.add_argument("spec", nargs="?", type=Path, help="a TOML spec file")
    p.add_argument("--env", action="append", default=[], metavar="ID", help="env id (repeatable)")
    p.add_argument("--suite", metavar="NAME", help="run every env of a suite (priorbench list suites)")
    p.add_argument("--agent", action="append", default=[], metavar="NAME", help="agent (repeatable)")
    p.add_argument("--seeds", type=int, nargs="+", metavar="K")
    p.add_argument("--steps", type=int, metavar="N", help="training budget in env steps")
    p.add_argument("--eval-every", type=int, metavar="N", help="evaluate every N env steps")
    p.add_argument("--out", type=Path, default=Path("runs"), help="run records folder (default runs/)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a spec key: budget.steps=500, env.max_steps=30, agent.dqn.lr=1e-3")
    p.add_argument("--force", action="store_true", help="replace runs of a different spec in --out")
    p.add_argument("--workers", type=int, default=1, help="parallel runs (process pool)")
    executor_flags(p)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")

    p = sub.add_parser("sweep", help="run a spec over a grid of --set values, one folder per point")
    p.add_argument("spec", type=Path, help="a TOML spec file")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,…", required=True,
                   help="a spec key and its values (repeatable: the product is swept)")
    p.add_argument("--out", type=Path, default=Path("runs/sweep"))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides")
    p.add_argument("--workers", type=int, default=1)
    executor_flags(p)
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("demo", help="the embedded default comparison (a few minutes on CPU)")
    p.add_argument("--out", type=Path, default=Path("runs/demo"))
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("dataset", help="offline datasets (Minari) for cql / cql-prior")
    dsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    c = dsub.add_parser("collect", help="play a data policy and store the transitions")
    c.add_argument("--env", required=True, metavar="ID")
    c.add_argument("--policy", default="expert", help="expert, random or mixture:P (expert with prob. P)")
    c.add_argument("--episodes", type=int, required=True)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", type=Path, default=Path("datasets"), help="datasets root (default datasets/)")
    c.add_argument("--name", help="dataset name (default from env, policy, episodes, seed)")
    c.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="env keyword argument")
    c.add_argument("--no-progress", action="store_true")
    i = dsub.add_parser("info", help="provenance and statistics of a dataset folder")
    i.add_argument("path", type=Path)

    p = sub.add_parser("serve-prior", help="serve a prior over an OpenAI-compatible completions API")
    p.add_argument("--prior", default="smollm2-135m", help="registered prior (default smollm2-135m)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="prior backend setting, e.g. device=cuda, dtype=bfloat16, model=PATH")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: what runs use, so served log-probs are the in-process bits)")
    p.add_argument("--limit", action="append", default=[], metavar="NAME=VALUE", dest="limits",
                   help="request limits (defaults): n=64, max_tokens=256, prompts=1024, prompt_tokens=4096, "
                        "body_bytes=2000000, queue=32, batch_wait_ms=5, batch_prompts=64, read_timeout_s=30 (a "
                        "client's time from connecting to its whole request), connections=64 (served at once); "
                        "each finite, within its range (README, serve-prior)")

    p = sub.add_parser("evaluate", help="run the leaderboard protocol for one agent (comparable rows)")
    p.add_argument("--agent", required=True, metavar="NAME", help="registered, plug-in or package.module:Class")
    p.add_argument("--protocol", type=Path, default=Path("leaderboard/protocol.toml"), metavar="FILE")
    p.add_argument("--env", action="append", default=[], metavar="ID", dest="envs",
                   help="only this env of the protocol (repeatable; default: all of them)")
    p.add_argument("--out", type=Path, required=True, help="run records folder")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="agent.<name>.<param>=VALUE (budgets and env settings need --unofficial)")
    p.add_argument("--unofficial", action="store_true", help="allow budget/env changes; rows marked unofficial")
    p.add_argument("--workers", type=int, default=1)
    executor_flags(p)
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("check", help="check an agent against the agent contract")
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = csub.add_parser("agent", help="act admissible, seeded, state round trip, finite metrics, …")
    a.add_argument("name", help="registered agent, plug-in name, or package.module:Class")
    a.add_argument("--env", default="priorbench/FrozenLake-4x4-v0", help="env to play (default Frozen Lake 4x4)")
    a.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="agent setting, or env.<kwarg>=VALUE")
    a.add_argument("--steps", type=int, default=200, help="training steps per check (default 200)")
    a.add_argument("--learns", action="store_true",
                   help="also check that training lifts the agent clearly above where it started")
    a.add_argument("--learn-steps", type=int, default=3000,
                   help="training steps of the --learns check (default 3000)")

    p = sub.add_parser("prior", help="look at a prior before spending RL compute on it")
    psub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = psub.add_parser("inspect", help="P(expert), coverage@k vs uniform, argmax wins, per env")
    q.add_argument("--env", required=True, help="registered env id")
    q.add_argument("--prior", action="append", required=True, dest="priors", metavar="NAME[:K=V,…]",
                   help="registered prior, with its own settings after a colon (oracle:q=0.5); "
                        "repeat for several side by side")
    q.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="prior setting for every --prior (e.g. model=PATH), or env.<kwarg>=VALUE")
    q.add_argument("--split", default="test", choices=["train", "test"])
    q.add_argument("--states", type=int, default=50, help="distinct states to score (default 50)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--normalization", default="sum", choices=["sum", "token", "word"])
    q.add_argument("--no-wins", action="store_true", help="skip playing the argmax policy")
    q.add_argument("--out", type=Path, help="write the report with per-state rows as JSON")
    t = psub.add_parser("train", help="distil a game prior: LoRA on expert commands of train tasks")
    t.add_argument("--env", action="append", required=True, dest="envs", metavar="ID",
                   help="registered env id (repeat to train on several)")
    t.add_argument("--split", default="train", choices=["train"], help="train tasks only (the default)")
    t.add_argument("--base", default="smollm2-135m", help="registered transformers prior to adapt")
    t.add_argument("--out", type=Path, required=True, help="new folder for the adapter and its manifest")
    t.add_argument("--states", type=int, default=200, help="distinct train states per env (default 200)")
    t.add_argument("--steps", type=int, default=300, help="optimizer steps (default 300)")
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--lora-r", type=int, default=8)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="base prior setting (e.g. model=PATH), or env.<kwarg>=VALUE")
    t.add_argument("--no-progress", action="store_true", help="hide the bar (a line now and then instead)")

    p = sub.add_parser("show", help="summarise run folders (exit 1 when a run is refused)")
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--allow-refused", action="store_true", help="exit 0 even when runs are refused")

    p = sub.add_parser("leaderboard", help="leaderboard tables from stored runs")
    lsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = lsub.add_parser("run", help="make the missing datasets and runs of leaderboard/spec.toml")
    r.add_argument("--spec", type=Path, default=Path("leaderboard/spec.toml"))
    r.add_argument("--workers", type=int, default=1)
    executor_flags(r)
    r.add_argument("--no-progress", action="store_true")
    b = lsub.add_parser("build", help="write LEADERBOARD.md, leaderboard.csv/.tex, plots/ and site/")
    b.add_argument("--runs", type=Path, action="append", metavar="DIR",
                   help="run records (repeatable: a new agent's runs beside the baselines; "
                        "default leaderboard/runs)")
    b.add_argument("--out", type=Path, default=Path("leaderboard"))
    b.add_argument("--context", type=Path, metavar="DIR",
                   help="where NOTES.md, claims.toml, prior_quality.json and verified.json are read from "
                        "besides --out (default leaderboard/, the committed board, where it exists)")
    b.add_argument("--strict", action="store_true",
                   help="fail unless every claim of claims.toml holds, NOTES.md cites only its claims and "
                        "prints no number the board does not (CI builds the committed board so)")
    b.add_argument("--protocol", type=Path, metavar="FILE",
                   help="refuse runs not made under this protocol (leaderboard/protocol.toml)")
    b.add_argument("--allow-refused", action="store_true",
                   help="build from the usable runs and exit 0 even when some are refused")

    q = lsub.add_parser("prior-quality",
                        help="score each prior of the spec's rows vs uniform on every env (prior_quality.json)")
    q.add_argument("--spec", type=Path, default=Path("leaderboard/spec.toml"))
    q.add_argument("--out", type=Path, default=Path("leaderboard"),
                   help="where prior_quality.json goes: the build's --out (default leaderboard)")
    q.add_argument("--states", type=int, default=50, help="distinct test states per env (default 50)")
    q.add_argument("--seed", type=int, default=0, help="seed of the state walk (default 0)")
    q.add_argument("--no-progress", action="store_true")

    v = lsub.add_parser("verify", help="re-run cheap rows whole; --write marks the identical ones verified")
    v.add_argument("--runs", type=Path, default=Path("leaderboard/runs"))
    v.add_argument("--out", type=Path, default=Path("leaderboard"), help="where verified.json goes")
    v.add_argument("--row", action="append", default=[], dest="rows", metavar="ROW",
                   help='a row id, e.g. "FrozenLake-4x4-v0:tabular-q" (repeatable; default: every cheap row)')
    v.add_argument("--max-seconds", type=float, default=10.0,
                   help="a cheap row: no LLM calls and at most this much stored wall time (default 10)")
    v.add_argument("--write", action="store_true", help="write verified.json with the rows that matched")

    p = sub.add_parser("reproduce", help="re-run a leaderboard row's seeds and check the stored CI")
    p.add_argument("row", metavar="ROW", help='a row id as the leaderboard prints it, e.g. '
                   '"FrozenLake-4x4-v0:tabular-q" (or the row\'s number in this build)')
    p.add_argument("--runs", type=Path, default=Path("leaderboard/runs"))
    p.add_argument("--out", type=Path, help="keep the new runs here (default: a temporary folder)")
    p.add_argument("--seeds", type=int, nargs="+", metavar="K", help="only these seeds")

    p = sub.add_parser("cite", help="BibTeX for priorbench and the methods in the table")
    p.add_argument("--runs", type=Path, help="run records (default leaderboard/runs, where it exists)")
    p.add_argument("--all", action="store_true", help="every method priorbench knows, whatever ran")
    return parser
