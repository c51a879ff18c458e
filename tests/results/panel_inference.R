# Reference values for two-way / one-way fixed effects and their robust covariances:
# Driscoll-Kraay, panel Newey-West (on a panel with gaps) and cluster-robust by segment.
#
# Run from the repository root:   Rscript tests/results/panel_inference.R
# Writes (next to this script):
#   panel_inference_data.csv       the two simulated panels (balanced, gapped)
#   panel_inference_reference.csv  long form: dataset, estimator, term, quantity, value
#   panel_inference_SOURCES.txt    versions, and what every `estimator` key means
#
# Ran with: R version 4.2.2 Patched (2022-11-10 r83330), plm 2.6.2, sandwich 3.0.2,
# lmtest 0.9.40 (Debian packages r-base-core, r-cran-plm, r-cran-sandwich, r-cran-lmtest).
# The versions of the run that wrote the CSVs are also in panel_inference_SOURCES.txt.
#
# What plm does, read from its source (plm:::vcovG.plm, vcovSCC.plm, vcovNW.plm, 2.6.2)
# and checked numerically below (stopifnot against the by-hand versions):
#
# * Lags are by POSITION in the sorted list of OBSERVED periods, not by period number.
#   vcovG() takes timeind <- as.numeric(index(fit)$period), the codes of the time
#   factor, and that factor only has levels for periods that occur in the data
#   (pdata.frame builds it with factor()).  It then splits the rows by period,
#   tind <- split(seq_along(timeind), timeind), and for lag l pairs list element i with
#   element i - l.  So a period that is missing for ALL segments is skipped: periods 16
#   and 18 count as lag 1 when 17 is absent.  It is NOT by row order either: the rows
#   are grouped by the time code first, so their order in the data does not matter.
# * vcovSCC(fit, maxlag = M) (Driscoll-Kraay) = vcovG(l = 0) + sum_l w_l (V_l + V_l'),
#   w_l = 1 - l / (M + 1), with cluster = "time", inner = "cluster": the lag-l term is
#   S_i S_{i-l}' with S_i the sum of the scores of the i-th observed period.  With the
#   gapped panel (period 17 missing everywhere) the lag-1 term therefore contains
#   S_18 S_16', which the by-period definition (lag = difference of period numbers)
#   puts at lag 2 with weight 1 - 2/(M+1).
# * vcovNW(fit, maxlag = M) = vcovSCC(..., inner = "white"): for lag l it keeps only the
#   products of a segment's score at time position i with the SAME segment's score at
#   time position i - l (matched by segment name).  A gap inside one segment (a dropped
#   row, or our 3-period run) is therefore handled by period: the segment simply has no
#   row at that position and no product is formed; a lag never bridges a segment's own
#   gap by row order.  Only the period missing for all segments is bridged, as above.
# * type = "HC0" uses the raw residuals; type = "sss" multiplies the residuals by
#   sqrt(G/(G-1) * (N-1)/(N-K)), G = number of clusters (segments for cluster = "group"),
#   N = number of rows, K = number of slope coefficients (columns of the demeaned X,
#   the fixed effects are NOT counted).  So the covariance is scaled by
#   G/(G-1) * (N-1)/(N-K).
# * Weights: plm(..., weights = w) runs, but for model = "within" it demeans the data
#   WITHOUT weights and then runs weighted least squares on the demeaned data (plm.fit:
#   X <- model.matrix(within); X <- X * sqrt(w)).  That is not the weighted fixed-effects
#   estimator argmin sum w (y - a_i - g_t - x b)^2, whose demeaning uses weighted means;
#   it is written below as "coef_*_w_plm" for the record only.  The weighted reference
#   is lm(y ~ x1 + x2 + factor(queue) + factor(period), weights = w).  plm's vcovXX
#   functions refuse weighted fits ("vcovXX functions not implemented for weighted panel
#   regressions"), so the weighted covariances are computed by hand below from the lm()
#   fit (scores w * xdot * e), and the tests check them also against linearmodels.
# * Neither plm nor sandwich::vcovPL (which aggregates the scores by order.by and lags
#   the aggregated rows by position as well) treats a period missing for all segments as
#   a gap, so the by-period Driscoll-Kraay and Newey-West values ("*_byperiod") are
#   computed by hand; the by-hand code is validated by reproducing plm exactly when it
#   lags by position ("*_byposition" == plm, stopifnot below).

