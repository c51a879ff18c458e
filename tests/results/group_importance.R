# Reference values for group Shapley (LMG) importance: relative_importance(..., groups=...).
#
# Run from the repository root:   Rscript tests/results/group_importance.R
# Writes (next to this script):
#   group_importance_data.csv       the simulated panel (6 queues x 50 periods)
#   group_importance_reference.csv  long form: case, player, members, quantity, value
#   group_importance_SOURCES.txt    versions, and what every `case` means
#
# Ran with: R version 4.2.2 Patched (2022-11-10 r83330) and relaimpo 2.2-7.  relaimpo is
# not packaged by Debian (bookworm): its dependencies are (r-cran-mass, r-cran-boot,
# r-cran-survey, r-cran-mitools, r-cran-corpcor), and relaimpo 2.2-7 itself was
# installed from its CRAN source as mirrored at github.com/cran/relaimpo (commit 8fdb19f,
# "version 2.2-7") with `R CMD INSTALL relaimpo`.
#
# Groups: waiting = asa, abandon_rate, service_level; handling = aht, transfer_rate;
# fcr on its own.  Every reference is computed twice, and the script stops unless the two
# agree to 1e-10:
#   1. relaimpo::calc.relimp(fit, type = "lmg", groups = ..., groupnames = ...), and
#   2. by brute force: the Shapley value over the 2^3 coalitions of players, each
#      coalition's R² from its own lm() fit (no relaimpo).
#
# Fixed effects.  relaimpo's `always =` keeps the segment (and period) dummies in every
# model and shares out R²(full) - R²(dummies), on the scale of the total variance of y.
# Our within importance is a share of the within R², i.e. of the variance left after the
# dummies, so within value = relaimpo value / (1 - R²(dummies)).  The script also computes
# the within values a second way, by demeaning every column within queues (weighted
# means when weighted; for two-way, residuals on the queue and period dummies) and
# running calc.relimp without `always`, and stops unless the two agree.

suppressPackageStartupMessages(library(relaimpo))

here <- "tests/results"
set.seed(20240917)

# ─── the panel ────────────────────────────────────────────────────────────────
n_queue <- 6
n_period <- 50
queues <- c("billing", "sales", "support", "tech", "retention", "claims")
panel <- expand.grid(period = seq_len(n_period), queue = queues, stringsAsFactors = FALSE)
panel <- panel[order(panel$queue, panel$period), c("queue", "period")]
n <- nrow(panel)
q_eff <- rnorm(n_queue)[match(panel$queue, queues)]    # segment effect
p_eff <- rnorm(n_period)[panel$period]                 # common period shock
load <- function() rnorm(1, 0.5, 0.2)

# a latent "staffing gap" drives the three waiting KPIs, so they are strongly correlated;
# the two handling KPIs share a latent "complexity"; fcr loads on both
gap <- 0.8 * q_eff + 0.6 * p_eff + rnorm(n)
cpx <- 0.5 * q_eff + rnorm(n)
panel$asa <- 30 + 12 * gap + 4 * rnorm(n)
panel$abandon_rate <- 0.06 + 0.02 * gap + 0.008 * rnorm(n)
panel$service_level <- 0.8 - 0.07 * gap - 0.02 * cpx + 0.04 * rnorm(n)
panel$aht <- 400 + 60 * cpx + 10 * gap + 30 * rnorm(n)
panel$transfer_rate <- 0.1 + 0.03 * cpx + 0.02 * rnorm(n)
panel$fcr <- 0.7 - 0.05 * cpx - 0.03 * gap + 0.05 * rnorm(n)
panel$csat <- 4 + 0.5 * q_eff + load() * p_eff - 0.25 * gap - 0.15 * cpx + 2 * panel$fcr +
  0.4 * rnorm(n)
panel$w <- sample(20:300, n, replace = TRUE)            # survey responses per row

write.csv(panel, file.path(here, "group_importance_data.csv"), row.names = FALSE)
# everything below uses the data as read back, i.e. exactly what the tests read
d <- read.csv(file.path(here, "group_importance_data.csv"), stringsAsFactors = FALSE)
d$queue_f <- factor(d$queue)
d$period_f <- factor(d$period)

