"""The engine's thread plan: decode yields to the encoder, the budget follows measured costs."""

from __future__ import annotations

import os
import threading

import pytest
import torch

from cliptagger.core.tagging.engine import ImageResult, TaggingEngine
from cliptagger.core.tagging.threads import (
    ThreadPlan,
    cpu_cores,
    plan_threads,
    thread_priorities_available,
)


def test_split_plan_gives_each_side_cores_in_proportion_to_its_cost():
    assert plan_threads(2, mode="split") == ThreadPlan(1, 1, "split")
    assert plan_threads(1, 0.05, 0.08, mode="split") == ThreadPlan(1, 1, "split")
    # 16 cores, decode 53 ms, encoder 76 core-ms per image: ~6.6 cores' worth of decoding
    plan = plan_threads(16, 0.053, 0.076, mode="split")
    assert (plan.encoder_threads, plan.decode_workers) == (9, 7)
    assert plan_threads(16, 0.001, 1.0, mode="split").decode_workers == 1   # tiny pictures, big model
    assert plan_threads(16, 1.0, 0.001, mode="split").encoder_threads == 1  # never starve the encoder
    assert plan_threads(8, mode="shared") == ThreadPlan(8, 8, "shared")


@pytest.mark.skipif(not thread_priorities_available(), reason="per-thread niceness is a Linux feature")
def test_decode_threads_run_nicer_than_the_encoder_and_torch_threads_come_back(
        demo_model, demo_label_sets, held_out_pictures):
    files = [path for path, _ in held_out_pictures[:20]]
    encoder_niceness = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = []
    engine = TaggingEngine(demo_model, demo_label_sets, batch_size=8)
    real = engine.load_pixels

    def recording(path):
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return real(path)

    engine.load_pixels = recording
    before = torch.get_num_threads()
    outcomes = list(engine.run(files))
    assert all(isinstance(o, ImageResult) for o in outcomes) and len(outcomes) == 20
    assert engine.thread_plan.mode == "priority"
    assert engine.thread_plan.encoder_threads == engine.thread_plan.decode_workers
    assert seen and all(n > encoder_niceness for n in seen)
    assert torch.get_num_threads() == before
    assert engine.measured_decode_s > 0 and engine.measured_encode_s > 0


def test_split_plan_uses_the_previous_runs_measurements(demo_model, demo_label_sets, held_out_pictures):
    files = [path for path, _ in held_out_pictures[:12]]
    engine = TaggingEngine(demo_model, demo_label_sets, batch_size=4)
    engine.thread_mode = "split"
    before = torch.get_num_threads()
    first = list(engine.run(files))
    decode_s, encode_s = engine.measured_decode_s, engine.measured_encode_s
    assert decode_s > 0 and encode_s > 0
    second = list(engine.run(files))
    assert engine.thread_plan == plan_threads(cpu_cores(), decode_s, encode_s, "split")
    assert [o.path for o in first] == [o.path for o in second] == files
    assert torch.get_num_threads() == before