suppressPackageStartupMessages({
  library(plm)
  library(sandwich)
  library(lmtest)
})

args <- commandArgs(trailingOnly = FALSE)
script <- sub("^--file=", "", args[grep("^--file=", args)])
out_dir <- if (length(script)) dirname(normalizePath(script)) else "tests/results"

# ---------------------------------------------------------------------------------
# Data: 6 segments x 40 periods.  Regressors and errors are AR(1) with 0.5 within a
# segment and load on common period factors with segment-specific loadings, so that the
# time effects do not absorb the cross-sectional correlation and Driscoll-Kraay, Newey-
# West and clustering give different answers.
# ---------------------------------------------------------------------------------
set.seed(20240611)
G <- 6L
TT <- 40L
queues <- c("billing", "claims", "sales", "support", "retention", "tech")

ar1 <- function(n, rho = 0.5, sd = 1) {
  z <- numeric(n)
  z[1] <- rnorm(1, sd = sd / sqrt(1 - rho^2))
  for (t in 2:n) z[t] <- rho * z[t - 1] + rnorm(1, sd = sd)
  z
}

simulate_panel <- function() {
  f_x <- ar1(TT)          # common shock of the regressors
  f_e <- ar1(TT)          # common shock of the errors
  g_t <- rnorm(TT, sd = 0.5)  # period effects in y
  rows <- vector("list", G)
  for (i in seq_len(G)) {
    a_i <- rnorm(1, sd = 1)
    load_x <- runif(1, 0.3, 1.7)
    load_e <- runif(1, 0.3, 1.7)
    x1 <- 0.5 * a_i + load_x * f_x + ar1(TT)
    x2 <- -0.3 * a_i + 0.5 * ar1(TT) + 0.4 * x1 + 0.6 * load_e * f_x
    e <- load_e * f_e + ar1(TT) * runif(1, 0.6, 1.4)
    y <- 2 + a_i + g_t + 0.8 * x1 - 0.5 * x2 + e
    rows[[i]] <- data.frame(queue = queues[i], period = seq_len(TT),
                            y = y, x1 = x1, x2 = x2,
                            w = sample(20:300, TT, replace = TRUE))
  }
  do.call(rbind, rows)
}

balanced <- simulate_panel()
gapped <- simulate_panel()
gapped <- gapped[gapped$period != 17L, ]                                    # all segments
gapped <- gapped[!(gapped$queue == "sales" & gapped$period %in% 25:27), ]   # a 3-period run
drop <- sample(nrow(gapped), round(0.10 * nrow(gapped)))                    # ~10 % at random
gapped <- gapped[-drop, ]
# Shuffle the rows so that nothing can depend on the row order of the file.
gapped <- gapped[sample(nrow(gapped)), ]
rownames(balanced) <- NULL
rownames(gapped) <- NULL

panels <- list(balanced = balanced, gapped = gapped)
data_out <- do.call(rbind, lapply(names(panels), function(nm)
  cbind(dataset = nm, panels[[nm]][, c("queue", "period", "y", "x1", "x2", "w")])))
write.csv(data_out, file.path(out_dir, "panel_inference_data.csv"), row.names = FALSE)