kpis <- c("asa", "abandon_rate", "service_level", "aht", "transfer_rate", "fcr")
groups <- list(waiting = c("asa", "abandon_rate", "service_level"),
               handling = c("aht", "transfer_rate"))
players <- c(groups, list(fcr = "fcr"))

# ─── the two methods ──────────────────────────────────────────────────────────
relaimpo_lmg <- function(data, always = NULL, weights = NULL, grouped = TRUE) {
  rhs <- paste(c(always, kpis), collapse = " + ")
  fit <- if (is.null(weights)) lm(as.formula(paste("csat ~", rhs)), data)
         else lm(as.formula(paste("csat ~", rhs)), data, weights = data[[weights]])
  args <- list(fit, type = "lmg", rela = FALSE)
  if (!is.null(always)) args$always <- always
  if (grouped) {
    args$groups <- unname(groups)
    args$groupnames <- names(groups)
  }
  r <- do.call(calc.relimp, args)
  list(lmg = r@lmg, r2 = r@R2, r2_always = r@R2 - sum(r@lmg))
}

r2_of <- function(data, cols, always = NULL, weights = NULL) {
  rhs <- if (length(c(always, cols))) paste(c(always, cols), collapse = " + ") else "1"
  fit <- if (is.null(weights)) lm(as.formula(paste("csat ~", rhs)), data)
         else lm(as.formula(paste("csat ~", rhs)), data, weights = data[[weights]])
  s <- summary(fit)$r.squared
  if (length(c(always, cols)) == 0) 0 else s
}

brute_force <- function(data, always = NULL, weights = NULL) {
  # Shapley value over the coalitions of players, each R² from its own lm() fit
  q <- length(players)
  masks <- 0:(2^q - 1)
  v <- sapply(masks, function(m) {
    inside <- which(bitwAnd(m, 2^(0:(q - 1))) > 0)
    r2_of(data, unlist(players[inside]), always, weights)
  })
  v0 <- v[1]            # the dummies alone (0 without always)
  phi <- setNames(numeric(q), names(players))
  for (j in seq_len(q)) {
    for (m in masks) {
      if (bitwAnd(m, 2^(j - 1)) == 0) {
        k <- sum(bitwAnd(m, 2^(0:(q - 1))) > 0)
        w <- factorial(k) * factorial(q - k - 1) / factorial(q)
        phi[j] <- phi[j] + w * (v[m + 2^(j - 1) + 1] - v[m + 1])
      }
    }
  }
  list(lmg = phi, r2 = v[2^q], r2_always = v0)
}

demean_within <- function(data, weights = NULL, twoway = FALSE) {
  # residuals of every column on the dummies (weighted when weighted): the within data
  out <- data
  for (col in c("csat", kpis)) {
    f <- as.formula(paste(col, if (twoway) "~ queue_f + period_f" else "~ queue_f"))
    fit <- if (is.null(weights)) lm(f, data) else lm(f, data, weights = data[[weights]])
    out[[col]] <- residuals(fit)
  }
  out
}

agree <- function(a, b, what, tol = 1e-10) {
  a <- a[names(b)]
  if (max(abs(a - b)) > tol) stop(what, ": the two methods differ by ", max(abs(a - b)))
}

# ─── cases ────────────────────────────────────────────────────────────────────
rows <- list()
add <- function(case, values, quantity = "importance") {
  for (name in names(values)) {
    members <- if (name %in% names(players)) paste(players[[name]], collapse = "+") else name
    rows[[length(rows) + 1]] <<- data.frame(case = case, player = name, members = members,
                                            quantity = quantity, value = unname(values[[name]]))
  }
}
add_r2 <- function(case, r2) {
  rows[[length(rows) + 1]] <<- data.frame(case = case, player = "", members = "",
                                          quantity = "r2", value = r2)
}

