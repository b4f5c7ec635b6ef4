"""Plain-Python reference of the scheduler semantics (docs/simulator.md), heapq-driven.

Written for clarity, not speed: objects, deques and a heap of events.  It must give the
same per-request start and completion times (bit for bit) as the Numba kernel in
``dse.sim`` for every registered policy; it is also the speed baseline of the benchmark.
Per-request energy, utilisation and batch accounting are accumulated directly layer by
layer (the kernel uses running sums), so those agree to rounding only.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

import numpy as np

from dse.sim import ModelTables, get_policy
from dse.sim._predict import predictions

INF = math.inf


class _Batch:
    def __init__(self, model, members, now):
        self.model = model
        self.members = list(members)   # request ids
        self.layer = 0                 # next layer to run
        self.t0 = now
        self.paused_at = 0.0
        self.catchup = None            # list of ids during a catch-up
        self.cu_layer = 0
        self.cu_last = -1


class _Executor:
    def __init__(self, idx):
        self.idx = idx
        self.running = None            # _Batch
        self.in_catchup = False
        self.busy = False
        self.t_end = INF
        self.wake = INF
        self.token = 0                 # invalidates stale heap entries
        self.open = {}                 # model -> _Batch (running or paused)


class ReferenceSim:
    def __init__(self, arrival, stream, model, exit, stream_slo, tables, policy, params=None,
                 queue_cap=1024, horizon_ms=None):
        pol = get_policy(policy)
        if pol.name not in REFERENCE_POLICIES:
            raise KeyError(f"no reference implementation of policy {pol.name!r}")
        self.policy = pol.name
        self.p = pol.resolve(params)
        b_tab = min(t.ms.shape[1] for t in tables) - 1
        if "max_batch" in self.p:
            self.p["max_batch"] = min(int(self.p["max_batch"]), b_tab)
        self.arrival = [float(a) for a in arrival]
        self.model = [int(m) for m in model]
        self.stream = [int(s) for s in stream]
        slo = [float(s) for s in stream_slo]
        self.deadline = [a + slo[s] for a, s in zip(self.arrival, self.stream, strict=True)]
        self.exit_layer = [tables[m].exit_layers[int(e)] for m, e in zip(self.model, exit, strict=True)]
        self.M = len(tables)
        self.ms = [t.ms.tolist() for t in tables]
        self.en = [t.energy_uj.tolist() for t in tables]
        self.ut = [t.utilisation.tolist() for t in tables]
        self.L = [t.ms.shape[0] for t in tables]
        self.cum = []
        for m in range(self.M):
            rows, run = [], [0.0] * (b_tab + 1)
            for layer in range(self.L[m]):
                run = [run[b] + self.ms[m][layer][b] for b in range(b_tab + 1)]
                rows.append(run)
            self.cum.append(rows)
        self.iso = [self.cum[m][self.L[m] - 1][1] for m in range(self.M)]
        # exit-profile predictions (alive[l], erem, esum, epre, epsum, whi [l][b])
        self.alive, self.pred = [], []
        for t in tables:
            alive, pred = predictions(np.asarray(t.ms)[:, :b_tab + 1], t.exit_layers,
                                      t.exit_profile)
            self.alive.append(alive.tolist())
            self.pred.append(dict(zip(("erem", "esum", "epre", "epsum", "whi"),
                                      pred.tolist(), strict=True)))
        self.model_slo = [INF] * self.M
        for s, m in zip(self.stream, self.model, strict=True):
            self.model_slo[m] = min(self.model_slo[m], slo[s])
        n = len(self.arrival)
        self.cap = queue_cap
        if horizon_ms is None:
            finite = [s for s in slo if math.isfinite(s)]
            horizon_ms = self.arrival[-1] + 10.0 * (max(finite) if finite else 1e6)
        self.horizon = horizon_ms
        self.queues = [deque() for _ in range(self.M)]
        n_x = int(self.p["instances"]) if pol.instances_param else 1
        self.ex = [_Executor(x) for x in range(n_x)]
        self.start = [math.nan] * n
        self.done = [math.nan] * n
        self.dropped = [False] * n
        self.energy = [0.0] * n
        self.util_ms = [0.0] * n
        self.batch_sum = [0.0] * n
        self.aimd = [1] * self.M
        self.now = 0.0
        self.heap = [(a, 0, i, 0) for i, a in enumerate(self.arrival)]
        heapq.heapify(self.heap)

    # --- queues -----------------------------------------------------------------------
    def oldest_model(self):
        best, t = -1, INF
        for m, q in enumerate(self.queues):
            if q and self.arrival[q[0]] < t:
                best, t = m, self.arrival[q[0]]
        return best

    def remaining(self, m, layer, n):
        last = self.L[m] - 1
        if layer == 0:
            return self.cum[m][last][n]
        return self.cum[m][last][n] - self.cum[m][layer - 1][n]

    # --- policies: return (action, model, k, wake) -------------------------------------
    def decide(self, ex):
        return REFERENCE_POLICIES[self.policy](self, ex)

    def _fcfs(self, ex):
        if ex.running:
            return ("continue",)
        m = self.oldest_model()
        return ("wait", INF) if m < 0 else ("start", m, 1)

    def _static(self, ex):
        if ex.running:
            return ("continue",)
        mb, delay = self.p["max_batch"], self.p["max_queue_delay_ms"]
        full = [m for m in range(self.M) if len(self.queues[m]) >= mb]
        if full:
            m = min(full, key=lambda m: (self.arrival[self.queues[m][0]], m))
            return ("start", m, mb)
        m = self.oldest_model()
        if m < 0:
            return ("wait", INF)
        due = self.arrival[self.queues[m][0]] + delay
        if self.now >= due:
            return ("start", m, len(self.queues[m]))
        return ("wait", due)

    def _adaptive(self, ex):
        if ex.running:
            return ("continue",)
        m = self.oldest_model()
        return ("wait", INF) if m < 0 else ("start", m, min(len(self.queues[m]), self.aimd[m]))

    def _adaptive_done(self, batch):
        m = batch.model
        if self.now - batch.t0 > self.p["slo_fraction"] * self.model_slo[m]:
            self.aimd[m] = max(1, int(self.aimd[m] * self.p["backoff"]))
        else:
            self.aimd[m] = min(self.p["max_batch"], self.aimd[m] + self.p["additive_step"])

    def _admit(self, batch, kmax, slack):
        m, n = batch.model, len(batch.members)
        ld, last, cum = batch.layer - 1, self.L[m] - 1, self.cum[m]
        dmin = min((self.deadline[i] - slack for i in batch.members), default=INF)
        for k in range(kmax, 0, -1):
            if self.now + cum[ld][k] + (cum[last][n + k] - cum[ld][n + k]) <= dmin:
                return k
        return 0

    def _greedy_start(self, mb):
        m = self.oldest_model()
        return ("wait", INF) if m < 0 else ("start", m, min(len(self.queues[m]), mb))

    def _lazy(self, ex):
        mb = self.p["max_batch"]
        b = ex.running
        if b is None:
            return self._greedy_start(mb)
        q, n = len(self.queues[b.model]), len(b.members)
        if q and n < mb:
            k = self._admit(b, min(q, mb - n), self.p["slack_ms"])
            if k:
                return ("catchup", k)
        return ("continue",)

    def _fluid(self, ex):
        mb = self.p["max_batch"]
        b = ex.running
        if b is None:
            return self._fluid_idle(ex, mb)
        m = b.model
        q, n = len(self.queues[m]), len(b.members)
        last_ok = int(self.p["catchup_last"] * (self.L[m] - 1))
        if (q and n < mb and q >= self.p["min_queue"] and b.layer - 1 <= last_ok
                and n <= self.p["refill_level"] * mb):
            k = self._fluid_refill(b, q, min(q, mb - n))
            if k:
                return ("catchup", k)
        if self.M > 1:
            action = self._fluid_preempt(ex, b, mb)
            if action is not None:
                return action
        return ("continue",)

    def _fluid_start_size(self, m, bmax):
        erem, best = self.pred[m]["erem"][0], 1
        for k in range(2, bmax + 1):
            if k * erem[best] > best * erem[k]:
                best = k
        return best

    def _fluid_protected(self, batch, w0, e0):
        ds = [self.deadline[i] - self.p["slack_ms"] for i in batch.members]
        return (min((d for d in ds if d >= w0), default=INF),
                min((d for d in ds if e0 <= d < w0), default=INF))

    def _fluid_job(self, ex, m, mb):
        """(action, latest start, worst ms) of model m's next job, or None."""
        t, L, slack = self.pred[m], self.L[m], self.p["slack_ms"]
        b = ex.open.get(m)
        if b is not None:
            n, ld = len(b.members), b.layer
            d = min(self.deadline[i] for i in b.members)
            return (("resume", m), d - slack - t["erem"][ld][n],
                    t["whi"][L][n] - t["whi"][ld][n])
        q = self.queues[m]
        if not q:
            return None
        k = self._fluid_start_size(m, min(len(q), mb))
        return ("start", m, k), self.deadline[q[0]] - slack - t["erem"][0][k], t["whi"][L][k]

    def _fluid_idle(self, ex, mb):
        jobs = [(j[1], m, j[0]) for m in range(self.M)
                if (j := self._fluid_job(ex, m, mb)) is not None and j[1] >= self.now]
        if jobs:
            return min(jobs, key=lambda j: (j[0], j[1]))[2]
        for m in range(self.M):
            if m in ex.open:
                return ("resume", m)
        m = self.oldest_model()
        if m < 0:
            return ("wait", INF)
        return ("start", m, self._fluid_start_size(m, min(len(self.queues[m]), mb)))

    def _fluid_preempt(self, ex, batch, mb):
        m, n, ld, now = batch.model, len(batch.members), batch.layer, self.now
        t, L = self.pred[m], self.L[m]
        w_rem, e_rem = t["whi"][L][n] - t["whi"][ld][n], t["erem"][ld][n]
        d_w, _ = self._fluid_protected(batch, now + w_rem, now + e_rem)
        best = None
        for o in range(self.M):
            job = None if o == m else self._fluid_job(ex, o, mb)
            if job is None:
                continue
            action, lst, w = job
            if lst < now or lst >= now + e_rem or now + w + w_rem > d_w:
                continue
            if best is None or lst < best[0]:
                best = (lst, action)
        return None if best is None else best[1]

    def _fluid_refill(self, batch, q, kmax):
        """docs/simulator.md, fluid: protected members, then the least expected cost."""
        m = batch.model
        n, ld, L = len(batch.members), batch.layer, self.L[m]
        t = self.pred[m]
        erem, esum, epre, epsum, whi = (t[k] for k in ("erem", "esum", "epre", "epsum", "whi"))

        def interp(rows, x):
            lo = int(x)
            f = x - lo
            return rows[lo] if f == 0.0 else rows[lo] + f * (rows[lo + 1] - rows[lo])

        now = self.now
        r0, s0 = erem[ld][n], esum[ld][n]
        d_w, d_e = self._fluid_protected(batch, now + (whi[L][n] - whi[ld][n]), now + r0)
        a = self.alive[m][ld]
        best_k, best = 0, 0.0
        for k in range(1, kmax + 1):
            if now + whi[ld][k] + (whi[L][n + k] - whi[ld][n + k]) > d_w:
                break
            x = n + k * a
            pk = epre[ld][k]
            e1 = pk + interp(erem[ld], x)
            if now + e1 > d_e:
                continue
            cost = (n * pk + epsum[ld][k] + interp(esum[ld], x)
                    - (s0 + k * r0 + esum[0][k])
                    + (q - k) * (e1 - (r0 + erem[0][k])))
            if cost < best:
                best_k, best = k, cost
        return best_k

    def _prema(self, ex):
        mb, thr = self.p["max_batch"], self.p["token_threshold"]
        options = []  # (estimate, order, action)
        if ex.running:
            b = ex.running
            options.append((self.remaining(b.model, b.layer, len(b.members)), 0, ("continue",)))
        for m in range(self.M):
            b = ex.open.get(m)
            if b is not None and b is not ex.running:
                if (self.now - b.paused_at) / self.iso[m] >= thr:
                    options.append((self.remaining(m, b.layer, len(b.members)), 1 + m,
                                    ("resume", m)))
        for m in range(self.M):
            q = self.queues[m]
            if m not in ex.open and q and (self.now - self.arrival[q[0]]) / self.iso[m] >= thr:
                k = min(len(q), mb)
                options.append((self.cum[m][self.L[m] - 1][k], 1 + self.M + m, ("start", m, k)))
        if options:
            return min(options, key=lambda o: (o[0], o[1]))[2]
        tokens = []  # (token, order, action)
        for m in range(self.M):
            b = ex.open.get(m)
            if b is not None:
                tokens.append(((self.now - b.paused_at) / self.iso[m], m, ("resume", m)))
        for m in range(self.M):
            q = self.queues[m]
            if m not in ex.open and q:
                tokens.append(((self.now - self.arrival[q[0]]) / self.iso[m], self.M + m,
                               ("start", m, min(len(q), mb))))
        if tokens:
            return max(tokens, key=lambda o: (o[0], -o[1]))[2]
        return ("wait", INF)

    def _bcedge(self, ex):
        if ex.running:
            return ("continue",)
        m = self.oldest_model()
        if m < 0:
            return ("wait", INF)
        q = self.queues[m]
        slack = self.deadline[q[0]] - self.now
        gamma, last = self.p["latency_weight"], self.L[m] - 1
        best_b, best_u = 1, -INF
        for b in range(1, min(len(q), self.p["max_batch"]) + 1):
            t = self.cum[m][last][b]
            u = b / t
            if slack > 0.0 and t > slack:
                u = u * (slack / t) ** gamma
            if u > best_u:
                best_b, best_u = b, u
        return ("start", m, best_b)

    # --- mechanics ----------------------------------------------------------------------
    def _pop(self, m, k):
        ids = [self.queues[m].popleft() for _ in range(k)]
        for i in ids:
            self.start[i] = self.now
        return ids

    def _begin_step(self, ex):
        b = ex.running
        if ex.in_catchup:
            d = self.ms[b.model][b.cu_layer][len(b.catchup)]
        else:
            d = self.ms[b.model][b.layer][len(b.members)]
        ex.busy, ex.t_end = True, self.now + d
        ex.token += 1
        heapq.heappush(self.heap, (ex.t_end, 1, ex.idx, ex.token))

    def apply(self, ex, action):
        ex.wake = INF
        ex.token += 1
        kind = action[0]
        if kind == "continue":
            self._begin_step(ex)
        elif kind == "catchup":
            b = ex.running
            b.catchup = self._pop(b.model, action[1])
            b.cu_layer, b.cu_last = 0, b.layer - 1
            ex.in_catchup = True
            self._begin_step(ex)
        elif kind in ("start", "resume"):
            if ex.running is not None:
                ex.running.paused_at = self.now
            m = action[1]
            if kind == "start":
                ex.open[m] = _Batch(m, self._pop(m, action[2]), self.now)
            ex.running = ex.open[m]
            ex.in_catchup = False
            self._begin_step(ex)
        else:
            ex.wake = action[1]
            if ex.wake < INF:
                heapq.heappush(self.heap, (ex.wake, 1, ex.idx, ex.token))

    def _run_layer(self, m, layer, ids):
        """Account one layer pass over ids; return the ids still active after it."""
        n = len(ids)
        e = self.en[m][layer][n] / n
        u = self.ms[m][layer][n] * self.ut[m][layer][n] / n
        keep = []
        for i in ids:
            self.energy[i] += e
            self.util_ms[i] += u
            self.batch_sum[i] += n
            if self.exit_layer[i] == layer:
                self.done[i] = self.now
            else:
                keep.append(i)
        return keep

    def _end_step(self, ex):
        ex.busy = False
        b = ex.running
        if not ex.in_catchup:
            b.members = self._run_layer(b.model, b.layer, b.members)
            b.layer += 1
            if not b.members:
                del ex.open[b.model]
                ex.running = None
                done = BATCH_DONE_HOOKS.get(self.policy)
                if done is not None:
                    done(self, b)
            return True
        b.catchup = self._run_layer(b.model, b.cu_layer, b.catchup)
        b.cu_layer += 1
        if not b.catchup or b.cu_layer > b.cu_last:
            b.members.extend(b.catchup)
            b.catchup = None
            ex.in_catchup = False
            return True
        self._begin_step(ex)
        return False

    def run(self):
        pending = set()
        while True:
            while pending:
                ex = self.ex[min(pending)]
                pending.discard(ex.idx)
                self.apply(ex, self.decide(ex))
            if not self.heap:
                break
            t, kind, idx, token = heapq.heappop(self.heap)
            if kind == 1 and token != self.ex[idx].token:
                continue
            if t > self.horizon:
                for i in range(len(self.arrival)):
                    if not self.dropped[i] and math.isnan(self.done[i]):
                        self.dropped[i] = True
                break
            self.now = t
            if kind == 0:
                self._arrive(idx)
                while self.heap and self.heap[0][1] == 0 and self.heap[0][0] == t:
                    self._arrive(heapq.heappop(self.heap)[2])
                pending.update(e.idx for e in self.ex if e.running is None and not e.busy)
            else:
                ex = self.ex[idx]
                if ex.busy:
                    if self._end_step(ex):
                        pending.add(idx)
                else:
                    ex.wake = INF
                    pending.add(idx)
        return self

    def _arrive(self, i):
        q = self.queues[self.model[i]]
        if len(q) >= self.cap:
            self.dropped[i] = True
        else:
            q.append(i)

    def arrays(self) -> dict:
        return {"start_ms": np.array(self.start), "completion_ms": np.array(self.done),
                "dropped": np.array(self.dropped), "energy_uj": np.array(self.energy),
                "util_ms": np.array(self.util_ms), "batch_sum": np.array(self.batch_sum)}