# ---------------------------------------------------------------------------------
# By-hand estimators, used for the weighted fits and the by-period lags.  The scores
# are w_i * xdot_i * e_i, xdot the (weighted) demeaned regressors, e the residuals.
# ---------------------------------------------------------------------------------
within_by_lm <- function(d, effect, weighted) {
  rhs <- if (effect == "twoways") "factor(queue) + factor(period)" else "factor(queue)"
  # lm() looks `weights` up in `data` first, so the weights go in as their own column.
  w <- if (weighted) d$w else rep(1, nrow(d))
  d$lm_weight <- w
  fit <- lm(as.formula(paste("y ~ x1 + x2 +", rhs)), data = d, weights = lm_weight)
  # Frisch-Waugh-Lovell: the demeaned regressors are the weighted residuals of x on
  # the dummies.
  xdot <- sapply(c("x1", "x2"), function(v)
    residuals(lm(as.formula(paste(v, "~", rhs)), data = d, weights = lm_weight)))
  e <- d$y - fitted(fit)
  list(coef = coef(fit)[c("x1", "x2")], xdot = xdot, e = e, w = w,
       scores = w * xdot * e, bread = solve(crossprod(xdot * sqrt(w))))
}

bartlett_meat <- function(scores, period, M, group = NULL) {
  # sum over pairs with |t - s| <= M (and the same group, if given) of
  # (1 - |t - s| / (M + 1)) * s_t s_s'; `period` is the lag clock.
  k <- ncol(scores)
  meat <- matrix(0, k, k)
  if (is.null(group)) group <- rep(1, nrow(scores))
  for (g in unique(group)) {
    sel <- group == g
    per <- period[sel]
    S <- rowsum(scores[sel, , drop = FALSE], per)     # one row per period, sorted
    tt <- as.numeric(rownames(S))
    for (a in seq_along(tt)) for (b in seq_along(tt)) {
      lag <- abs(tt[a] - tt[b])
      if (lag <= M) meat <- meat + (1 - lag / (M + 1)) * tcrossprod(S[a, ], S[b, ])
    }
  }
  meat
}
dk_by_hand <- function(f, period, M) f$bread %*% bartlett_meat(f$scores, period, M) %*% f$bread
nw_by_hand <- function(f, group, period, M)
  f$bread %*% bartlett_meat(f$scores, period, M, group) %*% f$bread
cluster_by_hand <- function(f, group) {
  S <- rowsum(f$scores, group)
  f$bread %*% crossprod(S) %*% f$bread
}

# ---------------------------------------------------------------------------------
rows <- list()
put <- function(dataset, estimator, term, quantity, value) {
  rows[[length(rows) + 1L]] <<- data.frame(dataset = dataset, estimator = estimator,
                                           term = term, quantity = quantity,
                                           value = unname(value))
}
put_vcov <- function(dataset, estimator, V) {
  put(dataset, estimator, c("x1", "x2"), "se", sqrt(diag(V))[c("x1", "x2")])
  put(dataset, estimator, "x1:x2", "cov", V["x1", "x2"])
}
rel_close <- function(a, b, tol = 1e-10) max(abs(a - b) / pmax(abs(b), 1e-300)) < tol

