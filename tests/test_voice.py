"""Children's own voice (workbench.voice): shares agreeing, response rates, ordinal models.

Known answers: Wilson intervals against Newcombe (1998a) Table I; the ordered logit with two
outcome categories and one binary covariate equals the closed-form log odds ratio log(ad/bc);
coefficients and thresholds of a simulated latent-logistic model are recovered at large n.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench import voice
from workbench.disclosure import DisclosureRules, protect_linked
from workbench.followup import UNIT
from workbench.municipalities import hierarchy


def _counts(rows: list[tuple[str, str, int, int, int, int]], unit: str = "0000") -> pd.DataFrame:
    """Counts of single units: (dimension, level, answered, agree, disagree, vet_ej) per group;
    every item gets the same answers and 5 more children are invited who did not answer."""
    out = []
    for dim, level, answered, agree, disagree, vet_ej in rows:
        invited = answered + 5
        out += [
            (unit, voice.group_key("svar", dim, level), "besvarad", answered, invited),
            (unit, voice.group_key("svar", dim, level), "ej_besvarad", 5, invited),
        ]
        for item in voice.ITEMS:
            key = voice.group_key(item, dim, level)
            for code, n in (
                ("instammer", agree),
                ("instammer_inte", disagree),
                ("ej_stallning", invited - agree - disagree),
            ):
                out.append((unit, key, code, n, invited))
            key = voice.group_key(voice.VET_EJ_TABLE + item, dim, level)
            out.append((unit, key, "vet_ej", vet_ej, invited))
            out.append((unit, key, "ovriga", invited - vet_ej, invited))
    return pd.DataFrame(out, columns=[UNIT, "variabel", "kod", "n", "denominator"])


def _row(table: voice.AgreementTable, level: str, item: str = "kanner_mig_trygg") -> pd.Series:
    d = table.data
    return d[(d["niva"] == level) & (d["tabell"] == item)].iloc[0]


# -- Wilson intervals: published values -------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [
        # Newcombe (1998a), Statistics in Medicine 17:857-872, Table I, method 3 (Wilson)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_agreement_share_has_the_published_wilson_interval(x, n, low, high):
    table = voice.agreement(_counts([("alla", "alla", n, x, n - x, 0)]), min_answers=10)
    r = _row(table, "alla")
    assert r["shown"]
    assert round(float(r["share"]), 6) == round(x / n, 6)
    assert round(float(r["ci_low"]), 4) == low
    assert round(float(r["ci_high"]), 4) == high


def test_response_rate_has_the_wilson_interval_of_answered_over_invited():
    rates = voice.response_rates(_counts([("alla", "alla", 258, 81, 170, 7)]))
    r = rates.data.iloc[0]
    # 258 of 263 invited answered
    assert r["invited"] == 263 and r["answered"] == 258
    assert round(float(r["rate"]), 6) == round(258 / 263, 6)
    assert float(r["ci_low"]) < 258 / 263 < float(r["ci_high"]) <= 1


# -- suppression edge cases ---------------------------------------------------------------------


def test_agreement_withholds_a_group_where_nobody_answered():
    t = voice.agreement(_counts([("kon", "flicka", 0, 0, 0, 0)]))
    r = _row(t, "flicka")
    assert not r["shown"] and r["reason"] == voice.REASON_TOO_FEW_ANSWERS
    assert pd.isna(r["share"]) and pd.isna(r["ci_low"])
    assert pd.isna(t.to_frame().iloc[0]["n_agree"])


def test_agreement_withholds_a_group_of_three_even_when_counts_are_known():
    t = voice.agreement(_counts([("kon", "flicka", 3, 2, 1, 0)]), min_answers=10)
    r = _row(t, "flicka")
    assert not r["shown"] and r["reason"] == voice.REASON_TOO_FEW_ANSWERS
    frame = t.to_frame()
    assert frame[["n_agree", "n_disagree", "substantive", "vet_ej_share"]].isna().all().all()


def test_agreement_with_only_vet_ej_answers_shows_no_share_but_the_vet_ej_share():
    t = voice.agreement(_counts([("alla", "alla", 15, 0, 0, 15)]))
    r = _row(t, "alla")
    assert not r["shown"] and r["reason"] == voice.REASON_DENOMINATOR
    assert pd.isna(r["share"])
    assert float(r["vet_ej_share"]) == 1.0


def test_agreement_hides_shares_with_fewer_substantive_answers_than_min_denominator():
    t = voice.agreement(_counts([("alla", "alla", 12, 5, 4, 3)]), min_denominator=10)
    r = _row(t, "alla")
    assert r["reason"] == voice.REASON_DENOMINATOR and pd.isna(r["share"])


def test_agreement_from_protected_counts_never_shows_a_share_with_a_suppressed_count():
    # Municipality 0180 has 3 children who do not agree: suppressed, so no share is shown.
    rng = np.random.default_rng(3)
    h = hierarchy()
    rows = []
    for k in h["kommun"]:
        n = 40 if k != "0180" else 30
        answers = rng.choice(["5", "4", "2", "vet_ej"], n, p=[0.4, 0.4, 0.15, 0.05])
        if k == "0180":
            answers = np.array(["5"] * 25 + ["2"] * 3 + ["vet_ej"] * 2)
        rows.append(
            pd.DataFrame(
                {
                    "kommun": k,
                    "ar": 2024,
                    "kon": rng.choice(["flicka", "pojke"], n),
                    "alder": rng.integers(13, 21, n),
                    "enkatgrupp": rng.choice(["placerad", "oppenvard"], n),
                    "besvarad": True,
                    **{item: answers for item in voice.ITEMS},
                }
            )
        )
    data = voice.prepare_survey(pd.concat(rows, ignore_index=True))
    counts = voice.survey_counts(data)
    counts = counts[
        counts["variabel"].isin([voice.group_key(t, "alla", "alla") for t in voice._tables()])
    ]
    pt = protect_linked(counts, unit=UNIT, hierarchy=h, rules=DisclosureRules())
    t = voice.agreement(pt.data, n="n_shown", answered_from="n")
    own = t.data[(t.data[UNIT] == "0180") & (t.data["tabell"] == "kanner_mig_trygg")].iloc[0]
    assert pd.isna(own["n_disagree"]) and not own["shown"] and pd.isna(own["share"])
    assert own["reason"] == voice.REASON_SUPPRESSED
    national = t.data[(t.data[UNIT] == "0000") & (t.data["tabell"] == "helhet")].iloc[0]
    assert national["shown"] and 0 < float(national["share"]) < 1


def test_survey_counts_cover_every_unit_and_add_up_to_the_invited():
    data = voice.prepare_survey(_survey(400, seed=4))
    c = voice.survey_counts(data)
    assert set(c.groupby([UNIT, "variabel"])["kod"].nunique().unique()) == {2, 3}
    sums = c.groupby([UNIT, "variabel"])["n"].sum()
    den = c.groupby([UNIT, "variabel"])["denominator"].first()
    assert (sums == den).all()
    national = c[(c[UNIT] == "0000") & (c["variabel"] == "svar:alla=alla")]
    assert national["denominator"].iloc[0] == 400
    assert national.set_index("kod")["n"]["besvarad"] == int(data["besvarad"].sum())
    assert set(c[UNIT]) >= set(hierarchy()["kommun"]) | {"0000"}


def test_age_band_derives_the_three_survey_bands():
    bands = voice.age_band(pd.Series([12, 13, 15, 16, 17, 18, 20, 21, None], dtype="Int64"))
    assert bands.tolist()[1:7] == ["13-15", "13-15", "16-17", "16-17", "18-20", "18-20"]
    assert bands.isna().tolist() == [True, False, False, False, False, False, False, True, True]


# -- ordinal model: known answers ---------------------------------------------------------------


def _survey(
    n: int,
    *,
    seed: int,
    beta_girl: float = -0.8,
    beta_placed: float = 0.5,
    cuts=(-2.0, -1.0, 0.0, 1.2),
) -> pd.DataFrame:
    """Answers from a latent-logistic model: y* = x'b + logistic noise, y = 1 + #(y* > cut)."""
    rng = np.random.default_rng(seed)
    kommun = rng.choice(hierarchy()["kommun"].to_numpy(), n)
    kon = rng.choice(["flicka", "pojke"], n)
    grp = rng.choice(["placerad", "oppenvard"], n)
    eta = beta_girl * (kon == "flicka") + beta_placed * (grp == "placerad")
    latent = eta + rng.logistic(size=n)
    y = 1 + (latent[:, None] > np.asarray(cuts)[None, :]).sum(axis=1)
    answered = rng.random(n) < 0.8
    items = {item: np.where(answered, y.astype(str), None) for item in voice.ITEMS}
    return pd.DataFrame(
        {
            "enkat_id": [f"E{i:016x}" for i in range(n)],
            "kommun": pd.array(kommun, dtype="str"),
            "ar": pd.array(np.full(n, 2024), dtype="Int64"),
            "kon": pd.array(kon, dtype="str"),
            "alder": pd.array(rng.integers(13, 21, n), dtype="Int64"),
            "enkatgrupp": pd.array(grp, dtype="str"),
            "besvarad": answered,
            **{k: pd.array(v, dtype="str") for k, v in items.items()},
        }
    )