#: The reference rules of every registered policy (the same contract as the kernel: a
#: policy without an entry here is an error, never a fall-through to another policy).
REFERENCE_POLICIES = {name: getattr(ReferenceSim, "_" + name) for name in
                      ("fcfs", "static", "adaptive", "lazy", "prema", "bcedge", "fluid")}
#: Hooks run when a batch empties (the kernel's ``on_batch_done``).
BATCH_DONE_HOOKS = {"adaptive": ReferenceSim._adaptive_done}


def reference_simulate(arrival, stream, model, exit, stream_slo, tables, policy, params=None,
                       **kwargs) -> dict:
    """Run the reference; return per-request arrays (same names as ``SimResult``)."""
    return ReferenceSim(arrival, stream, model, exit, stream_slo, tables, policy, params,
                        **kwargs).run().arrays()


# --- synthetic scenarios for the simulator tests (random tables, no cost model) ----------


def synthetic_tables(rng, n_layers, n_exits, max_batch):
    """A model with per-layer batch-1 times of 0.05..0.5 ms and sublinear batch scaling,
    its exits equally likely."""
    base = rng.uniform(0.05, 0.5, n_layers)
    growth = rng.uniform(0.05, 0.6, n_layers)
    b = np.arange(max_batch + 1, dtype=np.float64)
    ms = base[:, None] * (1.0 + growth[:, None] * (b[None, :] - 1.0))
    ms[:, 0] = 0.0
    energy = ms * rng.uniform(5.0, 50.0, n_layers)[:, None]
    util = np.clip(b[None, :] / (b[None, :] + 2.0), 0.0, 1.0) * np.ones((n_layers, 1))
    exits = sorted(rng.choice(n_layers - 1, size=n_exits - 1, replace=False).tolist())
    return ModelTables(ms, energy, util, tuple(int(e) for e in exits) + (n_layers - 1,),
                       (1.0 / n_exits,) * n_exits)  # synthetic_case draws exits uniformly


