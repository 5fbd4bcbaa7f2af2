"""How the shards of a run execute: in this process, in local worker processes (``--workers``),
or as torchrun ranks. Each clip is processed by exactly one shard; the results equal a
single-process run's."""

from __future__ import annotations

from pathlib import Path

from eadbench.config import RunConfig
from eadbench.datasets.base import Clip
from eadbench.run.layout import RunDir
from eadbench.run.shard import Shard, build_shard, process_clip


def _progress_bar(total: int, cfg: RunConfig):
    from tqdm import tqdm

    return tqdm(total=total, desc="clips x methods", unit="job", disable=cfg.quiet or None, dynamic_ncols=True)


def run_serial(shard: Shard, cfg: RunConfig) -> list[str]:
    bar = _progress_bar(len(shard.clips) * len(shard.methods), cfg)
    n_failed = 0

    def progress(label, failed=False):
        nonlocal n_failed
        n_failed += bool(failed)
        bar.set_postfix(method=label, failed=n_failed)
        bar.update(1)

    failures = []
    for clip in shard.clips:
        failures += process_clip(shard, clip, progress)
    bar.close()
    return failures


# Worker-process state (spawned processes build their generators/evaluators once).
_WORKER: Shard | None = None


def _worker_init(cfg: RunConfig, out: str) -> None:
    global _WORKER
    from eadbench.run.inputs import neutral_map
    from eadbench.threads import configure
    from eadbench.weights import WeightStore

    configure(cfg.workers)
    _WORKER, _ = build_shard(cfg, RunDir(out), [], WeightStore(cfg.weights_dir, cfg.trust_weights, cfg.device))
    _WORKER.neutral = neutral_map(cfg)


def _worker_clip(clip: Clip) -> tuple[list[str], int, dict]:
    assert _WORKER is not None
    fails = process_clip(_WORKER, clip)
    seconds = _WORKER.timer.table()
    _WORKER.timer.clear()
    return fails, len(_WORKER.methods), seconds


def run_pool(shard: Shard, cfg: RunConfig) -> list[str]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    bar = _progress_bar(len(shard.clips) * len(shard.methods), cfg)
    failures: list[str] = []
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(cfg.workers, mp_context=ctx, initializer=_worker_init,
                             initargs=(cfg, str(shard.run.root))) as pool:
        futures = [pool.submit(_worker_clip, c) for c in shard.clips]
        for fut in as_completed(futures):
            fails, n, seconds = fut.result()
            failures += fails
            shard.timer.merge(seconds)
            bar.update(n)
            bar.set_postfix(failed=len(failures))
    bar.close()
    return failures


def run_distributed(shard: Shard, rank: int, world: int, cfg: RunConfig) -> list[str]:
    """torchrun: each rank scores its deterministic shard; ranks meet before rank 0 reduces.

    Per-clip outputs (including FID/FVD features) are gathered to rank 0 through
    torch.distributed so ranks on different machines need no shared folder. Each rank uses its
    local GPU (``--device auto`` resolves to ``cuda:$LOCAL_RANK``) when there is one.
    """
    import torch.distributed as dist

    from eadbench.run.layout import REAL

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    mine = shard.clips[rank::world]
    failures: list[str] = []
    for clip in mine:
        failures += process_clip(shard, clip)
    run = shard.run
    files: dict[str, bytes | None] = {}
    for clip in mine:
        for label in shard.methods:
            p = run.video_record(label, clip.clip_id)
            files[str(p.relative_to(run.root))] = p.read_bytes() if p.exists() else None
        for label in [*shard.methods, REAL]:
            d = run.score(label, clip.clip_id, "x").parent
            if d.exists():
                for p in d.iterdir():
                    if not p.name.startswith("."):
                        files[str(p.relative_to(run.root))] = p.read_bytes()
    gathered = [None] * world if rank == 0 else None
    dist.gather_object((files, failures, shard.timer.table()), gathered, dst=0)
    if rank == 0:
        failures = []
        for r, (f, fl, seconds) in enumerate(gathered):
            failures += fl
            if r != 0:
                shard.timer.merge(seconds)
            for rel, data in f.items():
                p = Path(run.root) / rel
                if data is not None and not p.exists():
                    p.parent.mkdir(parents=True, exist_ok=True)
                    p.write_bytes(data)
    dist.barrier()
    return failures