for (nm in names(panels)) {
  d <- panels[[nm]]
  pd <- pdata.frame(d, index = c("queue", "period"))
  # plm's lag clock: the position of the period among the observed periods.
  period_position <- match(d$period, sort(unique(d$period)))
  N <- nrow(d)
  K <- 2L

  fit_tw <- plm(y ~ x1 + x2, data = pd, model = "within", effect = "twoways")
  fit_id <- plm(y ~ x1 + x2, data = pd, model = "within", effect = "individual")
  fits <- list(twoways = fit_tw, individual = fit_id)

  # (a) coefficients
  for (eff in names(fits)) put(nm, paste0("coef_", eff), c("x1", "x2"), "estimate",
                               coef(fits[[eff]])[c("x1", "x2")])
  put(nm, "nobs", "all", "n", N)

  # (b) Driscoll-Kraay on the two-way fit
  hand_tw <- within_by_lm(d, "twoways", weighted = FALSE)
  stopifnot(rel_close(hand_tw$coef, coef(fit_tw)[c("x1", "x2")]))
  for (M in c(2L, 4L)) {
    V <- vcovSCC(fit_tw, type = "HC0", maxlag = M)
    put_vcov(nm, sprintf("dk_twoways_m%d", M), V)
    # by-hand check of what plm does: lags by position among observed periods
    Vpos <- dk_by_hand(hand_tw, period_position, M)
    stopifnot(rel_close(Vpos, unclass(V)[c("x1", "x2"), c("x1", "x2")]))
    put_vcov(nm, sprintf("dk_twoways_m%d_byperiod", M), dk_by_hand(hand_tw, d$period, M))
  }

  # (c) Newey-West within segment on the individual-effects fit
  hand_id <- within_by_lm(d, "individual", weighted = FALSE)
  stopifnot(rel_close(hand_id$coef, coef(fit_id)[c("x1", "x2")]))
  for (M in c(2L, 4L)) {
    V <- vcovNW(fit_id, type = "HC0", maxlag = M)
    put_vcov(nm, sprintf("nw_individual_m%d", M), V)
    Vpos <- nw_by_hand(hand_id, d$queue, period_position, M)
    stopifnot(rel_close(Vpos, unclass(V)[c("x1", "x2"), c("x1", "x2")]))
    put_vcov(nm, sprintf("nw_individual_m%d_byperiod", M),
             nw_by_hand(hand_id, d$queue, d$period, M))
  }

  # (d) cluster-robust by segment, with t(G - 1) p-values
  hands <- list(twoways = hand_tw, individual = hand_id)
  for (eff in names(fits)) {
    for (type in c("HC0", "sss")) {
      V <- vcovHC(fits[[eff]], method = "arellano", type = type, cluster = "group")
      key <- sprintf("cluster_%s_%s", eff, tolower(type))
      put_vcov(nm, key, V)
      ct <- coeftest(fits[[eff]], vcov = V, df = G - 1L)
      put(nm, key, c("x1", "x2"), "t", ct[c("x1", "x2"), "t value"])
      put(nm, key, c("x1", "x2"), "p_value", ct[c("x1", "x2"), "Pr(>|t|)"])
      Vh <- cluster_by_hand(hands[[eff]], d$queue)
      if (type == "sss") Vh <- Vh * G / (G - 1) * (N - 1) / (N - K)
      stopifnot(rel_close(Vh, unclass(V)[c("x1", "x2"), c("x1", "x2")]))
    }
  }

  # (e) weighted: lm() with dummies (the weighted fixed-effects estimator), by-hand
  # covariances; plm's own weighted "within" coefficients for the record.
  for (eff in c("twoways", "individual")) {
    hw <- within_by_lm(d, eff, weighted = TRUE)
    put(nm, sprintf("coef_%s_w", eff), c("x1", "x2"), "estimate", hw$coef)
    fw <- plm(y ~ x1 + x2, data = pd, model = "within", effect = eff, weights = w)
    put(nm, sprintf("coef_%s_w_plm", eff), c("x1", "x2"), "estimate",
        coef(fw)[c("x1", "x2")])
    V <- cluster_by_hand(hw, d$queue)
    put_vcov(nm, sprintf("cluster_%s_hc0_w", eff), V)
    for (M in c(2L, 4L)) {
      if (eff == "twoways") {
        put_vcov(nm, sprintf("dk_twoways_m%d_w_byperiod", M), dk_by_hand(hw, d$period, M))
        put_vcov(nm, sprintf("dk_twoways_m%d_w_byposition", M),
                 dk_by_hand(hw, period_position, M))
      } else {
        put_vcov(nm, sprintf("nw_individual_m%d_w_byperiod", M),
                 nw_by_hand(hw, d$queue, d$period, M))
      }
    }
  }
}

