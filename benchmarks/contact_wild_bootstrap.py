"""Experiment: the contact model's wait and handle tests under the null, CRV1 t(G - 1) against a
wild cluster restricted (WCR) bootstrap, on the calibration's survey-level worlds (issue 13).

Usage (from the project root)::

    .venv/bin/python benchmarks/contact_wild_bootstrap.py FAMILY REPS [FIRST]

FAMILY is one of ``calibration.CONTACT_FAMILIES`` (week4, week4days, heavy, week2short, day8);
worlds FIRST .. FIRST + REPS - 1 of the null kind (the same seeds as ``calibration.py --contact``).
The WCR bootstrap (Cameron, Gelbach and Miller 2008) imposes the null on the demeaned regression
(fixed effects swept out by pyfixest, as the model does), draws Rademacher weights per segment x
period cluster (399 draws) and compares the CRV1 t statistic with its bootstrap law; it is computed
from per-cluster sums, so it costs O(draws x clusters x k^2). Not used by the model yet.
"""
import multiprocessing as mp
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT / "benchmarks"))
import calibration as C  # noqa: E402
import alignment.contact.model as M  # noqa: E402
from pyfixest.core import demean  # noqa: E402

def wcr_p(y, X, cl, j, B=399, seed=0):
    G = int(cl.max()) + 1; n, k = X.shape
    Xr = np.delete(X, j, axis=1)
    br = np.linalg.lstsq(Xr, y, rcond=None)[0]
    yhat = Xr @ br; e = y - yhat
    bread = np.linalg.inv(X.T @ X)
    def csum(a): return np.column_stack([np.bincount(cl, weights=a[:, c], minlength=G) for c in range(a.shape[1])])
    A = X.T @ yhat
    Cg = csum(X * e[:, None]); Dg = csum(X * yhat[:, None])
    XX = np.zeros((G, k, k))
    for a in range(k):
        for b in range(a, k):
            XX[:, a, b] = XX[:, b, a] = np.bincount(cl, weights=X[:, a] * X[:, b], minlength=G)
    fac = G / (G - 1) * (n - 1) / (n - k)
    # observed t (CRV1), same factor
    beta = bread @ (X.T @ y); u = y - X @ beta
    s = csum(X * u[:, None]); V = bread @ (s.T @ s) @ bread * fac
    t_obs = beta[j] / np.sqrt(V[j, j])
    rng = np.random.default_rng(seed)
    v = rng.choice([-1.0, 1.0], size=(B, G))
    bstar = (A[None, :] + v @ Cg) @ bread            # B x k
    sstar = Dg[None] + v[:, :, None] * Cg[None] - np.einsum("gab,rb->rga", XX, bstar)   # B x G x k
    meat = np.einsum("rga,rgb->rab", sstar, sstar)
    Vs = np.einsum("ab,rbc,cd->rad", bread, meat, bread) * fac
    tstar = bstar[:, j] / np.sqrt(Vs[:, j, j])
    return float(np.mean(np.abs(tstar) >= abs(t_obs))), t_obs

def one(args):
    fam_name, rep = args
    warnings.simplefilter("ignore")
    fam = C.CONTACT_FAMILIES[fam_name]
    ss = np.random.SeedSequence(C.SEED, spawn_key=(zlib.crc32(f"contact/{fam_name}/null".encode()), rep))
    f = C.contact_world(fam, ss, beta=0.0)
    fit = M.fit_contact_model(f, "csat", contact_controls=["reason"], threshold=False, logit=False)
    d = M._design(f, "csat", M.coding("csat"), by=["queue"], period="period", variables=None, controls=("hour",), contact_controls=["reason"], by_day=True)
    data = d.data; xs = ["wait_s", "handle_s", "resolved"]
    raw = np.column_stack([data["y"].to_numpy(float), data[xs].to_numpy(float)])
    Mx, _ = demean(np.ascontiguousarray(raw), d.flist, np.ones(len(data)), tol=1e-10, maxiter=100000)
    cl = data["cluster"].to_numpy()
    pw, _ = wcr_p(Mx[:, 0], Mx[:, 1:], cl, 0, seed=rep)
    ph, _ = wcr_p(Mx[:, 0], Mx[:, 1:], cl, 1, seed=rep)
    return fit.row("asa")["p_value"] < .05, fit.row("aht")["p_value"] < .05, pw < .05, ph < .05

if __name__ == "__main__":
    fam, reps = sys.argv[1], int(sys.argv[2])
    with mp.get_context("fork").Pool(2) as pool:
        first = int(sys.argv[3]) if len(sys.argv) > 3 else 0
        r = np.array(pool.map(one, [(fam, i) for i in range(first, first + reps)]), float)
    print(fam, reps, "CRV1 wait %.3f handle %.3f | WCR wait %.3f handle %.3f" % tuple(r.mean(0)), flush=True)