def test_ordered_logit_with_two_categories_equals_the_closed_form_log_odds_ratio():
    # 2 x 2 table: girls a=30 high, b=20 low; boys c=15 high, d=35 low -> log(ad/bc)
    a, b, c, d = 30, 20, 15, 35
    frame = pd.DataFrame(
        {
            "y": ["hog"] * a + ["lag"] * b + ["hog"] * c + ["lag"] * d,
            "kon": ["flicka"] * (a + b) + ["pojke"] * (c + d),
        }
    )
    frame["y"] = pd.Categorical(frame["y"], categories=["lag", "hog"], ordered=True)
    frame["kon"] = frame["kon"].astype("str")
    est, thresholds, _ = voice.ordered_logit(frame, outcome="y", covariates={"kon": "pojke"})
    assert est["log_or"].iloc[0] == pytest.approx(np.log(a * d / (b * c)), abs=1e-5)
    # the one threshold is the reference group's log odds of the lower category: log(d/c)
    assert thresholds["value"].iloc[0] == pytest.approx(np.log(d / c), abs=1e-5)


def test_ordered_logit_gives_the_same_answer_for_string_and_categorical_covariates():
    data = voice.prepare_survey(_survey(3000, seed=5))
    d = data[data["kanner_mig_trygg"].isin(list(voice.LIKERT)).fillna(False)].copy()
    d["kanner_mig_trygg"] = pd.Categorical(
        d["kanner_mig_trygg"], categories=list(voice.LIKERT), ordered=True
    )
    covs = {"kon": "pojke", "enkatgrupp": "oppenvard"}
    as_str, _, _ = voice.ordered_logit(d, outcome="kanner_mig_trygg", covariates=covs)
    cat = d.assign(kon=d["kon"].astype("category"), enkatgrupp=d["enkatgrupp"].astype("category"))
    as_cat, _, _ = voice.ordered_logit(cat, outcome="kanner_mig_trygg", covariates=covs)
    assert d["kon"].dtype == "str"
    pd.testing.assert_frame_equal(as_str, as_cat)


