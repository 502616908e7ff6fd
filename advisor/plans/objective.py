"""The objective: what makes one plan better than another on the same path.

It lives in an editable file, rules/objective.yaml (a later rule folder's objective.yaml replaces
it whole), read and checked here; errors name the file and line. The planner sorts each path's
plans by `Objective.key` and keeps the first; the rules then choose among the paths' winners.

Every sort term is a monotone function of a plan's numbers (a class is a band of quality loss,
`usable` a threshold on quality and speed), so the first plan of a path is never dominated on it:
no other plan of the path has no more quality loss, no less speed, no more cost and no shorter
context (tests/test_plans.py checks it over the KB). model_score, another model's published
score (rules/objective.yaml `model_score`), is monotone too: scores within tie_points of the
path's best are raised to it, which never ranks a higher score below a lower one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, partial
from operator import attrgetter
from pathlib import Path


from advisor.errors import AdvisorError, AdvisorErrors
from advisor.limits import short
from advisor.yamlfile import YamlFileError, is_mapping, read_yaml

FILE_NAME = "objective.yaml"
PREFERENCES = ("quality", "speed", "cost")
SEVERE = "severe"
# Plan attributes a sort term may name (all numbers or booleans on advisor.plans.plan.Plan).
SORTABLE = ("usable", "context_tokens", "model_score", "parameters", "good_quality", "speed_band",
            "fast_band",
            "quality_class", "quality_loss_pct",
            "decode_tokens_per_s", "prefill_tokens_per_s", "usd_per_million_tokens",
            "usd_per_hour", "gpu_count", "nodes", "levers", "spilled_slower", "added_gpus",
            "restricted_licence")
_KEYS = {"prefer", "quality_classes", "good_quality", "speed_bands", "usable",
         "context_floor_tokens", "order"}
# Optional keys (an objective file written before them still loads: its defaults below)
_OPTIONAL = {"model_score", "fast_bands", "beats_asked_speedup", "defaulted_context_tokens",
             "spill_slowdown", "band_tolerance"}
# Sort terms read from another attribute and finished in Objective.key: spilled_slower is
# `offload` and the decode speed against the path's spill floor.
_READS = {"spilled_slower": "offload"}
_SCORE_KEYS = {"tie_points", "quality_class", "decode_tokens_per_s"}


_NO_BOUND = object()


def _getter(attrs: list[str]):
    """A function of a plan that returns its `attrs` as a tuple (attrgetter of one returns the
    bare value)."""
    get = attrgetter(*attrs)
    return get if len(attrs) > 1 else partial(_one, get)


def _one(get, plan) -> tuple:
    return (get(plan),)


@dataclass(frozen=True)
class Usable:
    quality_class: int          # index into Objective.class_names: at most this one
    decode_tokens_per_s: float  # at least this
    # for a reasoning model (one with recommended_output_tokens: it writes its thinking before
    # the answer), also at least this fast and at most this class (objective.yaml
    # usable.<prefer>.reasoning_decode_tokens_per_s, reasoning_quality_class; None: as above)
    reasoning_decode_tokens_per_s: float = 0.0
    reasoning_quality_class: int | None = None


@dataclass(frozen=True)
class ScoreTerm:
    """How a plan's model_score is taken from its model's published score (objective.yaml
    `model_score`)."""
    tie_points: float           # scores this close to the best one count as equal to it
    quality_class: int          # index into Objective.class_names: the score counts at most this
    decode_tokens_per_s: float  # ... and at least this fast


@dataclass(frozen=True)
class Objective:
    path: Path
    prefer: str
    class_names: tuple[str, ...]          # best first; the last is "severe"
    class_bounds: tuple[float, ...]       # loss_pct upper bound of each but the last
    speed_bounds: tuple[float, ...]       # tokens/s lower bound of each speed band
    good_class: int                       # classes up to this index are good quality
    usable: dict                          # preference -> Usable
    context_floor_tokens: int
    order: dict                           # preference -> tuple of (attribute, descending)
    score: ScoreTerm                      # how model_score counts another model's published score
    fast_bounds: tuple[float, ...] = ()   # tokens/s lower bound of each band above speed_bounds
    # how many times as fast as the question as asked a plan must decode to be recommended over
    # it for its speed (objective.yaml `beats_asked_speedup`; advisor.plans.evaluate.beats_asked)
    beats_asked_speedup: float = 1.5
    # a context the question did not give counts as whole from this many tokens
    # (objective.yaml `defaulted_context_tokens`; advisor.plans.evaluate.context_cap)
    defaulted_context_tokens: int = 8192
    # a plan with part of the model in system RAM that decodes below 1/spill_slowdown of the
    # path's fastest good-quality plan held on the GPUs counts as spilled_slower
    # (objective.yaml `spill_slowdown`; Objective.spill_floor)
    spill_slowdown: float = 2.0
    # speeds within this ratio of the path's best plan share its speed and fast band
    # (objective.yaml `band_tolerance`; Planner.best); 1: bands as they fall
    band_tolerance: float = 1.0

    def quality_class(self, loss_pct: float) -> int:
        for i, bound in enumerate(self.class_bounds):
            if loss_pct <= bound:
                return i
        return len(self.class_bounds)

    def speed_band(self, decode_tokens_per_s: float) -> int:
        """How many speed-band bounds the speed reaches (0: below the first)."""
        return sum(1 for b in self.speed_bounds if decode_tokens_per_s >= b)

    def fast_band(self, decode_tokens_per_s: float) -> int:
        """How many of the bounds above reading speed (objective.yaml `fast_bands`) the speed
        reaches (0: below the first, or none given)."""
        return sum(1 for b in self.fast_bounds if decode_tokens_per_s >= b)

    def is_usable(self, prefer: str, quality_class: int, decode_tokens_per_s: float | None,
                  reasoning: bool = False) -> bool:
        """Whether a plan of this quality class (index into class_names) and single-stream
        decode speed (tokens/s; None: unknown, never usable) reaches the objective's `usable`
        thresholds under `prefer`. reasoning: the plan runs a reasoning model (KB
        recommended_output_tokens), which must also reach reasoning_decode_tokens_per_s: its
        thinking tokens come before every answer, and at most reasoning_quality_class: errors
        compound over a long chain of thought."""
        floor, worst = self.floor(prefer, reasoning)
        return (quality_class <= worst and decode_tokens_per_s is not None
                and decode_tokens_per_s >= floor)

    def floor(self, prefer: str, reasoning: bool = False) -> tuple[float, int]:
        """The `usable` thresholds under `prefer`: (the least decode speed in tokens/s, the
        worst quality class, an index into class_names), a reasoning model's where `reasoning`
        (the faster speed and the better class of the two)."""
        u = self.usable[prefer]
        floor, worst = u.decode_tokens_per_s, u.quality_class
        if reasoning:
            floor = max(floor, u.reasoning_decode_tokens_per_s)
            if u.reasoning_quality_class is not None:
                worst = min(worst, u.reasoning_quality_class)
        return floor, worst

    def floor_text(self, prefer: str, reasoning: bool = False) -> str:
        """The thresholds of `floor` in words: '8 tokens/s and quality small or better'."""
        floor, worst = self.floor(prefer, reasoning)
        return f"{floor:,g} tokens/s and quality {self.class_names[worst]} or better"

    def scored(self, score: float | None, quality_class: int,
               decode_tokens_per_s: float | None) -> float | None:
        """A published score (percent) as the another-model path ranks it, before ties: None
        (ranked after every plan with one) when there is no comparable score, or the plan is
        below the quality class or speed the score counts at: a score was measured on the
        model as published, not on it at 2 bits a weight or crawling."""
        t = self.score
        if (score is None or quality_class > t.quality_class or decode_tokens_per_s is None
                or decode_tokens_per_s < t.decode_tokens_per_s):
            return None
        return float(score)

    def tie_scores(self, scores: list) -> list:
        """`scores` (each a float or None) with every score within tie_points of the highest
        raised to it: models that close count as equal (published scores of one model differ
        by as much between evaluators and runs). Monotone: a higher score never ranks lower."""
        top = max((x for x in scores if x is not None), default=None)
        if top is None:
            return list(scores)
        return [top if x is not None and x >= top - self.score.tie_points - 1e-9 else x
                for x in scores]

    def spill_floor(self, plans) -> float | None:
        """The decode speed (tokens/s) below which a plan of `plans` (one path's) with part of
        the model in system RAM is spilled_slower: the fastest usable, good-quality plan among
        them that is held entirely on the GPUs, divided by spill_slowdown; None without one.
        An expert does not move layers to RAM for a better quality class when a good format on
        the card runs twice as fast: Llama 3.1 8B on an 8 GB card runs Q6_K on the card at
        about 50 tokens/s, not Q8_0 with 7 layers in RAM at 15."""
        top = max((p.decode_tokens_per_s for p in plans
                   if p.usable and p.good_quality and not p.offload), default=None)
        return None if top is None else top / self.spill_slowdown

    def key(self, plan, prefer: str, context_cap: int | None = None,
            spill_floor: float | None = None, speed: float | None = None) -> tuple:
        """The sort key of a plan under a preference: smaller sorts first. context_cap: the
        context_tokens term counts at most this many tokens (a context the question did not
        give: advisor.plans.evaluate.context_cap), at most defaulted_context_tokens for a plan
        not of good quality; None: as it is. spill_floor: the path's
        spill_floor (None: no plan is spilled_slower). speed: the decode speed (tokens/s) to rank
        the plan at instead of its own, in the speed terms (speed_band, fast_band,
        decode_tokens_per_s; band_tolerance)."""
        get, descending = self._terms[prefer]
        values = list(get(plan))
        at = self._index[prefer]
        over = {}  # term -> the value it takes instead of the plan's own
        if speed is not None:
            over.update(speed_band=self.speed_band(speed), fast_band=self.fast_band(speed),
                        decode_tokens_per_s=speed)
        i = at.get("context_tokens")
        if context_cap is not None and i is not None and values[i] is not None:
            if not getattr(plan, "good_quality", True):
                # a reasoning model's budget (context_cap above the defaulted context) is worth
                # levers, never a quality class below good: Qwen3 32B on a 24 GB Mac runs a
                # 4-bit format at a shorter context, not Q2_K holding 32,768 tokens
                context_cap = min(context_cap, self.defaulted_context_tokens)
            if values[i] > context_cap:
                over["context_tokens"] = context_cap
        i = at.get("spilled_slower")
        if i is not None:
            over["spilled_slower"] = (spill_floor is not None and bool(values[i])
                                      and (plan.decode_tokens_per_s or 0.0) < spill_floor)
        for term, v in over.items():
            if term in at:
                values[at[term]] = v
        out = []
        for v, down in zip(values, descending):
            if v is None:
                v = -math.inf if down else math.inf   # unknown sorts last
            elif v.__class__ is bool:
                v = int(v)
            out.append(-v if down else v)
        return tuple(out)

    def bound(self, prefer: str, values: dict) -> tuple | None:
        """The smallest key (as key() gives it) that a plan can have whose attributes are
        `values`: attribute -> its value, or a (low, high) range of the values it may take.
        None when a sort term has no entry: nothing can be said. A plan whose bound is above
        the key of a plan already found cannot be its path's best (every term of the bound is
        at most the plan's, so the tuple is too), which lets the planner skip sizing it."""
        out = []
        for attr, down in self.order[prefer]:
            v = values.get(attr, _NO_BOUND)
            if v is None:
                out.append(math.inf)  # unknown sorts last, as in key()
            elif v is _NO_BOUND:
                return None
            elif v.__class__ is tuple:
                out.append(-v[1] if down else v[0])  # bools are ints here: -True == -1
            else:
                out.append(-v if down else v)
        return tuple(out)

    @cached_property
    def _index(self) -> dict:
        """preference -> {sort term: its position among the preference's terms}"""
        return {name: {a: i for i, (a, _) in enumerate(terms)} for name, terms in self.order.items()}

    def speed_prefix(self, prefer: str) -> int:
        """How many sort terms come before the first speed term (speed_band, fast_band,
        decode_tokens_per_s) under a preference: plans that differ there are not ranked as one
        speed (Planner.best)."""
        at = self._index[prefer]
        found = [at[t] for t in ("speed_band", "fast_band", "decode_tokens_per_s") if t in at]
        return min(found) if found else len(self.order[prefer])

    def near(self, a: float | None, b: float | None) -> bool:
        """Whether two decode speeds are within band_tolerance of each other."""
        return bool(a and b) and max(a / b, b / a) <= self.band_tolerance

    @cached_property
    def _terms(self) -> dict:
        """preference -> (a getter of the sort terms' values as a tuple, which are descending)"""
        return {name: (_getter([_READS.get(a, a) for a, _ in terms]), tuple(d for _, d in terms))
                for name, terms in self.order.items()}


def find_objective(rule_dirs: list[Path]) -> Path:
    """The objective file in force: the last rule folder that has one. AdvisorError where a rule
    folder's objective.yaml is not a regular file (a folder, a FIFO, a device): it was ignored
    silently, and the advice then followed another objective than the user's (hostile pass
    14A)."""
    for d in rule_dirs:
        if (d / FILE_NAME).exists() and not (d / FILE_NAME).is_file():
            raise AdvisorError(f"{d / FILE_NAME}: not a regular file; the objective of a rule "
                               f"folder is a YAML file named {FILE_NAME}")
    found = [d / FILE_NAME for d in rule_dirs if (d / FILE_NAME).is_file()]
    if not found:
        raise AdvisorError(f"no {FILE_NAME} in the rule folders ({', '.join(map(str, rule_dirs))})")
    return found[-1]


def load_objective(path: Path) -> Objective:
    """Read and check an objective file; AdvisorError lists every problem as path:line: message."""
    try:
        node, data = read_yaml(path)
    except YamlFileError as exc:
        raise AdvisorError(f"{path}:{exc.line}: objective: {exc.message}") from None
    errors: list[str] = []
    lines = {k.value: k.start_mark.line + 1 for k, _ in node.value} if is_mapping(node) else {}

    def err(key: str, msg: str) -> None:
        errors.append(f"{path}:{lines.get(key, 1)}: objective: {msg}")

    if not isinstance(data, dict):
        raise AdvisorError(f"{path}:1: objective: a mapping with {', '.join(sorted(_KEYS))}")
    for k in data:
        if k not in _KEYS | _OPTIONAL:
            err(k, f"unknown key '{k}' (known: {', '.join(sorted(_KEYS | _OPTIONAL))})")
    missing = sorted(_KEYS - set(data))
    if missing:
        err("prefer", f"missing {', '.join(missing)}")
        raise AdvisorErrors(errors)
    prefer = data["prefer"]
    if prefer not in PREFERENCES:
        err("prefer", f"prefer must be one of {', '.join(PREFERENCES)}, not {short(prefer)}")
    classes = data["quality_classes"]
    names, bounds = [], []
    if not isinstance(classes, dict) or not classes:
        err("quality_classes", "quality_classes maps class names to loss_pct bounds")
    else:
        for name, bound in classes.items():
            if not isinstance(bound, (int, float)) or isinstance(bound, bool) or not 0 <= bound < 1e6:
                err("quality_classes", f"class '{name}': bound must be a number of percent, not {short(bound)}")
                continue
            if bounds and bound <= bounds[-1]:
                err("quality_classes", f"class '{name}': bounds must grow ({bound} after {bounds[-1]})")
            names.append(str(name))
            bounds.append(float(bound))
        if SEVERE in names:
            err("quality_classes", f"'{SEVERE}' is the class above the last bound; do not list it")
    names.append(SEVERE)
    usable: dict = {}
    raw_u = data["usable"]
    for p in PREFERENCES:
        u = raw_u.get(p) if isinstance(raw_u, dict) else None
        if (not isinstance(u, dict) or not {"quality_class", "decode_tokens_per_s"} <= set(u)
                or not set(u) <= {"quality_class", "decode_tokens_per_s",
                                  "reasoning_decode_tokens_per_s", "reasoning_quality_class"}):
            err("usable", f"usable.{p} needs quality_class and decode_tokens_per_s "
                          "(and may give reasoning_quality_class, reasoning_decode_tokens_per_s)")
            continue
        bad = [k for k in ("quality_class", "reasoning_quality_class")
               if k in u and u[k] not in names]
        if bad:
            err("usable", f"usable.{p}.{bad[0]} {short(str(u[bad[0]]))} is not one of {', '.join(names)}")
            continue
        speeds = {}
        for k in ("decode_tokens_per_s", "reasoning_decode_tokens_per_s"):
            v = u.get(k, 0.0)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v < 1e6:
                err("usable", f"usable.{p}.{k} must be a number of tokens/s")
            else:
                speeds[k] = float(v)
        if len(speeds) < 2:
            continue
        rq = u.get("reasoning_quality_class")
        usable[p] = Usable(names.index(u["quality_class"]), **speeds,
                           reasoning_quality_class=None if rq is None else names.index(rq))
    good = data["good_quality"]
    if good not in names:
        err("good_quality", f"good_quality '{good}' is not one of {', '.join(names)}")
        good = names[0]
    bands = data["speed_bands"]
    if (not isinstance(bands, list) or not bands
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 < b < 1e6 for b in bands)
            or any(b2 <= b1 for b1, b2 in zip(bands, bands[1:]))):
        err("speed_bands", "speed_bands is a growing list of tokens/s bounds")
        bands = [1.0]
    fast = data.get("fast_bands", [])
    if (not isinstance(fast, list)
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 < b < 1e6 for b in fast)
            or any(b2 <= b1 for b1, b2 in zip(fast, fast[1:]))
            or (fast and isinstance(bands, list) and bands and fast[0] <= bands[-1])):
        err("fast_bands", "fast_bands is a growing list of tokens/s bounds above the last of speed_bands")
        fast = []
    floor = data["context_floor_tokens"]
    if not isinstance(floor, int) or isinstance(floor, bool) or not 1 <= floor <= 10_000_000:
        err("context_floor_tokens", "context_floor_tokens must be a whole number of tokens")
    # without model_score: ties within 2 points, counted at the quality and speed usable under
    # --prefer quality (the defaults of rules/objective.yaml)
    u = usable.get("quality", Usable(len(names) - 1, 0.0))
    score = ScoreTerm(2.0, u.quality_class, u.decode_tokens_per_s)
    raw_s = data.get("model_score", {"tie_points": 2.0, "quality_class": names[u.quality_class],
                                     "decode_tokens_per_s": u.decode_tokens_per_s})
    if not isinstance(raw_s, dict) or set(raw_s) != _SCORE_KEYS:
        err("model_score", f"model_score needs {', '.join(sorted(_SCORE_KEYS))}")
    else:
        tie, sq, sd = raw_s["tie_points"], raw_s["quality_class"], raw_s["decode_tokens_per_s"]
        bad = False
        if not isinstance(tie, (int, float)) or isinstance(tie, bool) or not 0 <= tie <= 100:
            err("model_score", "model_score.tie_points must be a number of points from 0 to 100, "
                               f"not {short(tie)}")
            bad = True
        if sq not in names:
            err("model_score", f"model_score.quality_class {short(sq)} is not one of {', '.join(names)}")
            bad = True
        if not isinstance(sd, (int, float)) or isinstance(sd, bool) or not 0 <= sd < 1e6:
            err("model_score", "model_score.decode_tokens_per_s must be a number of tokens/s")
            bad = True
        if not bad:
            score = ScoreTerm(float(tie), names.index(sq), float(sd))
    order: dict = {}
    raw_o = data["order"]
    for p in PREFERENCES:
        terms = raw_o.get(p) if isinstance(raw_o, dict) else None
        if not isinstance(terms, list) or not terms:
            err("order", f"order.{p} must list plan attributes")
            continue
        parsed = []
        for t in terms:
            text = str(t)
            attr = text[1:] if text.startswith("-") else text  # one '-': '--x' is no attribute
            if attr not in SORTABLE:
                err("order", f"order.{p}: unknown attribute {short(t)} (known: {', '.join(SORTABLE)})")
                continue
            if attr in {a for a, _ in parsed}:  # a second mention sorts nothing (or contradicts)
                err("order", f"order.{p} lists {attr} twice")
                continue
            parsed.append((attr, text.startswith("-")))
        order[p] = tuple(parsed)

    def ratio(key: str, default: float, high: float, words: str) -> float:
        value = data.get(key, default)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 1 <= value <= high:
            err(key, f"{key} is {words}, from 1 to {high:g}, not {short(value)}")
            return default
        return float(value)

    speedup = ratio("beats_asked_speedup", 1.5, 1000, "how many times as fast")
    defaulted = data.get("defaulted_context_tokens", 8192)
    if not isinstance(defaulted, int) or isinstance(defaulted, bool) or not 1 <= defaulted <= 10_000_000:
        err("defaulted_context_tokens", "defaulted_context_tokens must be a whole number of tokens, "
                                        f"from 1 to 10,000,000, not {short(defaulted)}")
        defaulted = 8192
    slowdown = ratio("spill_slowdown", 2.0, 1000, "how many times as slow")
    tolerance = ratio("band_tolerance", 1.0, 2, "a ratio of speeds")
    if errors:
        raise AdvisorErrors(errors)
    return Objective(path, prefer, tuple(names), tuple(bounds), tuple(float(b) for b in bands),
                     names.index(good), usable, floor, order, score,
                     tuple(float(b) for b in fast), speedup, defaulted, slowdown, tolerance)
