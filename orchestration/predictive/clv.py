"""Expected orders and expected value of customers: BG/NBD with Gamma-Gamma, by SciPy MLE.

For a lead with at least one purchase, what will it buy in the next ``horizon`` days?

- **How many orders**: the BG/NBD model (Fader, Hardie & Lee 2005, "Counting your
  customers the easy way"). While alive, a customer buys as a Poisson process of rate
  lambda ~ Gamma(r, alpha); after each repeat purchase it drops out with probability
  p ~ Beta(a, b). From (x repeat purchases, t_x the time of the last purchase since the
  first, T the age since the first) it gives P(alive) and the expected purchases in
  (T, T + t] (the paper's eq. 10). Why BG/NBD rather than Pareto/NBD: same fit on
  published data, a likelihood without the Pareto/NBD's numerically fragile 2F1 terms,
  and a 4-parameter fit that takes a second on a shop's customers.
- **How much per order**: the Gamma-Gamma model (Fader, Hardie & Lee 2005, "RFM and
  CLV"): each order value of a customer ~ Gamma(p, nu), nu ~ Gamma(q, v). The customer's
  expected order value shrinks its own mean of x repeat orders towards the population mean.

Why a short SciPy fit and not a library: ``lifetimes`` is unmaintained and
``pymc-marketing`` would bring PyMC for four parameters. The likelihoods are written in log
space (``gammaln``, ``betaln``, ``logaddexp``) so large x or T never overflow, the fit is
L-BFGS-B on log-parameters from a fixed start (deterministic), and the tests check the
fit against simulated data with known parameters, Monte Carlo and a published figure.

Counting (as the literature does): one purchase per calendar day, the day's orders summed;
the first purchase day starts the customer's clock and is not a repeat purchase. Time is
in days. ``expected_orders`` therefore counts purchase days.

Small shops: with fewer repeat customers than ``min_customers`` (or a fit that does not
converge) the four BG/NBD parameters are not identified; the method is then
``average_rate``: each lead's own repeat-purchase rate shrunk towards the shop's average
rate, times the horizon (no dropout). The value per order falls back (``own_mean``: the
lead's own mean purchase-day value) with it, or alone when the Gamma-Gamma fit is unusable
(q <= 1: the population's mean order value is infinite). The report says which methods
produced the numbers and why (``method``/``reason``, ``value_method``/``value_reason``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1, roots_jacobi

BGNBD = "bgnbd"
AVERAGE_RATE = "average_rate"
GAMMA_GAMMA = "gamma_gamma"
#: The value fallback: the lead's own mean purchase-day value.
OWN_MEAN = "own_mean"
#: Repeat customers (x >= 1) needed before the BG/NBD and Gamma-Gamma are fitted.
MIN_CUSTOMERS = 50
#: Gauss-Jacobi nodes of the numerically safe expectation (exact to ~1e-10 in the tests).
QUADRATURE_NODES = 64


# --------------------------------------------------------------------------- summaries

def summarise_orders(orders: pd.DataFrame, as_of: dt.datetime | pd.Timestamp) -> pd.DataFrame:
    """Per lead: x, t_x, T (days) and the mean repeat order value, point in time.

    ``orders`` has lead_id, ordered_at, amount_eur and holds only orders that count as
    purchases. Orders at or after ``as_of`` are dropped here, so later data present gives
    the same summaries as data cut at ``as_of``. Orders of one calendar day are one
    purchase (their amounts summed): x = purchase days - 1, t_x = last day - first day,
    T = as_of - first day (fractional when as_of has a time). ``monetary`` is the mean of the
    repeat purchase days (the first excluded, as the Gamma-Gamma fit expects), NaN when
    x = 0; ``mean_order_value`` is the mean over every purchase day (the fallback's value).
    """
    as_of = pd.Timestamp(as_of)
    if as_of.tz is not None:  # compare in naive UTC, as the orders below
        as_of = as_of.tz_convert(None)
    columns = ["lead_id", "x", "t_x", "T", "monetary", "mean_order_value"]
    frame = orders.loc[:, ["lead_id", "ordered_at", "amount_eur"]].copy()
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    if frame["ordered_at"].dt.tz is not None:
        frame["ordered_at"] = frame["ordered_at"].dt.tz_convert(None)
    frame = frame[frame["ordered_at"] < as_of]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame["day"] = frame["ordered_at"].dt.floor("D")
    days = (frame.groupby(["lead_id", "day"], sort=True)["amount_eur"].sum()
            .astype(float).reset_index())
    days["rank"] = days.groupby("lead_id").cumcount()
    per_lead = days.groupby("lead_id").agg(first=("day", "min"), last=("day", "max"),
                                          n=("day", "size"), total=("amount_eur", "sum"))
    repeat = days[days["rank"] > 0].groupby("lead_id")["amount_eur"].mean()
    one_day = pd.Timedelta(days=1)
    result = pd.DataFrame({
        "lead_id": per_lead.index,
        "x": (per_lead["n"] - 1).to_numpy(dtype=int),
        "t_x": ((per_lead["last"] - per_lead["first"]) / one_day).to_numpy(dtype=float),
        "T": ((as_of - per_lead["first"]) / one_day).to_numpy(dtype=float),
        "monetary": repeat.reindex(per_lead.index).to_numpy(dtype=float),
        "mean_order_value": (per_lead["total"] / per_lead["n"]).to_numpy(dtype=float),
    })
    return result.reset_index(drop=True)


# --------------------------------------------------------------------------- BG/NBD

def bgnbd_log_likelihood(params: np.ndarray | tuple[float, float, float, float],
                         x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Each customer's BG/NBD log-likelihood (FHL 2005, eq. 6), in log space.

    L = B(a, b+x)/B(a, b) * G(r+x) a^r / G(r) * [ (alpha+T)^-(r+x)
        + [x>0] a/(b+x-1) * (alpha+t_x)^-(r+x) ]
    The bracket is a log-sum-exp, so neither term underflows for large x or T.
    """
    r, alpha, a, b = (float(v) for v in params)
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    common = (gammaln(r + x) - gammaln(r) + r * np.log(alpha)
              + betaln(a, b + x) - betaln(a, b))
    still_alive = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    dropped = np.full_like(x, -np.inf)
    dropped[repeat] = (np.log(a) - np.log(b + x[repeat] - 1)
                       - (r + x[repeat]) * np.log(alpha + t_x[repeat]))
    return common + np.logaddexp(still_alive, dropped)


@dataclass
class BgNbdFit:
    """Fitted BG/NBD parameters (time in the unit of the data it was fitted on)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    converged: bool
    message: str
    iterations: int

    @property
    def params(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)


def _aggregate(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Unique rows and their counts: customers with the same history share one term
    (day-level data has few distinct (x, t_x, T)), which makes the fit several times faster."""
    stacked = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float)