def test_ordinal_model_recovers_simulated_coefficients_and_thresholds():
    data = voice.prepare_survey(_survey(25_000, seed=6))
    res = voice.ordinal_model(
        data, "kanner_mig_trygg", covariates=("kon", "enkatgrupp"), min_answers=10
    )
    assert res.status == "ok"
    est = res.estimates.set_index(["covariate", "level"])
    assert est.loc[("kon", "flicka"), "log_or"] == pytest.approx(-0.8, abs=0.08)
    assert est.loc[("enkatgrupp", "placerad"), "log_or"] == pytest.approx(0.5, abs=0.08)
    assert res.thresholds["value"].to_numpy() == pytest.approx([-2.0, -1.0, 0.0, 1.2], abs=0.1)
    girls = est.loc[("kon", "flicka")]
    assert girls["ci_low"] < np.exp(-0.8) < girls["ci_high"]
    assert res.proportional_odds is not None and res.proportional_odds.holds is True
    assert res.warnings == ()


def test_brant_test_flags_data_that_break_proportional_odds():
    # Girls answer at the extremes: more 1s *and* more 5s. Slopes differ in sign across cuts.
    rng = np.random.default_rng(7)
    n = 6000
    girl = rng.random(n) < 0.5
    p_boy = [0.1, 0.15, 0.5, 0.15, 0.1]
    p_girl = [0.3, 0.1, 0.1, 0.1, 0.4]
    y = np.where(
        girl, rng.choice(list("12345"), n, p=p_girl), rng.choice(list("12345"), n, p=p_boy)
    )
    yy = pd.Series(pd.Categorical(y, categories=list("12345"), ordered=True))
    X = pd.DataFrame({"kon[T.flicka]": girl.astype(float)})
    res = voice.brant_test(yy, X)
    assert res.holds is False and res.p_value < 1e-6
    assert len(res.cuts) == 4 and res.df == 3


