"""The serve worker: one thread owns the model, takes jobs from a bounded queue and batches them.

Concurrent requests with the same `max_tokens` are generated as one batch (the local generator pads
and decodes them together); a streaming request runs on its own, its tokens handed to the request's
thread as they are decoded, and stops at the next token once its client has gone or its time is up.
A full queue refuses a job at once, so the server answers 503 instead of piling up work.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator

from tunewise.retrieval.generate import Generation


@dataclass
class Job:
    messages: list[dict[str, str]]
    max_tokens: int
    stream: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)
    pieces: "queue.Queue[str | None]" = field(default_factory=queue.Queue)   # streamed text, None at the end
    result: Generation | None = None
    error: BaseException | None = None


class GenerationQueue:
    """Bounded queue of jobs in front of one generator, served by a single worker thread."""

    def __init__(self, generator, max_queue: int = 16, max_batch: int = 8):
        self.generator = generator
        self.max_batch = max(1, max_batch)
        self.jobs: "queue.Queue[Job]" = queue.Queue(maxsize=max(1, max_queue))
        self.held: deque[Job] = deque()   # taken from the queue but not batchable with the last batch
        self.batches: list[int] = []      # sizes of the batches run, for tests and the load report
        self.worker = threading.Thread(target=self._serve, name="tunewise-generate", daemon=True)
        self.worker.start()

    def submit(self, job: Job) -> bool:
        """Queue `job`; False when the queue is full (the caller answers 503)."""
        try:
            self.jobs.put_nowait(job)
        except queue.Full:
            return False
        return True

    def _serve(self) -> None:
        while True:
            first = self.held.popleft() if self.held else self.jobs.get()
            if first.cancelled.is_set():
                continue
            if first.stream:
                self._run([first], self._stream_one)
                continue
            self._run(self._batch_with(first), self._generate)

    def _batch_with(self, first: Job) -> list[Job]:
        batch = [first]
        while len(batch) < self.max_batch:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if job.stream or job.max_tokens != first.max_tokens:
                self.held.append(job)
                break
            if not job.cancelled.is_set():
                batch.append(job)
        return batch

    def _run(self, jobs: list[Job], work) -> None:
        self.batches.append(len(jobs))
        try:
            work(jobs)
        except Exception as exc:  # reported to each waiting request; the worker lives on
            for job in jobs:
                job.error = exc
        finally:
            for job in jobs:
                if job.stream:
                    job.pieces.put(None)
                job.done.set()

    def _generate(self, jobs: list[Job]) -> None:
        results = self.generator.generate([j.messages for j in jobs], max_new_tokens=jobs[0].max_tokens)
        for job, result in zip(jobs, results):
            job.result = result

    def _stream_one(self, jobs: list[Job]) -> None:
        job = jobs[0]
        if not hasattr(self.generator, "model"):  # an API generator: no token stream to tap, one piece
            job.result = self.generator.generate([job.messages], max_new_tokens=job.max_tokens)[0]
            job.pieces.put(job.result.text)
            return
        job.result = stream_tokens(self.generator, job)


def stream_tokens(generator, job: Job) -> Generation:
    """Greedy generation of one conversation, each decoded piece put on `job.pieces` as it comes."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    class UntilCancelled(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full((input_ids.shape[0],), job.cancelled.is_set(), dtype=torch.bool,
                              device=input_ids.device)

    tok = generator.tokenizer
    tok.padding_side, tok.truncation_side = "left", "left"
    limit = max(1, generator.context_length - job.max_tokens)
    inputs = tok([generator.render(job.messages)], return_tensors="pt", truncation=True, max_length=limit,
                 add_special_tokens=False).to(generator.model.device)
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)
    started = time.perf_counter()
    relay = threading.Thread(target=_relay, args=(streamer, job), daemon=True)
    relay.start()
    with torch.inference_mode():
        output = generator.model.generate(**inputs, max_new_tokens=job.max_tokens, do_sample=False,
                                          temperature=None, top_p=None, top_k=None, pad_token_id=tok.pad_token_id,
                                          streamer=streamer, stopping_criteria=StoppingCriteriaList([UntilCancelled()]))
    relay.join()
    ids = output[0, inputs["input_ids"].shape[1]:].tolist()
    if tok.eos_token_id in ids:
        ids = ids[:ids.index(tok.eos_token_id) + 1]
    text = tok.decode(ids, skip_special_tokens=True).strip()
    return Generation(text, int(inputs["attention_mask"].sum()), len(ids),
                      round((time.perf_counter() - started) * 1000, 2))


def _relay(streamer, job: Job) -> None:
    for piece in streamer:
        if piece:
            job.pieces.put(piece)


def pieces_of(job: Job, timeout_s: float) -> Iterator[str]:
    """The streamed pieces until the end; stops (cancelling the job) when `timeout_s` runs out."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            piece = job.pieces.get(timeout=max(deadline - time.monotonic(), 0.001))
        except queue.Empty:
            job.cancelled.set()
            raise TimeoutError from None
        if piece is None:
            return
        yield piece
