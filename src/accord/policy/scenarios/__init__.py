"""Scenarios: measure schedules run through the epidemic model, health and economic cost side by side.

``runs`` (pure) runs scenarios and grids of them; ``calibration`` (pure) fits the model to recorded cases and runs
counterfactuals; ``regions`` (pure) builds a scenario setting from a table of regions, ``china2020`` (pure) the
real China 2020 set-up from ``../shared/data``; ``service`` runs grids for any jurisdiction of the store; ``api``,
``pages`` and ``cli`` serve them. See docs/scenarios.md.
"""
