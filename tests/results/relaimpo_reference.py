"""Published relative-importance values, typed in from their sources (see relaimpo_SOURCES.txt).

Each constant holds the numbers exactly as printed, so tests compare to the printed
precision (half a unit in the last printed digit).

1. relaimpo (R), Shapley/LMG on the swiss data.
   Grömping, U. (2005-12-16). "Relative Importance for Linear Regression in R: The
   Package relaimpo", package vignette of relaimpo 0.2 (inst/doc/relaimpo_vignette.pdf
   in the CRAN source, mirrored at github.com/cran/relaimpo, commit 864e1a3, "version
   0.2"); the same example is the running example of Grömping (2006), J. Stat. Softw.
   17(1). Section 4: ``calc.relimp(cov(swiss), type = c("lmg", ...))`` (rela = TRUE:
   shares of R²); section 5: ``calc.relimp(cov(swiss), rela = F, type = c("lmg",
   "first"))`` (absolute lmg = hier.part's I, univariate R² = "Total") and
   ``hier.part(swiss[, 1], swiss[, 2:6], gof = "Rsqu")$gfs`` (R² of all 32 subsets,
   hier.part order: by size, then combinations in lexicographic order).
2. dominanceanalysis (R), on the attitude data: README of github.com/clbustos/dominanceAnalysis
   (commit 02c24ce), ``dominanceAnalysis(lm(rating ~ ., attitude))``: print() (complete,
   conditional and general dominance patterns, average contributions) and summary()
   ("Average level k" rows = conditional dominance for k - 1 other predictors).
3. rwa (R), Johnson's relative weights on mtcars: vignette "Introduction to Relative
   Weights Analysis with the rwa Package" (github.com/martinctc/rwa,
   articles/introduction-to-rwa.md, commit 16a2f82), ``rwa(mtcars, "mpg", c("cyl", "disp",
   "hp", "gear"))`` and the same with ``wt`` added.

The data sets are R's ``datasets`` package (public domain), typed in from the CSV
export of Rdatasets (github.com/vincentarelbundock/Rdatasets, csv/datasets/swiss.csv and
attitude.csv) and, for mtcars, the standard 32-row table; each is checked against a
printed statistic (total variance, R²) before the importances are compared.
"""

SWISS_OUTCOME = "Fertility"
SWISS_PREDICTORS = ["Agriculture", "Examination", "Education", "Catholic", "Infant.Mortality"]

# "Total response variance: 156.0425"; "Proportion of variance explained by model: 70.67%"
SWISS_VARIANCE = 156.0425
SWISS_R2_PERCENT = 70.67

# calc.relimp(cov(swiss), type = "lmg") with rela = TRUE (shares of R²)
SWISS_LMG_SHARE = {
    "Agriculture": 0.08078165,
    "Examination": 0.24220256,
    "Education": 0.36807952,
    "Catholic": 0.14937728,
    "Infant.Mortality": 0.15955899,
}

# calc.relimp(cov(swiss), rela = F, type = c("lmg", "first")): columns I (= lmg) and Total (= first)
SWISS_LMG = {
    "Agriculture": 0.05709122,
    "Examination": 0.17117303,
    "Education": 0.26013468,
    "Catholic": 0.10557015,
    "Infant.Mortality": 0.11276592,
}
SWISS_FIRST = {
    "Agriculture": 0.1246649,
    "Examination": 0.4171645,
    "Education": 0.4406156,
    "Catholic": 0.2150035,
    "Infant.Mortality": 0.1735189,
}

# hier.part(...)$gfs: R² of the 32 subsets (empty set first), printed with 7 decimals
SWISS_GFS = [
    0.0000000, 0.1246649, 0.4171645, 0.4406156, 0.2150035, 0.1735189, 0.4326045,
    0.4492484, 0.2482782, 0.3172607, 0.5054845, 0.4302471, 0.5363016, 0.5745071,
    0.5647800, 0.3309201, 0.5568480, 0.4460681, 0.5397679, 0.6422541, 0.5660833,
    0.3858919, 0.5748498, 0.6190960, 0.5409672, 0.6625438, 0.6497897, 0.6443624,
    0.5447723, 0.6993476, 0.6638654, 0.7067350,
]

ATTITUDE_OUTCOME = "rating"
ATTITUDE_PREDICTORS = ["complaints", "privileges", "learning", "raises", "critical", "advance"]
ATTITUDE_R2 = 0.733  # summary(): full model fit

# averageContribution(da.attitude): general dominance
ATTITUDE_GENERAL = {"complaints": 0.371, "privileges": 0.051, "learning": 0.156,
                    "raises": 0.12, "critical": 0.007, "advance": 0.028}

# summary(): "Average level 1".."Average level 6" = conditional dominance with 0..5 other predictors
ATTITUDE_CONDITIONAL = {
    "complaints": [0.681, 0.494, 0.374, 0.287, 0.22, 0.169],
    "privileges": [0.182, 0.075, 0.029, 0.011, 0.005, 0.003],
    "learning": [0.389, 0.227, 0.137, 0.084, 0.055, 0.042],
    "raises": [0.348, 0.194, 0.106, 0.053, 0.02, 0.002],
    "critical": [0.024, 0.007, 0.004, 0.002, 0.001, 0.001],
    "advance": [0.024, 0.022, 0.034, 0.039, 0.032, 0.017],
}

# print(da.attitude): whom each predictor dominates (abbreviations expanded)
ATTITUDE_COMPLETE = {
    "complaints": ["privileges", "learning", "raises", "critical", "advance"],
    "privileges": ["critical"],
    "learning": ["privileges", "raises", "critical", "advance"],
    "raises": ["critical"],
    "critical": [],
    "advance": [],
}
ATTITUDE_CONDITIONAL_DOMINANCE = ATTITUDE_COMPLETE  # printed identical in this example
ATTITUDE_GENERAL_DOMINANCE = {
    "complaints": ["privileges", "learning", "raises", "critical", "advance"],
    "privileges": ["critical", "advance"],
    "learning": ["privileges", "raises", "critical", "advance"],
    "raises": ["privileges", "critical", "advance"],
    "critical": [],
    "advance": ["critical"],
}

MTCARS_OUTCOME = "mpg"
# rwa(mtcars, "mpg", c("cyl", "disp", "hp", "gear")): Raw.RelWeight; result$rsquare 0.7791896
MTCARS_RWA_4 = {"cyl": 0.2284797, "disp": 0.2221469, "hp": 0.2321744, "gear": 0.0963886}
MTCARS_RWA_4_R2 = 0.7791896
MTCARS_RWA_4_RESCALED = {"cyl": 29.32274, "disp": 28.50999, "hp": 29.79691, "gear": 12.37037}
# rwa(mtcars, "mpg", c("cyl", "disp", "hp", "gear", "wt")): Raw.RelWeight
MTCARS_RWA_5 = {"wt": 0.23642417, "cyl": 0.18833374, "hp": 0.18809142, "disp": 0.16479802,
                "gear": 0.07345304}