cases <- list(
  pooled = list(always = NULL, weights = NULL, twoway = FALSE),
  pooled_weighted = list(always = NULL, weights = "w", twoway = FALSE),
  within = list(always = "queue_f", weights = NULL, twoway = FALSE),
  within_weighted = list(always = "queue_f", weights = "w", twoway = FALSE),
  twoway = list(always = c("queue_f", "period_f"), weights = NULL, twoway = TRUE)
)
for (case in names(cases)) {
  cfg <- cases[[case]]
  rel <- relaimpo_lmg(d, cfg$always, cfg$weights)
  bf <- brute_force(d, cfg$always, cfg$weights)
  agree(rel$lmg, bf$lmg, paste(case, "relaimpo vs brute force"))
  if (abs(rel$r2 - bf$r2) > 1e-10) stop(case, ": R² differs")
  scale <- 1 - rel$r2_always            # 1 for the pooled cases
  lmg <- rel$lmg / scale
  r2 <- (rel$r2 - rel$r2_always) / scale
  if (!is.null(cfg$always)) {
    dm <- demean_within(d, cfg$weights, cfg$twoway)
    alt <- relaimpo_lmg(dm, NULL, cfg$weights)
    agree(lmg, alt$lmg, paste(case, "always= vs demeaned"))
    if (abs(r2 - alt$r2) > 1e-10) stop(case, ": within R² differs")
  }
  add(case, lmg)
  add_r2(case, r2)
}

# ungrouped LMG of the pooled case (every predictor its own player), for the record and
# for the "groups of one = ungrouped" test
un <- relaimpo_lmg(d, grouped = FALSE)
add("pooled_ungrouped", un$lmg)
add_r2("pooled_ungrouped", un$r2)

ref <- do.call(rbind, rows)
print(ref, digits = 10)
ref$value <- sprintf("%.17g", ref$value)   # every digit of the double
write.csv(ref, file.path(here, "group_importance_reference.csv"), row.names = FALSE, quote = FALSE)

# ─── sources ──────────────────────────────────────────────────────────────────
sources <- c(
  "Sources of tests/results/group_importance_*",
  "===========================================",
  "",
  "Produced by tests/results/group_importance.R (Rscript tests/results/group_importance.R),",
  "which simulates the data with set.seed(20240917) and computes the references; it ran with:",
  paste0("  ", R.version.string),
  paste0("  relaimpo ", packageVersion("relaimpo"),
         " (CRAN source mirrored at github.com/cran/relaimpo, commit 8fdb19f; R CMD INSTALL)"),
  paste0("  platform ", R.version$platform),
  "",
  "group_importance_data.csv: queue, period, asa, abandon_rate, service_level, aht,",
  "  transfer_rate, fcr, csat, w",
  "  6 queues x 50 periods.  The waiting KPIs share a latent staffing gap (with queue",
  "  effects and common period shocks), the handling KPIs a latent complexity; w: survey",
  "  counts 20-300.",
  "",
  "group_importance_reference.csv: case, player, members, quantity, value",
  "  players: waiting = asa+abandon_rate+service_level, handling = aht+transfer_rate, fcr",
  "  quantity: importance (group LMG, rela = FALSE) | r2 (the R² that is shared out)",
  "  pooled            calc.relimp(lm(csat ~ kpis), type = 'lmg', groups = , groupnames = )",
  "  pooled_weighted   the same with lm(..., weights = w)",
  "  within            always = factor(queue), divided by 1 - R²(queue dummies)",
  "  within_weighted   the same, weighted",
  "  twoway            always = factor(queue) + factor(period), divided by 1 - R²(dummies)",
  "  pooled_ungrouped  ungrouped LMG of each KPI (no groups)",
  "  Every grouped case agrees to 1e-10 with a brute-force Shapley value over the 8",
  "  coalitions (R² of each from its own lm fit), and every fixed-effects case with",
  "  calc.relimp on the data demeaned within queues (two-way: residuals on both sets of",
  "  dummies; weighted: weighted residuals); the script stops otherwise."
)
writeLines(sources, file.path(here, "group_importance_SOURCES.txt"))
