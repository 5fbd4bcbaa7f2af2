"""``prefetch``: iterate in a background thread, a few items ahead.

Not media code (any iterable works), though its use is decoding ahead of the networks in the
streamed pass (``eadbench.streams``).
"""

from __future__ import annotations

from typing import Iterable, Iterator


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """Iterate ``items`` in a background thread, ``depth`` ahead: decoding (FFmpeg releases the
    GIL) overlaps the networks consuming the previous items. Exceptions surface in order."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    done = object()
    stop = threading.Event()

    def run() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put((item, None))
            q.put((done, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            q.put((done, exc))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        while True:
            item, exc = q.get()
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        while t.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(0.05)
