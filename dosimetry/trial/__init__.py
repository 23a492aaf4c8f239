"""Trial design tools for the protocol's phase I/II trial.

* :mod:`dosimetry.trial.crm_model` - empiric (power) CRM model, normal prior, TITE likelihood and
  the posterior by numerical integration (two independent methods).
* :mod:`dosimetry.trial.weights` - TITE-CRM linear follow-up weights.
* :mod:`dosimetry.trial.rules` - the protocol's safety rules, each reported when it binds.
* :mod:`dosimetry.trial.next_dose` - the recommendation for the next patient (model + rules).
* :mod:`dosimetry.trial.patients_csv` - reading the patient CSV (errors name line and column).
* :mod:`dosimetry.trial.logistic` - end-of-trial two-parameter logistic regression of pDLT on dose.
* :mod:`dosimetry.trial.simulate` - operating characteristics by simulation (seeded).
* :mod:`dosimetry.trial.phase2` - A'Hern single-stage exact binomial phase II design.
"""

from __future__ import annotations
