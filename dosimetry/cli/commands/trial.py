"""``dosimetry trial``: TITE-CRM dose assignment, its simulation, end-of-trial logistic estimate and
the A'Hern single-stage phase II design.

Sub-commands: ``next-dose``, ``simulate``, ``final-estimate``, ``phase2-design``, ``phase2-check``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

# Only light modules at the top: the models (numpy, scipy) are imported by the handlers.
from dosimetry.cli.commands._lazy import LazyChoices, LazyValue, set_lazy_choices
from dosimetry.errors import ArgumentError
from dosimetry.trial.constants import (
    DEFAULT_PRIOR_VARIANCE,
    PROTOCOL_SKELETON,
    PROTOCOL_TARGET,
    PROTOCOL_TOTAL_DOSE_GYE,
    IntegrationMethod,
    SelectionRule,
)

if TYPE_CHECKING:
    import datetime as dt

    from dosimetry.trial.next_dose import TiteCrmDesign

# The safety rules (dataclasses, the patients CSV reader, logging: about 27 ms of CPU, as much as the rest
# of ``dosimetry trial --help``) are imported by the handlers; --help prints their defaults and choices
# from these copies (checked against dosimetry.trial.rules by tests/test_cli_lazy_parser.py).
_RULES = "dosimetry.trial.rules"
_MAX_LEVEL = LazyValue(_RULES, "PROTOCOL_MAX_LEVEL", shown=6)
_ESCALATION_REFERENCES_SHOWN = ("most-recent-patient", "highest-tried")


def _date(text: str) -> dt.date:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from exc


def _add_design_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--window-months", type=float, required=True,
        help="DLT observation window in months (REQUIRED: the protocol says 6 months in one place, 4 in another)",
    )
    p.add_argument("--skeleton", type=float, nargs="+", default=list(PROTOCOL_SKELETON),
                   help="initial pDLT guess per level (default: protocol Table 1, %(default)s)")
    p.add_argument("--target", type=float, default=PROTOCOL_TARGET, help="target pDLT (default %(default)s)")
    p.add_argument("--prior-variance", type=float, default=DEFAULT_PRIOR_VARIANCE,
                   help="variance of the normal prior on beta (default %(default)s, dfcrm's scale sqrt(1.34))")
    p.add_argument("--selection-rule", choices=[r.value for r in SelectionRule],
                   default=SelectionRule.CLOSEST_NOT_ABOVE_TARGET.value,
                   help="model level: protocol 'closest-not-above-target' (default) or dfcrm 'closest-to-target'")
    set_lazy_choices(
        p.add_argument("--escalation-reference",
                       default=LazyValue(_RULES, "EscalationReference.MOST_RECENT_PATIENT.value"),
                       help="escalation is measured from the most recent patient's level (default, protocol wording) "
                            "or from the highest level tried"),
        LazyChoices(_RULES, "EscalationReference", shown=_ESCALATION_REFERENCES_SHOWN),
    )
    p.add_argument("--start-level", type=int, default=LazyValue(_RULES, "PROTOCOL_START_LEVEL", shown=2), help="default %(default)s")
    p.add_argument("--start-cohort-size", type=int, default=LazyValue(_RULES, "PROTOCOL_START_COHORT_SIZE", shown=4),
                   help="default %(default)s")
    p.add_argument("--max-level", type=int, default=None,
                   help=f"highest level ever given (default: {_MAX_LEVEL}, the protocol's 65 GyE, or the number "
                        "of skeleton levels if fewer)")
    p.add_argument("--no-full-window-rule", action="store_true",
                   help="drop the rule 'escalate only after a patient at the level below completed the window "
                        "without DLT' (the protocol requires it; for comparison only)")


def _design(args: argparse.Namespace, integration: IntegrationMethod) -> TiteCrmDesign:
    from dosimetry.trial.next_dose import TiteCrmDesign
    from dosimetry.trial.rules import PROTOCOL_MAX_LEVEL, EscalationReference, SafetyRules

    max_level = min(PROTOCOL_MAX_LEVEL, len(args.skeleton)) if args.max_level is None else args.max_level
    if max_level > len(args.skeleton):
        raise ArgumentError(f"--max-level {max_level} exceeds the {len(args.skeleton)} levels given by --skeleton")
    rules = SafetyRules(
        start_level=args.start_level,
        start_cohort_size=args.start_cohort_size,
        max_level=max_level,
        escalation_reference=EscalationReference(args.escalation_reference),
        require_full_window_before_escalation=not args.no_full_window_rule,
    )
    return TiteCrmDesign(
        window_months=args.window_months,
        skeleton=tuple(args.skeleton),
        target=args.target,
        prior_variance=args.prior_variance,
        selection_rule=SelectionRule(args.selection_rule),
        rules=rules,
        integration=integration,
    )


def _emit(payload: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        import json

        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write("\n".join(lines) + "\n")


def _fmt(values: Any, digits: int = 3) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def _run_next_dose(args: argparse.Namespace) -> int:
    from dosimetry.trial.next_dose import recommend_next_dose
    from dosimetry.trial.patients_csv import read_patients_csv

    design = _design(args, IntegrationMethod(args.integration))
    patients = read_patients_csv(args.patients, as_of=args.as_of, n_levels=len(design.skeleton))
    rec = recommend_next_dose(patients, design)
    payload = rec.as_dict()
    payload["patients_file"] = str(args.patients)
    payload["as_of"] = args.as_of.isoformat() if args.as_of else None
    lines = [
        f"TITE-CRM next dose ({len(patients)} patients from {args.patients})",
        f"observation window used: {design.window_months:g} months; target pDLT {design.target:g}; "
        f"selection rule: {design.selection_rule.value}",
        f"skeleton: {_fmt(design.skeleton, 2)}",
        f"weights: {_fmt(rec.weights)}",
        f"posterior mean of beta: {rec.posterior.mean_beta:.5f} ({rec.posterior.method.value} integration, "
        f"prior variance {design.prior_variance:g})",
        f"pDLT per level (plug-in skeleton^exp(posterior mean beta), as dfcrm): {_fmt(rec.pdlt)}",
        f"pDLT per level (posterior mean): {_fmt(rec.posterior.pdlt_posterior_mean)}",
        f"model recommended level: {rec.model_recommended_level} (closest to target: {rec.closest_to_target_level})",
        "rules:",
        *[f"  [{'BINDS' if r.bound else 'ok'}] {r.rule.value}: {r.explanation}" for r in rec.rules_applied],
        f"RECOMMENDED LEVEL FOR THE NEXT PATIENT: {rec.recommended_level}",
        *[f"warning: {w}" for w in rec.warnings],
    ]
    _emit(payload, args.json, lines)
    return 0


def _run_simulate(args: argparse.Namespace) -> int:
    from dosimetry.trial.simulate import simulate_trials

    design = _design(args, IntegrationMethod.GAUSS_HERMITE)
    res = simulate_trials(
        args.true_pdlt, design, n_patients=args.patients, accrual_per_month=args.accrual_per_month,
        runs=args.runs, seed=args.seed,
    )
    k = len(design.skeleton)
    lines = [
        f"TITE-CRM simulation: {res.runs} trials of {res.n_patients} patients, accrual {res.accrual_per_month:g}/month, "
        f"seed {res.seed}",
        f"observation window used: {design.window_months:g} months; target {design.target:g}; "
        f"selection rule {design.selection_rule.value}",
        f"true pDLT: {_fmt(res.true_pdlt, 2)} (true MTD level {res.true_mtd_level})",
        "level  P(select)  mean patients  mean DLTs",
        *[
            f"{i + 1:5d}  {res.selection_probability[i]:9.3f}  {res.mean_patients_per_level[i]:13.2f}  "
            f"{res.mean_dlts_per_level[i]:9.2f}"
            for i in range(k)
        ],
        "P(select) without capping the MTD at the highest level given: " + _fmt(res.uncapped_selection_probability),
        f"mean total DLTs: {res.mean_total_dlts:.2f}",
        f"mean trial duration: {res.mean_duration_months:.2f} months (sd {res.sd_duration_months:.2f})",
        "mean number of assignments per trial where a rule bound: "
        + ", ".join(f"{name} {v:.2f}" for name, v in res.mean_rule_bindings_per_trial.items()),
    ]
    _emit(res.as_dict(), args.json, lines)
    return 0


def _run_final_estimate(args: argparse.Namespace) -> int:
    from dosimetry.trial.logistic import fit_logistic
    from dosimetry.trial.patients_csv import read_patients_csv
    from dosimetry.trial.weights import linear_weights

    doses = tuple(args.dose_gye)
    patients = read_patients_csv(args.patients, as_of=args.as_of, n_levels=len(doses))
    weights = linear_weights([p.followup_months for p in patients], [p.dlt for p in patients], args.window_months)
    fit = fit_logistic(
        [p.dose_level for p in patients], [p.dlt for p in patients], dose_gye_per_level=doses, weights=weights,
        confidence_level=args.confidence_level, target=args.target,
    )
    payload = fit.as_dict()
    payload["window_months"] = args.window_months
    payload["weights"] = list(weights)
    lines = [
        f"two-parameter logistic regression of pDLT on dose ({len(patients)} patients, window {args.window_months:g} "
        "months for the weights of incompletely followed patients)",
        f"logit pDLT = {fit.intercept_at_centre:.4f} + {fit.slope_per_gye:.4f} x (dose - {fit.dose_centre_gye:.2f} GyE)",
        f"{fit.confidence_level:.0%} intervals: {fit.interval_method}",
        f"{fit.confidence_level:.0%} profile CI: {fit.profile_interval_method}",
        "level  dose GyE  n  DLT  pDLT   CI              profile CI",
        *[
            f"{lv.level:5d}  {lv.dose_gye:8.2f}  {lv.n_patients:2d}  {lv.n_dlt:3d}  {lv.pdlt:.3f}  "
            f"[{lv.ci_lower:.3f}, {lv.ci_upper:.3f}]  "
            f"[{'0 (unbounded)' if lv.profile_lower_unbounded else f'{lv.profile_ci_lower:.3f}'}, "
            f"{'1 (unbounded)' if lv.profile_upper_unbounded else f'{lv.profile_ci_upper:.3f}'}]"
            for lv in fit.levels
        ],
    ]
    if fit.dose_at_target_gye is not None:
        lines.append(f"dose at pDLT {fit.target:g}: {fit.dose_at_target_gye:.2f} GyE")
    lines += [f"warning: {w}" for w in fit.warnings]
    _emit(payload, args.json, lines)
    return 0


def _run_phase2_design(args: argparse.Namespace) -> int:
    from dosimetry.trial.phase2 import design_single_stage

    d = design_single_stage(args.p0, args.p1, args.alpha, args.power, n_max=args.n_max)
    lines = [
        f"A'Hern single-stage design for p0 = {d.p0:g}, p1 = {d.p1:g}, alpha <= {args.alpha:g}, power >= {args.power:g}:",
        f"n = {d.n}, reject H0 if at least {d.reject_if_at_least} successes",
        f"exact alpha = {d.alpha:.5f}, exact power = {d.power:.5f}",
    ]
    _emit(d.as_dict(), args.json, lines)
    return 0


def _run_phase2_check(args: argparse.Namespace) -> int:
    from dosimetry.trial.phase2 import check_single_stage

    c = check_single_stage(args.n, args.reject_if_at_least, args.p0, args.p1, args.alpha, args.power)
    lines = [
        f"n = {c.n}, reject H0 if at least {c.reject_if_at_least} successes; p0 = {c.p0:g}, p1 = {c.p1:g}",
        f"exact alpha = {c.alpha:.5f}" + ("" if c.meets_alpha is None else f" (<= {c.alpha_nominal:g}: {c.meets_alpha})"),
        f"exact power = {c.power:.5f}" + ("" if c.meets_power is None else f" (>= {c.power_nominal:g}: {c.meets_power})"),
    ]
    _emit(c.as_dict(), args.json, lines)
    failed = c.meets_alpha is False or c.meets_power is False
    return 2 if failed and args.strict else 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "trial",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=lambda _args: (parser.print_help(sys.stderr), 2)[1])
    sub = parser.add_subparsers(dest="trial_command", metavar="SUBCOMMAND")

    p = sub.add_parser("next-dose", help="dose level for the next patient (TITE-CRM + protocol safety rules)")
    p.add_argument("--patients", required=True,
                   help="CSV: patient_id,dose_level,followup_months,dlt (or start_date[,end_date] with --as-of)")
    p.add_argument("--as-of", type=_date, default=None, help="date (YYYY-MM-DD) for CSVs that give dates")
    _add_design_arguments(p)
    p.add_argument("--integration", choices=[m.value for m in IntegrationMethod], default=IntegrationMethod.QUAD.value,
                   help="posterior integration method (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_run_next_dose)

    p = sub.add_parser("simulate", help="operating characteristics of the design by simulation (seeded)")
    p.add_argument("--true-pdlt", type=float, nargs="+", required=True, help="true pDLT per level")
    p.add_argument("--patients", type=int, default=25, help="patients per trial (default %(default)s)")
    p.add_argument("--accrual-per-month", type=float, default=4.0, help="mean accrual rate (default %(default)s)")
    p.add_argument("--runs", type=int, default=1000, help="simulated trials (default %(default)s)")
    p.add_argument("--seed", type=int, required=True, help="random seed (results are reproducible per seed)")
    _add_design_arguments(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_run_simulate)

    p = sub.add_parser("final-estimate", help="end-of-trial two-parameter logistic regression of pDLT on dose")
    p.add_argument("--patients", required=True, help="patient CSV (as for next-dose)")
    p.add_argument("--as-of", type=_date, default=None, help="date for CSVs that give dates")
    p.add_argument("--window-months", type=float, required=True,
                   help="observation window (weights patients not followed for the full window)")
    p.add_argument("--dose-gye", type=float, nargs="+", default=list(PROTOCOL_TOTAL_DOSE_GYE),
                   help="dose (GyE) of each level (default: Table 1 total dose %(default)s)")
    p.add_argument("--confidence-level", type=float, default=0.95, help="default %(default)s")
    p.add_argument("--target", type=float, default=PROTOCOL_TARGET, help="report the dose at this pDLT")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_run_final_estimate)

    p = sub.add_parser("phase2-design", help="A'Hern single-stage exact binomial design")
    p.add_argument("--p0", type=float, required=True, help="uninteresting rate (H0)")
    p.add_argument("--p1", type=float, required=True, help="interesting rate (H1)")
    p.add_argument("--alpha", type=float, default=0.05, help="one-sided type I error (default %(default)s)")
    p.add_argument("--power", type=float, default=0.8, help="power (default %(default)s)")
    p.add_argument("--n-max", type=int, default=1000, help="largest n searched (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_run_phase2_design)

    p = sub.add_parser("phase2-check", help="exact alpha and power of a given (n, threshold)")
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--reject-if-at-least", type=int, required=True)
    p.add_argument("--p0", type=float, required=True)
    p.add_argument("--p1", type=float, required=True)
    p.add_argument("--alpha", type=float, default=None, help="nominal alpha to compare with")
    p.add_argument("--power", type=float, default=None, help="nominal power to compare with")
    p.add_argument("--strict", action="store_true", help="exit 2 when the nominal alpha or power is not met")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_run_phase2_check)
