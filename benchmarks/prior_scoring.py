"""Cost of the LLM prior per decision: exact scoring, k-sample proposals, the prior cache.

    HF_HUB_OFFLINE=1 python benchmarks/prior_scoring.py [--reps 5] [--naive-reps 3]
        [--qwen2] [--qwen2-reps 3] [--candidates 20] [--prompt-tokens 200] [--k 5]
        [--skip-cache-run] [--threads N] [--quick] [--model NAME_OR_FOLDER] [--device cuda]
        [--dtype bfloat16]

--model/--device/--dtype go to `HFPrior` (default SmolLM2-135M on the CPU in fp32; the Qwen2
shape follows --device/--dtype). On a GPU every timing synchronises the device first and last.

For SmolLM2-135M (`HFPrior(model="smollm2-135m")`) and, with --qwen2, a Qwen2-0.5B-shaped
model with random weights (transformers `Qwen2Config`: hidden 896, 24 layers, 14 heads, 2 KV
heads, intermediate 4864, vocab 151936, tied embeddings, fp32; built once, saved with
`save_pretrained` into a temp folder together with SmolLM2's tokenizer — ids < 49152 of the
151936-row embedding are used — and loaded through `HFPrior(model=folder)`), on one ~200-token
chat-formatted TextWorld-style prompt and 20 admissible commands:

  shared   `HFPrior.score` — the prompt once, all 20 candidates batched on its KV cache
  naive    `HFPrior.score_naive` — one full forward over prompt + candidate per candidate
  floor    one bare forward over the prompt followed by all 20 candidates' tokens in one
           sequence, logits kept only at the candidate positions: every token the shared
           scorer needs, processed once, with nothing else (no cache copies, no log-softmax)
  prefill  the prompt alone (logits at its last position): shared scoring's first half
  tree     a prototype here, not library code: the prompt once, then all candidates' tokens
           in ONE row on its cache with a 4-D mask (each token sees the prompt and its own
           candidate's earlier tokens) — exact, without copying the cache 20 times
  propose  `HFPrior.propose(k=5)` — the prompt prefilled once, 5 samples decoded from copies
           of its cache (≤10 new tokens, stop at newline / eos)
  generate `model.generate(num_return_sequences=5, do_sample=True, max_new_tokens=10)` on the
           same prompt ids (temperature 1, top-p 1, top-k off, as propose)

The variants are interleaved within each repetition (so load swings hit all of them) and the
figures are medians; ratios are of the medians of the same run. Part 3 runs the `llm` agent
twice on priorbench/FrozenLake-4x4-v0 through the runner, into two temp folders, with a fresh
PRIORBENCH_CACHE (SmolLM2's converted weights linked in), and reads cache_hits / cache_misses
from the episode records' counters. The run's load average (`uptime`) is printed at the start
and at the end: the CPU is shared, so quote ratios, not digits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from priorbench.agents.priors.hf import HFPrior  # noqa: E402
from priorbench.agents.priors.prompts import TEMPLATES  # noqa: E402
from priorbench.core.paths import cache_root  # noqa: E402

COMMANDS = (
    "go north", "go south", "go east", "go west", "open fridge", "close fridge",
    "take red apple from fridge", "take knife from counter", "slice red apple with knife",
    "dice yellow potato with knife", "cook yellow potato with stove", "put cookbook on table",
    "examine cookbook", "inventory", "look", "drop red apple", "eat carrot",
    "open wooden door", "insert carrot into fridge", "prepare meal",
)
TASK = "Cook the meal in the cookbook: a sliced red apple and a diced fried yellow potato, then eat it."
SENTENCES = (
    "You are in a kitchen.",
    "A fridge stands in the corner; it is closed.",
    "On the counter you see a knife and a yellow potato.",
    "A cookbook lies on the table next to a carrot.",
    "There is a stove here and an oven beside it.",
    "An open wooden door leads east to the backyard.",
    "A corridor goes north, and a pantry door stands to the west.",
    "The floor is sticky and smells of onions.",
    "A shelf holds jars of salt and pepper.",
    "A small window above the sink shows the garden.",
    "Somebody left a dirty pan on the stove.",
    "The lamp over the table flickers.",
)


def uptime() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def build_prompt(prior: HFPrior, candidates: tuple[str, ...], target: int) -> tuple[str, int]:
    """A TextWorld-template prompt whose chat-formatted token count is ~target."""
    template = TEMPLATES["textworld"]
    words: list[str] = []
    prompt = template.render(TASK, "", candidates)
    i = 0
    while prior.count_tokens(prompt) < target:
        words.append(SENTENCES[i % len(SENTENCES)])
        i += 1
        prompt = template.render(TASK, " ".join(words), candidates)
    return prompt, prior.count_tokens(prompt)


def bare_forward(prior: HFPrior, prompt: str, candidates: tuple[str, ...]) -> Callable[[], None]:
    prompt_ids = prior.encode_prompt(prompt)
    cand_ids = [prior._encode_candidate(c) for c in candidates]
    n_cand = sum(len(c) for c in cand_ids)
    ids = torch.tensor([prompt_ids + [t for c in cand_ids for t in c]], device=prior.device)

    def run() -> None:
        with torch.inference_mode():
            prior.model(input_ids=ids, logits_to_keep=n_cand, use_cache=False)

    return run


def tree_score(prior: HFPrior, prompt: str, candidates: tuple[str, ...]) -> np.ndarray:
    """A prototype (benchmark only, not library code) of shared-prefix scoring without copying
    the prompt's cache: every candidate's tokens in ONE row after the prompt, with a 4-D mask
    (each token sees the prompt and the earlier tokens of its own candidate) and per-candidate
    position ids. Exact like `score`; no batch_select_indices, no padding."""
    with torch.inference_mode():
        last_logits, cache, _, lengths, _ = prior._prefill([prior.encode_prompt(prompt)])
        n_prompt = int(lengths[0])
        cand_ids = [prior._encode_candidate(c) for c in candidates]
        tokens = [t for ids in cand_ids for t in ids[:-1]]
        owner = torch.tensor([j for j, ids in enumerate(cand_ids) for _ in ids[:-1]])
        pos = torch.tensor([n_prompt + t for ids in cand_ids for t in range(len(ids) - 1)])
        own = (owner[:, None] == owner[None, :]) & (pos[None, :] <= pos[:, None])
        mask = torch.cat([torch.ones(len(tokens), n_prompt, dtype=torch.bool), own], 1)[None, None]
        first = torch.log_softmax(last_logits[0], -1)
        values = np.array([float(first[ids[0]]) for ids in cand_ids])
        if tokens:
            out = prior.model(input_ids=torch.tensor([tokens], device=prior.device),
                              attention_mask=mask.to(prior.device), position_ids=pos[None].to(prior.device),
                              cache=cache, use_cache=True)
            logp = torch.log_softmax(out.logits[0].float(), -1)
            targets = torch.tensor([t for ids in cand_ids for t in ids[1:]], device=prior.device)
            picked = logp.gather(1, targets[:, None]).squeeze(1).cpu().numpy()
            np.add.at(values, owner.numpy(), picked)
    return values


def prefill_only(prior: HFPrior, prompt: str) -> Callable[[], None]:
    ids = torch.tensor([prior.encode_prompt(prompt)], device=prior.device)

    def run() -> None:
        with torch.inference_mode():
            prior.model(input_ids=ids, logits_to_keep=1, use_cache=True)

    return run


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    _sync()
    started = time.perf_counter()
    value = fn()
    _sync()
    return time.perf_counter() - started, value


def bench_model(label: str, prior: HFPrior, args: argparse.Namespace) -> dict[str, Any]:
    cands = COMMANDS[:args.candidates]
    prompt, n_prompt = build_prompt(prior, cands, args.prompt_tokens)
    n_cand = sum(len(prior._encode_candidate(c)) for c in cands)
    print(f"\n## {label}: prompt {n_prompt} tokens, {len(cands)} candidates ({n_cand} tokens), "
          f"torch threads {torch.get_num_threads()}, load {uptime()}", flush=True)
    floor = bare_forward(prior, prompt, cands)
    prefill = prefill_only(prior, prompt)
    shared_fn = lambda: prior.score([prompt], [cands])[0]  # noqa: E731
    naive_fn = lambda: prior.score_naive(prompt, cands)  # noqa: E731
    tree_fn = lambda: tree_score(prior, prompt, cands)  # noqa: E731

    # warm-up (allocator, kernels) and the exactness check
    shared_vals = shared_fn()
    naive_vals = naive_fn()
    tree_vals = tree_fn()
    floor()
    prefill()
    diff = float(np.max(np.abs(shared_vals - naive_vals)))
    tree_diff = float(np.max(np.abs(tree_vals - naive_vals)))
    print(f"max |shared − naive| = {diff:.2e}, max |tree − naive| = {tree_diff:.2e}", flush=True)

    times: dict[str, list[float]] = {k: [] for k in ("shared", "naive", "floor", "prefill", "tree")}
    for rep in range(args.reps):
        times["shared"].append(timed(shared_fn)[0])
        times["tree"].append(timed(tree_fn)[0])
        times["floor"].append(timed(floor)[0])
        times["prefill"].append(timed(prefill)[0])
        if rep < args.naive_reps:
            times["naive"].append(timed(naive_fn)[0])
        print(f"  rep {rep}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in times.items() if len(v) > rep),
              flush=True)

    # proposals: propose (one prefill, k copies of the cache) vs generate(num_return_sequences)
    ids = torch.tensor([prior.encode_prompt(prompt)], device=prior.device)
    pad = prior.tokenizer.pad_token_id if prior.tokenizer.pad_token_id is not None else prior.tokenizer.eos_token_id

    def generate() -> int:
        with torch.inference_mode():
            out = prior.model.generate(
                input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                num_return_sequences=args.k, max_new_tokens=args.max_new_tokens, temperature=1.0,
                top_p=1.0, top_k=0, pad_token_id=pad)
        return int(out.shape[1] - ids.shape[1])

    def propose(seed: int) -> int:
        before = prior.counters()["llm_tokens"]
        prior.propose([prompt], args.k, [cands], seed=seed)
        return int((prior.counters()["llm_tokens"] - before - n_prompt) // args.k)

    sampled = prior.propose([prompt], args.k, [cands], seed=12345)[0]
    generate()
    gen_t, prop_t, gen_steps, prop_steps = [], [], [], []
    for rep in range(args.reps):
        torch.manual_seed(rep)
        t, steps = timed(generate)
        gen_t.append(t)
        gen_steps.append(steps)
        t, steps = timed(lambda rep=rep: propose(rep))
        prop_t.append(t)
        prop_steps.append(steps)
        print(f"  rep {rep}: propose {prop_t[-1]:.3f}s ({prop_steps[-1]} steps), "
              f"generate {gen_t[-1]:.3f}s ({gen_steps[-1]} steps)", flush=True)
    print(f"  sample proposals: texts {sampled.texts}, unmatched {sampled.unmatched}/{args.k}")

    med = {k: statistics.median(v) for k, v in times.items() if v}
    med["propose"] = statistics.median(prop_t)
    med["generate"] = statistics.median(gen_t)
    result = {
        "label": label, "prompt_tokens": n_prompt, "candidate_tokens": n_cand, "diff": diff,
        "tree_diff": tree_diff, "med": med,
        "prop_steps": statistics.median(prop_steps), "gen_steps": statistics.median(gen_steps),
        "naive_reps": len(times["naive"]), "reps": args.reps,
    }
    print_result(result)
    return result


def print_result(r: dict[str, Any]) -> None:
    m = r["med"]
    print(f"\n{r['label']}: prompt {r['prompt_tokens']} tokens, candidates {r['candidate_tokens']} tokens; "
          f"max |shared − naive| {r['diff']:.1e}, |tree − naive| {r['tree_diff']:.1e}; medians of {r['reps']} reps")
    print(f"\n| {r['label']} | median (s) | ratio |")
    print("|---|---:|---:|")
    print(f"| shared prefix (`score`) | {m['shared']:.3f} | 1 |")
    print(f"| naive per candidate (`score_naive`, {r['naive_reps']} reps) | {m['naive']:.3f} | "
          f"naive/shared {m['naive'] / m['shared']:.1f}× |")
    print(f"| bare forward, prompt+candidates (floor) | {m['floor']:.3f} | "
          f"shared/floor {m['shared'] / m['floor']:.2f}× |")
    print(f"| prefill of the prompt alone | {m['prefill']:.3f} | shared/prefill {m['shared'] / m['prefill']:.2f}× |")
    print(f"| prototype: candidates in one row, 4-D mask | {m['tree']:.3f} | tree/floor "
          f"{m['tree'] / m['floor']:.2f}×, shared/tree {m['shared'] / m['tree']:.2f}× |")
    print(f"| `propose(k=5)`, {r['prop_steps']:.0f} decode steps | {m['propose']:.3f} | "
          f"generate/propose {m['generate'] / m['propose']:.2f}× |")
    print(f"| `generate(num_return_sequences=5)`, {r['gen_steps']:.0f} steps | {m['generate']:.3f} | |")


def build_qwen2(folder: Path, tokenizer_source: str) -> None:
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    config = Qwen2Config(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
        rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).float()
    print(f"Qwen2-0.5B shape: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters",
          flush=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    del model


def cache_run(workdir: Path) -> list[dict[str, Any]]:
    """The llm agent twice on Frozen Lake 4×4 through the runner, one fresh prior cache."""
    from priorbench.bench import records
    from priorbench.bench.runner import RunJob, execute
    from priorbench.bench.spec import Budget

    cache = workdir / "prior-cache"
    cache.mkdir()
    models = cache_root() / "models"
    if models.exists():
        (cache / "models").symlink_to(models.resolve())  # reuse the converted weights
    old = os.environ.get("PRIORBENCH_CACHE")
    os.environ["PRIORBENCH_CACHE"] = str(cache)
    rows = []
    try:
        for i in (1, 2):
            job = RunJob("priorbench/FrozenLake-4x4-v0", "llm", 0, Budget(), workdir / f"run{i}",
                         agent_params={"prior": "smollm2-135m"})
            wall, path = timed(lambda job=job: execute(job, progress=False))
            eps = records.read_episodes(path / records.EPISODES).records
            # llm_calls / cache_hits / cache_misses are kept under the records' timing field
            counters = [{**e.get("counters", {}), **e.get(records.TIMING_FIELD, {}).get("counters", {})}
                        for e in eps]
            hits = sum(c.get("cache_hits", 0) for c in counters)
            misses = sum(c.get("cache_misses", 0) for c in counters)
            calls = sum(c.get("llm_calls", 0) for c in counters)
            steps = sum(e["length"] for e in eps)
            rows.append({"run": i, "episodes": len(eps), "steps": steps, "hits": hits, "misses": misses,
                         "llm_calls": calls, "wall": wall})
    finally:
        if old is None:
            os.environ.pop("PRIORBENCH_CACHE", None)
        else:
            os.environ["PRIORBENCH_CACHE"] = old
    print("\n| Frozen Lake 4×4, `llm` | episodes | decisions | cache hits | misses | hit rate | llm_calls | wall (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        rate = r["hits"] / max(1, r["hits"] + r["misses"])
        print(f"| run {r['run']} | {r['episodes']} | {r['steps']} | {r['hits']} | {r['misses']} | "
              f"{rate:.0%} | {r['llm_calls']} | {r['wall']:.1f} |")
    hits = sum(r["hits"] for r in rows)
    total = hits + sum(r["misses"] for r in rows)
    print(f"| both runs | | | {hits} | {total - hits} | {hits / max(1, total):.0%} | | |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--naive-reps", type=int, default=3)
    parser.add_argument("--qwen2", action="store_true", help="also the Qwen2-0.5B shape (minutes)")
    parser.add_argument("--qwen2-reps", type=int, default=3)
    parser.add_argument("--qwen2-naive-reps", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--prompt-tokens", type=int, default=200)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--max-new-tokens", type=int, default=10)
    parser.add_argument("--skip-cache-run", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="2 reps, 1 naive rep")
    parser.add_argument("--model", default="smollm2-135m", help="HFPrior model: a name or a local folder")
    parser.add_argument("--device", default="cpu", help="HFPrior device (cpu, cuda)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    args = parser.parse_args()
    if args.quick:
        args.reps, args.naive_reps, args.qwen2_reps, args.qwen2_naive_reps = 2, 1, 1, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}, "
          f"load at start {uptime()}", flush=True)
    if args.device.startswith("cuda"):
        print(f"device {torch.cuda.get_device_name()}", flush=True)

    started = time.perf_counter()
    placed = {"device": args.device, "dtype": args.dtype}
    smol = HFPrior(model=args.model, max_new_tokens=args.max_new_tokens, **placed)
    where = "" if args.device == "cpu" and args.dtype == "float32" else f" ({args.device}, {args.dtype})"
    label = "SmolLM2-135M" if args.model == "smollm2-135m" else f"{Path(args.model).name}"
    results = [bench_model(label + where, smol, args)]
    with tempfile.TemporaryDirectory(prefix="priorbench-bench-") as tmp:
        if not args.skip_cache_run:
            cache_run(Path(tmp))
        if args.qwen2:
            folder = Path(tmp) / "qwen2-0.5b-shape"
            build_time, _ = timed(lambda: build_qwen2(folder, smol.resolved.source))
            load_time, qwen = timed(lambda: HFPrior(model=str(folder), max_new_tokens=args.max_new_tokens,
                                                    **placed))
            print(f"built + saved in {build_time:.1f}s, HFPrior load {load_time:.1f}s", flush=True)
            qargs = argparse.Namespace(**{**vars(args), "reps": args.qwen2_reps,
                                          "naive_reps": args.qwen2_naive_reps})
            results.append(bench_model("Qwen2-0.5B shape (random)" + where, qwen, qargs))
            del qwen

    print(f"\n# summary (load at end {uptime()}, {time.perf_counter() - started:.0f}s)")
    for r in results:
        print_result(r)


if __name__ == "__main__":
    main()
