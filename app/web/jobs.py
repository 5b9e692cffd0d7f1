"""Applies run as background jobs, so the browser can watch their progress.

Jobs live in this process's memory: a restart forgets them (the outcome itself
is kept, as the gateway's recorded status), and the last ``KEEP`` are kept.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

KEEP = 50
_ids = itertools.count(1)


@dataclass
class Job:
    id: int
    gateway: str
    actor: str
    started: float = field(default_factory=time.time)
    done: int = 0
    total: int = 0
    steps: list[str] = field(default_factory=list)
    finished: bool = False
    result: dict | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "gateway": self.gateway,
            "done": self.done,
            "total": self.total,
            "steps": self.steps[-200:],
            "finished": self.finished,
            "result": self.result,
            "error": self.error,
        }


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def start(self, gateway: str, actor: str, work) -> Job:
        """Run ``work(progress)`` in a thread; it returns the result's dict."""
        job = Job(next(_ids), gateway, actor)
        with self._lock:
            self._jobs[job.id] = job
            for old in sorted(self._jobs)[:-KEEP]:
                del self._jobs[old]

        def progress(done: int, total: int, step) -> None:
            job.done, job.total = done, total
            job.steps.append(str(step))

        def run() -> None:
            try:
                job.result = work(progress)
            except Exception as exc:  # shown to the operator on the job's page
                log.exception("apply of %s (job %d) failed", gateway, job.id)
                job.error = str(exc) or type(exc).__name__
            finally:
                job.finished = True

        threading.Thread(target=run, name=f"apply-{gateway}", daemon=True).start()
        log.info("%s started applying gateway %s (job %d)", actor, gateway, job.id)
        return job