def test_ordinal_model_reports_a_caveat_when_proportional_odds_fails():
    rng = np.random.default_rng(8)
    data = voice.prepare_survey(_survey(6000, seed=8))
    girls = (data["kon"] == "flicka") & data["besvarad"]
    extreme = rng.choice(["1", "5"], int(girls.sum()))
    data.loc[girls, "helhet"] = extreme
    res = voice.ordinal_model(data, "helhet", covariates=("kon",))
    assert res.status == "ok" and res.proportional_odds.holds is False
    assert any("proportionella odds håller inte" in w for w in res.warnings)


def test_ordinal_model_leaves_out_a_group_of_three_and_is_not_fitted_below_the_minimum():
    data = voice.prepare_survey(_survey(2000, seed=9))
    res = voice.ordinal_model(data, "vet_min_plan", kommun="0180", min_answers=10)
    own = int((data["kommun"] == "0180").sum())
    assert own < 10  # a handful of children, so the municipality is not compared
    assert "omrade" not in set(res.estimates["covariate"])
    if own:
        assert "omrade" in set(res.excluded["covariate"])
    tiny = data[data["kommun"] == data["kommun"].iloc[0]].head(3)
    none = voice.ordinal_model(tiny, "vet_min_plan", min_answers=10)
    assert none.status == "too_few" and none.estimates.empty and none.proportional_odds is None


def test_ordinal_model_shows_the_municipality_when_it_has_enough_answers():
    data = voice.prepare_survey(_survey(3000, seed=10))
    data.loc[data.index[:400], "kommun"] = "0180"
    res = voice.ordinal_model(data, "helhet", kommun="0180")
    row = res.estimates[res.estimates["covariate"] == "omrade"].iloc[0]
    assert row["level"] == "kommunen" and row["reference"] == "ovriga_landet"
    assert row["ci_low"] < 1 < row["ci_high"]  # no difference was planted


# -- settings -----------------------------------------------------------------------------------


def test_voice_settings_validate_min_answers():
    assert voice.VoiceSettings.from_mapping({"min_answers": 15}).min_answers == 15
    assert voice.VoiceSettings.from_mapping(None).min_answers == 10
    for bad in ({"min_answers": "10"}, {"min_answers": 0}, {"min_answers": True}, {"x": 1}):
        with pytest.raises(ValueError):
            voice.VoiceSettings.from_mapping(bad)


def test_load_settings_reads_the_voice_block():
    from workbench import load_settings

    s = load_settings(kommun="0180")
    assert voice.VoiceSettings.from_mapping(s.voice).min_answers == 10


def test_share_chart_draws_no_bar_for_a_withheld_share_and_labels_it():
    from workbench.plots_voice import plot_shares_with_ci

    data = pd.DataFrame(
        {
            "label": ["Jag känner mig trygg", "Jag känner mig trygg"],
            "series": ["Stockholm", "Riket"],
            "share": pd.array([None, 0.72], dtype="Float64"),
            "ci_low": pd.array([None, 0.68], dtype="Float64"),
            "ci_high": pd.array([None, 0.76], dtype="Float64"),
            "missing_label": [".. för få svar", ".."],
        }
    )
    ax = plot_shares_with_ci(data)
    widths = [p.get_width() for p in ax.patches]
    assert widths == pytest.approx([0.0, 72.0])
    texts = [t.get_text() for t in ax.texts]
    assert ".. för få svar" in texts and "72 %" in texts
    import matplotlib.pyplot as plt

    plt.close(ax.figure)