def synthetic_case(seed, n_requests=2000, n_models=2, n_streams=3, load=0.8, max_batch=8):
    """Trace arrays + tables: Poisson streams sharing one NPU at roughly ``load``."""
    rng = np.random.default_rng(seed)
    tables = [synthetic_tables(rng, int(rng.integers(3, 14)), int(rng.integers(1, 4)), max_batch)
              for _ in range(n_models)]
    stream_model = rng.integers(0, n_models, n_streams)
    stream_model[:n_models] = np.arange(min(n_models, n_streams))
    iso = np.array([t.ms[:, 1].sum() for t in tables])
    share = rng.dirichlet(np.ones(n_streams))
    mean_service = float(np.sum(share * iso[stream_model]))
    rate = load / mean_service  # requests per ms
    arrival = np.cumsum(rng.exponential(1.0 / rate, n_requests))
    if seed % 3 == 0:  # coarse clock: exercises simultaneous arrivals
        arrival = np.round(arrival, 1)
    stream = rng.choice(n_streams, size=n_requests, p=share)
    model = stream_model[stream]
    exit_ = np.array([rng.integers(0, len(tables[m].exit_layers)) for m in model])
    slo = iso[stream_model] * rng.uniform(2.0, 8.0, n_streams)
    return dict(arrival=arrival, stream=stream, model=model, exit=exit_, slo=slo,
                tables=tables)
