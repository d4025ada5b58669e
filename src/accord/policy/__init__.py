"""Interventions: measures registry, directives down the tree, risk areas, scenarios."""
