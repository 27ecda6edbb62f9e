"""The `priorbench` command line: list, run, show, demo, leaderboard, reproduce, cite."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from priorbench.bench.cli_parser import build_parser
from priorbench.bench.executors import check_workers
from priorbench.core.errors import UserError
from priorbench.core.paths import check_out_folder


def _cmd_list(what: str) -> int:
    if what == "suites":
        from priorbench.envs.suite import load_suite, suite_names

        for name in suite_names():
            suite = load_suite(name)
            print(f"{name:16s} {suite.description}")
            for entry in suite.envs:
                settings = ", ".join(f"{k}={v}" for k, v in entry.kwargs.items())
                print(f"    {entry.id}" + (f"  ({settings})" if settings else ""))
        return 0
    if what == "envs":
        from priorbench import envs

        for env_id in envs.env_ids():
            print(f"{env_id:40s} {envs.DESCRIPTIONS.get(env_id, '')}")
    else:
        if what == "agents":
            from priorbench.agents import AGENTS as registry
        else:
            from priorbench.agents.priors import PRIORS as registry
        for entry in registry:
            print(f"{entry.name:16s} {entry.description}")
    return 0


def _spec_from_args(args: argparse.Namespace):
    from priorbench.bench.spec import Spec, apply_overrides, load_spec_file, spec_from_dict

    overrides = list(args.overrides)
    if args.steps is not None:
        overrides.append(f"budget.steps={args.steps}")
    if args.eval_every is not None:
        overrides.append(f"budget.eval_every={args.eval_every}")
    if args.seeds is not None:
        overrides.append(f"seeds={args.seeds}")
    if args.suite:
        overrides.append(f'suite="{args.suite}"')
    if args.spec is not None:
        spec = load_spec_file(args.spec, overrides)
        if args.env or args.agent or args.suite:
            raise UserError("give either a spec file or --env/--suite/--agent, not both")
        return spec
    data = Spec(envs=tuple(args.env), agents=tuple(args.agent)).to_dict()
    return spec_from_dict(apply_overrides(data, overrides, where="command line"), where="command line")


def _print_table(paths: list[Path]) -> None:
    from priorbench.bench.leaderboard import aggregate, markdown_table
    from priorbench.bench.metrics import run_summary
    from priorbench.bench.records import verify_run

    summaries = [run_summary(*verify_run(p)) for p in paths]
    rows = aggregate(summaries)
    print(markdown_table(
        ["env", "agent", "seeds", "test success", "± SE", "test return", "env steps"],
        [[r["env"], r["agent"], r["seeds"], r["success"], r["success_se"], r["return"], r["env_steps"]]
         for r in rows],
    ))


def _cmd_run(args: argparse.Namespace) -> int:
    from priorbench.bench.runner import execute_all, jobs_from_spec

    check_workers(args.workers, getattr(args, "address", None))
    spec = _spec_from_args(args)
    check_out_folder(args.out, "--out")
    jobs = jobs_from_spec(spec, args.out)
    paths = execute_all(jobs, force=args.force, progress=not args.no_progress, workers=args.workers,
                        executor=args.executor, address=args.address,
                        prior_server=args.prior_server, eval_batch=args.eval_batch)
    _print_table(paths)
    print(f"\nrun records: {args.out}/")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    import itertools

    from priorbench.bench.runner import execute_all, jobs_from_spec
    from priorbench.bench.spec import load_spec_file

    check_workers(args.workers, getattr(args, "address", None))
    axes = []
    for item in args.grid:
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise UserError(f"--grid {item!r}: expected KEY=V1,V2,… e.g. agent.cql.max_transitions=100,400")
        axes.append([f"{key}={v}" for v in values.split(",")])
    jobs = []
    for point in itertools.product(*axes):
        folder = args.out / "__".join(p.replace("/", "-") for p in point)
        spec = load_spec_file(args.spec, [*args.overrides, *point])
        jobs += jobs_from_spec(spec, folder)
    paths = execute_all(jobs, progress=not args.no_progress, workers=args.workers,
                        executor=args.executor, address=args.address,
                        prior_server=args.prior_server, eval_batch=args.eval_batch)
    print(f"{len(paths)} runs under {args.out}/ (one folder per grid point); "
          f"tabulate with: priorbench leaderboard build --runs FOLDER")
    return 0


def _cmd_demo(out: Path, progress: bool) -> int:
    from priorbench.bench.demo import run_demo

    paths, done = run_demo(out, progress=progress)
    _print_table(paths)
    print("\n" + done)
    return 0


def _cmd_show(paths: list[Path], allow_refused: bool) -> int:
    from priorbench.bench.leaderboard import markdown_table
    from priorbench.bench.metrics import run_summary
    from priorbench.bench.records import find_runs, verify_run

    rows = []
    for root in paths:
        if not root.exists():
            raise UserError(f"{root} does not exist")
        found = find_runs(root)
        if not found:
            raise UserError(f"{root} holds no run records (no manifest.json below it)")
        for path in found:
            try:
                s = run_summary(*verify_run(path))
            except UserError as exc:
                rows.append([str(path), "refused", "", "", "", "", str(exc).removeprefix(f"{path}: ")])
                continue
            rows.append([str(path), "complete", s["agent"], s["env_steps"], s["success"], s["return"],
                         f"{s['wall_s']:.1f} s"])
    print(markdown_table(["run", "status", "agent", "env steps", "test success", "test return", "wall"], rows))
    return _refused_exit(sum(row[1] == "refused" for row in rows), allow_refused)


def _refused_exit(refused: int, allow_refused: bool) -> int:
    """Exit 1 when runs were refused (unless --allow-refused), with a line saying so."""
    if not refused:
        return 0
    print(f"priorbench: {refused} run{'s' if refused > 1 else ''} refused (see above); "
          f"{'continuing (--allow-refused)' if allow_refused else 'exit 1 (--allow-refused to accept)'}",
          file=sys.stderr)
    return 0 if allow_refused else 1


def _cmd_leaderboard(args: argparse.Namespace) -> int:
    from priorbench.bench.leaderboard import build

    if args.action == "run":
        import time

        from priorbench.bench import leaderboard_spec

        check_workers(args.workers, getattr(args, "address", None))
        started = time.perf_counter()
        paths = leaderboard_spec.run(args.spec, progress=not args.no_progress, workers=args.workers,
                                     executor=args.executor, address=args.address,
                                     prior_server=args.prior_server, eval_batch=args.eval_batch)
        print(f"{len(paths)} runs complete under {leaderboard_spec.load(args.spec).runs}/ "
              f"({time.perf_counter() - started:.0f} s); next: priorbench leaderboard build")
        return 0

    if args.action == "verify":
        return _cmd_verify(args)
    if args.action == "prior-quality":
        from priorbench.bench.prior_quality import prior_quality

        check_out_folder(args.out, "--out")
        path = prior_quality(args.spec, args.out, states=args.states, seed=args.seed,
                             progress=not args.no_progress)
        print(f"wrote {path}; rebuild to show it: priorbench leaderboard build --out {args.out}")
        return 0
    runs = args.runs or [Path("leaderboard/runs")]
    for folder in runs:
        if not folder.is_dir():
            raise UserError(f"--runs {folder} does not exist; give the folder of run records "
                            "(priorbench leaderboard run makes leaderboard/runs)")
    check_out_folder(args.out, "--out")
    protocol = None
    if args.protocol is not None:
        from priorbench.bench.leaderboard.protocol import load_protocol

        protocol = load_protocol(args.protocol)
    committed = Path("leaderboard")  # its context only for a build that includes its runs
    context = args.context if args.context is not None else committed if any(
        folder.resolve() == (committed / "runs").resolve() for folder in runs) else None
    if args.context is not None and not args.context.is_dir():
        raise UserError(f"--context {args.context} does not exist; give the leaderboard folder whose NOTES.md, "
                        "prior_quality.json and verified.json the build should show")
    rows, refused = build(runs if len(runs) > 1 else runs[0], args.out, protocol, context=context, strict=args.strict)
    print(f"wrote {args.out}/LEADERBOARD.md, leaderboard.csv, leaderboard_full.csv, "
          f"leaderboard.tex, plots/ and site/index.html ({len(rows)} rows)")
    for path, why in refused:
        print(f"refused {path}: {why}", file=sys.stderr)
    return _refused_exit(len(refused), args.allow_refused)


def _cmd_verify(args: argparse.Namespace) -> int:
    from priorbench.bench.leaderboard.verified import row_ref, write_marks
    from priorbench.bench.reproduce import verify

    if not args.runs.is_dir():
        raise UserError(f"--runs {args.runs} does not exist; give the folder of run records")
    results, marks = verify(args.runs, refs=args.rows, max_seconds=args.max_seconds,
                            progress=lambda line: print(line, file=sys.stderr))
    for result in results:
        print(result.report() + "\n")
    differ = len(results) - len(marks)
    print(f"{len(marks)} of {len(results)} rows re-ran with identical episode records"
          + (f"; {differ} differ" if differ else ""))
    if args.write:
        rerun = [row_ref(r.row.env, r.row.agent) for r in results]  # other rows keep their marks
        print(f"wrote {write_marks(args.out, marks, rerun)}; rebuild to show the marks: priorbench leaderboard build")
    return 1 if differ else 0


def _cmd_dataset(args: argparse.Namespace) -> int:
    from priorbench.bench import datasets

    if args.action == "info":
        for key, value in datasets.describe(args.path).items():
            print(f"{key:20s} {value}")
        return 0
    from priorbench import envs

    envs.check_env_id(args.env)
    if args.name:
        datasets.check_name(args.name)
    check_out_folder(args.out, "--out")
    kwargs = {k.removeprefix("env."): v for k, v in _key_values(args.overrides, "--set", "env.max_steps=30").items()}
    folder = datasets.collect(args.env, args.policy, args.episodes, args.seed, out=Path(args.out),
                              name=args.name, env_kwargs=kwargs, progress=not args.no_progress)
    info = datasets.describe(folder)
    print(f"wrote {folder}: {info['episodes']} episodes, {info['transitions']} transitions, "
          f"mean return {info['mean_return']:.3f}")
    return 0


def _cmd_serve_prior(args: argparse.Namespace) -> int:
    from priorbench.agents.priors import PRIORS, prior_config
    from priorbench.agents.priors.hf import HFPrior
    from priorbench.agents.priors.server import ServerLimits, check_port, make_server
    from priorbench.core.config import build_config

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: a port is a number from 0 to 65535 (0: any free port)")
    params = _key_values(args.overrides, "--set", "device=cuda")
    limits = build_config(ServerLimits, _key_values(args.limits, "--limit", "n=16"), where="--limit")
    if not issubclass(PRIORS.load(args.prior), HFPrior):  # the backend, not the name, decides
        raise UserError("serve-prior serves a local model; choose an hf prior (`priorbench list priors`)")
    if args.threads <= 0:
        raise UserError(f"--threads must be positive, got {args.threads}")
    check_port(args.host, args.port)  # before the model loads
    print(f"priorbench: loading {args.prior} …", file=sys.stderr, flush=True)
    import torch

    torch.set_num_threads(args.threads)
    config = prior_config(args.prior, {**params, "prompt_format": "raw"})
    server = make_server(HFPrior(config), args.host, args.port, limits)
    host, port = server.server_address[:2]
    print(f"serving {args.prior} at http://{host}:{port}/v1 (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from priorbench.bench.reproduce import reproduce

    result = reproduce(args.runs, args.row, out=args.out, seeds=args.seeds,
                       progress=lambda line: print(line, file=sys.stderr))
    for path, why in result.refused:
        print(f"refused {path}: {why}", file=sys.stderr)
    print(result.report())
    return 0 if result.inside else 1


def _cmd_cite(runs: Path | None, everything: bool) -> int:
    from priorbench.bench.cite import cite

    if everything and runs is not None:
        raise UserError("cite: give --runs FOLDER or --all, not both")
    if runs is not None and not runs.is_dir():
        raise UserError(f"--runs {runs} does not exist; give a folder of run records, or --all")
    if runs is None and not everything:
        runs = Path("leaderboard/runs") if Path("leaderboard/runs").is_dir() else None
    print(cite(runs), end="")
    return 0


def _key_values(items: list[str], flag: str, example: str) -> dict[str, object]:
    """Repeated `FLAG key=value` arguments → {key: value} (values in TOML syntax, see
    core.config.parse_value); a malformed one is a one-line error naming the flag."""
    from priorbench.core.config import parse_value

    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{flag} {item!r}: expected key=value, e.g. {flag} {example}")
        out[key.strip()] = parse_value(value.strip())
    return out


def _prior_and_env_settings(overrides: list[str]) -> tuple[dict[str, object], dict[str, object]]:
    """--set key=value (a prior setting) or env.key=value (an env keyword) → the two dicts."""
    prior_params: dict[str, object] = {}
    env_kwargs: dict[str, object] = {}
    for key, value in _key_values(overrides, "--set", "model=PATH").items():
        target = env_kwargs if key.startswith("env.") else prior_params
        target[key.removeprefix("env.")] = value
    return prior_params, env_kwargs


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from priorbench.bench.evaluate import protocol_jobs
    from priorbench.bench.leaderboard.protocol import load_protocol
    from priorbench.bench.runner import execute_all

    check_workers(args.workers, getattr(args, "address", None))
    protocol = load_protocol(args.protocol)
    check_out_folder(args.out, "--out")
    jobs = protocol_jobs(protocol, args.agent, args.out, args.overrides, unofficial=args.unofficial,
                         envs=args.envs)
    paths = execute_all(jobs, progress=not args.no_progress, workers=args.workers,
                        executor=args.executor, address=args.address,
                        prior_server=args.prior_server, eval_batch=args.eval_batch)
    _print_table(paths)
    print(f"\nprotocol {protocol.label}{' (UNOFFICIAL)' if args.unofficial else ''}: {len(paths)} runs in "
          f"{args.out}/; beside the baselines: priorbench leaderboard build --runs leaderboard/runs "
          f"--runs {args.out} --protocol {args.protocol} --out BOARD")
    return 0


def _cmd_check_agent(args: argparse.Namespace) -> int:
    from priorbench.bench.check_agent import LEARNS, RULES, check_agent, check_learns

    if args.steps <= 0:
        raise UserError(f"--steps must be positive, got {args.steps}")
    params, env_kwargs = _prior_and_env_settings(args.overrides)
    if args.learns and args.learn_steps <= 0:
        raise UserError(f"--learn-steps must be positive, got {args.learn_steps}")
    failures = check_agent(args.name, args.env, params=params, env_kwargs=env_kwargs, steps=args.steps,
                           progress=lambda line: print(line, file=sys.stderr))
    if args.learns and not failures:
        print(f"check learns ({args.learn_steps} steps) …", file=sys.stderr)
        failures = check_learns(args.name, args.env, steps=args.learn_steps, params=params, env_kwargs=env_kwargs)
    for line in failures:
        print(f"FAIL {line}")
    rules = (*RULES, LEARNS) if args.learns else RULES
    print(f"agent {args.name!r} on {args.env}: " + (f"{len(failures)} rule(s) failed" if failures else
                                                    f"every rule holds ({', '.join(rules)})"))
    return 1 if failures else 0


def _cmd_prior_train(args: argparse.Namespace) -> int:
    from priorbench.bench import prior_train

    base_params, env_kwargs = _prior_and_env_settings(args.overrides)
    manifest = prior_train.train(args.envs, args.out, base=args.base, base_params=base_params,
                                 split=args.split, states=args.states, steps=args.steps, lr=args.lr,
                                 batch_size=args.batch_size, seed=args.seed, lora_r=args.lora_r,
                                 lora_alpha=2 * args.lora_r, env_kwargs=env_kwargs,
                                 progress=lambda line: print(line, file=sys.stderr))
    tasks, losses = sum(len(ids) for ids in manifest["task_ids"].values()), manifest["losses"]
    print(f"adapter: {args.out} ({manifest['states']} states of {tasks} train tasks, loss {losses['first']:.3f} "
          f"at the first step, {losses['last']:.3f} at the last (mean of the last {min(25, manifest['steps'])} "
          f"steps {losses['mean_last_25']:.3f}), {manifest['cpu_seconds']:.0f} CPU s)")
    print(f"use it: --set agent.<name>.prior={args.base} "
          f"--set 'agent.<name>.prior_params={{adapter=\"{args.out}\"}}'; "
          f"inspect it: priorbench prior inspect --env {args.envs[0]} --prior '{args.base}:adapter={args.out}'")
    return 0


def _cmd_prior_inspect(args: argparse.Namespace) -> int:
    from priorbench.bench import prior_inspect

    prior_params, env_kwargs = _prior_and_env_settings(args.overrides)
    report = prior_inspect.inspect(args.env, args.priors, prior_params=prior_params,
                                   split=args.split, n_states=args.states, seed=args.seed,
                                   normalization=args.normalization, env_kwargs=env_kwargs,
                                   wins=not args.no_wins,
                                   progress=lambda line: print(line, file=sys.stderr))
    print(prior_inspect.table(report))
    if args.out:
        prior_inspect.write_report(report, args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _run_flags_given(args: argparse.Namespace) -> bool:
    """Whether `run` got any flag that only makes sense with envs and agents."""
    return bool(args.seeds is not None or args.steps is not None or args.eval_every is not None
                or args.overrides or args.force or args.workers != 1 or args.out != Path("runs"))


def main(argv: list[str] | None = None) -> int:
    import os

    # Before torch is imported: idle OpenMP threads sleep instead of spinning. On a busy
    # 2-core machine spinning made a DQN update 100× slower (benchmarks/README.md).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = build_parser().parse_args(argv)
    if getattr(args, "no_progress", False):
        from priorbench.core.progress import NO_PROGRESS_ENV

        os.environ[NO_PROGRESS_ENV] = "1"  # inherited by pool workers
    try:
        if args.command == "list":
            return _cmd_list(args.what)
        if args.command == "demo" or args.command is None:
            out = getattr(args, "out", Path("runs/demo"))
            return _cmd_demo(out, not getattr(args, "no_progress", False))
        if args.command == "run":
            if args.spec is None and not args.env and not args.agent and not args.suite:
                if _run_flags_given(args):
                    raise UserError("run: give --env ID and --agent NAME (or --suite NAME, or a spec "
                                    "file) with these flags; `priorbench run` alone runs the demo")
                return _cmd_demo(Path("runs/demo"), not args.no_progress)
            return _cmd_run(args)
        if args.command == "dataset":
            return _cmd_dataset(args)
        if args.command == "serve-prior":
            return _cmd_serve_prior(args)
        if args.command == "sweep":
            return _cmd_sweep(args)
        if args.command == "show":
            return _cmd_show(args.runs, args.allow_refused)
        if args.command == "evaluate":
            return _cmd_evaluate(args)
        if args.command == "check":
            return _cmd_check_agent(args)
        if args.command == "prior":
            return _cmd_prior_train(args) if args.action == "train" else _cmd_prior_inspect(args)
        if args.command == "leaderboard":
            return _cmd_leaderboard(args)
        if args.command == "reproduce":
            return _cmd_reproduce(args)
        if args.command == "cite":
            return _cmd_cite(args.runs, args.all)
    except UserError as exc:
        print(f"priorbench: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder that cannot be written, a disk that is full: one line
        from priorbench.core.paths import write_error

        known = write_error(Path(exc.filename or "a file priorbench was writing"), exc)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"priorbench: error: {known}" if isinstance(known, UserError) else
              f"priorbench: error: {where}{exc.strerror or exc}; check the path and its permissions",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("priorbench: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    return 0