def _minimise(objective, start: np.ndarray) -> Any:
    return minimize(objective, start, method="L-BFGS-B",
                    options={"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-8})


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
              penalizer_coef: float = 0.0) -> BgNbdFit:
    """Maximum likelihood of (r, alpha, a, b).

    L-BFGS-B on the logs of the parameters (they stay positive without bounds) from a
    fixed start, so the same data give the same fit. Time is rescaled so that the oldest
    customer is 10 units old during the fit (alpha is scaled back): the optimiser then sees
    parameters of comparable size whether the data are in days or weeks.
    ``penalizer_coef`` adds penalizer_coef * sum(params^2) to the mean negative
    log-likelihood, as lifetimes does, to tame a, b on thin data (default 0: pure MLE).
    """
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    scale = 10.0 / float(np.max(T)) if len(T) and np.max(T) > 0 else 1.0
    (ux, ut, uT), weight = _aggregate(x, t_x * scale, T * scale)
    total = weight.sum()

    def objective(log_params: np.ndarray) -> float:
        params = np.exp(log_params)
        ll = bgnbd_log_likelihood(params, ux, ut, uT)
        value = -np.dot(weight, ll) / total + penalizer_coef * float(np.sum(params ** 2))
        return float(value) if np.isfinite(value) else 1e100

    result = _minimise(objective, np.zeros(4))
    r, alpha, a, b = np.exp(result.x)
    params = (r, alpha / scale, a, b)
    ll = float(np.sum(bgnbd_log_likelihood(params, x, t_x, T)))
    return BgNbdFit(r=float(r), alpha=float(alpha / scale), a=float(a), b=float(b),
                    log_likelihood=ll, n_customers=int(len(x)),
                    converged=bool(result.success), message=str(result.message),
                    iterations=int(result.nit))


def probability_alive(params, x, t_x, T) -> np.ndarray:
    """P(alive at T | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)),
    with the ratio taken in log space."""
    r, alpha, a, b = (float(v) for v in params)
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    log_odds_dead = np.full_like(x, -np.inf)
    repeat = x > 0
    log_odds_dead[repeat] = (np.log(a) - np.log(b + x[repeat] - 1) + (r + x[repeat])
                             * (np.log(alpha + T[repeat]) - np.log(alpha + t_x[repeat])))
    return np.exp(-np.logaddexp(0.0, log_odds_dead))


def _expected_if_alive_hyp2f1(params, x, T, t) -> np.ndarray:
    """E[purchases in (T, T+t] | alive] by the paper's eq. 10 numerator:
    (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)],
    z = t/(alpha+T+t). Undefined at a = 1; inaccurate near it and for large x (the
    caller checks the range and falls back)."""
    r, alpha, a, b = (float(v) for v in params)
    z = t / (alpha + T + t)
    log_ratio = (r + x) * (np.log(alpha + T) - np.log(alpha + T + t))
    with np.errstate(all="ignore"):
        series = hyp2f1(r + x, b + x, a + b + x - 1, z)
        return (a + b + x - 1) / (a - 1) * (1.0 - np.exp(log_ratio) * series)


def _expected_if_alive_quadrature(params, x, T, t) -> np.ndarray:
    """The same expectation without 2F1: given alive, lambda ~ Gamma(r+x, alpha+T) and
    p ~ Beta(a, b+x) independently, and an alive customer of (lambda, p) buys
    (1 - exp(-lambda p t)) / p in the next t. Averaging over lambda in closed form leaves
    E_p[(1 - (1 + p t/(alpha+T))^-(r+x)) / p], a smooth bounded integrand, integrated by
    Gauss-Jacobi for the Beta weight (one node set per distinct x)."""
    r, alpha, a, b = (float(v) for v in params)
    result = np.empty_like(x, dtype=float)
    for value in np.unique(x):
        rows = x == value
        nodes, weights = roots_jacobi(QUADRATURE_NODES, b + value - 1, a - 1)
        p = (nodes + 1.0) / 2.0  # Beta(a, b+x) density ~ p^(a-1) (1-p)^(b+x-1)
        weights = weights / weights.sum()
        rate = t / (alpha + T[rows])
        shape = r + value
        # (1 - (1 + p*rate)^-shape) / p, written with expm1/log1p: exact as p -> 0
        inner = -np.expm1(-shape * np.log1p(np.outer(rate, p))) / p
        result[rows] = inner @ weights
    return result


def conditional_expected_purchases(params, x, t_x, T, t: float) -> np.ndarray:
    """E[purchases in (T, T+t] | x, t_x, T] (FHL 2005, eq. 10) = P(alive) * E[. | alive].

    The 2F1 form is used where it is trustworthy: finite and within its bounds
    0 <= E[. | alive] <= (r+x) t / (alpha+T) (a living customer cannot beat its expected
    rate times t). Elsewhere (a close to 1, large x, 2F1 overflow or cancellation) the
    quadrature form gives the same quantity safely.
    """
    r, alpha, a, b = (float(v) for v in params)
    x = np.asarray(x, dtype=float)
    T = np.asarray(T, dtype=float)
    t = float(t)
    upper = (r + x) * t / (alpha + T)
    if abs(a - 1.0) > 1e-3:
        alive_part = _expected_if_alive_hyp2f1(params, x, T, t)
        bad = ~np.isfinite(alive_part) | (alive_part < 0) | (alive_part > upper * (1 + 1e-9))
    else:
        alive_part = np.full_like(x, np.nan)
        bad = np.ones_like(x, dtype=bool)
    if bad.any():
        alive_part[bad] = _expected_if_alive_quadrature(params, x[bad], T[bad], t)
    return probability_alive(params, x, t_x, T) * alive_part


# --------------------------------------------------------------------------- Gamma-Gamma

@dataclass
class GammaGammaFit:
    """Fitted Gamma-Gamma parameters and the frequency-monetary correlation it assumes 0."""

    p: float
    q: float
    v: float
    log_likelihood: float
    n_customers: int
    converged: bool
    message: str
    frequency_monetary_correlation: float

    @property
    def params(self) -> tuple[float, float, float]:
        return (self.p, self.q, self.v)

    @property
    def population_mean(self) -> float:
        """E[order value] = p v / (q - 1), finite only for q > 1."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else float("inf")


def gamma_gamma_log_likelihood(params, x, monetary) -> np.ndarray:
    """Each repeat customer's log-likelihood of its mean order value m over x orders:
    G(px+q)/(G(px) G(q)) v^q m^(px-1) x^(px) / (v + m x)^(px+q)."""
    p, q, v = (float(value) for value in params)
    x = np.asarray(x, dtype=float)
    m = np.asarray(monetary, dtype=float)
    return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
            + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(v + m * x))


def fit_gamma_gamma(x: np.ndarray, monetary: np.ndarray,
                    penalizer_coef: float = 0.0) -> GammaGammaFit:
    """Maximum likelihood of (p, q, v) on customers with x >= 1 and a positive mean.

    The model assumes a customer's order values do not depend on how often it buys
    (independence of frequency and monetary value). ``frequency_monetary_correlation``
    (Pearson, x against the mean repeat value) is returned so that the caller can report
    it: near 0 supports the assumption; a strong correlation means the expected values
    are biased. Values are rescaled (median to 1) during the fit, v scaled back.
    """
    x = np.asarray(x, dtype=float)
    m = np.asarray(monetary, dtype=float)
    keep = (x >= 1) & np.isfinite(m) & (m > 0)
    x, m = x[keep], m[keep]
    scale = float(np.median(m)) if len(m) else 1.0
    total = max(len(x), 1)

    def objective(log_params: np.ndarray) -> float:
        params = np.exp(log_params)
        value = (-np.sum(gamma_gamma_log_likelihood(params, x, m / scale)) / total
                 + penalizer_coef * float(np.sum(params ** 2)))
        return float(value) if np.isfinite(value) else 1e100

    result = _minimise(objective, np.zeros(3))
    p, q, v = np.exp(result.x)
    v = v * scale
    correlation = (float(np.corrcoef(x, m)[0, 1])
                   if len(x) > 2 and np.std(x) > 0 and np.std(m) > 0 else float("nan"))
    return GammaGammaFit(p=float(p), q=float(q), v=float(v),
                         log_likelihood=float(np.sum(gamma_gamma_log_likelihood((p, q, v), x, m))),
                         n_customers=int(len(x)), converged=bool(result.success),
                         message=str(result.message),
                         frequency_monetary_correlation=correlation)


def conditional_expected_order_value(params, x, monetary) -> np.ndarray:
    """E[order value | x, mean m] = p (v + m x) / (p x + q - 1): a weighted average of the
    population mean p v / (q - 1) and the customer's own m, with weight p x / (p x + q - 1)
    on m. A customer with x = 0 (or no usable mean) gets the population mean."""
    p, q, v = (float(value) for value in params)
    x = np.asarray(x, dtype=float)
    m = np.asarray(monetary, dtype=float)
    usable = (x >= 1) & np.isfinite(m) & (m > 0)
    x = np.where(usable, x, 0.0)
    m = np.where(usable, m, 0.0)
    return p * (v + m * x) / (p * x + q - 1)


# --------------------------------------------------------------------------- top level

@dataclass
class ClvResult:
    """Per lead: x, t_x, T, monetary, p_alive, expected_orders, expected_order_value_eur,
    expected_value_eur; and the fit report (method, why, parameters, fit quality)."""

    predictions: pd.DataFrame
    report: dict[str, Any] = field(default_factory=dict)


def _average_rate(summary: pd.DataFrame, horizon_days: float,
                  prior_days: float) -> tuple[np.ndarray, float]:
    """Each lead's repeat rate x / T shrunk towards the shop's x / T over every customer:
    (x + prior_days * shop_rate) / (T + prior_days) per day, a gamma-Poisson posterior mean
    with ``prior_days`` of prior exposure. A new customer gets about the shop's rate, an
    old one its own. No dropout: it overstates leads that have stopped buying."""
    x = summary["x"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    shop_rate = float(x.sum() / T.sum()) if T.sum() > 0 else 0.0
    rate = (x + prior_days * shop_rate) / (T + prior_days)
    return rate * horizon_days, shop_rate


def fit_and_predict(orders: pd.DataFrame, as_of: dt.datetime | pd.Timestamp,
                    horizon_days: float = 30, min_customers: int = MIN_CUSTOMERS,
                    penalizer_coef: float = 0.0, fallback_prior_days: float = 30.0,
                    ) -> ClvResult:
    """Expected orders and value (EUR) in [as_of, as_of + horizon_days) per lead with orders.

    ``orders``: lead_id, ordered_at, amount_eur of the orders that count as purchases
    (later ones may be present: nothing at or after ``as_of`` is read). Method ``bgnbd``
    when at least ``min_customers`` leads have a repeat purchase and the BG/NBD fit
    converges, otherwise ``average_rate`` (see the module docstring); ``value_method``
    ``gamma_gamma`` when that fit is usable too, otherwise ``own_mean``. The report's
    ``reason`` and ``value_reason`` say why.
    """
    summary = summarise_orders(orders, as_of)
    repeat_customers = int((summary["x"] >= 1).sum()) if len(summary) else 0
    report: dict[str, Any] = {
        "as_of": pd.Timestamp(as_of).isoformat(), "horizon_days": float(horizon_days),
        "n_customers": int(len(summary)), "n_repeat_customers": repeat_customers,
        "min_customers": int(min_customers), "time_unit": "day",
    }
    predictions = summary.copy()
    if summary.empty:
        report.update(method=AVERAGE_RATE, reason="no purchases before as_of",
                      value_method=OWN_MEAN, value_reason="no purchases before as_of")
        for column in ["p_alive", "expected_orders", "expected_order_value_eur",
                       "expected_value_eur"]:
            predictions[column] = pd.Series(dtype=float)
        return ClvResult(predictions, report)

    x = summary["x"].to_numpy(dtype=float)
    t_x = summary["t_x"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    reason = None
    value_reason = None
    if repeat_customers < min_customers:
        reason = (f"{repeat_customers} repeat customers (x >= 1) < min_customers "
                  f"{min_customers}: too few to fit BG/NBD and Gamma-Gamma")
    else:
        bgnbd = fit_bgnbd(x, t_x, T, penalizer_coef)
        gamma = fit_gamma_gamma(x, summary["monetary"].to_numpy(dtype=float), penalizer_coef)
        report["bgnbd"] = {"r": bgnbd.r, "alpha": bgnbd.alpha, "a": bgnbd.a, "b": bgnbd.b,
                           "log_likelihood": bgnbd.log_likelihood,
                           "n_customers": bgnbd.n_customers, "converged": bgnbd.converged,
                           "iterations": bgnbd.iterations, "message": bgnbd.message}
        report["gamma_gamma"] = {"p": gamma.p, "q": gamma.q, "v": gamma.v,
                                 "log_likelihood": gamma.log_likelihood,
                                 "n_customers": gamma.n_customers,
                                 "converged": gamma.converged, "message": gamma.message,
                                 "population_mean_eur": gamma.population_mean,
                                 "frequency_monetary_correlation":
                                     gamma.frequency_monetary_correlation}
        if not bgnbd.converged:
            reason = f"BG/NBD fit did not converge: {bgnbd.message}"
        if not gamma.converged or gamma.q <= 1:
            # the order counts can still be the BG/NBD's: only the value falls back
            value_reason = (f"Gamma-Gamma fit unusable (converged={gamma.converged}, "
                            f"q={gamma.q:.3g}: a finite mean order value needs q > 1)")

    own_mean = summary["mean_order_value"].to_numpy(dtype=float)
    if reason is None:
        predictions["p_alive"] = probability_alive(bgnbd.params, x, t_x, T)
        predictions["expected_orders"] = conditional_expected_purchases(
            bgnbd.params, x, t_x, T, horizon_days)
        report.update(method=BGNBD, reason="fitted")
    else:
        expected, shop_rate = _average_rate(summary, horizon_days, fallback_prior_days)
        predictions["p_alive"] = np.nan
        predictions["expected_orders"] = expected
        value_reason = value_reason or reason
        report.update(method=AVERAGE_RATE, reason=reason,
                      shop_repeat_rate_per_day=shop_rate, prior_days=float(fallback_prior_days),
                      note="expected orders = the lead's repeat rate shrunk towards the "
                           "shop's average rate, times the horizon (no dropout)")
    if value_reason is None:
        predictions["expected_order_value_eur"] = conditional_expected_order_value(
            gamma.params, x, summary["monetary"].to_numpy(dtype=float))
        report.update(value_method=GAMMA_GAMMA, value_reason="fitted")
    else:
        predictions["expected_order_value_eur"] = own_mean
        report.update(value_method=OWN_MEAN, value_reason=value_reason)
    predictions["expected_value_eur"] = (predictions["expected_orders"]
                                         * predictions["expected_order_value_eur"])
    return ClvResult(predictions, report)