ref <- do.call(rbind, rows)
ref$value <- sprintf("%.17g", ref$value)
write.csv(ref, file.path(out_dir, "panel_inference_reference.csv"), row.names = FALSE,
          quote = FALSE)

versions <- c(
  sprintf("%s", R.version.string),
  sprintf("plm %s", as.character(packageVersion("plm"))),
  sprintf("sandwich %s", as.character(packageVersion("sandwich"))),
  sprintf("lmtest %s", as.character(packageVersion("lmtest"))),
  sprintf("platform %s", R.version$platform)
)
sources <- c(
  "Sources of tests/results/panel_inference_*",
  "==========================================",
  "",
  "Produced by tests/results/panel_inference.R (Rscript tests/results/panel_inference.R),",
  "which simulates the data with set.seed(20240611) and computes the references; it ran with:",
  paste0("  ", versions),
  "",
  "panel_inference_data.csv: dataset, queue, period, y, x1, x2, w",
  "  balanced: 6 segments x 40 periods.  gapped: another draw, with period 17 removed for",
  "  all segments, periods 25-27 removed for segment 'sales', then 10 % of the rows removed",
  "  at random and the rows shuffled.  x and errors: AR(1) 0.5 within a segment plus common",
  "  period shocks with segment-specific loadings; w: survey counts 20-300.",
  "",
  "panel_inference_reference.csv: dataset, estimator, term, quantity, value",
  "  quantity: estimate | se | cov (term 'x1:x2', the off-diagonal) | t | p_value | n",
  "  All covariances are HC0 sandwiches (X'WX)^-1 meat (X'WX)^-1 unless the key says sss.",
  "  Bartlett weights 1 - l/(M+1), l = 0..M; M is the 'maxlag' of plm.",
  "",
  "  coef_twoways, coef_individual        plm(y ~ x1 + x2, model = 'within', effect = ...)",
  "  dk_twoways_m{2,4}                    plm::vcovSCC(twoways fit, type = 'HC0', maxlag = M)",
  "                                       (lags by POSITION among observed periods)",
  "  dk_twoways_m{2,4}_byperiod           by hand, lag = difference of period numbers",
  "  nw_individual_m{2,4}                 plm::vcovNW(individual fit, type = 'HC0', maxlag = M)",
  "                                       (within segment; lags by POSITION among observed",
  "                                       periods of the whole panel)",
  "  nw_individual_m{2,4}_byperiod        by hand, within segment, lag = period difference",
  "  cluster_{twoways,individual}_{hc0,sss}  plm::vcovHC(fit, method = 'arellano', type = ...,",
  "                                       cluster = 'group'); t and p_value from",
  "                                       lmtest::coeftest(fit, vcov = V, df = G - 1)",
  "                                       sss = HC0 * G/(G-1) * (N-1)/(N-K), K = 2 slopes",
  "  coef_{twoways,individual}_w          lm(y ~ x1 + x2 + factor(queue) [+ factor(period)],",
  "                                       weights = w): the weighted fixed-effects estimator",
  "  coef_{twoways,individual}_w_plm      plm(..., weights = w): demeans WITHOUT weights,",
  "                                       then WLS -- a different estimator, for the record",
  "  cluster_{twoways,individual}_hc0_w   by hand from the weighted lm fit, scores w*xdot*e",
  "  dk_twoways_m{2,4}_w_by{period,position}  by hand, weighted (plm refuses weights in vcovXX)",
  "  nw_individual_m{2,4}_w_byperiod      by hand, weighted",
  "",
  "  The by-hand code reproduces plm to 1e-10 where plm applies (unweighted, by position);",
  "  the script stops otherwise.  Balanced panel: by position == by period."
)
writeLines(sources, file.path(out_dir, "panel_inference_SOURCES.txt"))
cat("wrote", nrow(ref), "reference values to", out_dir, "\n")
