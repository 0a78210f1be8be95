"""The staffing what-if: required agents, or the metrics of given agents, per interval. No I/O: the maths
of service.capacity.erlang over one request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from service.capacity.erlang import erlang_a_metrics, erlang_c_metrics, required_agents, scheduled
from service.capacity.models import PlanModel
from service.capacity.schemas import StaffingRequest
from service.kit.errors import Invalid


@dataclass(frozen=True)
class Staffing:
    """Per-interval staffing, as arrays of one length (asa_s is inf where unbounded)."""

    volume: np.ndarray
    load: np.ndarray
    agents: np.ndarray
    scheduled: np.ndarray
    service_level: np.ndarray
    asa_s: np.ndarray
    wait_probability: np.ndarray
    abandon_rate: np.ndarray
    occupancy: np.ndarray

    def rows(self) -> list[dict[str, Any]]:
        """JSON-ready dicts; an unbounded ASA is None (JSON has no infinity)."""
        asa = np.where(np.isfinite(self.asa_s), self.asa_s, np.nan).tolist()
        asa = [None if a != a else a for a in asa]  # NaN -> None
        keys = ("volume", "load", "agents", "scheduled", "service_level", "asa_s", "wait_probability",
                "abandon_rate", "occupancy")
        cols = (self.volume.tolist(), self.load.tolist(), self.agents.tolist(), self.scheduled.tolist(),
                self.service_level.tolist(), asa, self.wait_probability.tolist(), self.abandon_rate.tolist(),
                self.occupancy.tolist())
        return [dict(zip(keys, row, strict=True)) for row in zip(*cols, strict=True)]


def staffing(req: StaffingRequest) -> Staffing:
    """Required agents for the intervals without `agents`, the metrics of the given count for the others:
    one vectorised call each, whatever the number of intervals. Repeated (volume, agents) pairs are
    computed once (a day's what-if often repeats volumes; Erlang A costs ~0.4 ms per distinct cell)."""
    n = len(req.intervals)
    all_volume = np.fromiter((i.volume for i in req.intervals), float, n)
    all_given = np.fromiter((-1 if i.agents is None else i.agents for i in req.intervals), np.int64, n)
    cells, back = np.unique(np.stack([all_volume, all_given.astype(float)], axis=1), axis=0,
                            return_inverse=True)
    back = back.ravel()
    volume, given = cells[:, 0], cells[:, 1].astype(np.int64)
    n = volume.size
    need = given < 0
    out = {k: np.zeros(n) for k in ("load", "service_level", "asa_s", "wait_probability", "abandon_rate",
                                     "occupancy")}
    agents = np.where(need, 0, given)
    try:
        parts = []
        erlang_c = req.model == PlanModel.erlang_c
        if need.any():
            parts.append((need, required_agents(
                "erlang_c" if erlang_c else "erlang_a", volume[need], req.aht_s, req.interval_s,
                req.target_service_level, req.target_answer_s, req.concurrency, req.max_occupancy,
                req.target_asa_s, req.max_abandon_rate, req.patience_s)))
        if (~need).any():
            g = ~need
            args = (volume[g], req.aht_s, req.interval_s, given[g], req.target_answer_s)
            if erlang_c:
                metrics = erlang_c_metrics(*args, req.concurrency)
            else:
                assert req.patience_s is not None  # the schema requires it with erlang_a
                metrics = erlang_a_metrics(*args, req.patience_s, req.concurrency)
            parts.append((g, metrics))
        for mask, m in parts:
            agents[mask] = m.agents
            for k in out:
                out[k][mask] = getattr(m, k)
        sched = scheduled(agents, req.shrinkage)
    except ValueError as exc:  # the schema checks everything first; this is the maths' own guard
        raise Invalid("body", str(exc)) from None
    return Staffing(volume=all_volume, agents=agents[back], scheduled=sched[back],
                    **{k: v[back] for k, v in out.items()})


