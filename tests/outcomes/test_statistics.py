"""Each statistic against hand-worked or published values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm

from outcomes.statistics import Z95, conditional_poisson, mcnemar, rate_ratio, wilcoxon_rates


def test_conditional_poisson_with_equal_person_time_is_the_ratio_of_totals():
    # With everyone's periods equally long the conditional MLE is sum(post) / sum(pre), and the
    # variance of its log is 1/sum(pre) + 1/sum(post): here 30/60 with variance 1/60 + 1/30.
    pre, post = np.array([10, 20, 30, 0]), np.array([5, 10, 15, 0])
    years = np.array([2.0, 2.0, 2.0, 2.0])
    result = rate_ratio(conditional_poisson(pre, post, years, years), "model")
    assert result.estimate == pytest.approx(0.5, rel=1e-10)
    se = math.sqrt(1 / 60 + 1 / 30)
    assert result.lo == pytest.approx(0.5 * math.exp(-Z95 * se), rel=1e-8)
    assert result.hi == pytest.approx(0.5 * math.exp(Z95 * se), rel=1e-8)
    assert result.p_value == pytest.approx(
        2 * 0.5 * math.erfc(math.log(2) / se / math.sqrt(2)), rel=1e-6
    )


def test_conditional_poisson_uses_each_persons_own_time():
    # One person: 2 events in 2 years before, 1 in 1 year after. Given 3 events, the post count
    # is Binomial(3, p) with odds RR * 1/2; the MLE p = 1/3 gives RR = 1, and the information
    # 3 * (1/3) * (2/3) = 2/3 gives a standard error of sqrt(1.5) on the log scale.
    result = rate_ratio(conditional_poisson([2], [1], [2.0], [1.0]), "model")
    assert result.estimate == pytest.approx(1.0, abs=1e-12)
    assert result.hi == pytest.approx(math.exp(Z95 * math.sqrt(1.5)), rel=1e-9)
    assert result.p_value == pytest.approx(1.0)
    # Two people worked by hand: A 4 events pre in 4 years, 0 post in 1 year; B 0 pre in
    # 1 year, 2 post in 2 years. With r the rate ratio (odds r * py_post/py_pre) the score is
    # 2 - 4 * r/(4 + r) - 2 * 2r/(1 + 2r) = 0, that is 4r^2 + r - 4 = 0: r = (sqrt(65) - 1)/8.
    result = rate_ratio(conditional_poisson([4, 0], [0, 2], [4.0, 1.0], [1.0, 2.0]), "model")
    root = (math.sqrt(65) - 1) / 8
    assert 2 - 4 * root / (4 + root) - 4 * root / (1 + 2 * root) == pytest.approx(0, abs=1e-12)
    assert result.estimate == pytest.approx(root, rel=1e-9)


def test_conditional_poisson_matches_a_binomial_glm_with_offset():
    # statsmodels' binomial GLM of post events among each person's events, offset
    # log(py_post/py_pre), is the same likelihood: estimates and Wald intervals agree.
    rng = np.random.default_rng(3)
    frailty = rng.gamma(1.5, 1 / 1.5, 400)
    years_pre, years_post = rng.uniform(0.5, 8, 400), rng.uniform(0.5, 8, 400)
    pre = rng.poisson(frailty * years_pre * 0.4)
    post = rng.poisson(frailty * years_post * 0.4 * 0.7)
    ours = rate_ratio(conditional_poisson(pre, post, years_pre, years_post), "model")
    some = pre + post > 0
    glm = sm.GLM(
        np.column_stack([post[some], pre[some]]),
        np.ones((some.sum(), 1)),
        family=sm.families.Binomial(),
        offset=np.log(years_post[some] / years_pre[some]),
    ).fit()
    assert ours.estimate == pytest.approx(math.exp(glm.params[0]), rel=1e-8)
    lo, hi = np.exp(glm.conf_int()[0])
    assert (ours.lo, ours.hi) == (pytest.approx(lo, rel=1e-6), pytest.approx(hi, rel=1e-6))
    assert ours.p_value == pytest.approx(glm.pvalues[0], rel=1e-6)


def test_conditional_poisson_is_not_estimable_without_events_on_both_sides():
    assert conditional_poisson([0, 0], [0, 0], [1.0, 1.0], [1.0, 1.0]) is None
    assert conditional_poisson([3, 0], [0, 0], [1.0, 1.0], [1.0, 1.0]) is None


def test_wilcoxon_on_darwins_zea_mays_differences():
    # Fisher's (1935) Zea mays data: the 15 cross- minus self-fertilised height differences;
    # the exact two-sided signed-rank p-value is 0.04126 (scipy.stats.wilcoxon documentation).
    differences = np.array([6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75])
    assert wilcoxon_rates(np.zeros(15), differences) == pytest.approx(0.04126, abs=1e-5)
    # people with no change are left out: adding them changes nothing
    assert wilcoxon_rates(np.zeros(20), np.r_[differences, np.zeros(5)]) == pytest.approx(
        0.04126, abs=1e-5
    )
    assert wilcoxon_rates(np.ones(4), np.ones(4)) is None


def test_mcnemar_on_agrestis_presidential_approval_table():
    # Agresti, Categorical Data Analysis, table 10.1: 150 approve-then-disapprove, 86
    # disapprove-then-approve; z^2 = (86 - 150)^2 / 236 = 17.36, p = 3.1e-5 (chi-square, 1 df).
    assert mcnemar(150, 86) == pytest.approx(3.09e-5, rel=0.01)


def test_mcnemar_is_exact_for_few_discordant_people():
    # 1 against 9: two-sided exact binomial p = 2 * (1 + 10) / 2**10 = 0.021484375
    assert mcnemar(1, 9) == pytest.approx(22 / 1024, rel=1e-12)
    assert mcnemar(0, 0) is None
